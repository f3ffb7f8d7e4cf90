//! JWT verification on untrusted input: arbitrary strings, and a genuine ID token with
//! arbitrary bytes XORed over it, as the `id_token_hint` of RP-initiated logout
//! (`Iam::check_end_session`) and of an authorization request (`Iam::authorize`), and as a
//! bearer token (`Iam::verify`). Nothing panics and nothing but the genuine ID token is
//! accepted as a hint.
#![no_main]

#[path = "oidc_fixture.rs"]
mod oidc_fixture;

use iam_core::oauth::AuthorizationResult;
use iam_core::{AuthorizeOutcome, AuthorizeRequest};
use libfuzzer_sys::fuzz_target;
use oidc_fixture::{complete, fixture, Fixture, AFTER_LOGOUT};
use pollster::block_on;

/// Whether `hint` is accepted: as a logout hint, and as the hint of a `prompt=none`
/// authorization by its user.
async fn accepted(f: &Fixture, hint: &str) -> bool {
    let logout = f
        .iam
        .check_end_session(Some(hint), None, Some(AFTER_LOGOUT), Some(&f.alice))
        .await
        .is_ok();
    let mut params = vec![
        ("id_token_hint".to_owned(), hint.to_owned()),
        ("prompt".to_owned(), "none".to_owned()),
    ];
    complete(&mut params, &f.client_id);
    let req = AuthorizeRequest::from_params(&params);
    let code = matches!(
        f.iam.authorize(&req, Some(&f.alice)).await,
        Ok(AuthorizeOutcome::Redirect(r)) if matches!(r.result, AuthorizationResult::Code(_))
    );
    // The same check guards both (alice's session may have expired in a long run, so a
    // hint accepted for logout need not give a code).
    assert!(logout || !code, "a code for a hint logout refused: {hint:?}");
    logout
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    block_on(async {
        // Arbitrary bytes as a hint and as a bearer token.
        let text = String::from_utf8_lossy(data);
        if text != f.id_token {
            assert!(!accepted(f, &text).await, "a forged hint was accepted");
        }
        assert!(f.iam.verify(&text).await.is_err(), "garbage verified");
        // The genuine ID token with the input XORed over it (a tampered token).
        let mut tampered = f.id_token.clone().into_bytes();
        for (b, x) in tampered.iter_mut().zip(data) {
            *b ^= x;
        }
        if let Ok(t) = String::from_utf8(tampered) {
            if accepted(f, &t).await && t != f.id_token {
                // Only the unused bits of a base64url segment's last character can change
                // without changing the decoded bytes; the length cannot.
                assert_eq!(t.len(), f.id_token.len(), "a tampered hint was accepted");
            }
        }
    });
});
