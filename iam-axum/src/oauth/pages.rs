//! The browser-facing side: the authorization endpoint and the login, consent and device
//! verification pages. Every form carries the CSRF token; every redirect goes only to a URI
//! the core returned (a registered redirect URI) or to one of these pages.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_core::oauth::{AuthorizationRedirect, ConsentPrompt};
use iam_core::{
    AuthorizeOutcome, AuthorizeRequest, Clock, Denial, Error, LoginRequest, OAuthError,
    OAuthErrorCode, Principal, Store,
};

use super::form::{encode_params, form_body, no_repeats, parse_params, single, Params};
use super::html::{continue_page, escape, hidden, message, page, secure_headers};
use super::session::Browser;
use super::{
    oauth_error, OAuthState, CONSENT_PATH, DEVICE_DECISION_PATH, DEVICE_PATH, LOGIN_PATH,
    LOGOUT_PATH,
};

type St<S, C> = State<Arc<OAuthState<S, C>>>;

/// What a login continues with.
enum Next {
    /// The authorization request (its parameters) that needed the login.
    Authorize(Params),
    /// The device page, with the user code if one was given.
    Device(Option<String>),
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
fn shown_error(e: OAuthError, html: bool) -> Response {
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

/// The login page, continuing with `next` after success.
fn login_form<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    next: &Next,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut fields = hidden("csrf", &b.csrf);
    match next {
        Next::Authorize(params) => {
            fields.push_str(&hidden("next", "authorize"));
            fields.push_str(&hidden("request", &encode_params(params)));
        }
        Next::Device(code) => {
            fields.push_str(&hidden("next", "device"));
            if let Some(code) = code {
                fields.push_str(&hidden("user_code", code));
            }
        }
        Next::Plain => {}
    }
    let body = format!(
        "{err}<form method=\"post\" action=\"{action}\">{fields}\
<label for=\"username\">Username</label>\
<input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
<label for=\"totp\">One-time code (if enabled)</label>\
<input id=\"totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]*\" maxlength=\"10\">\
<button type=\"submit\">Sign in</button></form>",
        err = error.map(|e| message(e, true)).unwrap_or_default(),
        action = escape(&st.path(LOGIN_PATH)),
    );
    page(status, "Sign in", &body)
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
        let _ = write!(out, "<li><code>{}</code>{mark}</li>", escape(s));
        out
    })
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
fn outcome_response<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    outcome: AuthorizeOutcome,
    params: &Params,
    after_post: bool,
) -> Response {
    match outcome {
        AuthorizeOutcome::Redirect(r) => client_redirect(&st.issuer, &r, after_post),
        AuthorizeOutcome::LoginRequired => login_form(
            st,
            b,
            &Next::Authorize(params.clone()),
            None,
            StatusCode::OK,
        ),
        AuthorizeOutcome::ConsentRequired(prompt) => consent_form(st, b, &prompt, params),
    }
}

