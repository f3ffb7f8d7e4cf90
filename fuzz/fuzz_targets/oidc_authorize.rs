//! OpenID Connect authorization requests from arbitrary query strings: `AuthorizeRequest::
//! from_params`, then `Iam::authorize` for nobody and for a signed-in, consented user, so the
//! OIDC parameters (`claims`, `prompt`, `max_age`, `nonce`, `id_token_hint`, `login_hint`,
//! `response_mode`, ...) reach their parsers and checks. Nothing panics, a redirect only ever
//! goes to the registered URI, and nobody who is not signed in gets a code.
#![no_main]

#[path = "oidc_fixture.rs"]
mod oidc_fixture;

use iam_core::oauth::AuthorizationResult;
use iam_core::{AuthorizeOutcome, AuthorizeRequest};
use libfuzzer_sys::fuzz_target;
use oidc_fixture::{complete, fixture, CB};
use pollster::block_on;

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut params: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    // `id_token_hint=genuine` stands for alice's genuine ID token, so the accepted-hint path
    // meets every other parameter too.
    for (name, value) in &mut params {
        if name == "id_token_hint" && value == "genuine" {
            value.clone_from(&f.id_token);
        }
    }
    complete(&mut params, &f.client_id);
    let req = AuthorizeRequest::from_params(&params);
    block_on(async {
        for user in [None, Some(&f.alice)] {
            if let Ok(AuthorizeOutcome::Redirect(r)) = f.iam.authorize(&req, user).await {
                assert_eq!(r.redirect_uri, CB, "a redirect to an unregistered URI");
                if user.is_none() {
                    assert!(
                        !matches!(r.result, AuthorizationResult::Code(_)),
                        "a code for nobody"
                    );
                }
            }
        }
    });
});
