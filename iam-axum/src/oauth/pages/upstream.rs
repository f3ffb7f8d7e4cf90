//! "Sign in with …": upstream login through another OpenID Provider, and linking an upstream
//! identity to the signed-in account.
//!
//! - `GET /login/upstream/{provider}` (a link) and `POST /login/upstream/{provider}` (the login
//!   page's buttons, which carry the pending authorization request or device code) begin a
//!   login: a single-use attempt bound to this browser by a cookie, then the upstream's
//!   authorization endpoint.
//! - `GET /login/upstream/{provider}/callback`, one path per provider (mix-up defence), checks
//!   the attempt, the `iss` parameter (RFC 9207) when sent, redeems the code and validates the
//!   ID token (see [`crate::oauth::relying_party`]), and hands the claims to iam-core, which
//!   decides. A sign-in continues where the login page would have: the authorization request
//!   of iam's own client, the device page, or the signed-in page.
//! - `GET /account/upstream` lists the linked identities with unlink buttons and offers a link
//!   button per provider; `POST /account/upstream/{provider}/link` and
//!   `POST /account/upstream/unlink` are their forms.
//!
//! Every refusal is a page saying why (and an audit event written by iam-core).

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use iam_core::{
    Clock, Denial, Error, Principal, Store, UpstreamOutcome, UpstreamProvider, UpstreamRefusal,
    UpstreamStart,
};

use super::login::{after_login_from, continue_after_login};
use super::{account, posted_form, redirect_to, AfterLogin};
use crate::oauth::form::{encode_params, parse_params, single, Params};
use crate::oauth::html::{continue_page, escape, hidden, message, page};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState, LOGIN_PATH, UPSTREAM_UNLINK_PATH};

/// The path that begins a login through provider `id`.
fn start_path(id: &str) -> String {
    format!("/login/upstream/{id}")
}

/// The absolute callback URL of provider `id` (register it at the provider).
fn callback_url<S: Store, C: Clock>(st: &OAuthState<S, C>, id: &str) -> String {
    st.url(&format!("/login/upstream/{id}/callback"))
}

/// The login page's "Sign in with …" buttons: one form per provider, carrying the CSRF token
/// and `continuation` (the hidden fields of what follows the sign-in).
pub(super) fn buttons<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    continuation: &str,
) -> String {
    let mut out = String::new();
    for p in &st.iam.config().upstream {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{action}\">{csrf}{continuation}\
<button type=\"submit\">Sign in with {name}</button></form>",
            action = escape(&st.path(&start_path(&p.id))),
            csrf = hidden("csrf", &b.csrf),
            name = escape(&p.display_name),
        );
    }
    out
}

/// The page of a refused upstream login or link (already audited by iam-core).
fn refused_page<S: Store, C: Clock>(st: &OAuthState<S, C>, why: &UpstreamRefusal) -> Response {
    let status = match why {
        UpstreamRefusal::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
        UpstreamRefusal::UnknownProvider => StatusCode::NOT_FOUND,
        UpstreamRefusal::NotSignedIn => StatusCode::UNAUTHORIZED,
        UpstreamRefusal::StateInvalid
        | UpstreamRefusal::StateFromOtherBrowser
        | UpstreamRefusal::IssuerMismatch
        | UpstreamRefusal::UpstreamError(_)
        | UpstreamRefusal::IdTokenInvalid(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    let body = format!(
        "{}<p>Reason: <code>{}</code></p><p><a href=\"{}\">Back to sign in</a></p>",
        message(why.message(), true),
        escape(why.as_str()),
        escape(&st.path(LOGIN_PATH)),
    );
    page(status, "Sign-in not completed", &body)
}

/// The page of a failure that is not a refusal (the store, a sealed secret).
fn failure_page(e: &Error) -> Response {
    tracing::error!(error = %e, "upstream login failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in not completed",
        &message(
            "Signing in is not possible right now. Try again later.",
            true,
        ),
    )
}

/// `GET /login/upstream/{provider}`: begins a plain sign-in through the provider.
pub(crate) async fn upstream_start<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    Path(provider): Path<String>,
    headers: HeaderMap,
) -> Response {
    let b = Browser::load(&st, &headers).await;
    begin(&st, b, &headers, &provider, None, false).await
}

/// `POST /login/upstream/{provider}`: a "Sign in with …" button; continues after the sign-in
/// with what the login page would have (its `next`, `request` and `user_code` fields).
pub(crate) async fn upstream_start_form<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, params) = match posted_form(&st, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let resume: Params = params
        .into_iter()
        .filter(|(n, _)| matches!(n.as_str(), "next" | "request" | "user_code"))
        .collect();
    let resume = (!resume.is_empty()).then(|| encode_params(&resume));
    begin(&st, b, &headers, &provider, resume, true).await
}

