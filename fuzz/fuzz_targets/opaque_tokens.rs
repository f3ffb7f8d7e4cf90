//! Refresh-token and API-token parsing on arbitrary input: a typed denial, never a panic.
#![no_main]

use std::sync::OnceLock;

use iam_core::{Config, Iam, Inline, MasterKey, MemoryStore};
use libfuzzer_sys::fuzz_target;
use pollster::block_on;

fn setup() -> &'static Iam<MemoryStore> {
    static SETUP: OnceLock<Iam<MemoryStore>> = OnceLock::new();
    SETUP.get_or_init(|| {
        let config = Config::new(MasterKey::from_bytes([9; 32]));
        block_on(
            Iam::builder(MemoryStore::new(), config)
                .offload(Inline)
                .open(),
        )
        .expect("open")
    })
}

fuzz_target!(|data: &[u8]| {
    let iam = setup();
    let text = String::from_utf8_lossy(data);
    block_on(async {
        assert!(
            iam.refresh(&text).await.is_err(),
            "an unknown refresh token was accepted"
        );
        assert!(
            iam.verify_api_token(&text).await.is_err(),
            "an unknown API token was accepted"
        );
    });
});
