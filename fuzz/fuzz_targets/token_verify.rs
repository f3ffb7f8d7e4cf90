//! Access-token verification on arbitrary input, and on real tokens with arbitrary bit flips:
//! never a panic, and nothing but the genuine token ever verifies.
#![no_main]

use iam_core::Caller;
use std::sync::OnceLock;

use iam_core::{Config, Iam, LoginRequest, MasterKey, MemoryStore, NewAccount, PasswordPolicy};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    iam: Iam<MemoryStore>,
    token: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        pollster::block_on(async {
            let mut config = Config::new(MasterKey::from_bytes([7; 32]));
            config.passwords = PasswordPolicy::insecure_fast_for_tests();
            let iam = Iam::builder(MemoryStore::new(), config)
                .offload(iam_core::Inline)
                .open()
                .await
                .expect("open");
            iam.create_account(NewAccount::human("fuzz", "fuzz password"), Caller::System)
                .await
                .expect("create");
            let login = iam
                .login(&LoginRequest::password("fuzz", "fuzz password"))
                .await
                .expect("login");
            let token = login.tokens.access_token.expose().to_owned();
            Fixture { iam, token }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    // Arbitrary bytes as a token.
    let text = String::from_utf8_lossy(data);
    if text != f.token {
        assert!(f.iam.verify_cached(&text).is_err(), "garbage verified");
    }
    // The genuine token with the input XORed over it (a tampered token).
    let mut tampered = f.token.clone().into_bytes();
    for (b, x) in tampered.iter_mut().zip(data) {
        *b ^= x;
    }
    if let Ok(t) = String::from_utf8(tampered) {
        let verdict = f.iam.verify_cached(&t);
        if t != f.token {
            // A changed base64url character can decode to the same bytes only in the padding
            // bits of the last character; then the signed content is unchanged.
            if verdict.is_ok() {
                assert_eq!(t.len(), f.token.len(), "a token of another length verified");
            }
        }
    }
});
