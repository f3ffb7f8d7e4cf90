//! Offline verification of audit exports on arbitrary text, and on a genuine export with
//! arbitrary bytes XORed over it: never a panic; a tampered export that still verifies under
//! the pinned key holds exactly the genuine events (its changes are only in spelling).
#![no_main]

use std::sync::OnceLock;

use iam_core::audit::{verify_export, ExportVerified, PinnedKey};
use iam_core::{Caller, Config, Iam, MasterKey, MemoryStore, NewAccount, PasswordPolicy};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    export: String,
    keys: Vec<PinnedKey>,
    genuine: ExportVerified,
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
            for name in ["fuzz", "buzz"] {
                iam.create_account(NewAccount::human(name, "fuzz password"), Caller::System)
                    .await
                    .expect("create");
            }
            let export = iam
                .export_audit(Caller::System)
                .await
                .expect("export")
                .into_text()
                .await
                .expect("text");
            let keys: Vec<PinnedKey> = iam
                .public_keys()
                .iter()
                .filter_map(|k| PinnedKey::parse(&k.paserk))
                .collect();
            let genuine = verify_export(&export, &keys).expect("the genuine export verifies");
            Fixture {
                export,
                keys,
                genuine,
            }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let text = String::from_utf8_lossy(data);
    let _ = verify_export(&text, &f.keys);
    let _ = verify_export(&text, &[]);

    let mut tampered = f.export.clone().into_bytes();
    for (b, x) in tampered.iter_mut().zip(data) {
        *b ^= x;
    }
    if let Ok(t) = String::from_utf8(tampered) {
        if let Ok(v) = verify_export(&t, &f.keys) {
            assert_eq!(v.events, f.genuine.events, "a tampered export verified");
            assert_eq!(v.checkpoints, f.genuine.checkpoints, "a tampered export verified");
        }
    }
});