/// Begins a sign-in through `provider` resuming with `resume`, and sends the browser there.
async fn begin<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: Browser,
    headers: &HeaderMap,
    provider: &str,
    resume: Option<String>,
    after_post: bool,
) -> Response {
    let Some(p) = st.iam.upstream_provider(provider) else {
        return b.finish(refused_page(st, &UpstreamRefusal::UnknownProvider));
    };
    let binding = b.upstream_binding(headers).map(str::to_owned);
    match st
        .iam
        .begin_upstream_login(&p.id, resume, binding.as_deref())
        .await
    {
        Ok(start) => send_upstream(st, b, p, &start, after_post).await,
        Err(e) => b.finish(failure_page(&e)),
    }
}

/// Sends the browser to `p`'s authorization endpoint for the attempt `start`, setting the
/// cookie that binds the attempt to it: by redirect after a GET, by a continue page after a
/// form post (a redirect would break the pages' `form-action 'self'`).
async fn send_upstream<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    mut b: Browser,
    p: &UpstreamProvider,
    start: &UpstreamStart,
    after_post: bool,
) -> Response {
    match st
        .upstream
        .authorization_url(p, &callback_url(st, &p.id), start)
        .await
    {
        Ok(url) => {
            b.set_upstream_binding(start.binding.expose());
            let r = if after_post {
                continue_page(&url)
            } else {
                redirect_to(&url)
            };
            b.finish(r)
        }
        Err(why) => {
            refuse(st, &p.id, &why).await;
            b.finish(refused_page(st, &why))
        }
    }
}

/// Audits a refusal found here (not by iam-core's decision).
async fn refuse<S: Store, C: Clock>(st: &OAuthState<S, C>, provider: &str, why: &UpstreamRefusal) {
    if let Err(e) = st.iam.refuse_upstream_login(provider, why).await {
        tracing::error!(error = %e, "auditing an upstream refusal failed");
    }
}

/// `GET /login/upstream/{provider}/callback`: the provider's answer.
pub(crate) async fn upstream_callback<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut b = Browser::load(&st, &headers).await;
    // A malformed or repeated parameter counts as absent.
    let params = parse_params(query.unwrap_or_default().as_bytes()).unwrap_or_default();
    let field = |name: &str| single(&params, name).ok().flatten();
    let binding = b.upstream_binding(&headers).map(str::to_owned);
    let pending = match st
        .iam
        .take_upstream_attempt(&provider, field("state").unwrap_or(""), binding.as_deref())
        .await
    {
        Ok(Ok(pending)) => pending,
        Ok(Err(why)) => return b.finish(refused_page(&st, &why)),
        Err(e) => return b.finish(failure_page(&e)),
    };
    b.clear_upstream_binding();
    let Some(p) = st.iam.upstream_provider(&pending.provider) else {
        return b.finish(refused_page(&st, &UpstreamRefusal::UnknownProvider));
    };
    let redeemed = async {
        // RFC 9207: an answer naming another issuer is a mix-up, error answers included.
        if field("iss").is_some_and(|iss| iss != p.issuer) {
            return Err(UpstreamRefusal::IssuerMismatch);
        }
        if let Some(error) = field("error") {
            return Err(UpstreamRefusal::UpstreamError(error.to_owned()));
        }
        let code = field("code").ok_or(UpstreamRefusal::UpstreamError(
            "invalid_response".to_owned(),
        ))?;
        let secret = st.iam.upstream_client_secret(&p.id).map_err(|e| {
            tracing::error!(provider = %p.id, error = %e, "the upstream client secret does not open");
            UpstreamRefusal::UpstreamUnavailable
        })?;
        st.upstream
            .redeem(p, &secret, &callback_url(&st, &p.id), code, &pending)
            .await
    }
    .await;
    let claims = match redeemed {
        Ok(c) => c,
        Err(why) => {
            refuse(&st, &p.id, &why).await;
            return b.finish(refused_page(&st, &why));
        }
    };
    let outcome = st
        .iam
        .complete_upstream_login(&pending, &claims, b.user.as_ref())
        .await;
    let r = match outcome {
        Ok(UpstreamOutcome::SignedIn(s)) => {
            let user = match st.iam.verify(s.login.tokens.access_token.expose()).await {
                Ok(user) => user,
                Err(d) => return b.finish(failure_page(&Error::Denied(d))),
            };
            b.logged_in(&s.login.tokens, user.clone(), &st.rng);
            let resume = match &pending.purpose {
                iam_core::upstream::UpstreamPurpose::SignIn { resume } => resume.clone(),
                iam_core::upstream::UpstreamPurpose::Link { .. } => None,
            };
            let next = match resume.map(|r| parse_params(r.as_bytes())) {
                Some(Ok(params)) => match after_login_from(&st, &params).await {
                    Ok(next) => next,
                    Err(r) => return b.finish(r),
                },
                _ => AfterLogin::Plain,
            };
            continue_after_login(&st, &b, &user, next, false).await
        }
        Ok(UpstreamOutcome::Linked(_)) => {
            let user = b.user.clone();
            match user {
                Some(user) => {
                    let note = format!("Your account is now linked to {}.", p.display_name);
                    account_page(&st, &b, &user, Some(&note), StatusCode::OK).await
                }
                None => refused_page(&st, &UpstreamRefusal::NotSignedIn),
            }
        }
        Ok(UpstreamOutcome::Refused(why)) => refused_page(&st, &why),
        Err(e) => failure_page(&e),
    };
    b.finish(r)
}

