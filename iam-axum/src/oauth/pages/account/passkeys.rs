//! Passkeys (`/account/passkeys`): the account's passkeys (name, when registered and last
//! used, synced or bound to one device), renaming and removing one (forms; both need a recent
//! sign-in, the core's rule), and adding one. Adding is the static script's part: it asks
//! [`start_registration`] for the options, runs `navigator.credentials.create()`, and hands
//! the result to [`finish_registration`]; both are JSON calls carrying the page's CSRF token
//! in a header and acting as the browser session's principal. Without the script (or without
//! WebAuthn in the browser) the page lists and manages passkeys but cannot add one.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use iam_core::{Caller, Clock, PasskeyInfo, Principal, Store};

use super::layout::{render, unavailable};
use super::{field, outcome, own_account, posted, reauth, script_user, visitor, when};
use super::{Notice, Section};
use crate::dto::{PasskeyChallengeOut, PasskeyLabelBody, PasskeyOut, WebauthnCredential};
use crate::extract::{ApiJson, ApiPath};
use crate::oauth::html::{escape, hidden, message};
use crate::oauth::pages::script_answer;
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState};

/// Where the script starts a registration (`/{ceremony}` finishes it).
pub(super) const REGISTRATION_PATH: &str = "/account/passkeys/registration";
/// Where the script starts a passkey step-up (confirming it is you with a passkey).
pub(super) const STEP_UP_PATH: &str = "/account/passkeys/step-up";

/// The passkeys page with `notice`.
async fn show<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    notice: Option<Notice>,
) -> Response {
    let account = match own_account(st, user).await {
        Ok(a) => a,
        Err(e) => return unavailable(st, e),
    };
    let passkeys = match st
        .iam
        .list_passkeys(Caller::Principal(user), &user.account_id)
        .await
    {
        Ok(p) => p,
        Err(e) => return unavailable(st, e),
    };
    let list = if passkeys.is_empty() {
        message("You have no passkeys.", false)
    } else {
        let csrf = hidden("csrf", &b.csrf);
        let rows = passkeys.iter().fold(String::new(), |mut out, p| {
            row(&mut out, st, &csrf, p);
            out
        });
        format!(
            "<table><caption class=\"vh\">Your passkeys</caption><thead><tr>\
<th scope=\"col\">Name</th><th scope=\"col\">Added</th><th scope=\"col\">Last used</th>\
<th scope=\"col\">Kind</th><th scope=\"col\"><span class=\"vh\">Actions</span></th></tr></thead>\
<tbody>{rows}</tbody></table>"
        )
    };
    let add = if st.iam.config().passkeys.is_some() {
        add_section(st, b)
    } else {
        message("Passkeys are not enabled on this server.", false)
    };
    let body = format!(
        "<p>A passkey signs you in with your device's screen lock or a security key, without \
a password.</p>{list}{add}"
    );
    render(st, b, user, &account, Section::Passkeys, notice, &body)
}

/// One passkey's table row, with its rename and remove forms.
fn row<S: Store, C: Clock>(out: &mut String, st: &OAuthState<S, C>, csrf: &str, p: &PasskeyInfo) {
    let kind = if p.backup_eligible {
        "Synced (may be backed up)"
    } else {
        "This device only"
    };
    let _ = write!(
        out,
        "<tr><td data-label=\"Name\">{label}</td><td data-label=\"Added\">{created}</td>\
<td data-label=\"Last used\">{used}</td><td data-label=\"Kind\">{kind}</td><td>\
<form method=\"post\" action=\"{rename}\" class=\"rename\">{csrf}{id}\
<span class=\"vh\"><label for=\"rename-{key}\">New name for {label}</label></span>\
<input id=\"rename-{key}\" name=\"label\" required maxlength=\"128\" autocomplete=\"off\" value=\"{label}\">\
<button type=\"submit\" aria-label=\"Rename the passkey {label}\">Rename</button></form>\
<form method=\"post\" action=\"{remove}\">{csrf}{id}\
<button type=\"submit\" aria-label=\"Remove the passkey {label}\">Remove</button></form></td></tr>",
        label = escape(&p.label),
        created = when(p.created_at),
        used = p.last_used_at.map_or_else(|| "Never".to_owned(), when),
        rename = escape(&st.path("/account/passkeys/rename")),
        remove = escape(&st.path("/account/passkeys/remove")),
        id = hidden("passkey_id", &p.id),
        key = escape(&p.id),
    );
}

