//! WebAuthn credential JSON as the HTTP layer and iam-ffi hand it to iam-core: parsing as a
//! registration and as an authentication answer, then finishing a passkey sign-in with it.
//! Every outcome is a typed error; nothing panics, and no arbitrary input signs anyone in.
#![no_main]

use std::sync::OnceLock;

use iam_core::passkey::{parse_authentication_credential, parse_registration_credential};
use iam_core::{Config, Iam, Inline, MasterKey, MemoryStore, PasskeyConfig};
use libfuzzer_sys::fuzz_target;
use pollster::block_on;

fn setup() -> &'static Iam<MemoryStore> {
    static SETUP: OnceLock<Iam<MemoryStore>> = OnceLock::new();
    SETUP.get_or_init(|| {
        let mut config = Config::new(MasterKey::from_bytes([5; 32]));
        config.passkeys = Some(PasskeyConfig::new("example.com", "https://login.example.com"));
        block_on(
            Iam::builder(MemoryStore::new(), config)
                .offload(Inline)
                .open(),
        )
        .expect("open")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_registration_credential(json);
    if parse_authentication_credential(json).is_err() {
        return;
    }
    let iam = setup();
    let challenge = block_on(iam.start_passkey_login(None)).expect("start");
    let outcome = block_on(iam.finish_passkey_login(&challenge.ceremony, json));
    assert!(outcome.is_err(), "arbitrary input signed someone in");
    let replay = block_on(iam.finish_passkey_login(&challenge.ceremony, json));
    assert!(replay.is_err());
});
