//! Sessions (`/account/sessions`): the account's live sign-ins with when they started, were
//! last renewed and last proved a credential, and how; signing one out, or every other one.
//! (Sessions record no address or browser, so the page cannot say where.)

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::Response;
use iam_core::{Caller, Clock, Error, Principal, Session, Store};

use super::layout::{render, unavailable};
use super::{field, outcome, own_account, posted, visitor, when, Notice, Section};
use crate::oauth::html::{escape, hidden, message};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState, LOGOUT_PATH};

/// How a session signed in, in words: each factor once (`user`, the passkey's user
/// verification, and `mfa`, the sum of the others, add no word).
fn methods(amr: &[String]) -> String {
    let mut words: Vec<&str> = Vec::new();
    for m in amr {
        let word = match m.as_str() {
            "pwd" => "password",
            "otp" => "one-time code",
            "hwk" | "swk" | "pop" => "passkey",
            "user" | "mfa" => continue,
            other => other,
        };
        if !words.contains(&word) {
            words.push(word);
        }
    }
    escape(&words.join(" + "))
}

/// The sessions page with `notice`.
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
    let sessions = match live_sessions(st, user).await {
        Ok(s) => s,
        Err(e) => return unavailable(st, e),
    };
    let csrf = hidden("csrf", &b.csrf);
    let rows = sessions.iter().fold(String::new(), |mut out, s| {
        let this = s.id == user.session_id;
        let action = if this {
            format!(
                "<form method=\"post\" action=\"{}\">{csrf}<button type=\"submit\">Sign out</button></form>",
                escape(&st.path(LOGOUT_PATH))
            )
        } else {
            format!(
                "<form method=\"post\" action=\"{}\">{csrf}{}\
<button type=\"submit\" aria-label=\"Sign out the session started {}\">Sign out</button></form>",
                escape(&st.path("/account/sessions/revoke")),
                hidden("session_id", &s.id),
                escape(&s.created_at.to_rfc3339()),
            )
        };
        let _ = write!(
            out,
            "<tr><td data-label=\"Session\">{name}</td><td data-label=\"Started\">{started}</td>\
<td data-label=\"Last active\">{active}</td><td data-label=\"Signed in with\">{how}, {auth}</td>\
<td>{action}</td></tr>",
            name = if this {
                "<strong>This browser</strong>"
            } else {
                "Another sign-in"
            },
            started = when(s.created_at),
            active = when(s.last_refreshed_at.unwrap_or(s.created_at)),
            how = methods(&s.amr),
            auth = when(s.auth_time),
        );
        out
    });
    let others = sessions.iter().any(|s| s.id != user.session_id);
    let revoke_others = if others {
        format!(
            "<form method=\"post\" action=\"{}\">{csrf}\
<button type=\"submit\">Sign out all other sessions</button></form>",
            escape(&st.path("/account/sessions/revoke-others"))
        )
    } else {
        message("This is your only session.", false)
    };
    let body = format!(
        "<p>Where you are signed in. Addresses and browsers are not recorded.</p>\
<table><caption class=\"vh\">Your sessions</caption><thead><tr><th scope=\"col\">Session</th>\
<th scope=\"col\">Started</th><th scope=\"col\">Last active</th><th scope=\"col\">Signed in with</th>\
<th scope=\"col\"><span class=\"vh\">Action</span></th></tr></thead><tbody>{rows}</tbody></table>\
{revoke_others}"
    );
    render(st, b, user, &account, Section::Sessions, notice, &body)
}

/// The account's live sessions (newest first), read as the visitor.
async fn live_sessions<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    user: &Principal,
) -> Result<Vec<Session>, Error> {
    let now = st.iam.clock().now();
    let mut sessions = st
        .iam
        .list_sessions(Caller::Principal(user), &user.account_id)
        .await?;
    sessions.retain(|s| s.is_live(now));
    Ok(sessions)
}

/// `GET /account/sessions`.
pub(crate) async fn page<S: Store, C: Clock>(st: OAuthCtx<S, C>, headers: HeaderMap) -> Response {
    let (b, user) = match visitor(&st, &headers, Section::Sessions).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = show(&st, &b, &user, None).await;
    b.finish(r)
}

/// Answers a sessions form with the outcome `done`.
async fn answer<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: Browser,
    user: &Principal,
    done: Result<String, Error>,
) -> Response {
    let r = match outcome(st, &b, user, Section::Sessions, done).await {
        Ok(notice) => show(st, &b, user, Some(notice)).await,
        Err(r) => r,
    };
    b.finish(r)
}

/// `POST /account/sessions/revoke`: signs out one session (the core refuses another
/// account's as not found).
pub(crate) async fn revoke<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Sessions).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = field(&params, "session_id");
    let done = st
        .iam
        .revoke_session(Caller::Principal(&user), id)
        .await
        .map(|()| "The session has been signed out.".to_owned());
    answer(&st, b, &user, done).await
}

/// `POST /account/sessions/revoke-others`: signs out every live session but this one.
pub(crate) async fn revoke_others<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, _) = match posted(&st, &headers, &body, Section::Sessions).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = async {
        let mut ended = 0usize;
        for s in live_sessions(&st, &user).await? {
            if s.id != user.session_id {
                st.iam
                    .revoke_session(Caller::Principal(&user), &s.id)
                    .await?;
                ended += 1;
            }
        }
        Ok(match ended {
            1 => "1 other session has been signed out.".to_owned(),
            n => format!("{n} other sessions have been signed out."),
        })
    }
    .await;
    answer(&st, b, &user, done).await
}