/// The "Add a passkey" section: hidden until the script finds WebAuthn in the browser; the
/// script reads its `data-` paths and the form's CSRF token.
fn add_section<S: Store, C: Clock>(st: &OAuthState<S, C>, b: &Browser) -> String {
    let page = st.path(Section::Passkeys.path());
    format!(
        "<section aria-labelledby=\"add-heading\" data-passkey-add data-start=\"{start}\" \
data-done=\"{page}?added\" data-reauth=\"{page}?confirm\" hidden>\
<h2 id=\"add-heading\">Add a passkey</h2><form>{csrf}\
<label for=\"passkey-label\">Name</label>\
<input id=\"passkey-label\" name=\"label\" required maxlength=\"128\" autocomplete=\"off\" \
value=\"Passkey\" aria-describedby=\"passkey-label-help\">\
<p id=\"passkey-label-help\">A name to tell it apart, such as the device it lives on.</p>\
<button type=\"submit\">Add a passkey</button></form>\
<p class=\"error\" role=\"alert\" data-passkey-error hidden></p></section>\
<p data-passkey-unsupported hidden>This browser cannot create passkeys.</p>\
<noscript><p>Adding a passkey needs JavaScript.</p></noscript>",
        start = escape(&st.path(REGISTRATION_PATH)),
        page = escape(&page),
        csrf = hidden("csrf", &b.csrf),
    )
}

/// `GET /account/passkeys`; `?added` says a passkey was just added, `?confirm` asks for a
/// recent sign-in first (where the script goes when the core asks for one).
pub(crate) async fn page<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (b, user) = match visitor(&st, &headers, Section::Passkeys).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = match query.as_deref() {
        Some("confirm") => {
            reauth::prompt(&st, &b, &user, Section::Passkeys, None, StatusCode::OK).await
        }
        Some("added") => {
            let notice = Notice::done("Your passkey has been added.");
            show(&st, &b, &user, Some(notice)).await
        }
        _ => show(&st, &b, &user, None).await,
    };
    b.finish(r)
}

/// Answers a passkeys form with the outcome `done`.
async fn answer<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: Browser,
    user: &Principal,
    done: Result<String, iam_core::Error>,
) -> Response {
    let r = match outcome(st, &b, user, Section::Passkeys, done).await {
        Ok(notice) => show(st, &b, user, Some(notice)).await,
        Err(r) => r,
    };
    b.finish(r)
}

/// `POST /account/passkeys/rename` (the core refuses another account's passkey).
pub(crate) async fn rename<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Passkeys).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = st
        .iam
        .rename_passkey(
            Caller::Principal(&user),
            field(&params, "passkey_id"),
            field(&params, "label"),
        )
        .await
        .map(|_| "The passkey has been renamed.".to_owned());
    answer(&st, b, &user, done).await
}

/// `POST /account/passkeys/remove`: the passkey signs in no more.
pub(crate) async fn remove<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Passkeys).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = st
        .iam
        .remove_passkey(Caller::Principal(&user), field(&params, "passkey_id"))
        .await
        .map(|()| "The passkey has been removed.".to_owned());
    answer(&st, b, &user, done).await
}

/// `POST /account/passkeys/registration` (the script): the options for
/// `navigator.credentials.create()` and the ceremony to finish with.
pub(crate) async fn start_registration<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasskeyLabelBody>,
) -> Response {
    let (b, user) = match script_user(&st, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = st
        .iam
        .start_passkey_registration(&user, &body.label)
        .await
        .map(PasskeyChallengeOut::from);
    script_answer(b, StatusCode::OK, done)
}

/// `POST /account/passkeys/registration/{ceremony}` (the script): registers the credential
/// `navigator.credentials.create()` produced; 201 with the new passkey.
pub(crate) async fn finish_registration<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    ApiPath(ceremony): ApiPath<String>,
    ApiJson(credential): ApiJson<WebauthnCredential>,
) -> Response {
    let (b, user) = match script_user(&st, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = st
        .iam
        .finish_passkey_registration(&user, &ceremony, &credential.0.to_string())
        .await
        .map(PasskeyOut::from);
    script_answer(b, StatusCode::CREATED, done)
}

/// `POST /account/passkeys/step-up` (the script on the confirmation page): a challenge one of
/// the account's passkeys answers; the answer is posted with the confirmation form.
pub(crate) async fn start_step_up<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
) -> Response {
    let (b, user) = match script_user(&st, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = st
        .iam
        .start_passkey_step_up(&user)
        .await
        .map(PasskeyChallengeOut::from);
    script_answer(b, StatusCode::OK, done)
}
