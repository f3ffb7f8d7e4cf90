//! The account pages (`/account/...`): a signed-in person's own profile, password, TOTP,
//! passkeys, sessions, personal API tokens, connected applications and (for approvers) pending
//! elevation requests. Server-rendered like the other pages, under the same policy plus `script-src
//! 'self'` for one small static script ([`ASSET_PATH`]) that only enhances them.
//!
//! Every page acts as the browser session's principal: each action is one iam-core call whose
//! permission table decides it; a refusal for an old sign-in
//! ([`Denial::RecentAuthenticationRequired`]) shows a page that asks for the password again
//! ([`reauth`]). A visit without a session goes to the login page, which comes back here
//! afterwards (only to an `/account` path: see [`return_path`]). The script's JSON calls (the
//! passkey ceremonies) carry the page's CSRF token in a header instead of a form field and
//! answer JSON ([`script_user`]).
//!
//! One file per page: [`profile`] (overview and name), [`security`] (password and TOTP),
//! [`passkeys`], [`sessions`], [`tokens`], [`apps`], [`approvals`]; [`layout`] draws the frame
//! they share; this file holds the routes and the flow they share.

mod approvals;
mod apps;
mod layout;
mod passkeys;
mod profile;
mod reauth;
mod security;
mod sessions;
mod tokens;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use iam_core::{Account, Caller, Clock, Denial, Error, Principal, Store, Timestamp};

use super::{posted_form_repeating, script_call};
use crate::error::ApiError;
use crate::oauth::form::{encode_component, Params};
use crate::oauth::html::secure_headers;
use crate::oauth::session::Browser;
use crate::oauth::{OAuthState, LOGIN_PATH};

/// Path of the account overview; every account page lives under it.
pub const ACCOUNT_PATH: &str = "/account";
/// Path of the passkeys page.
pub(crate) const PASSKEYS_PATH: &str = "/account/passkeys";
/// Path of the account pages' static script.
pub const ASSET_PATH: &str = "/assets/account.js";

/// The account pages' script: progressive enhancement only (the pages work without it).
const SCRIPT: &str = include_str!("account.js");

/// The account pages, in navigation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Overview,
    Security,
    Passkeys,
    Sessions,
    Tokens,
    Apps,
    Approvals,
    /// Upstream OpenID Providers linked to the account (drawn by the upstream pages).
    Providers,
}

impl Section {
    /// Every page, in navigation order.
    const ALL: [Section; 8] = [
        Section::Overview,
        Section::Security,
        Section::Passkeys,
        Section::Sessions,
        Section::Tokens,
        Section::Apps,
        Section::Approvals,
        Section::Providers,
    ];

    /// The page's path (under the issuer's path).
    fn path(self) -> &'static str {
        match self {
            Section::Overview => ACCOUNT_PATH,
            Section::Security => "/account/security",
            Section::Passkeys => PASSKEYS_PATH,
            Section::Sessions => "/account/sessions",
            Section::Tokens => "/account/tokens",
            Section::Apps => "/account/apps",
            Section::Approvals => "/account/approvals",
            Section::Providers => crate::oauth::UPSTREAM_ACCOUNT_PATH,
        }
    }

    /// The page's title (and its link's text).
    fn title(self) -> &'static str {
        match self {
            Section::Overview => "Your account",
            Section::Security => "Password and sign-in",
            Section::Passkeys => "Passkeys",
            Section::Sessions => "Sessions",
            Section::Tokens => "API tokens",
            Section::Apps => "Connected apps",
            Section::Approvals => "Approvals",
            Section::Providers => "Sign-in providers",
        }
    }

    /// The page at `path`, if it is one.
    fn at(path: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.path() == path)
    }
}

