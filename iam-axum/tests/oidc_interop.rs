//! Interoperability with third-party relying-party libraries at their default settings: real
//! logins over HTTPS through the login and consent pages, completed by
//! - openid-client (Node) in `tests/interop/rp/rp.mjs`,
//! - Authlib's client (Python) in `tests/interop/rp/rp_authlib.py`,
//! - the `openidconnect` crate, in process.
//!
//! The external relying parties speak a line protocol with the test: they print
//! `{"authorize_url": ...}`, the test's browser logs in and consents, the test writes the
//! callback URL to their stdin, and they print what they got (`{"claims", "userinfo", "nonce"}`
//! for OpenID Connect, `{"access_token", "token_type", "scope"}` for plain OAuth 2.0) or
//! `{"error": ...}` with a non-zero exit.
//!
//! `npm ci` in `tests/interop/rp` and `pip install authlib requests` provide them (`.ci/run`
//! does). Where Node, openid-client, Python or Authlib are missing the test says why and
//! passes, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;
#[path = "interop/script.rs"]
mod script;

use std::io::Write as _;
use std::process::Command;

use harness::{query_params, start, Options, Server, ALICE_PASSWORD};
use iam_core::{Caller, GrantType, NewClient, SystemClock};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use script::{available, runs, script_dir as rp_dir, Script};
use serde_json::Value;

const REDIRECT: &str = "https://app.example/callback";

/// An external relying-party library.
#[derive(Clone, Copy, Debug)]
enum Rp {
    /// openid-client on Node.
    OpenIdClient,
    /// Authlib on Python.
    Authlib,
}

/// What the external relying party does.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Plain OAuth 2.0 (RFC 8414 discovery, no ID token): works with any authorization server.
    OAuth2,
    /// OpenID Connect: `/.well-known/openid-configuration`, nonce, ID token, userinfo.
    Oidc,
}

impl Rp {
    /// Why this relying party cannot run here, if it cannot.
    fn missing(self) -> Option<String> {
        match self {
            Rp::OpenIdClient if !runs("node", &["--version"]) => Some("no `node`".into()),
            Rp::OpenIdClient if !rp_dir().join("node_modules/openid-client").is_dir() => {
                Some(format!(
                    "openid-client is not installed (npm ci in {})",
                    rp_dir().display()
                ))
            }
            Rp::Authlib if !runs("python3", &["-c", "import authlib, requests"]) => {
                Some("no python3 with authlib and requests (pip install authlib requests)".into())
            }
            _ => None,
        }
    }

    /// Whether it can run; outside CI a missing tool skips the test with the reason.
    fn available(self) -> bool {
        available(&format!("{self:?}"), self.missing())
    }
}

/// A server with a confidential web client and the file of the CA its certificate is under.
struct Env {
    s: Server<SystemClock>,
    client_id: String,
    client_secret: String,
    ca: tempfile::NamedTempFile,
    alice: String,
}

async fn setup() -> Env {
    let s = start(
        SystemClock,
        Options {
            tls: true,
            secure_cookies: true,
            ..Options::default()
        },
    )
    .await;
    let reg = s
        .register(
            NewClient::confidential("Interop relying party")
                .redirect_uri(REDIRECT)
                .grants([GrantType::AuthorizationCode, GrantType::RefreshToken])
                .scopes(["openid", "profile", "email"]),
        )
        .await;
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    ca.write_all(s.tls.as_ref().unwrap().0.as_bytes()).unwrap();
    let alice = s
        .iam
        .account_by_username(Caller::System, "alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    Env {
        client_id: reg.client.id.clone(),
        client_secret: reg.client_secret.unwrap().expose().to_owned(),
        s,
        ca,
        alice,
    }
}

/// A running external relying party waiting for its callback.
struct Running {
    script: Script,
    authorize_url: String,
}

impl Running {
    /// Hands the relying party `callback`: its result, or its error message.
    async fn finish(mut self, callback: &str) -> Result<Value, String> {
        let out = self.script.ask(callback).await;
        let ok = self.script.exited_ok();
        if let Some(e) = out.get("error") {
            assert!(!ok, "an error with exit status 0: {out}");
            return Err(e.as_str().unwrap_or_default().to_owned());
        }
        assert!(ok, "a failed exit: {out}");
        Ok(out)
    }
}

