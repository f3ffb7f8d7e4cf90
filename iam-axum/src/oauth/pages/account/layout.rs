//! The frame of every account page: a skip link, a header with who is signed in, the
//! navigation and the sign-out button, then the page in `<main>`. Usable at phone width, with
//! a visible keyboard focus.

use std::fmt::Write as _;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_core::{Account, Clock, Error, Principal, Store};

use super::{failure, is_approver, Notice, Section, ASSET_PATH};
use crate::oauth::html::{escape, hidden, message, secure_headers, ACCOUNT_CSP, STYLE};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthState, LOGOUT_PATH};

/// What the account pages add to the shared style: a wider column, the header and navigation,
/// tables that become stacked rows on a phone, and a focus ring.
const ACCOUNT_STYLE: &str = "body{max-width:48rem;margin:0 auto}\
header{border-bottom:1px solid #ccc;padding:.6rem 0;display:flex;flex-wrap:wrap;\
align-items:center;gap:.4rem 1rem}header p{margin:0}header form{margin-left:auto}\
header button{margin:0}nav ul{list-style:none;padding:0;margin:.4rem 0;display:flex;\
flex-wrap:wrap;gap:.3rem .9rem;width:100%}nav a{display:inline-block;padding:.25rem 0}\
nav a[aria-current=page]{font-weight:bold;text-decoration:none;border-bottom:3px solid #1a5fb4}\
a{color:#1a5fb4}:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}\
.skip,.vh{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;\
padding:.4rem}section{margin:1.5rem 0}h2{font-size:1.15rem;margin-top:1.8rem}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.45rem .4rem;\
border-bottom:1px solid #ddd;vertical-align:top}td form button{margin:0}\
.notice{border:1px solid #2a7;color:#164;padding:.5rem}.secret{font-family:monospace;\
word-break:break-all;background:#f4f4f4;padding:.5rem;display:block}\
.qr svg{width:12rem;height:12rem;max-width:100%}fieldset{border:1px solid #ccc;margin:1rem 0}\
input[type=checkbox]{width:auto;margin-right:.4rem}.check{display:flex;align-items:center}\
select{padding:.4rem;font-size:1rem;width:100%}dt{font-weight:bold;margin-top:.5rem}dd{margin-left:0}\
@media (max-width:40rem){table,tbody,tr,td{display:block;width:100%}thead{display:none}\
tr{border-bottom:1px solid #ccc;padding:.4rem 0}td{border:0;padding:.15rem 0}\
td[data-label]::before{content:attr(data-label) \": \";font-weight:bold}}";

/// An account page: the frame around `body` (safe HTML), titled after `section`, with
/// `notice` (the outcome of a form post) above the content.
pub(super) fn render<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    account: &Account,
    section: Section,
    notice: Option<Notice>,
    body: &str,
) -> Response {
    let status = notice.as_ref().map_or(StatusCode::OK, |n| n.status);
    let notice = notice.map_or_else(String::new, |n| {
        if n.error {
            message(&n.text, true)
        } else {
            format!(
                "<p class=\"notice\" role=\"status\">{}</p>",
                escape(&n.text)
            )
        }
    });
    let header = format!(
        "<header><p>Signed in as <strong>{}</strong></p>\
<form method=\"post\" action=\"{}\">{}<button type=\"submit\">Sign out</button></form>\
<nav aria-label=\"Account\"><ul>{}</ul></nav></header>",
        escape(&account.username),
        escape(&st.path(LOGOUT_PATH)),
        hidden("csrf", &b.csrf),
        navigation(st, user, section),
    );
    document(
        st,
        status,
        section.title(),
        &format!(
            "{header}<main id=\"main\"><h1>{}</h1>{notice}{body}</main>",
            escape(section.title())
        ),
    )
}

/// The navigation links, the current page marked; Approvals only for approvers.
fn navigation<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    user: &Principal,
    current: Section,
) -> String {
    let approver = is_approver(st, user);
    Section::ALL
        .into_iter()
        .filter(|s| *s != Section::Approvals || approver)
        .filter(|s| *s != Section::Providers || !st.iam.config().upstream.is_empty())
        .fold(String::new(), |mut out, s| {
            let mark = if s == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(
                out,
                "<li><a href=\"{}\"{mark}>{}</a></li>",
                escape(&st.path(s.path())),
                escape(s.title())
            );
            out
        })
}

/// The page when the visitor's own account cannot be read (the session outlived it, or the
/// store failed).
pub(super) fn unavailable<S: Store, C: Clock>(st: &OAuthState<S, C>, e: Error) -> Response {
    let notice = failure(e);
    document(
        st,
        notice.status,
        "Account unavailable",
        &format!(
            "<main id=\"main\"><h1>Account unavailable</h1>{}</main>",
            message(
                "Your account cannot be shown right now. Try again later.",
                true
            )
        ),
    )
}

/// A complete account page document with the account pages' headers.
pub(super) fn document<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    status: StatusCode,
    title: &str,
    content: &str,
) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>{STYLE}{ACCOUNT_STYLE}</style>\
<script src=\"{script}\" defer></script></head>\
<body><a class=\"skip\" href=\"#main\">Skip to content</a>{content}</body></html>\n",
        title = escape(title),
        script = escape(&st.path(ASSET_PATH)),
    );
    let mut r = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response();
    secure_headers(r.headers_mut());
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ACCOUNT_CSP),
    );
    r
}
