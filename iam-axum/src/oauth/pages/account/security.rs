//! Password and sign-in (`/account/security`): changing one's password (with the current
//! one), and TOTP: enrolment shows the secret once, as a QR code drawn here as inline SVG and
//! as text, then a first code confirms it; removal needs a recent sign-in.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use iam_core::{Caller, Clock, Error, Principal, SecretString, Store, TotpEnrolment, TotpStatus};
use qrcode::render::svg;
use qrcode::QrCode;
use zeroize::Zeroizing;

use super::layout::{render, unavailable};
use super::{field, outcome, own_account, posted, visitor, Notice, Section};
use crate::oauth::html::{escape, hidden};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState};

/// The security page with `notice`, showing `enrolment` (a secret just drawn) if given.
async fn show<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    notice: Option<Notice>,
    enrolment: Option<&TotpEnrolment>,
) -> Response {
    let account = match own_account(st, user).await {
        Ok(a) => a,
        Err(e) => return unavailable(st, e),
    };
    let policy = &st.iam.config().passwords;
    let form = |path: &str| {
        format!(
            "<form method=\"post\" action=\"{}\">{}",
            escape(&st.path(path)),
            hidden("csrf", &b.csrf)
        )
    };
    let password = format!(
        "<section aria-labelledby=\"password-heading\"><h2 id=\"password-heading\">Password</h2>\
{form}<input type=\"text\" name=\"username\" autocomplete=\"username\" value=\"{username}\" hidden>\
<label for=\"current-password\">Current password</label>\
<input id=\"current-password\" name=\"current_password\" type=\"password\" autocomplete=\"current-password\" required>\
<label for=\"new-password\">New password</label>\
<input id=\"new-password\" name=\"new_password\" type=\"password\" autocomplete=\"new-password\" required \
minlength=\"{min}\" maxlength=\"{max}\" aria-describedby=\"new-password-help\">\
<p id=\"new-password-help\">At least {min} characters.</p>\
<label for=\"repeat-password\">New password again</label>\
<input id=\"repeat-password\" name=\"repeat_password\" type=\"password\" autocomplete=\"new-password\" required>\
<button type=\"submit\">Change password</button></form>\
<p>Other sessions stay signed in; end them on the <a href=\"{sessions}\">Sessions</a> page.</p></section>",
        form = form("/account/security/password"),
        username = escape(&account.username),
        min = policy.min_length,
        max = policy.max_length,
        sessions = escape(&st.path(Section::Sessions.path())),
    );
    let totp = match (enrolment, account.totp) {
        (Some(e), _) => enrolment_section(&form("/account/security/totp/confirm"), e),
        (None, TotpStatus::On) => format!(
            "<p>Authenticator app: <strong>on</strong>. Signing in needs a one-time code.</p>\
{}<button type=\"submit\">Turn off authenticator app</button></form>",
            form("/account/security/totp/remove")
        ),
        (None, TotpStatus::Off | TotpStatus::Pending) => format!(
            "<p>Authenticator app: <strong>off</strong>. Add one so that signing in needs a \
one-time code as well as your password.</p>\
{}<button type=\"submit\">Set up authenticator app</button></form>",
            form("/account/security/totp/enrol")
        ),
    };
    let body = format!(
        "{password}<section aria-labelledby=\"totp-heading\">\
<h2 id=\"totp-heading\">Authenticator app (TOTP)</h2>{totp}</section>"
    );
    render(st, b, user, &account, Section::Security, notice, &body)
}

/// The just-drawn secret (QR code and text) and the form confirming it with a first code.
fn enrolment_section(form: &str, e: &TotpEnrolment) -> String {
    let qr = qr_svg(e.uri.expose()).map_or_else(String::new, |svg| {
        format!("<div class=\"qr\">{}</div>", svg.as_str())
    });
    format!(
        "<p>Scan this QR code with your authenticator app, or type the key by hand. It is \
shown only now.</p>{qr}\
<p>Key: <code class=\"secret\" id=\"totp-secret\">{secret}</code></p>\
{form}<label for=\"totp-code\">Code from the app</label>\
<input id=\"totp-code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
pattern=\"[0-9]*\" maxlength=\"10\" required autofocus>\
<button type=\"submit\">Confirm and turn on</button></form>",
        secret = escape(e.secret_base32.expose()),
    )
}

