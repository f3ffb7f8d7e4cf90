//! Confirming it is you: the page shown when the core refuses an action for an old sign-in
//! ([`iam_core::Denial::RecentAuthenticationRequired`]), and `POST /account/reauthenticate`,
//! which proves the password (and a TOTP code when on), or a passkey, again through
//! [`iam_core::Iam::reauthenticate`], renews the session cookie's access token, and returns to
//! the page the action came from, where the person repeats it.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use iam_core::{
    Caller, Clock, Denial, Error, PasskeyAssertion, Principal, SecretString, StepUpProof, Store,
    TotpStatus,
};

use super::layout::{render, unavailable};
use super::passkeys::STEP_UP_PATH;
use super::{field, own_account, posted, see_other, Notice, Section};
use crate::oauth::html::{escape, hidden};
use crate::oauth::session::Browser;
use crate::oauth::{OAuthCtx, OAuthState};

/// Path the confirmation form posts to.
const REAUTH_PATH: &str = "/account/reauthenticate";

/// The page asking for the password again (and a code when TOTP is on), to continue on
/// `section`.
pub(super) async fn prompt<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    b: &Browser,
    user: &Principal,
    section: Section,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let account = match own_account(st, user).await {
        Ok(a) => a,
        Err(e) => return unavailable(st, e),
    };
    let totp = if account.totp == TotpStatus::On {
        "<label for=\"reauth-totp\">One-time code</label>\
<input id=\"reauth-totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" \
pattern=\"[0-9]*\" maxlength=\"10\" required>"
    } else {
        ""
    };
    // With passkeys on and one registered, the script offers confirming with it instead.
    let has_passkeys = st.iam.config().passkeys.is_some()
        && st
            .iam
            .list_passkeys(Caller::Principal(user), &user.account_id)
            .await
            .is_ok_and(|p| !p.is_empty());
    let passkey = if has_passkeys {
        format!(
            " data-passkey-step-up data-start=\"{}\"",
            escape(&st.path(STEP_UP_PATH))
        )
    } else {
        String::new()
    };
    let body = format!(
        "<section aria-labelledby=\"reauth-heading\"{passkey}><h2 id=\"reauth-heading\">Confirm it is you</h2>\
<p>This action needs a recent sign-in. Enter your password to continue, then repeat the action.</p>\
<form method=\"post\" action=\"{action}\">{csrf}{back}\
<label for=\"reauth-password\">Password</label>\
<input id=\"reauth-password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
{totp}<button type=\"submit\">Confirm</button>\
<button type=\"button\" data-passkey-button hidden>Confirm with a passkey</button></form>\
<p class=\"error\" role=\"alert\" data-passkey-error hidden></p></section>",
        action = escape(&st.path(REAUTH_PATH)),
        csrf = hidden("csrf", &b.csrf),
        back = hidden("return_to", section.path()),
    );
    let notice = Some(Notice {
        text: error.unwrap_or_else(|| "Please confirm your password first.".to_owned()),
        error: true,
        status,
    });
    render(st, b, user, &account, section, notice, &body)
}

/// `POST /account/reauthenticate`.
pub(crate) async fn confirm<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (mut b, user, params) = match posted(&st, &headers, &body, Section::Overview).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let section = Section::at(field(&params, "return_to")).unwrap_or(Section::Overview);
    let totp = field(&params, "totp").trim();
    let ceremony = field(&params, "passkey_ceremony");
    // The script posts a passkey's answer instead of the password.
    let proof = if ceremony.is_empty() {
        StepUpProof {
            password: Some(SecretString::new(field(&params, "password").to_owned())),
            totp_code: (!totp.is_empty()).then(|| totp.to_owned()),
            passkey: None,
        }
    } else {
        StepUpProof {
            passkey: Some(PasskeyAssertion {
                ceremony: ceremony.to_owned(),
                credential: field(&params, "passkey_credential").to_owned(),
            }),
            ..StepUpProof::default()
        }
    };
    let failed = match st.iam.reauthenticate(&user, &proof).await {
        Ok(access) => match st.iam.verify(access.expose()).await {
            Ok(renewed) => {
                b.reauthenticated(access.expose(), renewed);
                return b.finish(see_other(&st.path(section.path())));
            }
            Err(d) => Error::Denied(d),
        },
        Err(e) => e,
    };
    let (text, status) = if let Error::Denied(Denial::BadCredentials | Denial::StepUpRequired) =
        &failed
    {
        (
            "The password or one-time code is not correct.".to_owned(),
            StatusCode::UNAUTHORIZED,
        )
    } else if let Error::Denied(
        Denial::PasskeyRejected | Denial::PasskeyCeremonyInvalid | Denial::PasskeyCounterRegressed,
    ) = &failed
    {
        (
            "The passkey was not accepted.".to_owned(),
            StatusCode::UNAUTHORIZED,
        )
    } else {
        let n = super::failure(failed);
        (n.text, n.status)
    };
    let r = prompt(&st, &b, &user, section, Some(text), status).await;
    b.finish(r)
}
