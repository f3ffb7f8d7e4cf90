//! The overview (`/account`): who the account is (username, name, email, roles) and the
//! form that changes one's display name. The email address is set by administrators.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use iam_core::{Account, Clock, Principal, Store};

use super::layout::{render, unavailable};
use super::{field, outcome, own_account, posted, visitor, when, Notice, Section};
use crate::oauth::html::{escape, hidden};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState};

/// The overview page with `notice`.
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
    render(
        st,
        b,
        user,
        &account,
        Section::Overview,
        notice,
        &body(st, b, &account),
    )
}

/// The overview's content.
fn body<S: Store, C: Clock>(st: &OAuthState<S, C>, b: &Browser, account: &Account) -> String {
    let p = &account.profile;
    let email = match &p.email {
        Some(e) if p.email_verified => format!("{} (verified)", escape(e)),
        Some(e) => format!("{} (not verified)", escape(e)),
        None => "none".to_owned(),
    };
    let roles = if account.roles.is_empty() {
        "none".to_owned()
    } else {
        account.roles.iter().fold(String::new(), |mut out, r| {
            let sep = if out.is_empty() { "" } else { ", " };
            let _ = write!(out, "{sep}<code>{}</code>", escape(r));
            out
        })
    };
    format!(
        "<section aria-labelledby=\"profile-heading\"><h2 id=\"profile-heading\">Profile</h2>\
<dl><dt>Username</dt><dd>{username}</dd><dt>Email</dt><dd>{email}</dd>\
<dt>Roles</dt><dd>{roles}</dd><dt>Member since</dt><dd>{since}</dd></dl>\
<p>Your email address is managed by the administrators.</p></section>\
<section aria-labelledby=\"name-heading\"><h2 id=\"name-heading\">Display name</h2>\
<form method=\"post\" action=\"{action}\">{csrf}\
<label for=\"name\">Name</label>\
<input id=\"name\" name=\"name\" autocomplete=\"name\" maxlength=\"128\" value=\"{name}\" \
aria-describedby=\"name-help\">\
<p id=\"name-help\">Shown to applications you sign in to. Leave empty to remove it.</p>\
<button type=\"submit\">Save name</button></form></section>",
        username = escape(&account.username),
        since = when(account.created_at),
        action = escape(&st.path("/account/name")),
        csrf = hidden("csrf", &b.csrf),
        name = escape(p.name.as_deref().unwrap_or("")),
    )
}

/// `GET /account`.
pub(crate) async fn overview<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
) -> Response {
    let (b, user) = match visitor(&st, &headers, Section::Overview).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = show(&st, &b, &user, None).await;
    b.finish(r)
}

/// `POST /account/name`: sets (or, when empty, clears) the display name.
pub(crate) async fn set_name<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Overview).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = field(&params, "name").trim();
    let done = st
        .iam
        .set_own_name(&user, (!name.is_empty()).then_some(name))
        .await
        .map(|_| "Your name has been saved.".to_owned());
    let r = match outcome(&st, &b, &user, Section::Overview, done).await {
        Ok(notice) => show(&st, &b, &user, Some(notice)).await,
        Err(r) => r,
    };
    b.finish(r)
}
