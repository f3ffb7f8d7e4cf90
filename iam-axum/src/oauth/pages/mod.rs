//! The browser-facing side: the authorization endpoint and the login, consent and device
//! verification pages. Every form carries the CSRF token; every redirect goes only to a URI
//! the core returned (a registered redirect URI) or to one of these pages.
//!
//! One file per page: [`login`] (sign in and out), [`authorize`] (the authorization
//! endpoint and the consent page), [`device`] (device verification); this file holds what
//! they share.

pub(crate) mod account;
mod authorize;
mod device;
mod invite;
mod login;
mod upstream;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_core::oauth::{AuthorizationRedirect, ResponseMode};
use iam_core::{Clock, OAuthError, OAuthErrorCode, Store};

use crate::error::ApiError;

use super::form::{encode_params, form_body, no_repeats, single, Params};
use super::html::{continue_page, escape, hidden, message, page, page_with_script, secure_headers};
use super::session::Browser;
use super::{oauth_error, OAuthState, LOGIN_PATH};

pub(crate) use authorize::{authorize_get, authorize_post, consent};
pub(crate) use device::{device_decision, device_entry, device_page};
pub(crate) use invite::{accept_invite, invite_page};
pub(crate) use login::{login, login_page, logout, start_passkey_login, PASSKEY_LOGIN_PATH};
pub(crate) use upstream::{
    link_upstream, unlink_upstream, upstream_account_page, upstream_callback, upstream_start,
    upstream_start_form,
};

/// What the login page continues with once the user has signed in.
enum AfterLogin {
    /// The authorization request (its parameters) that needed the login, and the name of
    /// the application asking (for the page to say).
    Authorize(Params, Option<String>),
    /// The device page, with the user code if one was given.
    Device(Option<String>),
    /// An account page: its path (checked by [`account::return_path`]).
    Account(String),
    /// Nothing: the plain login page.
    Plain,
}

/// Whether the caller is a browser (asks for HTML) rather than an API client.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// An authorization error that must be shown, never redirected (RFC 6749 §4.1.2.1).
pub(crate) fn shown_error(e: OAuthError, html: bool) -> Response {
    let status = if e.code == OAuthErrorCode::ServerError {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    if html {
        let body = format!(
            "{}<p>Error code: <code>{}</code></p><p>Return to the application and try again.</p>",
            message(e.description, true),
            escape(e.code.as_str())
        );
        page(status, "This request cannot be completed", &body)
    } else {
        let mut r = oauth_error(e);
        *r.status_mut() = status;
        r.headers_mut().remove(header::WWW_AUTHENTICATE);
        r
    }
}

/// A 302 to a URI the core returned (a registered redirect URI).
fn redirect_to(location: &str) -> Response {
    let Ok(value) = HeaderValue::from_str(location) else {
        return shown_error(OAuthError::server_error(), true);
    };
    let mut r = (StatusCode::FOUND, [(header::LOCATION, value)]).into_response();
    secure_headers(r.headers_mut());
    r
}

/// Sends the browser to the client, naming this server in `iss` (RFC 9207): a 302 after a
/// GET; after a form post, a page that continues by meta refresh (see [`continue_page`]).
fn client_redirect(issuer: &str, r: &AuthorizationRedirect, after_post: bool) -> Response {
    if r.response_mode == ResponseMode::FormPost {
        return crate::oauth::oidc::form_post_page(issuer, r);
    }
    let location = r.location_for_issuer(issuer);
    if after_post {
        continue_page(&location)
    } else {
        redirect_to(&location)
    }
}

/// The 403 page for a form whose CSRF token does not match.
fn csrf_refused() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "Form expired",
        &message(
            "This form could not be verified. Go back, reload the page and try again.",
            true,
        ),
    )
}

/// Why a page form was refused.
enum Refused {
    /// Malformed, wrong content type or repeated fields.
    Bad(OAuthError),
    /// The CSRF token does not match.
    Csrf,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Bad(e) => oauth_error(e),
            Refused::Csrf => csrf_refused(),
        }
    }
}