impl Env {
    /// Starts `rp` in `mode`, up to its authorization URL.
    async fn spawn(&self, rp: Rp, mode: Mode) -> Running {
        let ca = self.ca.path();
        let mut cmd = match rp {
            Rp::OpenIdClient => {
                let mut c = Command::new("node");
                c.arg("rp.mjs").env("NODE_EXTRA_CA_CERTS", ca);
                c
            }
            Rp::Authlib => {
                let mut c = Command::new("python3");
                c.arg("rp_authlib.py").env("REQUESTS_CA_BUNDLE", ca);
                c
            }
        };
        cmd.env("ISSUER", &self.s.base)
            .env("CLIENT_ID", &self.client_id)
            .env("CLIENT_SECRET", &self.client_secret)
            .env("REDIRECT_URI", REDIRECT)
            .env(
                "RP_MODE",
                match mode {
                    Mode::OAuth2 => "oauth2",
                    Mode::Oidc => "oidc",
                },
            );
        let mut script = Script::spawn(cmd);
        let first = script.line().await;
        let authorize_url = first["authorize_url"]
            .as_str()
            .unwrap_or_else(|| panic!("{rp:?}: no authorization URL: {first}"))
            .to_owned();
        Running {
            script,
            authorize_url,
        }
    }

    /// Alice logs in and consents at `authorize_url`: the callback URL she is sent to.
    async fn log_in(&self, authorize_url: &str) -> String {
        let mut b = self.s.browser();
        let login = b.get(authorize_url).await;
        let consent = b.login(&login, "alice", ALICE_PASSWORD).await;
        let done = b.submit(&consent, &[("decision", "allow")]).await;
        let callback = done.location();
        assert!(
            callback.starts_with(&format!("{REDIRECT}?")),
            "{}: {callback} {}",
            done.status,
            done.body
        );
        callback
    }

    /// A full login by `rp` in `mode`: its result.
    async fn login_by(&self, rp: Rp, mode: Mode) -> Value {
        let running = self.spawn(rp, mode).await;
        let callback = self.log_in(&running.authorize_url).await;
        running
            .finish(&callback)
            .await
            .unwrap_or_else(|e| panic!("{rp:?}: {e}"))
    }

    /// Checks a plain OAuth 2.0 result: a bearer access token for alice and this client.
    async fn check_oauth2(&self, out: &Value) {
        assert_eq!(
            out["token_type"].as_str().map(str::to_lowercase),
            Some("bearer".into())
        );
        let who = self
            .s
            .iam
            .verify(out["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(who.account_id, self.alice);
        assert_eq!(who.client_id.as_deref(), Some(self.client_id.as_str()));
        assert_eq!(out["scope"], "profile", "{out}");
    }

    /// Checks an OpenID Connect result: the ID token the library accepted and the userinfo.
    fn check_oidc(&self, out: &Value, authorize_url: &str) {
        let claims = &out["claims"];
        assert_eq!(claims["iss"], self.s.base.as_str(), "{out}");
        let aud = match &claims["aud"] {
            Value::Array(a) => a.clone(),
            one => vec![one.clone()],
        };
        assert!(aud.contains(&Value::from(self.client_id.as_str())), "{out}");
        assert_eq!(claims["sub"], self.alice.as_str(), "{out}");
        // The nonce the library made, sent, and checked the ID token against.
        let nonce = out["nonce"].as_str().unwrap();
        assert_eq!(query_params(authorize_url)["nonce"], nonce);
        assert_eq!(claims["nonce"], nonce, "{out}");
        assert_eq!(out["userinfo"]["sub"], claims["sub"], "{out}");
    }
}

/// `url` with the query parameter `name` set to `value` (already URL-safe).
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let mut found = false;
    let pairs: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k == name => {
                found = true;
                format!("{k}={value}")
            }
            _ => kv.to_owned(),
        })
        .collect();
    assert!(found, "no {name} in {url}");
    format!("{base}?{}", pairs.join("&"))
}

/// A relying party completes a plain OAuth 2.0 login (PKCE S256, state).
async fn oauth2_login(rp: Rp) {
    if !rp.available() {
        return;
    }
    let env = setup().await;
    let out = env.login_by(rp, Mode::OAuth2).await;
    env.check_oauth2(&out).await;
}

