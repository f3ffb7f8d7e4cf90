//! Refresh-token and API-token parsing on arbitrary input: a typed denial, never a panic.
#![no_main]

use std::sync::OnceLock;

use iam_core::{Config, Iam, MasterKey, MemoryStore};
use libfuzzer_sys::fuzz_target;

fn setup() -> &'static (tokio::runtime::Runtime, Iam<MemoryStore>) {
    static SETUP: OnceLock<(tokio::runtime::Runtime, Iam<MemoryStore>)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let iam = rt
            .block_on(
                Iam::builder(
                    MemoryStore::new(),
                    Config::new(MasterKey::from_bytes([9; 32])),
                )
                .open(),
            )
            .expect("open");
        (rt, iam)
    })
}

fuzz_target!(|data: &[u8]| {
    let (rt, iam) = setup();
    let text = String::from_utf8_lossy(data);
    rt.block_on(async {
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
