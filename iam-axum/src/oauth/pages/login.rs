//! The sign-in page (`/oauth2/login`) and signing out (`/oauth2/logout`).
//!
//! With passkeys on, the page's static script offers signing in with a passkey: it asks
//! [`start_passkey_login`] for a challenge (passwordless, or after the username and password
//! as the second factor), runs `navigator.credentials.get()`, and posts the answer with the
//! sign-in form (`passkey_ceremony`, `passkey_credential`), which then continues exactly as a
//! password sign-in does.

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use iam_core::{
    AuthorizeRequest, Clock, Denial, Error, LoginRequest, OAuthError, Principal, Store,
};

use crate::dto::{PasskeyChallengeOut, PasskeyLoginBody};
use crate::extract::ApiJson;
use crate::routes::passkeys::password_first;

use super::account::{return_path, see_other, ACCOUNT_PATH};
use super::authorize::{outcome_response, without_login_prompt};
use super::device::{device_entry_form, device_prompt_page};
use super::{
    after_login_for, login_form, posted_form, script_answer, script_call, shown_error, AfterLogin,
};
use crate::oauth::form::{parse_params, single, Params};
use crate::oauth::html::{escape, hidden, message, page};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState, LOGOUT_PATH};

/// Where the sign-in page's script starts a passkey sign-in.
pub(crate) const PASSKEY_LOGIN_PATH: &str = "/oauth2/login/passkey";

/// The page after a login without anything to continue with.
fn signed_in<S: Store, C: Clock>(st: &OAuthState<S, C>, b: &Browser) -> Response {
    let body = format!(
        "{}<p><a href=\"{}\">Manage your account</a></p>\
<form method=\"post\" action=\"{}\">{}<button type=\"submit\">Sign out</button></form>",
        message("You are signed in. You can close this page.", false),
        escape(&st.path(ACCOUNT_PATH)),
        escape(&st.path(LOGOUT_PATH)),
        hidden("csrf", &b.csrf),
    );
    page(StatusCode::OK, "Signed in", &body)
}

/// `GET /oauth2/login`; `?return_to=/account/...` comes back to that account page (and
/// goes there at once when already signed in).
pub(crate) async fn login_page<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let b = Browser::load(&st, &headers).await;
    let params = parse_params(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let back = single(&params, "return_to")
        .ok()
        .flatten()
        .and_then(return_path);
    let r = match (&b.user, back) {
        (Some(_), Some(path)) => see_other(&st.path(path)),
        (Some(_), None) => signed_in(&st, &b),
        (None, Some(path)) => login_form(
            &st,
            &b,
            &AfterLogin::Account(path.to_owned()),
            None,
            StatusCode::OK,
        ),
        (None, None) => login_form(&st, &b, &AfterLogin::Plain, None, StatusCode::OK),
    };
    b.finish(r)
}

/// What the login page says for a failed login (with a passkey when `passkey`), and with
/// which status.
fn login_failure(e: &Error, passkey: bool) -> (String, StatusCode, Option<u64>) {
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
        Error::Denied(_) | Error::Invalid(_) | Error::NotFound(_) if passkey => (
            "That passkey could not sign you in.".into(),
            StatusCode::UNAUTHORIZED,
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
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (mut b, params) = match posted_form(&st, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let field = |name: &str| single(&params, name).ok().flatten().unwrap_or_default();
    let next = match after_login_from(&st, &params).await {
        Ok(next) => next,
        Err(r) => return b.finish(r),
    };
    // The script posts a passkey's answer (passwordless, or the second factor after a
    // password its challenge already checked) instead of the password.
    let ceremony = field("passkey_ceremony");
    let passkey = !ceremony.is_empty();
    let attempt = if passkey {
        st.iam
            .finish_passkey_login(ceremony, field("passkey_credential"))
            .await
    } else {
        let mut req = LoginRequest::password(field("username"), field("password"));
        let totp = field("totp").trim();
        if !totp.is_empty() {
            req = req.with_totp(totp);
        }
        st.iam.login(&req).await
    };
    let user = match attempt {
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
            let (text, status, retry) = login_failure(&e, passkey);
            let mut r = login_form(&st, &b, &next, Some(&text), status);
            if let Some(secs) = retry {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            return b.finish(r);
        }
    };
    let r = continue_after_login(&st, &b, &user, next, true).await;
    b.finish(r)
}

/// What a form's `next`, `request` and `user_code` fields (the login form's, or a "Sign in
/// with …" button's) say to continue with after signing in; a malformed request is answered.
pub(super) async fn after_login_from<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    params: &Params,
) -> Result<AfterLogin, Response> {
    let field = |name: &str| single(params, name).ok().flatten().unwrap_or_default();
    Ok(match field("next") {
        "authorize" => match parse_params(field("request").as_bytes()) {
            Ok(p) => after_login_for(st, p).await,
            Err(e) => return Err(shown_error(e, true)),
        },
        "device" => {
            AfterLogin::Device(Some(field("user_code").to_owned()).filter(|c| !c.is_empty()))
        }
        "account" => return_path(field("return_to"))
            .map_or(AfterLogin::Plain, |p| AfterLogin::Account(p.to_owned())),
        _ => AfterLogin::Plain,
    })
}

/// Continues with `next` once `user` has signed in: the authorization request, the device
/// page, or the signed-in page. `after_post` says whether this answers a form post.
pub(super) async fn continue_after_login<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    next: AfterLogin,
    after_post: bool,
) -> Response {
    match next {
        AfterLogin::Authorize(params, _) => {
            let params = without_login_prompt(&params);
            let req = AuthorizeRequest::from_params(&params);
            match st.iam.authorize(&req, Some(user)).await {
                Ok(outcome) => outcome_response(st, b, outcome, &params, after_post).await,
                Err(e) => shown_error(e, true),
            }
        }
        AfterLogin::Device(Some(code)) => device_prompt_page(st, b, user, &code).await,
        AfterLogin::Device(None) => device_entry_form(st, b, None, StatusCode::OK),
        AfterLogin::Account(path) => see_other(&st.path(&path)),
        AfterLogin::Plain => signed_in(st, b),
    }
}

/// `POST /oauth2/login/passkey` (the sign-in page's script): starts a passkey sign-in,
/// passwordless with an empty object, or with `username` and `password` (checked first, under
/// the login back-off) for the passkey as the second factor. Answers the options for
/// `navigator.credentials.get()` and the ceremony id, which the script posts with the sign-in
/// form.
pub(crate) async fn start_passkey_login<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasskeyLoginBody>,
) -> Response {
    let b = match script_call(&st, &headers).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let request = match password_first(body) {
        Ok(r) => r,
        Err(e) => return b.finish(axum::response::IntoResponse::into_response(e)),
    };
    let done = st
        .iam
        .start_passkey_login(request.as_ref())
        .await
        .map(PasskeyChallengeOut::from);
    script_answer(b, StatusCode::OK, done)
}

/// `POST /oauth2/logout`: ends the session and clears the cookie.
pub(crate) async fn logout<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut b = match posted_form(&st, &headers, &body).await {
        Ok((b, _)) => b,
        Err(r) => return r,
    };
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
