//! Interoperability with third-party relying-party libraries at their default settings: real
//! logins over HTTPS through the login and consent pages, completed by
//! - openid-client (Node) in `tests/interop/rp/rp.mjs`,
//! - Authlib's client (Python) in `tests/interop/rp/rp_authlib.py`,
//! - the `openidconnect` crate, in process.
//!
//! The relying parties and their line protocol are in `interop/relying_party.rs` and
//! `interop/openidconnect_rp.rs`, shared with iamd's `oidc_interop` test (the real binary).
//!
//! `npm ci` in `tests/interop/rp` and `pip install authlib requests` provide them (`.ci/run`
//! does). Where Node, openid-client, Python or Authlib are missing the test says why and
//! passes, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;
#[path = "interop/openidconnect_rp.rs"]
mod openidconnect_rp;
#[path = "interop/relying_party.rs"]
mod relying_party;
#[path = "interop/script.rs"]
mod script;

use std::io::Write as _;

use harness::browser;

use harness::{start, Options, Server, ALICE_PASSWORD};
use iam_core::{Caller, GrantType, NewClient, SystemClock};
use openidconnect_rp::{openidconnect_login, Login};
use relying_party::{check_oidc, spawn, with_param, Mode, Provider, Rp, Running};
use serde_json::Value;

const REDIRECT: &str = "https://app.example/callback";

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

impl Env {
    /// Starts `rp` in `mode`, up to its authorization URL.
    async fn spawn(&self, rp: Rp, mode: Mode) -> Running {
        let provider = Provider {
            issuer: &self.s.base,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            redirect_uri: REDIRECT,
            ca: self.ca.path(),
        };
        spawn(rp, mode, &provider).await
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
        check_oidc(
            out,
            authorize_url,
            &self.s.base,
            &self.client_id,
            &self.alice,
        );
    }
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

/// The `openidconnect` crate's login (see [`openidconnect_login`]), alice signing in.
async fn openidconnect_as_alice(nonce_in_request: Option<&str>) -> Result<(), String> {
    let env = setup().await;
    let login = Login {
        http: &env.s.http,
        issuer: &env.s.base,
        client_id: &env.client_id,
        client_secret: &env.client_secret,
        redirect_uri: REDIRECT,
        subject: &env.alice,
    };
    openidconnect_login(&login, nonce_in_request, async |url| env.log_in(&url).await).await
}

#[tokio::test(flavor = "multi_thread")]
async fn openidconnect_crate_completes_an_oidc_login() {
    openidconnect_as_alice(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn openidconnect_crate_refuses_an_id_token_for_another_nonce() {
    let e = openidconnect_as_alice(Some("another-logins-nonce"))
        .await
        .expect_err("an ID token for another nonce is refused");
    assert!(e.to_lowercase().contains("nonce"), "{e}");
}
