//! Approvals (`/account/approvals`): the pending elevation requests the visitor may answer
//! (the core lists only those whose approver role they hold, never their own), each with an
//! approve and a deny button.

use std::fmt::Write as _;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use iam_core::{Caller, Clock, Error, Principal, Store};

use super::layout::{render, unavailable};
use super::{field, outcome, own_account, posted, visitor, when, Notice, Section};
use crate::oauth::html::{escape, hidden, message};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState};

/// A duration in whole minutes, in words.
fn minutes(d: Duration) -> String {
    match d.as_secs().div_ceil(60) {
        1 => "1 minute".to_owned(),
        n => format!("{n} minutes"),
    }
}

/// The approvals page with `notice`.
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
    let requests = match st.iam.pending_elevations(user).await {
        Ok(r) => r,
        Err(e) => return unavailable(st, e),
    };
    let mut items = String::new();
    for r in &requests {
        // Who asks, by username (the request names the account id).
        let who = st
            .iam
            .account(Caller::System, &r.account_id)
            .await
            .map_or_else(|_| r.account_id.clone(), |a| a.username);
        let _ = write!(
            items,
            "<li><p><strong>{who}</strong> asks for the role <code>{role}</code> for {length}, \
since {asked}; the request lapses at {lapses}.</p>\
<form method=\"post\" action=\"{action}\">{csrf}{id}\
<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form></li>",
            who = escape(&who),
            role = escape(&r.role),
            length = minutes(Duration::from_millis(r.duration_ms)),
            asked = when(r.created_at),
            lapses = when(r.expires_at),
            action = escape(&st.path("/account/approvals/answer")),
            csrf = hidden("csrf", &b.csrf),
            id = hidden("request_id", &r.id),
        );
    }
    let body = if items.is_empty() {
        message("No request is waiting for you.", false)
    } else {
        format!("<ul class=\"requests\">{items}</ul>")
    };
    render(st, b, user, &account, Section::Approvals, notice, &body)
}

/// `GET /account/approvals`.
pub(crate) async fn page<S: Store, C: Clock>(st: OAuthCtx<S, C>, headers: HeaderMap) -> Response {
    let (b, user) = match visitor(&st, &headers, Section::Approvals).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = show(&st, &b, &user, None).await;
    b.finish(r)
}

/// `POST /account/approvals/answer`: approves or denies one request.
pub(crate) async fn answer<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Approvals).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = field(&params, "request_id");
    let done: Result<String, Error> = match field(&params, "decision") {
        "approve" => st
            .iam
            .approve_elevation(&user, id)
            .await
            .map(|_| "The request has been approved.".to_owned()),
        "deny" => st
            .iam
            .deny_elevation(&user, id)
            .await
            .map(|()| "The request has been denied.".to_owned()),
        _ => {
            let notice = Notice {
                text: "Choose approve or deny.".to_owned(),
                error: true,
                status: StatusCode::BAD_REQUEST,
            };
            let r = show(&st, &b, &user, Some(notice)).await;
            return b.finish(r);
        }
    };
    let r = match outcome(&st, &b, &user, Section::Approvals, done).await {
        Ok(notice) => show(&st, &b, &user, Some(notice)).await,
        Err(r) => r,
    };
    b.finish(r)
}
