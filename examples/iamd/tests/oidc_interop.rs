//! Third-party relying-party libraries at their defaults against the real `iamd` binary:
//! openid-client (Node), Authlib (Python) and the `openidconnect` crate discover iamd at its
//! own address (no `--public-url`: `https://127.0.0.1:PORT`), trusting its generated
//! certificate, and complete logins through its login and consent pages for a client and a
//! user registered over REST. The relying parties, their line protocol and the checks are
//! iam-axum's (`iam-axum/tests/interop/`), which drives the same libraries against an
//! in-process router.
//!
//! `npm ci` in `iam-axum/tests/interop/rp` and `pip install authlib requests` provide them
//! (`.ci/run` does). Where Node, openid-client, Python or Authlib are missing the test says
//! why and passes, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "../../../iam-axum/tests/interop/browser.rs"]
mod browser;
mod common;
#[path = "../../../iam-axum/tests/interop/openidconnect_rp.rs"]
mod openidconnect_rp;
#[path = "../../../iam-axum/tests/interop/relying_party.rs"]
mod relying_party;
#[path = "../../../iam-axum/tests/interop/script.rs"]
mod script;

use std::io::Write as _;

use browser::{paseto_claims, Browser};
use common::Live;
use openidconnect_rp::{openidconnect_login, Login};
use relying_party::{check_oidc, spawn, Mode, Provider, Rp};
use serde_json::Value;

const REDIRECT: &str = "https://app.example/callback";
const DANA_PASSWORD: &str = "dana password 1";

/// iamd with a confidential web client and a user, both registered over REST, and the file
/// of its certificate for the external relying parties to trust.
struct Env {
    iamd: Live,
    client_id: String,
    client_secret: String,
    dana: String,
    ca: tempfile::NamedTempFile,
}

async fn setup() -> Env {
    let iamd = Live::start(&[]).await;
    let (client_id, client_secret) = iamd
        .register_client(serde_json::json!({
            "name": "Interop relying party",
            "kind": "confidential",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "profile", "email"],
        }))
        .await;
    let dana = iamd.create_user("dana", DANA_PASSWORD).await;
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    ca.write_all(iamd.cert_pem.as_bytes()).unwrap();
    Env {
        iamd,
        client_id,
        client_secret,
        dana,
        ca,
    }
}

impl Env {
    fn provider(&self) -> Provider<'_> {
        Provider {
            issuer: &self.iamd.base,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            redirect_uri: REDIRECT,
            ca: self.ca.path(),
        }
    }

    /// Dana signs in and consents on iamd's pages at `authorize_url`: the callback URL she is
    /// sent to.
    async fn log_in(&self, authorize_url: &str) -> String {
        let mut b = Browser::with_client(&self.iamd.base, self.iamd.http.clone());
        let login = b.get(authorize_url).await;
        let consent = b.login(&login, "dana", DANA_PASSWORD).await;
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
}

/// A relying party completes an OpenID Connect login at iamd.
async fn oidc_login(rp: Rp) {
    if !rp.available() {
        return;
    }
    let env = setup().await;
    let running = spawn(rp, Mode::Oidc, &env.provider()).await;
    let url = running.authorize_url.clone();
    let callback = env.log_in(&url).await;
    let out = running
        .finish(&callback)
        .await
        .unwrap_or_else(|e| panic!("{rp:?}: {e}"));
    check_oidc(&out, &url, &env.iamd.base, &env.client_id, &env.dana);
}

/// A relying party completes a plain OAuth 2.0 login at iamd: a bearer PASETO access token
/// for dana and the client, from iamd's issuer, that iamd's introspection calls active.
async fn oauth2_login(rp: Rp) {
    if !rp.available() {
        return;
    }
    let env = setup().await;
    let running = spawn(rp, Mode::OAuth2, &env.provider()).await;
    let callback = env.log_in(&running.authorize_url).await;
    let out = running
        .finish(&callback)
        .await
        .unwrap_or_else(|e| panic!("{rp:?}: {e}"));
    assert_eq!(
        out["token_type"].as_str().map(str::to_lowercase),
        Some("bearer".into()),
        "{out}"
    );
    let token = out["access_token"].as_str().unwrap();
    let claims = paseto_claims(token);
    assert_eq!(claims["iss"], env.iamd.base.as_str(), "{claims}");
    assert_eq!(claims["sub"], env.dana.as_str(), "{claims}");
    assert_eq!(claims["client_id"], env.client_id.as_str(), "{claims}");
    let introspected: Value = env
        .iamd
        .http
        .post(format!("{}/oauth2/introspect", env.iamd.base))
        .basic_auth(&env.client_id, Some(&env.client_secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["sub"], env.dana.as_str(), "{introspected}");
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_client_completes_an_oidc_login_at_iamd() {
    oidc_login(Rp::OpenIdClient).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authlib_completes_an_oidc_login_at_iamd() {
    oidc_login(Rp::Authlib).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openid_client_completes_an_oauth2_login_at_iamd() {
    oauth2_login(Rp::OpenIdClient).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authlib_completes_an_oauth2_login_at_iamd() {
    oauth2_login(Rp::Authlib).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openidconnect_crate_completes_an_oidc_login_at_iamd() {
    let env = setup().await;
    let login = Login {
        http: &env.iamd.http,
        issuer: &env.iamd.base,
        client_id: &env.client_id,
        client_secret: &env.client_secret,
        redirect_uri: REDIRECT,
        subject: &env.dana,
    };
    openidconnect_login(&login, None, async |url| env.log_in(&url).await)
        .await
        .unwrap();
}
