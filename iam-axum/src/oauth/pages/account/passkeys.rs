//! Passkeys (`/account/passkeys`): a skeleton. Listing, adding, renaming and removing
//! passkeys are not wired yet (they wait for iam-core's passkey operations); the page says so
//! and carries the hook (`data-passkeys`) where the static script will make the WebAuthn
//! calls. Nothing here pretends to work.

use axum::http::HeaderMap;
use axum::response::Response;
use iam_core::{Clock, Store};

use super::layout::{render, unavailable};
use super::{own_account, visitor, Section};
use crate::oauth::OAuthCtx;

/// `GET /account/passkeys`.
pub(crate) async fn page<S: Store, C: Clock>(st: OAuthCtx<S, C>, headers: HeaderMap) -> Response {
    let (b, user) = match visitor(&st, &headers, Section::Passkeys).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let account = match own_account(&st, &user).await {
        Ok(a) => a,
        Err(e) => return b.finish(unavailable(&st, e)),
    };
    // NOT YET WIRED: the list and the add, rename and remove forms come with the passkey
    // operations of iam-core.
    let body = "<section aria-labelledby=\"passkeys-heading\" data-passkeys>\
<h2 id=\"passkeys-heading\">Your passkeys</h2>\
<p>Passkeys are not available on this server yet. When they are, you will add, rename and \
remove them here.</p>\
<p data-webauthn-support hidden></p></section>";
    let r = render(&st, &b, &user, &account, Section::Passkeys, None, body);
    b.finish(r)
}
