//! Shared set-up for iam-core's behaviour tests.
#![allow(dead_code)]

use std::sync::Arc;

use iam_core::{
    Config, Iam, ManualClock, MasterKey, MemoryStore, PasswordPolicy, SecureRandom, Timestamp,
};

/// 2026-01-01T00:00:00Z.
pub const START: Timestamp = Timestamp::from_secs(1_767_225_600);

/// An Iam over a fresh MemoryStore with a manual clock and cheap Argon2.
pub async fn iam() -> (Iam<MemoryStore, ManualClock>, ManualClock) {
    iam_with(|_| {}).await
}

/// Like [`iam`], with a chance to adjust the configuration.
pub async fn iam_with(
    adjust: impl FnOnce(&mut Config),
) -> (Iam<MemoryStore, ManualClock>, ManualClock) {
    let clock = ManualClock::new(START);
    let mut config = config(42);
    adjust(&mut config);
    let iam = Iam::builder(MemoryStore::new(), config)
        .clock(clock.clone())
        .rng(SecureRandom::from_seed([1; 32]))
        .open()
        .await
        .expect("open");
    (iam, clock)
}

/// The test configuration: master key `[key; 32]` and cheap Argon2.
pub fn config(key: u8) -> Config {
    let mut config = Config::new(MasterKey::from_bytes([key; 32]));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config
}

/// An Iam over `store` (which other instances may share, as processes share a database) with
/// `clock` and [`config`]`(key)`.
pub async fn open_shared(
    store: &Arc<MemoryStore>,
    clock: &ManualClock,
    key: u8,
) -> iam_core::Result<Iam<Arc<MemoryStore>, ManualClock>> {
    Iam::builder(Arc::clone(store), config(key))
        .clock(clock.clone())
        .open()
        .await
}

/// The password of the OAuth and OpenID Connect tests' accounts.
pub const PW: &str = "correct horse battery";
/// RFC 7636 Appendix B's code verifier.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// RFC 7636 Appendix B: BASE64URL(SHA256(VERIFIER)).
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Logs `name` in with [`PW`] and verifies the session's access token.
pub async fn login<S: iam_core::Store, C: iam_core::Clock>(
    iam: &Iam<S, C>,
    name: &str,
) -> iam_core::Principal {
    let l = iam
        .login(&iam_core::LoginRequest::password(name, PW))
        .await
        .expect("login");
    iam.verify(l.tokens.access_token.expose())
        .await
        .expect("verify")
}