/// The linked upstream identities of `user` with their unlink buttons, and a link button per
/// provider not linked yet: a section the account pages can include.
pub(crate) async fn upstream_links_section<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
) -> Result<String, Error> {
    let links = st.iam.upstream_links(user.into(), &user.account_id).await?;
    let providers = &st.iam.config().upstream;
    let name_of = |id: &str| -> String {
        providers
            .iter()
            .find(|p| p.id == id)
            .map_or_else(|| id.to_owned(), |p| p.display_name.clone())
    };
    let mut out = String::from(
        "<p>Other services you may sign in through. Linking one needs a recent sign-in.</p>",
    );
    if links.is_empty() {
        out.push_str("<p>No sign-in provider is linked to your account.</p>");
    } else {
        out.push_str("<ul>");
        for l in &links {
            let _ = write!(
                out,
                "<li><strong>{name}</strong> (<code>{subject}</code>)\
<form method=\"post\" action=\"{action}\">{csrf}{link}\
<button type=\"submit\">Unlink</button></form></li>",
                name = escape(&name_of(&l.provider)),
                subject = escape(&l.subject),
                action = escape(&st.path(UPSTREAM_UNLINK_PATH)),
                csrf = hidden("csrf", &b.csrf),
                link = hidden("link", &l.id),
            );
        }
        out.push_str("</ul>");
    }
    for p in providers {
        if links.iter().any(|l| l.provider == p.id) {
            continue;
        }
        let _ = write!(
            out,
            "<form method=\"post\" action=\"{action}\">{csrf}\
<button type=\"submit\">Link {name}</button></form>",
            action = escape(&st.path(&format!("/account/upstream/{}/link", p.id))),
            csrf = hidden("csrf", &b.csrf),
            name = escape(&p.display_name),
        );
    }
    Ok(out)
}

/// The page of [`upstream_links_section`], with `note` above it.
async fn account_page<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    note: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = upstream_links_section(st, b, user).await;
    let note = note.map(|n| (n, !status.is_success(), status));
    account::providers_page(st, b, user, body, note).await
}

/// The answer to a browser without a session on the account pages.
fn sign_in_first<S: Store, C: Clock>(st: &OAuthState<S, C>) -> Response {
    page(
        StatusCode::UNAUTHORIZED,
        "Linked sign-in providers",
        &format!(
            "{}<p><a href=\"{}\">Sign in</a></p>",
            message("Sign in first.", true),
            escape(&st.path(LOGIN_PATH))
        ),
    )
}

/// `GET /account/upstream`: the signed-in user's linked identities.
pub(crate) async fn upstream_account_page<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
) -> Response {
    let b = Browser::load(&st, &headers).await;
    let r = match b.user.clone() {
        Some(user) => account_page(&st, &b, &user, None, StatusCode::OK).await,
        None => return account::providers_sign_in_first(&st, b),
    };
    b.finish(r)
}

/// `POST /account/upstream/{provider}/link`: begins linking an identity at the provider to the
/// signed-in account (which needs a recent sign-in).
pub(crate) async fn link_upstream<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, _) = match posted_form(&st, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(user) = b.user.clone() else {
        return b.finish(sign_in_first(&st));
    };
    let Some(p) = st.iam.upstream_provider(&provider) else {
        return b.finish(refused_page(&st, &UpstreamRefusal::UnknownProvider));
    };
    let binding = b.upstream_binding(&headers).map(str::to_owned);
    match st
        .iam
        .begin_upstream_link(&user, &p.id, binding.as_deref())
        .await
    {
        Ok(start) => send_upstream(&st, b, p, &start, true).await,
        Err(Error::Denied(Denial::RecentAuthenticationRequired { .. })) => {
            let r = account::providers_reauthenticate(&st, &b, &user).await;
            b.finish(r)
        }
        Err(Error::Denied(_)) => b.finish(refused_page(&st, &UpstreamRefusal::NotSignedIn)),
        Err(e) => b.finish(failure_page(&e)),
    }
}

/// `POST /account/upstream/unlink`: unlinks the identity named by the `link` field.
pub(crate) async fn unlink_upstream<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, params) = match posted_form(&st, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(user) = b.user.clone() else {
        return b.finish(sign_in_first(&st));
    };
    let link = single(&params, "link").ok().flatten().unwrap_or_default();
    let (note, status) = match st
        .iam
        .unlink_upstream((&user).into(), &user.account_id, link)
        .await
    {
        Ok(()) => ("The sign-in provider was unlinked.", StatusCode::OK),
        Err(Error::NotFound(_)) => ("No such linked identity.", StatusCode::NOT_FOUND),
        Err(Error::Denied(_)) => ("Unlinking is not allowed here.", StatusCode::FORBIDDEN),
        Err(e) => return b.finish(failure_page(&e)),
    };
    let r = account_page(&st, &b, &user, Some(note), status).await;
    b.finish(r)
}