/// A relying party refuses another login's callback (its state is not the one it sent), without
/// redeeming the code: that login still completes afterwards.
async fn refuses_another_logins_callback(rp: Rp, mode: Mode) {
    if !rp.available() {
        return;
    }
    let env = setup().await;
    let first = env.spawn(rp, mode).await;
    let callback = env.log_in(&first.authorize_url).await;
    let second = env.spawn(rp, mode).await;
    let refused = second.finish(&callback).await;
    let e = refused.expect_err("another login's callback is refused");
    assert!(e.to_lowercase().contains("state"), "{rp:?}: {e}");
    let out = first.finish(&callback).await.unwrap();
    match mode {
        Mode::OAuth2 => env.check_oauth2(&out).await,
        Mode::Oidc => assert_eq!(out["claims"]["sub"], env.alice.as_str()),
    }
}

/// A relying party completes an OpenID Connect login.
async fn oidc_login(rp: Rp) {
    if !rp.available() {
        return;
    }
    let env = setup().await;
    let running = env.spawn(rp, Mode::Oidc).await;
    let url = running.authorize_url.clone();
    let callback = env.log_in(&url).await;
    let out = running.finish(&callback).await.unwrap();
    env.check_oidc(&out, &url);
}

/// A relying party refuses an ID token whose nonce is not the one it sent (the authorization
/// request reaching the provider carried another nonce).
async fn refuses_another_nonce(rp: Rp) {
    if !rp.available() {
        return;
    }
    let env = setup().await;
    let running = env.spawn(rp, Mode::Oidc).await;
    let url = with_param(&running.authorize_url, "nonce", "another-logins-nonce");
    let callback = env.log_in(&url).await;
    let e = running
        .finish(&callback)
        .await
        .expect_err("an ID token for another nonce is refused");
    assert!(e.to_lowercase().contains("nonce"), "{rp:?}: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_client_completes_an_oauth2_login() {
    oauth2_login(Rp::OpenIdClient).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authlib_completes_an_oauth2_login() {
    oauth2_login(Rp::Authlib).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_client_refuses_another_logins_callback() {
    refuses_another_logins_callback(Rp::OpenIdClient, Mode::OAuth2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authlib_refuses_another_logins_callback() {
    refuses_another_logins_callback(Rp::Authlib, Mode::OAuth2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_client_completes_an_oidc_login() {
    oidc_login(Rp::OpenIdClient).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authlib_completes_an_oidc_login() {
    oidc_login(Rp::Authlib).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_client_refuses_another_logins_callback_in_oidc() {
    refuses_another_logins_callback(Rp::OpenIdClient, Mode::Oidc).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authlib_refuses_another_logins_callback_in_oidc() {
    refuses_another_logins_callback(Rp::Authlib, Mode::Oidc).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_client_refuses_an_id_token_for_another_nonce() {
    refuses_another_nonce(Rp::OpenIdClient).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authlib_refuses_an_id_token_for_another_nonce() {
    refuses_another_nonce(Rp::Authlib).await;
}

/// The `openidconnect` crate: discovery, authorization (PKCE S256, state, nonce), code
/// exchange, the ID token checked by its verifier, userinfo. With `nonce_in_request`, the
/// request reaching the provider carries that nonce instead of the library's: its ID token
/// check's error is returned.
async fn openidconnect_login(nonce_in_request: Option<&str>) -> Result<(), String> {
    let env = setup().await;
    // The library's HTTP client: no redirects (as its docs require), trusting the test CA.
    let http = env.s.http.clone();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(env.s.base.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(env.client_id.clone()),
        Some(ClientSecret::new(env.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let url = match nonce_in_request {
        Some(other) => with_param(url.as_str(), "nonce", other),
        None => url.to_string(),
    };
    let q = query_params(&env.log_in(&url).await);
    assert_eq!(&q["state"], state.secret());

    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    // The verifier's defaults: a client made from discovery accepts the algorithms the
    // provider announces in id_token_signing_alg_values_supported (RS256 only otherwise).
    let id_verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .map_err(|e| e.to_string())?;
    assert_eq!(claims.issuer().as_str(), env.s.base);
    assert!(claims
        .audiences()
        .iter()
        .any(|a| a.as_str() == env.client_id));
    assert_eq!(claims.subject().as_str(), env.alice);
    if let Some(expected) = claims.access_token_hash() {
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&id_verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(&actual, expected);
    }
    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(userinfo.subject(), claims.subject());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn openidconnect_crate_completes_an_oidc_login() {
    openidconnect_login(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn openidconnect_crate_refuses_an_id_token_for_another_nonce() {
    let e = openidconnect_login(Some("another-logins-nonce"))
        .await
        .expect_err("an ID token for another nonce is refused");
    assert!(e.to_lowercase().contains("nonce"), "{e}");
}