/// The account routes (under the OAuth router's state).
pub(crate) fn routes<S: Store, C: Clock>() -> Router<Arc<OAuthState<S, C>>> {
    Router::new()
        .route(ACCOUNT_PATH, get(profile::overview::<S, C>))
        .route("/account/name", post(profile::set_name::<S, C>))
        .route("/account/security", get(security::page::<S, C>))
        .route(
            "/account/security/password",
            post(security::change_password::<S, C>),
        )
        .route(
            "/account/security/totp/enrol",
            post(security::enrol_totp::<S, C>),
        )
        .route(
            "/account/security/totp/confirm",
            post(security::confirm_totp::<S, C>),
        )
        .route(
            "/account/security/totp/remove",
            post(security::remove_totp::<S, C>),
        )
        .route(PASSKEYS_PATH, get(passkeys::page::<S, C>))
        .route("/account/passkeys/rename", post(passkeys::rename::<S, C>))
        .route("/account/passkeys/remove", post(passkeys::remove::<S, C>))
        .route(
            passkeys::REGISTRATION_PATH,
            post(passkeys::start_registration::<S, C>),
        )
        .route(
            "/account/passkeys/registration/{ceremony}",
            post(passkeys::finish_registration::<S, C>),
        )
        .route(
            passkeys::STEP_UP_PATH,
            post(passkeys::start_step_up::<S, C>),
        )
        .route("/account/sessions", get(sessions::page::<S, C>))
        .route("/account/sessions/revoke", post(sessions::revoke::<S, C>))
        .route(
            "/account/sessions/revoke-others",
            post(sessions::revoke_others::<S, C>),
        )
        .route("/account/tokens", get(tokens::page::<S, C>))
        .route("/account/tokens/create", post(tokens::create::<S, C>))
        .route("/account/tokens/revoke", post(tokens::revoke::<S, C>))
        .route("/account/apps", get(apps::page::<S, C>))
        .route("/account/apps/revoke", post(apps::revoke::<S, C>))
        .route("/account/approvals", get(approvals::page::<S, C>))
        .route("/account/approvals/answer", post(approvals::answer::<S, C>))
        .route("/account/reauthenticate", post(reauth::confirm::<S, C>))
        .route(ASSET_PATH, get(script))
}

/// `GET /assets/account.js`: the static script, cacheable for a day.
async fn script() -> Response {
    let mut r = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        SCRIPT,
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    r
}

/// The account path a login may come back to: `/account` or a page under it, made only of
/// lowercase letters, digits, `/` and `-`, with no empty segment. Anything else (another
/// origin, `//host`, `..`, a query) is refused, so the parameter cannot redirect elsewhere.
pub(crate) fn return_path(raw: &str) -> Option<&str> {
    let under = raw.strip_prefix(ACCOUNT_PATH)?;
    let well_formed = raw.len() <= 64
        && (under.is_empty() || under.starts_with('/'))
        && raw
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'/' || c == b'-')
        && !raw.contains("//")
        && !raw.ends_with('/');
    well_formed.then_some(raw)
}

/// A 303 to `path` (a path of this server, already under the issuer's path).
pub(crate) fn see_other(path: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(path) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    secure_headers(r.headers_mut());
    r
}

/// Sends a visitor without a session to the login page, to come back to `section`.
fn to_login<S: Store, C: Clock>(st: &OAuthState<S, C>, b: Browser, section: Section) -> Response {
    let target = format!(
        "{}?return_to={}",
        st.path(LOGIN_PATH),
        encode_component(section.path())
    );
    b.finish(see_other(&target))
}

/// The signed-in visitor of a page: the browser and its session's principal; without a
/// session, the answer (a redirect to the login page).
async fn visitor<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    headers: &HeaderMap,
    section: Section,
) -> Result<(Browser, Principal), Response> {
    let b = Browser::load(st, headers).await;
    match b.user.clone() {
        Some(user) => Ok((b, user)),
        None => Err(to_login(st, b, section)),
    }
}

/// The sign-in providers page (`/account/upstream`) in the account frame: `body` (safe HTML,
/// from the upstream pages) under `note`, shown as an error when `error`.
pub(crate) async fn providers_page<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    body: Result<String, Error>,
    note: Option<(&str, bool, StatusCode)>,
) -> Response {
    let account = match own_account(st, user).await {
        Ok(a) => a,
        Err(e) => return layout::unavailable(st, e),
    };
    let body = match body {
        Ok(body) => body,
        Err(e) => return layout::unavailable(st, e),
    };
    let notice = note.map(|(text, error, status)| Notice {
        text: text.to_owned(),
        error,
        status,
    });
    layout::render(st, b, user, &account, Section::Providers, notice, &body)
}

/// The answer to a visitor of the sign-in providers page without a session: the login page,
/// returning here.
pub(crate) fn providers_sign_in_first<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: Browser,
) -> Response {
    to_login(st, b, Section::Providers)
}

