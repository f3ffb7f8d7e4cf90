//! The OpenID Connect endpoints: discovery, userinfo, RP-initiated logout, and the
//! `form_post` response mode.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use iam_core::oauth::AuthorizationRedirect;
use iam_core::{Clock, Denial, Error, OAuthError, Store};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize as _, Zeroizing};

use super::form::{form_body, is_form, parse_params, single, Params};
use super::html::{escape, hidden, message, page, secure_headers, CSP};
use super::session::Browser;
use super::{oauth_error, OAuthCtx, OAuthState, END_SESSION_PATH};
use crate::auth::bearer_token;

/// The one script of the `form_post` page: it submits the form (allowed by its hash).
const SUBMIT_SCRIPT: &str = "document.forms[0].submit()";

/// `GET`/`POST /oauth2/userinfo` (OpenID Connect Core §5.3): the claims the bearer token's
/// consented scopes release. Errors follow RFC 6750 §3.
pub(crate) async fn userinfo<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match userinfo_token(&method, &headers, &body) {
        Ok(t) => t,
        Err((status, error, why)) => return bearer_error(status, error, why),
    };
    let Ok(principal) = st.iam.verify(&token).await else {
        return bearer_error(
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "the access token is invalid, expired or revoked",
        );
    };
    match st.iam.userinfo(&principal).await {
        Ok(claims) => {
            let mut r = Json(claims).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(Error::Denied(Denial::MissingScope(_))) => bearer_error(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "the access token lacks the openid scope",
        ),
        Err(Error::Denied(_)) => bearer_error(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "userinfo answers only tokens a user delegated to a client",
        ),
        Err(Error::NotFound(_)) => bearer_error(
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "the account is gone or disabled",
        ),
        Err(e) => {
            tracing::error!(error = %e, "userinfo failed");
            oauth_error(OAuthError::server_error())
        }
    }
}