/// Parses a page form: content type, strict form, CSRF, no repeated fields but those named
/// in `may_repeat`.
fn page_form(
    headers: &HeaderMap,
    body: &[u8],
    b: &Browser,
    may_repeat: &[&str],
) -> Result<Params, Refused> {
    let params = form_body(headers, body).map_err(Refused::Bad)?;
    if !b.csrf_ok(&params) {
        return Err(Refused::Csrf);
    }
    no_repeats(&params, may_repeat).map_err(Refused::Bad)?;
    Ok(params)
}

/// Loads the browser session and parses the page form it posted; a refused form is
/// answered at once.
async fn posted_form<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Browser, Params), Response> {
    posted_form_repeating(st, headers, body, &[]).await
}

/// [`posted_form`] for a form whose fields named in `may_repeat` may repeat (a group of
/// checkboxes).
async fn posted_form_repeating<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    headers: &HeaderMap,
    body: &[u8],
    may_repeat: &[&str],
) -> Result<(Browser, Params), Response> {
    let b = Browser::load(st, headers).await;
    match page_form(headers, body, &b, may_repeat) {
        Ok(params) => Ok((b, params)),
        Err(r) => Err(b.finish(r.into_response())),
    }
}

/// A JSON call from the pages' static script (a WebAuthn ceremony): the browser, once the
/// call carries the page's CSRF token in its header; else the 403 answer.
async fn script_call<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    headers: &HeaderMap,
) -> Result<Browser, Response> {
    let b = Browser::load(st, headers).await;
    if b.csrf_header_ok(headers) {
        Ok(b)
    } else {
        let refused = ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "the request could not be verified; reload the page and try again",
        );
        Err(b.finish(refused.into_response()))
    }
}

/// The JSON answer to a script call: `status` and the body of `done`, or the REST API's error
/// for its failure.
fn script_answer<T: serde::Serialize>(
    b: Browser,
    status: StatusCode,
    done: Result<T, iam_core::Error>,
) -> Response {
    let r = match done {
        Ok(body) => {
            let mut r = (status, axum::Json(body)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            if crate::error::code_parts(e.code()).0.is_server_error() {
                tracing::error!(error = %e, "passkey ceremony failed");
            }
            ApiError::from(e).into_response()
        }
    };
    b.finish(r)
}

/// The list items naming `scopes`, marking those in `new` as new.
fn scope_list(scopes: &BTreeSet<String>, new: Option<&BTreeSet<String>>) -> String {
    if scopes.is_empty() {
        return "<li>basic access to your account</li>".to_owned();
    }
    scopes.iter().fold(String::new(), |mut out, s| {
        let mark = if new.is_some_and(|n| n.contains(s)) {
            " <em>(new)</em>"
        } else {
            ""
        };
        let _ = match standard_scope_meaning(s) {
            Some(meaning) => write!(out, "<li>{meaning} (<code>{}</code>){mark}</li>", escape(s)),
            None => write!(out, "<li><code>{}</code>{mark}</li>", escape(s)),
        };
        out
    })
}

/// What the OpenID Connect standard scopes let an application learn, in words.
fn standard_scope_meaning(scope: &str) -> Option<&'static str> {
    match scope {
        "openid" => Some("sign you in with your account"),
        "profile" => Some("see your name and username"),
        "email" => Some("see your email address"),
        "offline_access" => Some("stay connected while you are away"),
        _ => None,
    }
}

/// What a person must know before approving: who registered the client when a user did, and
/// that the management scope hands over administration.
fn client_notice(registered_by: Option<&str>, scopes: &BTreeSet<String>) -> String {
    let mut out = String::new();
    if let Some(who) = registered_by {
        let _ = write!(
            out,
            "<p class=\"warning\">This application was registered by the user \
<strong>{}</strong>, not by the administrators of this site.</p>",
            escape(who)
        );
    }
    if scopes.contains(iam_core::MANAGEMENT_SCOPE) {
        out.push_str(
            "<p class=\"warning\"><strong>Administrative access:</strong> this application \
asks to manage iam as you (accounts, roles, clients, keys and the audit log).</p>",
        );
    }
    out
}

