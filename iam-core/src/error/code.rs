//! [`ErrorCode`]: the one stable vocabulary of iam's failures.
//!
//! Every [`Error`](super::Error), [`Denial`](super::Denial) and
//! [`InvalidInput`](super::InvalidInput) names its code through an exhaustive `match` in this
//! crate, and the edges derive their answers from the code alone: iam-axum its HTTP status and
//! JSON `error` string, iam-ffi its `iam_status` number. `ErrorCode` is deliberately *not*
//! `#[non_exhaustive]`: a new code must break every downstream `match` until it is mapped.
//!
//! Both the string ([`ErrorCode::as_str`]) and the number ([`ErrorCode::number`]) are stable: a
//! code keeps them in every later version, a new code gets a new string and the next number, and
//! a retired code's string and number are listed in [`RETIRED_CODES`] / [`RETIRED_NUMBERS`] and
//! never used again.

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $number:literal, $text:literal;)*) => {
        /// A stable code for every way an iam operation can fail.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of its number.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code's stable string, e.g. `"invalid_credentials"` (the HTTP `error` field).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }

            /// The code's stable number.
            pub const fn number(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $number,)*
                }
            }
        }
    };
}

error_codes! {
    /// Username, password or one-time code did not match ([`Denial::BadCredentials`](super::Denial::BadCredentials)).
    InvalidCredentials = 1, "invalid_credentials";
    /// A one-time code is required.
    TotpRequired = 2, "totp_required";
    /// Too many recent failures.
    Throttled = 3, "throttled";
    /// The account is disabled.
    AccountDisabled = 4, "account_disabled";
    /// The account cannot log in with a password.
    PasswordLoginNotAllowed = 5, "password_login_not_allowed";
    /// The token is not a well-formed iam token.
    TokenMalformed = 6, "token_malformed";
    /// The token names an unknown signing key.
    TokenUnknownKey = 7, "token_unknown_key";
    /// The token's signature does not verify.
    TokenBadSignature = 8, "token_bad_signature";
    /// The token has expired.
    TokenExpired = 9, "token_expired";
    /// The token is not valid yet.
    TokenNotYetValid = 10, "token_not_yet_valid";
    /// The token was issued by someone else.
    TokenWrongIssuer = 11, "token_wrong_issuer";
    /// The token is meant for another audience.
    TokenWrongAudience = 12, "token_wrong_audience";
    /// The token has been revoked.
    TokenRevoked = 13, "token_revoked";
    /// The token's session has been revoked.
    SessionRevoked = 14, "session_revoked";
    /// The session has reached the end of its lifetime.
    SessionExpired = 15, "session_expired";
    /// The refresh token is unknown or malformed.
    RefreshTokenInvalid = 16, "refresh_token_invalid";
    /// A used refresh token was presented again.
    RefreshTokenReused = 17, "refresh_token_reused";
    /// Revocation status cannot be told right now (fail closed).
    RevocationUnavailable = 18, "revocation_unavailable";
    /// A role the action requires is missing.
    MissingRole = 19, "missing_role";
    /// A scope the action requires is missing.
    MissingScope = 20, "missing_scope";
    /// A role in an organization the action requires is missing.
    MissingOrgRole = 21, "missing_org_role";
    /// The caller may not perform this action on this object.
    NotPermitted = 22, "not_permitted";
    /// A fresh proof of identity is required.
    StepUpRequired = 23, "step_up_required";
    /// The role is not elevatable for this account.
    ElevationNotAllowed = 24, "elevation_not_allowed";
    /// A requester may not approve their own elevation.
    SelfApproval = 25, "self_approval";
    /// The elevation request is no longer pending.
    ElevationRequestClosed = 26, "elevation_request_closed";
    /// The API token is unknown or malformed.
    ApiTokenInvalid = 27, "api_token_invalid";
    /// This kind of token cannot be used here.
    WrongTokenKind = 28, "wrong_token_kind";
    /// The action needs a recent sign-in (RFC 9470).
    InsufficientUserAuthentication = 29, "insufficient_user_authentication";
    /// The username breaks a rule.
    InvalidUsername = 30, "invalid_username";
    /// The password is too short.
    PasswordTooShort = 31, "password_too_short";
    /// The password is too long.
    PasswordTooLong = 32, "password_too_long";
    /// A role name breaks the role rules.
    InvalidRole = 33, "invalid_role";
    /// A system account was given a password, or a human account none.
    WrongAccountKind = 34, "wrong_account_kind";
    /// The one-time code is not six digits.
    InvalidTotpCode = 35, "invalid_totp_code";
    /// A requested duration exceeds the maximum.
    DurationTooLong = 36, "duration_too_long";
    /// An expiry does not lie in the future.
    ExpiryInPast = 37, "expiry_in_past";
    /// A label or name is empty or too long.
    InvalidLabel = 38, "invalid_label";
    /// The configuration is unusable.
    InvalidConfig = 39, "invalid_config";
    /// An OAuth client registration breaks a rule.
    InvalidOAuthClient = 40, "invalid_oauth_client";
    /// The named object does not exist.
    NotFound = 41, "not_found";
    /// The username is already in use.
    UsernameTaken = 42, "username_taken";
    /// TOTP is already on and must be removed before enrolling again.
    TotpAlreadyEnabled = 43, "totp_already_enabled";
    /// TOTP was never enrolled.
    TotpNotEnrolled = 44, "totp_not_enrolled";
    /// TOTP is already confirmed.
    TotpAlreadyConfirmed = 45, "totp_already_confirmed";
    /// A public OAuth client has no secret to rotate.
    PublicClientHasNoSecret = 46, "public_client_has_no_secret";
    /// The organization name is already in use.
    OrganizationNameTaken = 47, "organization_name_taken";
    /// The role no longer needs approval to be elevated to.
    RoleNeedsNoApproval = 48, "role_needs_no_approval";
    /// Stored state contradicts itself (an internal fault).
    InconsistentState = 49, "inconsistent_state";
    /// Concurrent changes kept conflicting; nothing was changed.
    Contention = 50, "contention";
    /// The store failed.
    StoreUnavailable = 51, "store_unavailable";
    /// The audit chain is broken.
    AuditChainBroken = 52, "audit_chain_broken";
    /// A cryptographic step failed.
    CryptoFailure = 53, "crypto_failure";
    /// The store's commit queue is full; nothing was changed; retry shortly.
    Overloaded = 54, "overloaded";
    /// A profile attribute (name, email) breaks a rule.
    InvalidProfile = 55, "invalid_profile";
    /// A WebAuthn credential (or its JSON) is malformed or too large.
    InvalidWebauthn = 56, "invalid_webauthn";
    /// A passkey's answer did not verify (challenge, origin, relying party, signature or user
    /// verification).
    PasskeyRejected = 57, "passkey_rejected";
    /// A passkey's signature counter went backwards: the authenticator may have been cloned.
    PasskeyCounterRegressed = 58, "passkey_counter_regressed";
    /// The passkey ceremony is unknown, already used, expired or someone else's.
    PasskeyCeremonyInvalid = 59, "passkey_ceremony_invalid";
    /// The authenticator's AAGUID is not on the configured list.
    AuthenticatorNotAllowed = 60, "authenticator_not_allowed";
    /// The passkey is already registered (to this or another account).
    PasskeyAlreadyRegistered = 61, "passkey_already_registered";
}

