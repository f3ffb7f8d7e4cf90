//! What to do about an error: every stable error code of the server gets a next step.
//!
//! The codes of iam-core come through an exhaustive `match` on [`ErrorCode`], so a code added to
//! iam does not build here until it has its hint; the HTTP edge's own codes follow.

use iam_core::ErrorCode;

use crate::client::ServerError;

/// The message iamctl prints for `err`: the error chain, then (for an answer of the server)
/// a line saying what to do about its code.
pub fn report(err: &anyhow::Error) -> String {
    let mut text = format!("iamctl: error: {err:#}");
    let code = err
        .chain()
        .find_map(|e| e.downcast_ref::<ServerError>())
        .map(|e| e.code.as_str());
    if let Some(hint) = code.and_then(hint) {
        text.push_str("\nhint: ");
        text.push_str(hint);
    }
    text
}

/// The next step for the server's error `code`.
pub fn hint(code: &str) -> Option<&'static str> {
    match ErrorCode::from_str_code(code) {
        Some(code) => Some(core_hint(code)),
        None => edge_hint(code),
    }
}

/// The next step for each of iam-core's codes.
fn core_hint(code: ErrorCode) -> &'static str {
    use ErrorCode as C;
    match code {
        C::InvalidCredentials => {
            "check the username, the password and (with TOTP on) the code; repeated failures slow down further attempts"
        }
        C::TotpRequired => {
            "the account has TOTP on: add --totp CODE with the code your authenticator app shows (in a terminal, iamctl asks for it)"
        }
        C::Throttled => "too many failed attempts: wait as long as the message says, then try again",
        C::AccountDisabled => "an admin can enable the account with `iamctl accounts enable ACCOUNT`",
        C::PasswordLoginNotAllowed => {
            "this is a system account: it authenticates with its service token (IAM_TOKEN), not a password"
        }
        C::TokenMalformed
        | C::TokenUnknownKey
        | C::TokenBadSignature
        | C::TokenWrongIssuer
        | C::TokenWrongAudience => {
            "the server does not accept this token: check --server and IAM_TOKEN, or log in again with `iamctl login USERNAME`"
        }
        C::TokenNotYetValid => "the token is from the future: check this machine's clock and the server's",
        C::TokenExpired | C::TokenRevoked | C::SessionRevoked | C::SessionExpired => {
            "the session has ended: log in again with `iamctl login USERNAME`"
        }
        C::RefreshTokenInvalid | C::RefreshTokenReused => {
            "the session has ended (a refresh token used twice ends it, in case it was stolen): log in again with `iamctl login USERNAME`"
        }
        C::RevocationUnavailable => {
            "the server cannot check revocations right now: retry shortly; if it lasts, the operator should check iamd's database connection"
        }
        C::MissingRole => {
            "the account lacks the role the message names: log in as an account that holds it, or open it with `iamctl elevation request ROLE` if it is elevatable for you"
        }
        C::MissingScope => "the token lacks the scope the message names: use a token issued with that scope",
        C::MissingOrgRole => {
            "this needs an organization token of an account with the role the message names in that organization"
        }
        C::NotPermitted => {
            "this account may not do that to this object: log in as an admin, or as the account it belongs to"
        }
        C::StepUpRequired => {
            "prove it is you again: add --password-stdin (or IAM_PASSWORD) and, with TOTP on, --totp CODE (in a terminal, iamctl asks)"
        }
        C::ElevationNotAllowed => {
            "the role is not elevatable for this account: an admin can grant it with `iamctl roles grant ACCOUNT ROLE --elevatable`"
        }
        C::SelfApproval => "another account holding the approver role must approve this request",
        C::ElevationRequestClosed => {
            "the request was answered or has lapsed: file a new one with `iamctl elevation request ROLE`"
        }
        C::ApiTokenInvalid => {
            "the API token is unknown, revoked or expired: create a new one with `iamctl api-tokens create`"
        }
        C::WrongTokenKind => {
            "this needs a login session, not a service or API token: unset IAM_TOKEN and run `iamctl login USERNAME`"
        }
        C::InsufficientUserAuthentication => {
            "this needs a recent login: run `iamctl login USERNAME` again, then repeat the command"
        }
        C::InvalidUsername => {
            "choose another username: 2-64 characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        }
        C::PasswordTooShort | C::PasswordTooLong => {
            "choose a password of a length within the bounds the message names"
        }
        C::InvalidRole => "role names are 1-64 characters from a-z, 0-9, ':', '.', '_', '-'",
        C::WrongAccountKind => {
            "a human account needs a password; a system account (--kind system) takes none"
        }
        C::InvalidTotpCode => "a one-time code is the six digits your authenticator app shows now",
        C::DurationTooLong => "ask for a shorter duration: the message names the maximum",
        C::ExpiryInPast => "give an expiry that lies in the future",
        C::InvalidLabel => "give a label or name of 1-128 characters",
        C::InvalidOAuthClient => {
            "the message names the registration rule that is broken; see `iamctl clients register --help`"
        }
        C::NotFound => {
            "check the id or name: `iamctl accounts list`, `iamctl sessions list` or `iamctl clients list` show them"
        }
        C::UsernameTaken => {
            "choose another username, or use the existing account (`iamctl accounts show USERNAME`)"
        }
        C::TotpAlreadyEnabled => {
            "TOTP is already on: turn it off first with `iamctl totp remove` (needs a recent login) to enrol a new authenticator"
        }
        C::TotpNotEnrolled => "start with `iamctl totp enrol`",
        C::TotpAlreadyConfirmed => "TOTP is already on: there is nothing to confirm",
        C::PublicClientHasNoSecret => {
            "only confidential clients that authenticate with a secret have one to rotate"
        }
        C::OrganizationNameTaken => "choose another organization name",
        C::RoleNeedsNoApproval => {
            "the role no longer needs approval: the requester can open it with `iamctl elevation request ROLE`"
        }
        C::InvalidProfile => "the message names the profile rule that is broken (name or email)",
        C::InvalidWebauthn => "send the credential JSON the browser produced, unchanged",
        C::PasskeyRejected => {
            "the passkey's answer did not verify: start the ceremony again from an allowed origin"
        }
        C::PasskeyCounterRegressed => {
            "the authenticator may have been cloned: remove the passkey and register a new one"
        }
        C::PasskeyCeremonyInvalid => {
            "the passkey ceremony is unknown, used or expired: start a new one"
        }
        C::AuthenticatorNotAllowed => {
            "this kind of authenticator is not on the server's list (passkeys.allowed_aaguids)"
        }
        C::PasskeyAlreadyRegistered => "this passkey is already registered",
        C::Contention | C::StoreUnavailable | C::Overloaded => {
            "the server is busy or its database is unavailable: retry in a moment"
        }
        // The server answers these as `internal_error`; they name faults of its own.
        C::InconsistentState | C::AuditChainBroken | C::CryptoFailure | C::InvalidConfig => {
            "a fault on the server: the operator should look at iamd's log"
        }
    }
}