/// The access token of a userinfo request: the `Authorization: Bearer` header (RFC 6750
/// §2.1) or, in a POST with a form body, the `access_token` parameter (§2.2); a request
/// using both is `400 invalid_request` (§2: one method only). A refusal is the status, error
/// code and description of its [`bearer_error`].
fn userinfo_token(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Zeroizing<String>, (StatusCode, Option<&'static str>, &'static str)> {
    let invalid = |why| (StatusCode::BAD_REQUEST, Some("invalid_request"), why);
    let in_body = if *method == Method::POST && is_form(headers) {
        let params = parse_params(body).map_err(|e| invalid(e.description))?;
        let token = single(&params, "access_token")
            .map_err(|e| invalid(e.description))?
            .map(|t| Zeroizing::new(t.to_owned()));
        // The parsed body holds the token too.
        for (_, mut v) in params {
            v.zeroize();
        }
        token
    } else {
        None
    };
    match in_body {
        Some(_) if headers.contains_key(header::AUTHORIZATION) => {
            Err(invalid("the access token is sent in more than one way"))
        }
        Some(token) if token.is_empty() => Err((
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "the access token is invalid, expired or revoked",
        )),
        Some(token) => Ok(token),
        None => bearer_token(headers)
            .map(|t| Zeroizing::new(t.to_owned()))
            .map_err(|_| (StatusCode::UNAUTHORIZED, None, "a bearer token is required")),
    }
}

/// An RFC 6750 §3 answer: `WWW-Authenticate: Bearer` with the error, and the same as JSON.
fn bearer_error(status: StatusCode, error: Option<&str>, description: &str) -> Response {
    let mut challenge = String::from("Bearer realm=\"iam\"");
    if let Some(e) = error {
        let _ = write!(
            challenge,
            ", error=\"{e}\", error_description=\"{description}\""
        );
    }
    let body = serde_json::json!({
        "error": error.unwrap_or("invalid_request"),
        "error_description": description,
    });
    let mut r = (status, Json(body)).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        h.insert(header::WWW_AUTHENTICATE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The `form_post` answer (OAuth 2.0 Form Post Response Mode §2): a page whose form the
/// browser posts to the redirect URI at once (by a script allowed only by its hash), with a
/// button for browsers without script. The page's policy lets that one form leave the origin.
pub(crate) fn form_post_page(issuer: &str, r: &AuthorizationRedirect) -> Response {
    let mut params = r.params();
    params.push(("iss", issuer.to_owned()));
    let fields: String = params.iter().map(|(n, v)| hidden(n, v)).collect();
    let body = format!(
        "<form method=\"post\" action=\"{action}\">{fields}\
<noscript><button type=\"submit\">Continue to the application</button></noscript></form>\
<script>{SUBMIT_SCRIPT}</script>",
        action = escape(&r.redirect_uri),
    );
    let mut response = page(StatusCode::OK, "Returning to the application", &body);
    let script_hash = STANDARD.encode(Sha256::digest(SUBMIT_SCRIPT.as_bytes()));
    let target = form_target(&r.redirect_uri);
    let policy = CSP.replace(
        "form-action 'self'",
        &format!("script-src 'sha256-{script_hash}'; form-action {target}"),
    );
    match HeaderValue::from_str(&policy) {
        Ok(v) => {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
            response
        }
        Err(_) => super::pages::shown_error(OAuthError::server_error(), true),
    }
}

/// The CSP source expression for a form posted to `uri`: the URI without its query (CSP
/// matches paths, never queries). Redirect URIs are registered with only URI characters, so
/// the result holds no space, `;` or `,`.
fn form_target(uri: &str) -> String {
    let base = uri.split(['?', '#']).next().unwrap_or(uri);
    base.replace([';', ',', ' ', '\''], "")
}

/// `GET`/`POST /oauth2/end_session` (OpenID Connect RP-Initiated Logout 1.0): ends the
/// browser's iam session. With a valid `id_token_hint` naming the signed-in user (or no one
/// signed in), it happens at once and the browser returns to `post_logout_redirect_uri` when
/// that is registered for the hint's client; without a hint, the user is asked first (a
/// page of another site must not sign people out). A URI that is not registered is never
/// redirected to.
pub(crate) async fn end_session<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let params = if method == Method::POST {
        form_body(&headers, &body)
    } else {
        parse_params(query.unwrap_or_default().as_bytes())
    };
    let params = match params {
        Ok(p) => p,
        Err(e) => return super::pages::shown_error(e, true),
    };
    let mut b = Browser::load(&st, &headers).await;
    let ask = match read_logout(&params) {
        Ok(ask) => ask,
        Err(e) => return b.finish(super::pages::shown_error(e, true)),
    };
    let confirmed = method == Method::POST && b.csrf_ok(&params) && ask.confirm;
    let plan = match st
        .iam
        .check_end_session(
            ask.id_token_hint.as_deref(),
            ask.client_id.as_deref(),
            ask.post_logout_redirect_uri.as_deref(),
            b.user.as_ref(),
        )
        .await
    {
        Ok(p) => p,
        Err(e) => return b.finish(super::pages::shown_error(e, true)),
    };
    if !plan.hint_matches_user && !confirmed && b.user.is_some() {
        let r = confirm_page(&st, &b, &params);
        return b.finish(r);
    }
    if let Some(user) = &b.user {
        if let Err(e) = st.iam.logout(user).await {
            tracing::warn!(error = %e, "end_session logout failed");
        }
    }
    b.logged_out(&st.rng);
    let r = match plan.redirect_uri {
        Some(mut uri) => {
            if let Some(state) = &ask.state {
                uri.push(if uri.contains('?') { '&' } else { '?' });
                uri.push_str("state=");
                uri.push_str(&super::form::encode_component(state));
            }
            super::html::continue_page(&uri)
        }
        None => page(
            StatusCode::OK,
            "Signed out",
            &message("You are signed out.", false),
        ),
    };
    b.finish(r)
}

/// The parameters of a logout request.
struct LogoutAsk {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// The user confirmed on the page.
    confirm: bool,
}

fn read_logout(params: &Params) -> Result<LogoutAsk, OAuthError> {
    let one = |name| single(params, name).map(|v| v.map(str::to_owned));
    Ok(LogoutAsk {
        id_token_hint: one("id_token_hint")?,
        client_id: one("client_id")?,
        post_logout_redirect_uri: one("post_logout_redirect_uri")?,
        state: one("state")?,
        confirm: one("confirm")?.as_deref() == Some("yes"),
    })
}

/// The page asking a signed-in user whether to sign out, posting the request back.
fn confirm_page<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    params: &Params,
) -> Response {
    let mut fields = hidden("csrf", &b.csrf);
    for (n, v) in params {
        if n != "csrf" && n != "confirm" {
            fields.push_str(&hidden(n, v));
        }
    }
    let body = format!(
        "<p>An application asks to sign you out of this site.</p>\
<form method=\"post\" action=\"{action}\">{fields}\
<button type=\"submit\" name=\"confirm\" value=\"yes\">Sign out</button></form>",
        action = escape(&st.path(END_SESSION_PATH)),
    );
    let mut r = page(StatusCode::OK, "Sign out?", &body);
    secure_headers(r.headers_mut());
    r
}
