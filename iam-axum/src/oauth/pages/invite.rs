//! The invitation page (`/invite/{secret}`): the invited person picks a username and sets a
//! password; the account is created and signed in. A closed link gets a page saying why.
//!
//! iam-core creates invited accounts with a password (an [`InvitationAnswer`] carries one), so
//! a passkey comes second: with passkeys on, the welcome page offers adding one at once on the
//! passkeys page, where the fresh sign-in counts as recent.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use iam_core::{
    Clock, Error, InvitationAnswer, InvitationStatus, LoginRequest, SecretString, Store,
};

use super::account::PASSKEYS_PATH;
use super::posted_form;
use crate::oauth::form::single;
use crate::oauth::html::{escape, hidden, message, page};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState, INVITE_PREFIX, LOGIN_PATH, LOGOUT_PATH};

/// The page for a link that cannot be used (never a stack trace): 404 for an unknown link,
/// 410 Gone for an expired, used or revoked one.
fn closed_page(status: &InvitationStatus) -> Response {
    let (code, text) = match status {
        InvitationStatus::Expired => (
            StatusCode::GONE,
            "This invitation has expired. Ask the person who invited you for a new one.",
        ),
        InvitationStatus::Used => (
            StatusCode::GONE,
            "This invitation has already been used. If it was you, sign in with your account.",
        ),
        InvitationStatus::Revoked => (
            StatusCode::GONE,
            "This invitation has been withdrawn. Ask the person who invited you for a new one.",
        ),
        InvitationStatus::Unknown | InvitationStatus::Valid(_) => (
            StatusCode::NOT_FOUND,
            "This invitation link is not valid. Check that you copied all of it.",
        ),
    };
    page(code, "Invitation not usable", &message(text, true))
}

/// The form where the invited person chooses their account.
fn invite_form<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    secret: &str,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let policy = &st.iam.config().passwords;
    let body = format!(
        "{err}<p>You have been invited to create an account.</p>\
<form method=\"post\" action=\"{action}\">{csrf}\
<label for=\"username\">Username</label>\
<input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus \
pattern=\"[a-z0-9][a-z0-9._\\-]{{1,63}}\" aria-describedby=\"username-help\" value=\"{username}\">\
<p id=\"username-help\">2 to 64 characters: lowercase letters, digits, dot, dash, underscore.</p>\
{credentials}\
<button type=\"submit\">Create account</button></form>",
        err = error.map(|e| message(e, true)).unwrap_or_default(),
        action = escape(&st.path(&format!("{INVITE_PREFIX}{secret}"))),
        csrf = hidden("csrf", &b.csrf),
        username = escape(username),
        credentials = credential_fields(policy),
    );
    page(status, "Create your account", &body)
}

/// The fields that set the new account's credentials: a password under the policy (a
/// passkey is offered once the account exists: see [`created_page`]).
fn credential_fields(policy: &iam_core::PasswordPolicy) -> String {
    format!(
        "<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required \
minlength=\"{min}\" maxlength=\"{max}\" aria-describedby=\"password-help\">\
<p id=\"password-help\">At least {min} characters.</p>",
        min = policy.min_length,
        max = policy.max_length,
    )
}

/// `GET /invite/{secret}`.
pub(crate) async fn invite_page<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    Path(secret): Path<String>,
    headers: HeaderMap,
) -> Response {
    let b = Browser::load(&st, &headers).await;
    let r = match st.iam.invitation_status(&secret).await {
        Ok(InvitationStatus::Valid(_)) => invite_form(&st, &b, &secret, "", None, StatusCode::OK),
        Ok(closed) => closed_page(&closed),
        Err(e) => unavailable(&e),
    };
    b.finish(r)
}

/// The page when the store cannot answer.
fn unavailable(e: &Error) -> Response {
    tracing::error!(error = %e, "invitation page failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
        &message(
            "This page cannot be shown right now. Try again later.",
            true,
        ),
    )
}

/// `POST /invite/{secret}`: creates the account, then signs it in.
pub(crate) async fn accept_invite<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (mut b, params) = match posted_form(&st, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let field = |name: &str| single(&params, name).ok().flatten().unwrap_or_default();
    let username = field("username").trim().to_owned();
    let password = SecretString::new(field("password"));
    let answer = InvitationAnswer {
        username: username.clone(),
        password: password.clone(),
    };
    let retry = |b: &Browser, text: &str, status| {
        invite_form(&st, b, &secret, &username, Some(text), status)
    };
    let r = match st.iam.accept_invitation(&secret, &answer).await {
        Ok(_) => {
            let login = LoginRequest::password(&username, password.expose());
            match st.iam.login(&login).await {
                Ok(ok) => match st.iam.verify(ok.tokens.access_token.expose()).await {
                    Ok(p) => {
                        b.logged_in(&ok.tokens, p, &st.rng);
                        created_page(&st, &b)
                    }
                    Err(_) => sign_in_page(&st),
                },
                Err(_) => sign_in_page(&st),
            }
        }
        Err(Error::UsernameTaken) => retry(
            &b,
            "That username is taken. Choose another.",
            StatusCode::CONFLICT,
        ),
        Err(Error::Invalid(e)) => retry(&b, &e.to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        Err(Error::NotFound(_)) => match st.iam.invitation_status(&secret).await {
            Ok(status) => closed_page(&status),
            Err(e) => unavailable(&e),
        },
        Err(e) => unavailable(&e),
    };
    b.finish(r)
}

/// After the account is created and signed in; with passkeys on, it offers adding one.
fn created_page<S: Store, C: Clock>(st: &OAuthState<S, C>, b: &Browser) -> Response {
    let passkey = if st.iam.config().passkeys.is_some() {
        format!(
            "<p>You can also sign in without your password: \
<a href=\"{}\" data-add-passkey>add a passkey</a> (your device's screen lock or a security key).</p>",
            escape(&st.path(PASSKEYS_PATH))
        )
    } else {
        String::new()
    };
    let body = format!(
        "{}{passkey}<form method=\"post\" action=\"{}\">{}<button type=\"submit\">Sign out</button></form>",
        message("Your account is ready and you are signed in.", false),
        escape(&st.path(LOGOUT_PATH)),
        hidden("csrf", &b.csrf),
    );
    page(StatusCode::CREATED, "Welcome", &body)
}

/// After the account is created, when signing it in did not work: send them to sign in.
fn sign_in_page<S: Store, C: Clock>(st: &OAuthState<S, C>) -> Response {
    let body = format!(
        "{}<p><a href=\"{}\">Sign in</a></p>",
        message("Your account is ready.", false),
        escape(&st.path(LOGIN_PATH)),
    );
    page(StatusCode::CREATED, "Welcome", &body)
}