/// The next step for the HTTP edge's own codes (and iamctl's `http_error`).
fn edge_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "missing_token" | "unauthorized" => "log in first: `iamctl login USERNAME`",
        "forbidden" => "this account may not do that: log in as one that may",
        "rate_limited" => "too many requests from this address: wait a moment and retry",
        "internal_error" => "a fault on the server: retry later; the operator should look at iamd's log",
        "request_timeout" => "the server took too long: retry",
        "payload_too_large" => "the request is larger than the server accepts",
        "bad_request" | "method_not_allowed" | "unsupported_media_type" => {
            "the server did not understand the request: check that --server names an iam server of the same version as iamctl"
        }
        "http_error" => {
            "the answer is not from iam: check that --server names iamd (with its path prefix, if any)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_hint() {
        for code in ErrorCode::ALL {
            let text = hint(code.as_str()).expect("a hint");
            assert!(!text.is_empty(), "{code:?}");
        }
        let username = format!(
            "{}-{} characters",
            iam_core::account::USERNAME_MIN,
            iam_core::account::USERNAME_MAX
        );
        assert!(hint("invalid_username").is_some_and(|h| h.contains(&username)));
        assert!(hint("rate_limited").is_some());
        assert!(hint("no_such_code").is_none());
    }

    #[test]
    fn a_server_error_prints_its_code_and_what_to_do() {
        let err = anyhow::Error::new(ServerError {
            status: reqwest::StatusCode::NOT_FOUND,
            code: "not_found".to_owned(),
            message: "account not found".to_owned(),
        })
        .context("looking up bob");
        let text = report(&err);
        assert!(
            text.starts_with(
                "iamctl: error: looking up bob: account not found (error code not_found, HTTP 404)"
            ),
            "{text}"
        );
        assert!(
            text.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("hint: check the id")),
            "{text}"
        );
        let plain = report(&anyhow::anyhow!("not logged in"));
        assert_eq!(plain, "iamctl: error: not logged in");
    }
}