/// The request parameters with `login` taken out of `prompt` (the login just happened).
fn without_login_prompt(params: &Params) -> Params {
    params
        .iter()
        .filter_map(|(n, v)| {
            if n != "prompt" {
                return Some((n.clone(), v.clone()));
            }
            let rest: Vec<&str> = v
                .split(' ')
                .filter(|p| !p.is_empty() && *p != "login")
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
        Ok(outcome) => outcome_response(st, &b, outcome, &params, after_post),
        Err(e) => shown_error(e, html),
    };
    b.finish(response)
}

/// `GET /oauth2/authorize` (RFC 6749 §4.1.1).
pub(crate) async fn authorize_get<S: Store, C: Clock>(
    st: St<S, C>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = parse_params(query.unwrap_or_default().as_bytes());
    authorize_with(&st, &headers, params, false).await
}

/// `POST /oauth2/authorize`: the same request form-encoded in the body.
pub(crate) async fn authorize_post<S: Store, C: Clock>(
    st: St<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = form_body(&headers, &body);
    authorize_with(&st, &headers, params, true).await
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

/// Parses a page form: content type, strict form, CSRF, no repeated fields.
fn page_form(headers: &HeaderMap, body: &[u8], b: &Browser) -> Result<Params, Refused> {
    let params = form_body(headers, body).map_err(Refused::Bad)?;
    if !b.csrf_ok(&params) {
        return Err(Refused::Csrf);
    }
    no_repeats(&params, &[]).map_err(Refused::Bad)?;
    Ok(params)
}

/// The page after a login without anything to continue with.
fn signed_in<S: Store, C: Clock>(st: &OAuthState<S, C>, b: &Browser) -> Response {
    let body = format!(
        "{}<form method=\"post\" action=\"{}\">{}<button type=\"submit\">Sign out</button></form>",
        message("You are signed in. You can close this page.", false),
        escape(&st.path(LOGOUT_PATH)),
        hidden("csrf", &b.csrf),
    );
    page(StatusCode::OK, "Signed in", &body)
}

/// `GET /oauth2/login`.
pub(crate) async fn login_page<S: Store, C: Clock>(st: St<S, C>, headers: HeaderMap) -> Response {
    let b = Browser::load(&st, &headers).await;
    let r = if b.user.is_some() {
        signed_in(&st, &b)
    } else {
        login_form(&st, &b, &Next::Plain, None, StatusCode::OK)
    };
    b.finish(r)
}

/// What the login page says for a failed login, and with which status.
fn login_failure(e: &Error) -> (String, StatusCode, Option<u64>) {
    match e {
        Error::Denied(Denial::TotpRequired) => (
            "Enter the one-time code from your authenticator app.".into(),
            StatusCode::UNAUTHORIZED,
            None,
        ),
        Error::Denied(Denial::Throttled { retry_after }) => {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            (
                format!("Too many attempts. Try again in {} seconds.", secs.max(1)),
                StatusCode::TOO_MANY_REQUESTS,
                Some(secs.max(1)),
            )
        }
        Error::Denied(Denial::AccountDisabled | Denial::PasswordLoginNotAllowed) => (
            "This account cannot sign in here.".into(),
            StatusCode::FORBIDDEN,
            None,
        ),
        Error::Denied(_) | Error::Invalid(_) | Error::NotFound(_) => (
            "The username, password or one-time code is not correct.".into(),
            StatusCode::UNAUTHORIZED,
            None,
        ),
        _ => (
            "Signing in is not possible right now. Try again later.".into(),
            StatusCode::SERVICE_UNAVAILABLE,
            None,
        ),
    }
}

/// `POST /oauth2/login`: checks the credentials, sets the session cookie and continues with
/// the authorization request or device page that asked for the login.
pub(crate) async fn login<S: Store, C: Clock>(
    st: St<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut b = Browser::load(&st, &headers).await;
    let params = match page_form(&headers, &body, &b) {
        Ok(p) => p,
        Err(r) => return b.finish(r.into_response()),
    };
    let field = |name: &str| single(&params, name).ok().flatten().unwrap_or_default();
    let next = match field("next") {
        "authorize" => match parse_params(field("request").as_bytes()) {
            Ok(p) => Next::Authorize(p),
            Err(e) => return b.finish(shown_error(e, true)),
        },
        "device" => Next::Device(Some(field("user_code").to_owned()).filter(|c| !c.is_empty())),
        _ => Next::Plain,
    };
    let mut req = LoginRequest::password(field("username"), field("password"));
    let totp = field("totp").trim();
    if !totp.is_empty() {
        req = req.with_totp(totp);
    }
    let user = match st.iam.login(&req).await {
        Ok(ok) => match st.iam.verify(ok.tokens.access_token.expose()).await {
            Ok(p) => {
                b.logged_in(&ok.tokens, p.clone(), &st.rng);
                p
            }
            Err(_) => return b.finish(shown_error(OAuthError::server_error(), true)),
        },
        Err(e) => {
            if !matches!(e, Error::Denied(_) | Error::Invalid(_)) {
                tracing::error!(error = %e, "login failed");
            }
            let (text, status, retry) = login_failure(&e);
            let mut r = login_form(&st, &b, &next, Some(&text), status);
            if let Some(secs) = retry {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return b.finish(r);
        }
    };
    let r = match next {
        Next::Authorize(params) => {
            let params = without_login_prompt(&params);
            let req = AuthorizeRequest::from_params(&params);
            match st.iam.authorize(&req, Some(&user)).await {
                Ok(outcome) => outcome_response(&st, &b, outcome, &params, true),
                Err(e) => shown_error(e, true),
            }
        }
        Next::Device(Some(code)) => device_prompt_page(&st, &b, &user, &code).await,
        Next::Device(None) => device_entry_form(&st, &b, None, StatusCode::OK),
        Next::Plain => signed_in(&st, &b),
    };
    b.finish(r)
}

/// `POST /oauth2/consent`: Allow issues the code, Deny answers `access_denied`; both by
/// redirect to the registered URI the core returns.
pub(crate) async fn consent<S: Store, C: Clock>(
    st: St<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b = Browser::load(&st, &headers).await;
    let params = match page_form(&headers, &body, &b) {
        Ok(p) => p,
        Err(r) => return b.finish(r.into_response()),
    };
    let field = |name: &str| single(&params, name).ok().flatten().unwrap_or_default();
    let request = match parse_params(field("request").as_bytes()) {
        Ok(p) => p,
        Err(e) => return b.finish(shown_error(e, true)),
    };
    let req = AuthorizeRequest::from_params(&request);
    let r = match (field("decision"), &b.user) {
        (_, None) => login_form(
            &st,
            &b,
            &Next::Authorize(request.clone()),
            None,
            StatusCode::OK,
        ),
        ("allow", Some(user)) => match st.iam.consent_and_authorize(&req, user).await {
            Ok(outcome) => outcome_response(&st, &b, outcome, &request, true),
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

/// `POST /oauth2/logout`: ends the session and clears the cookie.
pub(crate) async fn logout<S: Store, C: Clock>(
    st: St<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut b = Browser::load(&st, &headers).await;
    if let Err(r) = page_form(&headers, &body, &b) {
        return b.finish(r.into_response());
    }
    if let Some(user) = &b.user {
        if let Err(e) = st.iam.logout(user).await {
            tracing::warn!(error = %e, "logout failed");
        }
    }
    b.logged_out(&st.rng);
    let r = page(
        StatusCode::OK,
        "Signed out",
        &message("You are signed out.", false),
    );
    b.finish(r)
}

/// The form where the user types a device's code.
fn device_entry_form<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = format!(
        "{err}<p>Enter the code shown on your device.</p>\
<form method=\"post\" action=\"{action}\">{csrf}\
<label for=\"user_code\">Code</label>\
<input id=\"user_code\" name=\"user_code\" class=\"code\" autocomplete=\"off\" autocapitalize=\"characters\" \
spellcheck=\"false\" maxlength=\"32\" required autofocus>\
<button type=\"submit\">Continue</button></form>",
        err = error.map(|e| message(e, true)).unwrap_or_default(),
        action = escape(&st.path(DEVICE_PATH)),
        csrf = hidden("csrf", &b.csrf),
    );
    page(status, "Connect a device", &body)
}

/// The page for a device-code problem.
fn device_failure<S: Store, C: Clock>(st: &OAuthState<S, C>, b: &Browser, e: &Error) -> Response {
    match e {
        Error::NotFound(_) | Error::Invalid(_) => device_entry_form(
            st,
            b,
            Some("That code is not valid or has expired. Check it and try again."),
            StatusCode::BAD_REQUEST,
        ),
        Error::Denied(Denial::Throttled { retry_after }) => {
            let secs = (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1);
            let mut r = device_entry_form(
                st,
                b,
                Some(&format!(
                    "Too many wrong codes. Try again in {secs} seconds."
                )),
                StatusCode::TOO_MANY_REQUESTS,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            r
        }
        Error::Denied(_) => page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &message("This sign-in cannot approve devices.", true),
        ),
        other => {
            tracing::error!(error = %other, "device verification failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                &message("The request could not be completed. Try again later.", true),
            )
        }
    }
}

/// The approve/deny page for the device with `user_code`.
async fn device_prompt_page<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    user_code: &str,
) -> Response {
    let prompt = match st.iam.device_prompt(user, user_code).await {
        Ok(p) => p,
        Err(e) => return device_failure(st, b, &e),
    };
    let scopes = scope_list(&prompt.scopes, None);
    let body = format!(
        "<p>Check that your device shows this code:</p><p class=\"code\">{code}</p>\
<p><strong>{name}</strong> (<code>{id}</code>) asks for access to your account:</p><ul>{scopes}</ul>{notice}\
<form method=\"post\" action=\"{action}\">{csrf}{code_field}\
<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        code = escape(&prompt.user_code),
        name = escape(&prompt.client_name),
        id = escape(&prompt.client_id),
        notice = client_notice(prompt.registered_by.as_deref(), &prompt.scopes),
        action = escape(&st.path(DEVICE_DECISION_PATH)),
        csrf = hidden("csrf", &b.csrf),
        code_field = hidden("user_code", &prompt.user_code),
    );
    page(StatusCode::OK, "Connect this device?", &body)
}

/// `GET /oauth2/device[?user_code=...]`: the code entry form, or (with a code) the
/// approve/deny page; the login page first when not signed in.
pub(crate) async fn device_page<S: Store, C: Clock>(
    st: St<S, C>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match parse_params(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return oauth_error(e),
    };
    let code = match single(&params, "user_code") {
        Ok(c) => c.filter(|c| !c.is_empty()).map(str::to_owned),
        Err(e) => return oauth_error(e),
    };
    let b = Browser::load(&st, &headers).await;
    let r = match (&b.user, code) {
        (None, code) => login_form(&st, &b, &Next::Device(code), None, StatusCode::OK),
        (Some(user), Some(code)) => device_prompt_page(&st, &b, user, &code).await,
        (Some(_), None) => device_entry_form(&st, &b, None, StatusCode::OK),
    };
    b.finish(r)
}

/// `POST /oauth2/device`: the code the user typed.
pub(crate) async fn device_entry<S: Store, C: Clock>(
    st: St<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b = Browser::load(&st, &headers).await;
    let params = match page_form(&headers, &body, &b) {
        Ok(p) => p,
        Err(r) => return b.finish(r.into_response()),
    };
    let code = single(&params, "user_code")
        .ok()
        .flatten()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let r = match (&b.user, code) {
        (None, code) => login_form(&st, &b, &Next::Device(code), None, StatusCode::OK),
        (Some(user), Some(code)) => device_prompt_page(&st, &b, user, &code).await,
        (Some(_), None) => {
            device_entry_form(&st, &b, Some("Enter the code."), StatusCode::BAD_REQUEST)
        }
    };
    b.finish(r)
}

/// `POST /oauth2/device/decision`: approves or denies the device.
pub(crate) async fn device_decision<S: Store, C: Clock>(
    st: St<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let b = Browser::load(&st, &headers).await;
    let params = match page_form(&headers, &body, &b) {
        Ok(p) => p,
        Err(r) => return b.finish(r.into_response()),
    };
    let field = |name: &str| single(&params, name).ok().flatten().unwrap_or_default();
    let code = field("user_code").to_owned();
    let Some(user) = b.user.clone() else {
        let r = login_form(
            &st,
            &b,
            &Next::Device(Some(code).filter(|c| !c.is_empty())),
            None,
            StatusCode::OK,
        );
        return b.finish(r);
    };
    let r = match field("decision") {
        "approve" => match st.iam.approve_device(&user, &code).await {
            Ok(()) => page(
                StatusCode::OK,
                "Device connected",
                &message("Your device is connected. You can return to it now.", false),
            ),
            Err(e) => device_failure(&st, &b, &e),
        },
        "deny" => match st.iam.deny_device(&user, &code).await {
            Ok(()) => page(
                StatusCode::OK,
                "Request denied",
                &message("The device was not given access.", false),
            ),
            Err(e) => device_failure(&st, &b, &e),
        },
        _ => shown_error(OAuthError::invalid_request("choose Approve or Deny"), true),
    };
    b.finish(r)
}
