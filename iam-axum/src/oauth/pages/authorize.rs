//! The authorization endpoint (`/oauth2/authorize`) and the consent page (`/oauth2/consent`).

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use iam_core::oauth::ConsentPrompt;
use iam_core::{AuthorizeOutcome, AuthorizeRequest, Clock, OAuthError, Store};

use super::{
    after_login_for, client_notice, client_redirect, login_form, posted_form, scope_list,
    shown_error, wants_html,
};
use crate::oauth::form::{encode_params, form_body, parse_params, single, Params};
use crate::oauth::html::{escape, hidden, page};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState, CONSENT_PATH};

/// The consent page for `prompt`, posting the authorization request back.
fn consent_form<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    prompt: &ConsentPrompt,
    params: &Params,
) -> Response {
    let scopes = scope_list(&prompt.scopes, Some(&prompt.new_scopes));
    let body = format!(
        "<p><strong>{name}</strong> (<code>{id}</code>) asks for access to your account:</p>\
<ul>{scopes}</ul>{notice}\
<form method=\"post\" action=\"{action}\">{csrf}{request}\
<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        name = escape(&prompt.client_name),
        id = escape(&prompt.client_id),
        notice = client_notice(prompt.registered_by.as_deref(), &prompt.scopes),
        action = escape(&st.path(CONSENT_PATH)),
        csrf = hidden("csrf", &b.csrf),
        request = hidden("request", &encode_params(params)),
    );
    page(StatusCode::OK, "Allow access?", &body)
}

/// The answer for an authorization outcome.
pub(super) async fn outcome_response<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    outcome: AuthorizeOutcome,
    params: &Params,
    after_post: bool,
) -> Response {
    match outcome {
        AuthorizeOutcome::Redirect(r) => client_redirect(&st.issuer, &r, after_post),
        AuthorizeOutcome::LoginRequired => {
            let next = after_login_for(st, params.clone()).await;
            login_form(st, b, &next, None, StatusCode::OK)
        }
        AuthorizeOutcome::ConsentRequired(prompt) => consent_form(st, b, &prompt, params),
    }
}

/// The request parameters with `login` and `select_account` taken out of `prompt` (the
/// login, where the user chose the account, just happened).
pub(super) fn without_login_prompt(params: &Params) -> Params {
    params
        .iter()
        .filter_map(|(n, v)| {
            if n != "prompt" {
                return Some((n.clone(), v.clone()));
            }
            let rest: Vec<&str> = v
                .split(' ')
                .filter(|p| !p.is_empty() && !matches!(*p, "login" | "select_account"))
                .collect();
            (!rest.is_empty()).then(|| (n.clone(), rest.join(" ")))
        })
        .collect()
}

async fn authorize_with<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    headers: &HeaderMap,
    params: Result<Params, OAuthError>,
    after_post: bool,
) -> Response {
    let html = wants_html(headers);
    let params = match params {
        Ok(p) => p,
        Err(e) => return shown_error(e, html),
    };
    let b = Browser::load(st, headers).await;
    let req = AuthorizeRequest::from_params(&params);
    let response = match st.iam.authorize(&req, b.user.as_ref()).await {
        Ok(outcome) => outcome_response(st, &b, outcome, &params, after_post).await,
        Err(e) => shown_error(e, html),
    };
    b.finish(response)
}

/// `GET /oauth2/authorize` (RFC 6749 §4.1.1).
pub(crate) async fn authorize_get<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_params(query.unwrap_or_default().as_bytes());
    authorize_with(&st, &headers, params, false).await
}

/// `POST /oauth2/authorize`: the same request form-encoded in the body.
pub(crate) async fn authorize_post<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = form_body(&headers, &body);
    authorize_with(&st, &headers, params, true).await
}

/// `POST /oauth2/consent`: Allow issues the code, Deny answers `access_denied`; both by
/// redirect to the registered URI the core returns.
pub(crate) async fn consent<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, params) = match posted_form(&st, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let field = |name: &str| single(&params, name).ok().flatten().unwrap_or_default();
    let request = match parse_params(field("request").as_bytes()) {
        Ok(p) => p,
        Err(e) => return b.finish(shown_error(e, true)),
    };
    let req = AuthorizeRequest::from_params(&request);
    let r = match (field("decision"), &b.user) {
        (_, None) => {
            let next = after_login_for(&st, request.clone()).await;
            login_form(&st, &b, &next, None, StatusCode::OK)
        }
        ("allow", Some(user)) => match st.iam.consent_and_authorize(&req, user).await {
            Ok(outcome) => outcome_response(&st, &b, outcome, &request, true).await,
            Err(e) => shown_error(e, true),
        },
        ("deny", Some(_)) => match st.iam.deny_authorization(&req).await {
            Ok(r) => client_redirect(&st.issuer, &r, true),
            Err(e) => shown_error(e, true),
        },
        _ => shown_error(OAuthError::invalid_request("choose Allow or Deny"), true),
    };
    b.finish(r)
}