/// The QR code of `uri` as an inline SVG element (the XML declaration dropped), labelled for
/// screen readers; `None` if the URI does not fit in a QR code.
fn qr_svg(uri: &str) -> Option<Zeroizing<String>> {
    let code = QrCode::new(uri.as_bytes()).ok()?;
    let image = Zeroizing::new(
        code.render::<svg::Color<'_>>()
            .min_dimensions(192, 192)
            .build(),
    );
    let start = image.find("<svg ")?;
    Some(Zeroizing::new(format!(
        "<svg role=\"img\" aria-label=\"QR code of the authenticator key\" {}",
        &image[start + "<svg ".len()..]
    )))
}

/// `GET /account/security`.
pub(crate) async fn page<S: Store, C: Clock>(st: OAuthCtx<S, C>, headers: HeaderMap) -> Response {
    let (b, user) = match visitor(&st, &headers, Section::Security).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let r = show(&st, &b, &user, None, None).await;
    b.finish(r)
}

/// Answers a security form with the outcome `done`.
async fn answer<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: Browser,
    user: &Principal,
    done: Result<String, Error>,
) -> Response {
    let r = match outcome(st, &b, user, Section::Security, done).await {
        Ok(notice) => show(st, &b, user, Some(notice), None).await,
        Err(r) => r,
    };
    b.finish(r)
}

/// `POST /account/security/password`.
pub(crate) async fn change_password<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Security).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let current = SecretString::new(field(&params, "current_password").to_owned());
    let new = SecretString::new(field(&params, "new_password").to_owned());
    let repeat = field(&params, "repeat_password");
    if new.expose() != repeat {
        let notice = Notice {
            text: "The two new passwords differ. Type the same new password twice.".to_owned(),
            error: true,
            status: StatusCode::BAD_REQUEST,
        };
        let r = show(&st, &b, &user, Some(notice), None).await;
        return b.finish(r);
    }
    let done = st
        .iam
        .change_own_password(&user, &current, &new)
        .await
        .map(|_| "Your password has been changed.".to_owned());
    answer(&st, b, &user, done).await
}

/// `POST /account/security/totp/enrol`: draws a new secret and shows it once.
pub(crate) async fn enrol_totp<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, _) = match posted(&st, &headers, &body, Section::Security).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match st
        .iam
        .enrol_totp(Caller::Principal(&user), &user.account_id)
        .await
    {
        Ok(enrolment) => {
            let r = show(&st, &b, &user, None, Some(&enrolment)).await;
            b.finish(r)
        }
        Err(e) => answer(&st, b, &user, Err(e)).await,
    }
}

/// `POST /account/security/totp/confirm`.
pub(crate) async fn confirm_totp<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, params) = match posted(&st, &headers, &body, Section::Security).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = st
        .iam
        .confirm_totp(
            Caller::Principal(&user),
            &user.account_id,
            field(&params, "code").trim(),
        )
        .await
        .map(|_| "Your authenticator app is on. Signing in now needs a code.".to_owned());
    answer(&st, b, &user, done).await
}

/// `POST /account/security/totp/remove` (the core asks for a recent sign-in).
pub(crate) async fn remove_totp<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (b, user, _) = match posted(&st, &headers, &body, Section::Security).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let done = st
        .iam
        .remove_totp(Caller::Principal(&user), &user.account_id)
        .await
        .map(|_| "Your authenticator app is off.".to_owned());
    answer(&st, b, &user, done).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_codes_are_inline_svg_elements() {
        let svg = qr_svg("otpauth://totp/iam:alice?secret=JBSWY3DPEHPK3PXP&issuer=iam");
        let svg = svg.as_deref().map(String::as_str).unwrap_or_default();
        assert!(svg.starts_with("<svg role=\"img\" aria-label="), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
        assert!(!svg.contains("<script"));
    }
}