/// The re-authentication page for linking a sign-in provider (which needs a recent sign-in).
pub(crate) async fn providers_reauthenticate<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
) -> Response {
    reauth::prompt(
        st,
        b,
        user,
        Section::Providers,
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await
}

/// A form posted from an account page: checked (content type, CSRF, no repeats but of the
/// `scope` checkboxes) first, then the session; without one, the answer (a redirect to the
/// login page).
async fn posted<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    headers: &HeaderMap,
    body: &Bytes,
    section: Section,
) -> Result<(Browser, Principal, Params), Response> {
    let (b, params) = posted_form_repeating(st, headers, body, &["scope"]).await?;
    match b.user.clone() {
        Some(user) => Ok((b, user, params)),
        None => Err(to_login(st, b, section)),
    }
}

/// The signed-in visitor behind a JSON call of the script: the browser and its session's
/// principal, once the CSRF header matches; else the JSON refusal (403, or 401 without a
/// session).
async fn script_user<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    headers: &HeaderMap,
) -> Result<(Browser, Principal), Response> {
    let b = script_call(st, headers).await?;
    if let Some(user) = b.user.clone() {
        return Ok((b, user));
    }
    let refused = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "not_signed_in",
        "sign in again, then reload the page",
    );
    Err(b.finish(refused.into_response()))
}

/// The single value of form field `name` (empty when absent; forms are checked for repeats).
fn field<'a>(params: &'a Params, name: &str) -> &'a str {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// What a page says above its content after a form post.
struct Notice {
    text: String,
    error: bool,
    status: StatusCode,
}

impl Notice {
    /// A success message.
    fn done(text: impl Into<String>) -> Notice {
        Notice {
            text: text.into(),
            error: false,
            status: StatusCode::OK,
        }
    }
}

/// The notice for what an action ended with; `Err` is the re-authentication page when the
/// core asks for a recent sign-in (the person confirms, then repeats the action).
async fn outcome<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    section: Section,
    done: Result<String, Error>,
) -> Result<Notice, Response> {
    match done {
        Ok(text) => Ok(Notice::done(text)),
        Err(Error::Denied(Denial::RecentAuthenticationRequired { .. })) => {
            Err(reauth::prompt(st, b, user, section, None, StatusCode::UNAUTHORIZED).await)
        }
        Err(e) => Ok(failure(e)),
    }
}

/// The notice for a failure: the status and safe message of the REST API's answer.
fn failure(e: Error) -> Notice {
    if crate::error::code_parts(e.code()).0.is_server_error() {
        tracing::error!(error = %e, "account page action failed");
    }
    let not_yours = matches!(e, Error::Denied(Denial::NotPermitted) | Error::NotFound(_));
    let api = ApiError::from(e);
    Notice {
        text: if not_yours {
            "That item does not exist or is not yours.".to_owned()
        } else {
            api.message.into_owned()
        },
        error: true,
        status: api.status,
    }
}

/// The visitor's account, read as the visitor.
async fn own_account<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    user: &Principal,
) -> Result<Account, Error> {
    st.iam
        .account(Caller::Principal(user), &user.account_id)
        .await
}

/// Whether `user` holds the approver role of some elevation policy (the Approvals page is
/// offered to them only; what they may answer is still the core's decision).
fn is_approver<S: Store, C: Clock>(st: &OAuthState<S, C>, user: &Principal) -> bool {
    let config = st.iam.config();
    config
        .elevation
        .values()
        .chain([&config.default_elevation])
        .filter_map(|p| p.approver_role.as_deref())
        .any(|role| user.has_role(role))
}

/// A time as a `<time>` element (UTC, to the minute).
fn when(t: Timestamp) -> String {
    let text = time::OffsetDateTime::from_unix_timestamp(t.as_secs())
        .ok()
        .and_then(|d| {
            d.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| t.to_rfc3339());
    format!("<time datetime=\"{}\">{text}</time>", t.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_come_back_only_to_account_paths() {
        for ok in ["/account", "/account/tokens", "/account/security"] {
            assert_eq!(return_path(ok), Some(ok));
        }
        for bad in [
            "",
            "/",
            "/accounts",
            "/account/",
            "//evil.example/account",
            "https://evil.example/account",
            "/account//evil.example",
            "/account/../oauth2/token",
            "/account?x=1",
            "/account/%2e%2e",
            "/account\\evil",
            "/account/Tokens",
        ] {
            assert_eq!(return_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn sections_are_found_by_path() {
        for s in Section::ALL {
            assert_eq!(Section::at(s.path()), Some(s));
        }
        assert_eq!(Section::at("/account/nope"), None);
    }
}
