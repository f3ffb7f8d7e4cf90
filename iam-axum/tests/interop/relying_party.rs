//! The external relying parties of the interop tests, openid-client (Node, `rp/rp.mjs`) and
//! Authlib's client (Python, `rp/rp_authlib.py`), and the checks of what they report. They
//! speak a line protocol with the test: they print `{"authorize_url": ...}`, the test's
//! browser logs in and consents, the test writes the callback URL to their stdin, and they
//! print what they got (`{"claims", "userinfo", "nonce"}` for OpenID Connect,
//! `{"access_token", "token_type", "scope"}` for plain OAuth 2.0) or `{"error": ...}` with a
//! non-zero exit.
//!
//! Shared by iam-axum's `oidc_interop` (an in-process router) and iamd's (the real binary);
//! the including crate declares `script` and `browser` at its root.

#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::browser::query_params;
use crate::script::{available, runs, script_dir, Script};

/// An external relying-party library.
#[derive(Clone, Copy, Debug)]
pub enum Rp {
    /// openid-client on Node.
    OpenIdClient,
    /// Authlib on Python.
    Authlib,
}

/// What the external relying party does.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
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
            Rp::OpenIdClient if !script_dir().join("node_modules/openid-client").is_dir() => {
                Some(format!(
                    "openid-client is not installed (npm ci in {})",
                    script_dir().display()
                ))
            }
            Rp::Authlib if !runs("python3", &["-c", "import authlib, requests"]) => {
                Some("no python3 with authlib and requests (pip install authlib requests)".into())
            }
            _ => None,
        }
    }

    /// Whether it can run; outside CI a missing tool skips the test with the reason.
    pub fn available(self) -> bool {
        available(&format!("{self:?}"), self.missing())
    }
}

/// The provider and client a relying party is started for.
pub struct Provider<'a> {
    /// The issuer URL (discovery starts there).
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
    /// A PEM file of the CA the provider's certificate is under.
    pub ca: &'a Path,
}

/// A running external relying party waiting for its callback.
pub struct Running {
    script: Script,
    /// Where it sends the browser.
    pub authorize_url: String,
}

/// Starts `rp` in `mode` for `provider`, up to its authorization URL.
pub async fn spawn(rp: Rp, mode: Mode, provider: &Provider<'_>) -> Running {
    let mut cmd = match rp {
        Rp::OpenIdClient => {
            let mut c = Command::new("node");
            c.arg("rp.mjs").env("NODE_EXTRA_CA_CERTS", provider.ca);
            c
        }
        Rp::Authlib => {
            let mut c = Command::new("python3");
            c.arg("rp_authlib.py")
                .env("REQUESTS_CA_BUNDLE", provider.ca);
            c
        }
    };
    cmd.env("ISSUER", provider.issuer)
        .env("CLIENT_ID", provider.client_id)
        .env("CLIENT_SECRET", provider.client_secret)
        .env("REDIRECT_URI", provider.redirect_uri)
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

impl Running {
    /// Hands the relying party `callback`: its result, or its error message.
    pub async fn finish(mut self, callback: &str) -> Result<Value, String> {
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

/// Checks an OpenID Connect result of a login started at `authorize_url`: the ID token the
/// library accepted names `issuer`, `client_id` and `subject`, and carries the nonce the
/// library made and sent; userinfo names the same subject.
pub fn check_oidc(out: &Value, authorize_url: &str, issuer: &str, client_id: &str, subject: &str) {
    let claims = &out["claims"];
    assert_eq!(claims["iss"], issuer, "{out}");
    let aud = match &claims["aud"] {
        Value::Array(a) => a.clone(),
        one => vec![one.clone()],
    };
    assert!(aud.contains(&Value::from(client_id)), "{out}");
    assert_eq!(claims["sub"], subject, "{out}");
    let nonce = out["nonce"].as_str().unwrap();
    assert_eq!(query_params(authorize_url)["nonce"], nonce);
    assert_eq!(claims["nonce"], nonce, "{out}");
    assert_eq!(out["userinfo"]["sub"], claims["sub"], "{out}");
}

/// `url` with the query parameter `name` set to `value` (already URL-safe).
pub fn with_param(url: &str, name: &str, value: &str) -> String {
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
