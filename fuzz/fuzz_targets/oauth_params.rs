//! OAuth2 requests as the HTTP layer receives them (form bodies and query strings): parsing and
//! then full processing by the authorization and token endpoints on arbitrary input. Every
//! outcome is a typed answer; nothing panics, and an unauthenticated request never gets a token.
#![no_main]

use std::sync::OnceLock;

use iam_core::oauth::{AuthorizeRequest, ClientAuth, TokenRequest, TokenTypeHint};
use iam_core::{Config, Iam, Inline, MasterKey, MemoryStore};
use libfuzzer_sys::fuzz_target;
use pollster::block_on;

fn setup() -> &'static Iam<MemoryStore> {
    static SETUP: OnceLock<Iam<MemoryStore>> = OnceLock::new();
    SETUP.get_or_init(|| {
        let config = Config::new(MasterKey::from_bytes([5; 32]));
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
    let params: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    for (_, value) in &params {
        let _ = iam_core::oauth::scope::parse_scope(value);
        let _ = TokenTypeHint::parse(value);
    }
    let authorize = AuthorizeRequest::from_params(&params);
    let token = TokenRequest::from_params(&params);
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let auth = ClientAuth::from_request(
        None,
        get("client_id"),
        get("client_secret"),
        get("client_assertion_type"),
        get("client_assertion"),
    );
    block_on(async {
        let _ = iam.authorize(&authorize, None).await;
        if let (Ok(token), Ok(auth)) = (token, auth) {
            // No client is registered, so no request can authenticate.
            assert!(
                iam.token(&auth, &token).await.is_err(),
                "a token for nobody"
            );
        }
    });
});
