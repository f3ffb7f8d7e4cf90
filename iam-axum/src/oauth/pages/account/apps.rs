//! Connected apps (`/account/apps`): the OAuth clients the account consented to, with what
//! they may do and since when; revoking one withdraws the consent and ends every token the
//! client holds for the account.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use iam_core::{Caller, Clock, Error, Principal, Store};

use super::layout::{render, unavailable};
use super::{field, outcome, own_account, posted, visitor, when, Notice, Section};
use crate::oauth::html::{escape, hidden, message};
use crate::oauth::pages::scope_list;
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState};

/// The apps page with `notice`.
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
    let consents = match st
        .iam
        .list_consents(Caller::Principal(user), &user.account_id)
        .await
    {
        Ok(c) => c,
        Err(e) => return unavailable(st, e),
    };
    let mut items = String::new();
    for c in &consents {
        // The client's display name, as the consent page showed it (the client id when the
        // client is gone).
        let name = st
            .iam
            .oauth_client(Caller::System, &c.client_id)
            .await
            .map_or_else(|_| c.client_id.clone(), |client| client.name);
        let _ = write!(
            items,
            "<li><h3>{name}</h3><p>Connected since {since}. It may:</p><ul>{scopes}</ul>\
<form method=\"post\" action=\"{action}\">{csrf}{id}\
<button type=\"submit\" aria-label=\"Disconnect {name}\">Disconnect</button></form></li>",
            name = escape(&name),
            since = when(c.granted_at),
            scopes = scope_list(&c.scopes, None),
            action = escape(&st.path("/account/apps/revoke")),
            csrf = hidden("csrf", &b.csrf),
            id = hidden("client_id", &c.client_id),
        );
    }
    let body = if items.is_empty() {
        message("No application is connected to your account.", false)
    } else {
        format!(
            "<p>Applications you allowed to use your account. Disconnecting one signs it out \
and it must ask again.</p><ul class=\"apps\">{items}</ul>"
        )
    };
    render(st, b, user, &account, Section::Apps, notice, &body)
}

/// `GET /account/apps`.
pub(crate) async fn page<S: Store, C: Clock>(st: OAuthCtx<S, C>, headers: HeaderMap) -> Response {
    let (b, user) = match visitor(&st, &headers, Section::Apps).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = show(&st, &b, &user, None).await;
    b.finish(r)
}

/// `POST /account/apps/revoke`: withdraws the consent to one client.
pub(crate) async fn revoke<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Apps).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done: Result<String, Error> = st
        .iam
        .revoke_consent(&user, field(&params, "client_id"))
        .await
        .map(|_| "The application has been disconnected.".to_owned());
    let r = match outcome(&st, &b, &user, Section::Apps, done).await {
        Ok(notice) => show(&st, &b, &user, Some(notice)).await,
        Err(r) => r,
    };
    b.finish(r)
}