/// Strings of codes that are no longer produced. They stay reserved: no code may use them again.
///
/// - `conflict`: the HTTP answer to every state conflict, now split into one code per conflict
///   (`totp_already_enabled`, `organization_name_taken`, ...).
/// - `invalid_input`: the HTTP answer to an input fault without a code of its own, now
///   `invalid_oauth_client` (the only such fault).
/// - `denied`: the HTTP answer to a refusal without a code of its own; every refusal has one.
pub const RETIRED_CODES: &[&str] = &["conflict", "invalid_input", "denied"];

/// Numbers of codes that are no longer produced. They stay reserved: no code may use them again.
pub const RETIRED_NUMBERS: &[u16] = &[];

impl ErrorCode {
    /// The code with the stable string `text`, if there is one.
    pub fn from_str_code(text: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == text)
    }

    /// The code with the stable number `number`, if there is one.
    pub fn from_number(number: u16) -> Option<ErrorCode> {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.number() == number)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers_are_unique_ordered_and_never_retired() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            let text = code.as_str();
            assert!(
                !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code:?}: {text:?}"
            );
            assert_eq!(ErrorCode::from_str_code(text), Some(*code));
            assert_eq!(ErrorCode::from_number(code.number()), Some(*code));
            assert!(!RETIRED_CODES.contains(&text), "{text} is retired");
            assert!(
                !RETIRED_NUMBERS.contains(&code.number()),
                "{code:?} reuses a retired number"
            );
            for later in &ErrorCode::ALL[i + 1..] {
                assert!(code.number() < later.number(), "{code:?} / {later:?}");
                assert_ne!(text, later.as_str());
            }
        }
        assert_eq!(
            ErrorCode::ALL.len(),
            usize::from(ErrorCode::ALL[ErrorCode::ALL.len() - 1].number())
        );
    }
}
