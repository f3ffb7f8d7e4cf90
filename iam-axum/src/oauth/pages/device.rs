//! The device verification pages (RFC 8628): `/oauth2/device` (enter a code, then approve
//! or deny) and `/oauth2/device/decision`.

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use iam_core::{Clock, Denial, Error, OAuthError, Principal, Store};

use super::{client_notice, login_form, posted_form, scope_list, shown_error, AfterLogin};
use crate::oauth::form::{parse_params, single};
use crate::oauth::html::{escape, hidden, message, page};
use crate::oauth::session::Browser;
use crate::oauth::{oauth_error, OAuthCtx, OAuthState, DEVICE_DECISION_PATH, DEVICE_PATH};

/// The form where the user types a device's code.
pub(super) fn device_entry_form<S: Store, C: Clock>(
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
pub(super) async fn device_prompt_page<S: Store, C: Clock>(
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
    st: OAuthCtx<S, C>,
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
        (None, code) => login_form(&st, &b, &AfterLogin::Device(code), None, StatusCode::OK),
        (Some(user), Some(code)) => device_prompt_page(&st, &b, user, &code).await,
        (Some(_), None) => device_entry_form(&st, &b, None, StatusCode::OK),
    };
    b.finish(r)
}

/// `POST /oauth2/device`: the code the user typed.
pub(crate) async fn device_entry<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, params) = match posted_form(&st, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let code = single(&params, "user_code")
        .ok()
        .flatten()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let r = match (&b.user, code) {
        (None, code) => login_form(&st, &b, &AfterLogin::Device(code), None, StatusCode::OK),
        (Some(user), Some(code)) => device_prompt_page(&st, &b, user, &code).await,
        (Some(_), None) => {
            device_entry_form(&st, &b, Some("Enter the code."), StatusCode::BAD_REQUEST)
        }
    };
    b.finish(r)
}

/// `POST /oauth2/device/decision`: approves or denies the device.
pub(crate) async fn device_decision<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, params) = match posted_form(&st, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let field = |name: &str| single(&params, name).ok().flatten().unwrap_or_default();
    let code = field("user_code").to_owned();
    let Some(user) = b.user.clone() else {
        let r = login_form(
            &st,
            &b,
            &AfterLogin::Device(Some(code).filter(|c| !c.is_empty())),
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
