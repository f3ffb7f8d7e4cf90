//! Personal API tokens (`/account/tokens`): the account's tokens, creating one (label,
//! lifetime, roles it carries; the secret is shown once, on the answer to the form) and
//! revoking one. A token that carries roles needs a recent sign-in (the core's rule).

use std::fmt::Write as _;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use iam_core::{ApiTokenInfo, Caller, Clock, Error, NewApiToken, Principal, Store};

use super::layout::{render, unavailable};
use super::{field, outcome, own_account, posted, visitor, when, Notice, Section};
use crate::oauth::form::Params;
use crate::oauth::html::{escape, hidden, message};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState};

/// The lifetimes offered, in days.
const LIFETIMES: [u64; 4] = [7, 30, 90, 365];

/// The tokens page with `notice`, showing the secret of `created` if given.
async fn show<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    notice: Option<Notice>,
    created: Option<&NewApiToken>,
) -> Response {
    let account = match own_account(st, user).await {
        Ok(a) => a,
        Err(e) => return unavailable(st, e),
    };
    let tokens = match st
        .iam
        .list_api_tokens(Caller::Principal(user), &user.account_id)
        .await
    {
        Ok(t) => t,
        Err(e) => return unavailable(st, e),
    };
    let now = st.iam.clock().now();
    let csrf = hidden("csrf", &b.csrf);
    let secret = created.map_or_else(String::new, |t| {
        format!(
            "<section aria-labelledby=\"new-token-heading\"><h2 id=\"new-token-heading\">New token \
“{label}”</h2><p>Copy the token now: it is shown only once.</p>\
<code class=\"secret\" id=\"token-secret\">{secret}</code>\
<button type=\"button\" data-copy=\"token-secret\" hidden>Copy token</button></section>",
            label = escape(&t.info.label),
            secret = escape(t.secret.expose()),
        )
    });
    let live: Vec<&ApiTokenInfo> = tokens
        .iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at > now)
        .collect();
    let list = if live.is_empty() {
        message("You have no API tokens.", false)
    } else {
        let rows = live.iter().fold(String::new(), |mut out, t| {
            let scopes = if t.scopes.is_empty() {
                "none".to_owned()
            } else {
                escape(&t.scopes.join(", "))
            };
            let _ = write!(
                out,
                "<tr><td data-label=\"Label\">{label}</td><td data-label=\"Roles\">{scopes}</td>\
<td data-label=\"Created\">{created}</td><td data-label=\"Expires\">{expires}</td>\
<td><form method=\"post\" action=\"{action}\">{csrf}{id}\
<button type=\"submit\" aria-label=\"Revoke the token {label}\">Revoke</button></form></td></tr>",
                label = escape(&t.label),
                created = when(t.created_at),
                expires = when(t.expires_at),
                action = escape(&st.path("/account/tokens/revoke")),
                id = hidden("token_id", &t.id),
            );
            out
        });
        format!(
            "<table><caption class=\"vh\">Your API tokens</caption><thead><tr>\
<th scope=\"col\">Label</th><th scope=\"col\">Roles</th><th scope=\"col\">Created</th>\
<th scope=\"col\">Expires</th><th scope=\"col\"><span class=\"vh\">Action</span></th></tr></thead>\
<tbody>{rows}</tbody></table>"
        )
    };
    let max_days = st.iam.config().api_token_max_ttl.as_secs() / 86_400;
    let lifetimes =
        LIFETIMES
            .iter()
            .filter(|d| **d <= max_days.max(1))
            .fold(String::new(), |mut out, d| {
                let selected = if *d == 30 { " selected" } else { "" };
                let _ = write!(out, "<option value=\"{d}\"{selected}>{d} days</option>");
                out
            });
    let roles = account.roles.iter().enumerate().fold(String::new(), |mut out, (i, r)| {
        let _ = write!(
            out,
            "<div class=\"check\"><input type=\"checkbox\" id=\"scope-{i}\" name=\"scope\" value=\"{r}\">\
<label for=\"scope-{i}\">{r}</label></div>",
            r = escape(r)
        );
        out
    });
    let roles = if roles.is_empty() {
        String::new()
    } else {
        format!(
            "<fieldset><legend>Roles the token carries (optional; a token with roles needs a \
recent sign-in)</legend>{roles}</fieldset>"
        )
    };
    let body = format!(
        "{secret}<p>Tokens let scripts call the API as you. Treat them like passwords.</p>{list}\
<section aria-labelledby=\"create-heading\"><h2 id=\"create-heading\">Create a token</h2>\
<form method=\"post\" action=\"{action}\">{csrf}\
<label for=\"label\">Label</label><input id=\"label\" name=\"label\" required maxlength=\"128\" \
autocomplete=\"off\">\
<label for=\"days\">Expires after</label><select id=\"days\" name=\"days\">{lifetimes}</select>\
{roles}<button type=\"submit\">Create token</button></form></section>",
        action = escape(&st.path("/account/tokens/create")),
    );
    render(st, b, user, &account, Section::Tokens, notice, &body)
}

/// `GET /account/tokens`.
pub(crate) async fn page<S: Store, C: Clock>(st: OAuthCtx<S, C>, headers: HeaderMap) -> Response {
    let (b, user) = match visitor(&st, &headers, Section::Tokens).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = show(&st, &b, &user, None, None).await;
    b.finish(r)
}

/// Answers a tokens form with the outcome `done`.
async fn answer<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: Browser,
    user: &Principal,
    done: Result<String, Error>,
) -> Response {
    let r = match outcome(st, &b, user, Section::Tokens, done).await {
        Ok(notice) => show(st, &b, user, Some(notice), None).await,
        Err(r) => r,
    };
    b.finish(r)
}

/// The roles ticked on the create form (the one field that may repeat).
fn scopes(params: &Params) -> Vec<String> {
    params
        .iter()
        .filter(|(n, _)| n == "scope")
        .map(|(_, v)| v.clone())
        .collect()
}

/// `POST /account/tokens/create`: creates a token and shows its secret once.
pub(crate) async fn create<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Tokens).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let days = field(&params, "days")
        .parse::<u64>()
        .ok()
        .filter(|d| LIFETIMES.contains(d))
        .unwrap_or(30);
    let expires = st
        .iam
        .clock()
        .now()
        .plus(Duration::from_secs(days * 86_400));
    match st
        .iam
        .create_api_token(
            &user,
            field(&params, "label").trim(),
            &scopes(&params),
            expires,
        )
        .await
    {
        Ok(token) => {
            let notice = Notice::done("Your token has been created.");
            let r = show(&st, &b, &user, Some(notice), Some(&token)).await;
            b.finish(r)
        }
        Err(e) => answer(&st, b, &user, Err(e)).await,
    }
}

/// `POST /account/tokens/revoke` (the core refuses another account's token).
pub(crate) async fn revoke<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Tokens).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = st
        .iam
        .revoke_api_token(Caller::Principal(&user), field(&params, "token_id"))
        .await
        .map(|()| "The token has been revoked.".to_owned());
    answer(&st, b, &user, done).await
}