/// What follows a login for the authorization request `params`: the request, and the display
/// name of the (enabled) client it names.
async fn after_login_for<S: Store, C: Clock>(st: &OAuthState<S, C>, params: Params) -> AfterLogin {
    let app = match single(&params, "client_id").ok().flatten() {
        Some(id) => st
            .iam
            .oauth_client(iam_core::Caller::System, id)
            .await
            .ok()
            .filter(|c| !c.disabled)
            .map(|c| c.name),
        None => None,
    };
    AfterLogin::Authorize(params, app)
}

/// The login page, continuing with `next` after success.
fn login_form<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    next: &AfterLogin,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    // What follows the sign-in, carried by the form and by every "Sign in with …" button.
    let mut continuation = String::new();
    let passkeys = st.iam.config().passkeys.is_some();
    // The `login_hint` of the authorization request (OpenID Connect Core §3.1.2.1) prefills
    // the username; the password then has the focus.
    let hint = match next {
        AfterLogin::Authorize(params, _) => single(params, "login_hint").ok().flatten(),
        _ => None,
    }
    .filter(|h| !h.is_empty());
    let (username_extra, username_focus, password_focus) = match hint {
        Some(h) => (format!(" value=\"{}\"", escape(h)), "", " autofocus"),
        None => (String::new(), " autofocus", ""),
    };
    let asking = match next {
        AfterLogin::Authorize(_, Some(app)) => format!(
            "<p>Sign in to continue to <strong>{}</strong>.</p>",
            escape(app)
        ),
        _ => String::new(),
    };
    match next {
        AfterLogin::Authorize(params, _) => {
            continuation.push_str(&hidden("next", "authorize"));
            continuation.push_str(&hidden("request", &encode_params(params)));
        }
        AfterLogin::Device(code) => {
            continuation.push_str(&hidden("next", "device"));
            if let Some(code) = code {
                continuation.push_str(&hidden("user_code", code));
            }
        }
        AfterLogin::Account(path) => {
            continuation.push_str(&hidden("next", "account"));
            continuation.push_str(&hidden("return_to", path));
        }
        AfterLogin::Plain => {}
    }
    let fields = format!("{}{continuation}", hidden("csrf", &b.csrf));
    let body = format!(
        "{err}{asking}<form method=\"post\" action=\"{action}\" data-login>{fields}\
<label for=\"username\">Username</label>\
<input id=\"username\" name=\"username\" autocomplete=\"username\" required{username_focus}{username_extra}>\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{password_focus}>\
<label for=\"totp\">One-time code (if enabled)</label>\
<input id=\"totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]*\" maxlength=\"10\">\
<button type=\"submit\">Sign in</button>{second}</form>{passkey}{upstream}",
        err = error.map(|e| message(e, true)).unwrap_or_default(),
        action = escape(&st.path(LOGIN_PATH)),
        second = if passkeys {
            "<button type=\"button\" data-passkey-second hidden>Use a passkey instead of a code</button>"
        } else {
            ""
        },
        upstream = upstream::buttons(st, b, &continuation),
        passkey = if passkeys {
            format!(
                "<section data-passkey-login data-start=\"{}\" hidden>\
<p>Or, without a password:</p>\
<button type=\"button\" data-passkey-button>Sign in with a passkey</button>\
<p class=\"error\" role=\"alert\" data-passkey-error hidden></p></section>",
                escape(&st.path(login::PASSKEY_LOGIN_PATH))
            )
        } else {
            String::new()
        },
    );
    // With passkeys on, the page loads the static script that runs the WebAuthn ceremony.
    if passkeys {
        page_with_script(status, "Sign in", &body, &st.path(account::ASSET_PATH))
    } else {
        page(status, "Sign in", &body)
    }
}
