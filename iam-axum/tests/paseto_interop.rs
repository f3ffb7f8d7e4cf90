//! Interoperability of iam access tokens (PASETO v4.public) with a third-party PASETO library
//! at its defaults: pyseto (Python, `tests/interop/rp/verify_pyseto.py`) loads the keys from
//! `GET /keys` (PASERK `k4.public.…`) and verifies a token the moment after it was minted,
//! checking `exp` and `nbf` against the current time in whole seconds with no leeway; `nbf`
//! and `iat` are whole seconds.
//!
//! `pip install pyseto` provides it (`.ci/run` does). Without Python or pyseto the test says
//! why and passes, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;
#[path = "interop/script.rs"]
mod script;

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use iam_core::LoginRequest;
use script::{available, runs, Script};
use serde_json::Value;

/// Whether python3 with pyseto runs here; outside CI its absence skips the test.
fn pyseto_available() -> bool {
    let missing = (!runs("python3", &["-c", "import pyseto"]))
        .then(|| "no python3 with pyseto (pip install pyseto)".to_owned());
    available("pyseto", missing)
}

/// pyseto's verdict on `token`: its claims, or why it refused.
async fn verify(v: &mut Script, token: &str) -> Result<Value, String> {
    let out = v.ask(token).await;
    match out.get("error") {
        Some(e) => Err(e.as_str().unwrap_or_default().to_owned()),
        None => Ok(out["claims"].clone()),
    }
}

/// Waits for the start of a wall-clock second, so that a token minted now is verified within
/// the same second (where a fractional `nbf` would be in pyseto's future).
async fn early_in_a_second() {
    loop {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_millis();
        if ms < 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(u64::from(1005 - ms))).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pyseto_verifies_a_fresh_access_token_at_its_defaults() {
    if !pyseto_available() {
        return;
    }
    let s = common::start().await;
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    ca.write_all(s.cert_pem.as_bytes()).unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg("verify_pyseto.py")
        .env("KEYS_URL", s.url("/iam/keys"))
        .env("CA_FILE", ca.path());
    let mut v = Script::spawn(cmd);
    let ready = v.line().await;
    assert_eq!(ready["ready"], true, "{ready}");

    early_in_a_second().await;
    let login = s
        .iam
        .login(&LoginRequest::password("admin", common::ADMIN_PASSWORD))
        .await
        .unwrap();
    let token = login.tokens.access_token.expose().to_owned();
    let claims = verify(&mut v, &token)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let who = s.iam.verify(&token).await.unwrap();
    assert_eq!(claims["sub"], who.account_id.as_str(), "{claims}");
    assert_eq!(claims["sid"], who.session_id.as_str(), "{claims}");
    assert_eq!(claims["jti"], who.token_id.as_str(), "{claims}");
    assert_eq!(claims["kind"], "human", "{claims}");
    assert_eq!(claims["roles"], serde_json::json!(["admin"]), "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]), "{claims}");
    // The time claims are RFC 3339; `nbf` and `iat` in whole seconds (the same second: nbf
    // never after the mint time), `exp` after them. The mint time in milliseconds is iam's
    // own `iat_ms`, within that second.
    let nbf = claims["nbf"].as_str().unwrap();
    let iat = claims["iat"].as_str().unwrap();
    for t in [nbf, iat] {
        assert!(t.ends_with('Z') && !t.contains('.'), "{claims}");
    }
    assert_eq!(nbf, iat, "{claims}");
    assert!(claims["exp"].as_str().unwrap() > iat, "{claims}");
    let iat_ms = claims["iat_ms"].as_i64().unwrap();
    assert_eq!(iat_ms, who.issued_at.as_millis(), "{claims}");

    // An altered token is refused.
    let mut tampered = token.clone().into_bytes();
    let i = "v4.public.".len() + 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let refused = verify(&mut v, std::str::from_utf8(&tampered).unwrap()).await;
    assert!(refused.is_err(), "{refused:?}");
}
