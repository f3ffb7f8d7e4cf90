//! The crate's error type: [`Error`], with the typed refusal [`Denial`] and input faults [`InvalidInput`].

use std::time::Duration;

use crate::secret::MasterKeyError;
use crate::store::error::StoreError;

mod code;

pub use code::{ErrorCode, RETIRED_CODES, RETIRED_NUMBERS};

/// Why iam refused: every refusal is one of these, never a bare `false`.
///
/// The `Display` text is safe to show to the party that was refused; it never says which of
/// username or password was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denial {
    /// Username, password or one-time code did not match (deliberately not saying which).
    #[error("invalid credentials")]
    BadCredentials,
    /// The password was right but the account requires a TOTP code and none was given.
    #[error("a one-time code is required")]
    TotpRequired,
    /// Too many recent failures; try again after the given time.
    #[error("too many attempts; retry after {} s", retry_after.as_secs().max(1))]
    Throttled {
        /// How long to wait before the next attempt is considered.
        retry_after: Duration,
    },
    /// The account is disabled.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The account has no password (a system account) and cannot log in with one.
    #[error("this account cannot log in with a password")]
    PasswordLoginNotAllowed,
    /// The token is not a well-formed iam token.
    #[error("malformed token")]
    TokenMalformed,
    /// The token names a signing key this server does not know (or no longer trusts).
    #[error("token signed by an unknown key")]
    TokenUnknownKey,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    TokenBadSignature,
    /// The token's `exp` has passed.
    #[error("token has expired")]
    TokenExpired,
    /// The token's `nbf` is in the future.
    #[error("token is not valid yet")]
    TokenNotYetValid,
    /// The token was issued by someone else.
    #[error("token issuer is not accepted")]
    TokenWrongIssuer,
    /// The token is meant for another audience.
    #[error("token audience is not accepted")]
    TokenWrongAudience,
    /// Every token of the account issued before a change (role removal, sign-out everywhere) is void.
    #[error("token has been revoked")]
    TokenRevoked,
    /// The session (or grant) the token belongs to was revoked.
    #[error("session has been revoked")]
    SessionRevoked,
    /// The session has reached the end of its lifetime.
    #[error("session has expired")]
    SessionExpired,
    /// The refresh token is unknown or malformed.
    #[error("invalid refresh token")]
    RefreshTokenInvalid,
    /// A refresh token that was already used was presented again; the session is now revoked.
    #[error("refresh token reuse detected; the session has been revoked")]
    RefreshTokenReused,
    /// The revocation list is not current (its feed was lost); verification fails closed.
    #[error("revocation status is unavailable")]
    RevocationUnavailable,
    /// The token does not carry the role the action requires.
    #[error("the role {0:?} is required")]
    MissingRole(String),
    /// The token does not carry the scope the action requires.
    #[error("the scope {0:?} is required")]
    MissingScope(String),
    /// The token is not scoped to the organization with the required role.
    #[error("the role {role:?} in organization {org:?} is required")]
    MissingOrgRole {
        /// The organization id.
        org: String,
        /// The role required there.
        role: String,
    },
    /// The caller may not perform this action on this object.
    #[error("not permitted")]
    NotPermitted,
    /// The action needs a fresh proof of identity (password and/or one-time code).
    #[error("a fresh proof of identity is required")]
    StepUpRequired,
    /// The role is not elevatable for this account.
    #[error("this role cannot be elevated to by this account")]
    ElevationNotAllowed,
    /// A requester may not approve their own elevation.
    #[error("an elevation must be approved by someone else")]
    SelfApproval,
    /// The elevation request is no longer pending (approved, denied or expired).
    #[error("the elevation request is no longer pending")]
    ElevationRequestClosed,
    /// The API token is unknown or malformed.
    #[error("invalid API token")]
    ApiTokenInvalid,
    /// This kind of token cannot be used for the action (e.g. an API token where a session is needed).
    #[error("this kind of token cannot be used here")]
    WrongTokenKind,
    /// The action needs an authentication within `max_age` (RFC 9470): sign in again.
    #[error("a recent sign-in is required (within {} s)", max_age.as_secs())]
    RecentAuthenticationRequired {
        /// How recent the authentication must be.
        max_age: Duration,
    },
    /// A passkey's answer did not verify: wrong challenge, origin or relying party, a bad
    /// signature, no user verification, or a credential this ceremony does not accept.
    #[error("the passkey was not accepted")]
    PasskeyRejected,
    /// A passkey's signature counter did not advance: the authenticator may have been cloned.
    #[error("the passkey's signature counter went backwards; it may have been cloned")]
    PasskeyCounterRegressed,
    /// The passkey ceremony is unknown, already used, expired, or belongs to someone else.
    #[error("the passkey ceremony is unknown, used or expired")]
    PasskeyCeremonyInvalid,
    /// The authenticator's AAGUID is not among the allowed ones.
    #[error("this kind of authenticator is not allowed")]
    AuthenticatorNotAllowed,
}

/// Which username rule was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameRule {
    /// Shorter than the minimum.
    #[error("must be at least {min} characters long")]
    TooShort {
        /// Minimum length.
        min: usize,
    },
    /// Longer than the maximum.
    #[error("must be at most {max} characters long")]
    TooLong {
        /// Maximum length.
        max: usize,
    },
    /// A character outside `a-z 0-9 . _ -`.
    #[error(
        "character {found:?} at position {position} is not allowed (use a-z, 0-9, '.', '_', '-')"
    )]
    InvalidCharacter {
        /// The offending character.
        found: char,
        /// Its 0-based character index.
        position: usize,
    },
    /// The first character is punctuation.
    #[error("must start with a letter or digit")]
    MustStartAlphanumeric,
}

/// Which profile rule was broken (see [`crate::account::Profile`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProfileRule {
    /// The name, trimmed, is empty or longer than the maximum.
    #[error("name must be 1-{max} characters")]
    NameLength {
        /// Longest name in characters.
        max: usize,
    },
    /// The name holds a control character.
    #[error("name must not contain control characters")]
    NameControlCharacter,
    /// The email address is longer than the maximum.
    #[error("email must be at most {max} characters")]
    EmailTooLong {
        /// Longest address in characters.
        max: usize,
    },
    /// The email address holds whitespace or a control character.
    #[error("email must not contain whitespace or control characters")]
    EmailCharacter,
    /// The email address is not `local@domain.tld` with one `@`.
    #[error("email must be of the form local@domain.tld")]
    EmailFormat,
    /// An email address cannot be verified when there is none.
    #[error("email_verified needs an email address")]
    VerifiedWithoutEmail,
}

/// Input that iam will not accept, with the exact rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// The username breaks a rule.
    #[error("invalid username: {0}")]
    Username(UsernameRule),
    /// The password is shorter than allowed.
    #[error("password must be at least {min} characters long")]
    PasswordTooShort {
        /// Minimum length in characters.
        min: usize,
    },
    /// The password is longer than allowed.
    #[error("password must be at most {max} characters long")]
    PasswordTooLong {
        /// Maximum length in characters.
        max: usize,
    },
    /// A role name breaks the role rules.
    #[error("invalid role name {0:?}: use 1-64 characters from a-z, 0-9, ':', '.', '_', '-'")]
    RoleName(String),
    /// A system account was given a password, or a human account none.
    #[error("{0}")]
    AccountKind(&'static str),
    /// The TOTP code is not six digits.
    #[error("a one-time code is six digits")]
    TotpCodeFormat,
    /// A requested duration exceeds the allowed maximum.
    #[error("duration exceeds the maximum of {max_secs} s")]
    DurationTooLong {
        /// The maximum in seconds.
        max_secs: u64,
    },
    /// A time that must lie in the future does not.
    #[error("the expiry must lie in the future")]
    ExpiryInPast,
    /// A label or name is empty or too long.
    #[error("{0} must be 1-128 characters")]
    Label(&'static str),
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// An OAuth client registration breaks a rule.
    #[error("invalid OAuth client: {0}")]
    OAuthClient(&'static str),
    /// A profile attribute (name, email) breaks a rule.
    #[error("invalid profile: {0}")]
    Profile(ProfileRule),
    /// A WebAuthn credential (or its JSON) is malformed or too large.
    #[error("invalid WebAuthn credential: {0}")]
    Webauthn(&'static str),
}

/// Everything an iam operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// iam refused, for the stated reason.
    #[error("denied: {0}")]
    Denied(#[from] Denial),
    /// The input breaks a rule.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The named object does not exist.
    #[error("{0} not found")]
    NotFound(Missing),
    /// The username is already in use.
    #[error("username is already taken")]
    UsernameTaken,
    /// The operation does not fit the object's state (e.g. confirming TOTP that was never enrolled).
    #[error("{0}")]
    State(Conflict),
    /// Concurrent changes kept conflicting; the operation was abandoned without effect.
    #[error("too much contention; try again")]
    Contention,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The audit chain is broken at the stated place.
    #[error("audit chain broken: {0}")]
    AuditChain(#[from] crate::audit::ChainBreak),
    /// A cryptographic step failed (for instance, sealed data that does not open with the configured key).
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
    /// The master key could not be loaded or created (see [`MasterKey::load_or_create`](crate::MasterKey::load_or_create)).
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
}

/// The kind of object an operation did not find ([`Error::NotFound`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Missing {
    /// An account.
    #[error("account")]
    Account,
    /// A session.
    #[error("session")]
    Session,
    /// An API token.
    #[error("API token")]
    ApiToken,
    /// An OAuth client.
    #[error("OAuth client")]
    OAuthClient,
    /// A consent to an OAuth client.
    #[error("consent")]
    Consent,
    /// A device authorization (RFC 8628) or its user code.
    #[error("device authorization")]
    DeviceAuthorization,
    /// An organization.
    #[error("organization")]
    Organization,
    /// An invitation: to an organization, or to create an account (also a closed one, when used).
    #[error("invitation")]
    Invitation,
    /// Issued database credentials.
    #[error("database credentials")]
    DatabaseCredentials,
    /// A passkey (or, for an account, any passkey).
    #[error("passkey")]
    Passkey,
    /// Passkey support: no relying party is configured.
    #[error("passkey support")]
    PasskeySupport,
}

/// How an operation conflicts with the state of its object ([`Error::State`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// TOTP is on; it must be removed before enrolling again.
    #[error("TOTP is already on; remove it before enrolling again")]
    TotpAlreadyEnabled,
    /// Confirming TOTP that was never enrolled.
    #[error("TOTP is not enrolled")]
    TotpNotEnrolled,
    /// Confirming TOTP that is already confirmed.
    #[error("TOTP is already confirmed")]
    TotpAlreadyConfirmed,
    /// Rotating the secret of an OAuth client that has none (public, or `private_key_jwt`).
    #[error("public clients have no secret")]
    PublicClientHasNoSecret,
    /// The organization name is in use.
    #[error("organization name taken")]
    OrganizationNameTaken,
    /// Answering an elevation request for a role that no longer needs approval.
    #[error("the role no longer needs approval")]
    RoleNeedsNoApproval,
    /// The account requires TOTP but holds no TOTP state (stored data contradicts itself).
    #[error("TOTP state missing")]
    TotpStateMissing,
    /// An approval was recorded but opened no elevation (an internal fault).
    #[error("approval opened no elevation")]
    ApprovalOpenedNoElevation,
    /// The passkey's credential is already registered.
    #[error("this passkey is already registered")]
    PasskeyAlreadyRegistered,
}

impl Conflict {
    /// The stable code of this conflict.
    pub fn code(&self) -> ErrorCode {
        match self {
            Conflict::TotpAlreadyEnabled => ErrorCode::TotpAlreadyEnabled,
            Conflict::TotpNotEnrolled => ErrorCode::TotpNotEnrolled,
            Conflict::TotpAlreadyConfirmed => ErrorCode::TotpAlreadyConfirmed,
            Conflict::PublicClientHasNoSecret => ErrorCode::PublicClientHasNoSecret,
            Conflict::OrganizationNameTaken => ErrorCode::OrganizationNameTaken,
            Conflict::RoleNeedsNoApproval => ErrorCode::RoleNeedsNoApproval,
            Conflict::PasskeyAlreadyRegistered => ErrorCode::PasskeyAlreadyRegistered,
            Conflict::TotpStateMissing | Conflict::ApprovalOpenedNoElevation => {
                ErrorCode::InconsistentState
            }
        }
    }
}

impl Denial {
    /// The stable code of this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            Denial::BadCredentials => ErrorCode::InvalidCredentials,
            Denial::TotpRequired => ErrorCode::TotpRequired,
            Denial::Throttled { .. } => ErrorCode::Throttled,
            Denial::AccountDisabled => ErrorCode::AccountDisabled,
            Denial::PasswordLoginNotAllowed => ErrorCode::PasswordLoginNotAllowed,
            Denial::TokenMalformed => ErrorCode::TokenMalformed,
            Denial::TokenUnknownKey => ErrorCode::TokenUnknownKey,
            Denial::TokenBadSignature => ErrorCode::TokenBadSignature,
            Denial::TokenExpired => ErrorCode::TokenExpired,
            Denial::TokenNotYetValid => ErrorCode::TokenNotYetValid,
            Denial::TokenWrongIssuer => ErrorCode::TokenWrongIssuer,
            Denial::TokenWrongAudience => ErrorCode::TokenWrongAudience,
            Denial::TokenRevoked => ErrorCode::TokenRevoked,
            Denial::SessionRevoked => ErrorCode::SessionRevoked,
            Denial::SessionExpired => ErrorCode::SessionExpired,
            Denial::RefreshTokenInvalid => ErrorCode::RefreshTokenInvalid,
            Denial::RefreshTokenReused => ErrorCode::RefreshTokenReused,
            Denial::RevocationUnavailable => ErrorCode::RevocationUnavailable,
            Denial::MissingRole(_) => ErrorCode::MissingRole,
            Denial::MissingScope(_) => ErrorCode::MissingScope,
            Denial::MissingOrgRole { .. } => ErrorCode::MissingOrgRole,
            Denial::NotPermitted => ErrorCode::NotPermitted,
            Denial::StepUpRequired => ErrorCode::StepUpRequired,
            Denial::ElevationNotAllowed => ErrorCode::ElevationNotAllowed,
            Denial::SelfApproval => ErrorCode::SelfApproval,
            Denial::ElevationRequestClosed => ErrorCode::ElevationRequestClosed,
            Denial::ApiTokenInvalid => ErrorCode::ApiTokenInvalid,
            Denial::WrongTokenKind => ErrorCode::WrongTokenKind,
            Denial::RecentAuthenticationRequired { .. } => {
                ErrorCode::InsufficientUserAuthentication
            }
            Denial::PasskeyRejected => ErrorCode::PasskeyRejected,
            Denial::PasskeyCounterRegressed => ErrorCode::PasskeyCounterRegressed,
            Denial::PasskeyCeremonyInvalid => ErrorCode::PasskeyCeremonyInvalid,
            Denial::AuthenticatorNotAllowed => ErrorCode::AuthenticatorNotAllowed,
        }
    }
}

impl InvalidInput {
    /// The stable code of this input fault.
    pub fn code(&self) -> ErrorCode {
        match self {
            InvalidInput::Username(_) => ErrorCode::InvalidUsername,
            InvalidInput::PasswordTooShort { .. } => ErrorCode::PasswordTooShort,
            InvalidInput::PasswordTooLong { .. } => ErrorCode::PasswordTooLong,
            InvalidInput::RoleName(_) => ErrorCode::InvalidRole,
            InvalidInput::AccountKind(_) => ErrorCode::WrongAccountKind,
            InvalidInput::TotpCodeFormat => ErrorCode::InvalidTotpCode,
            InvalidInput::DurationTooLong { .. } => ErrorCode::DurationTooLong,
            InvalidInput::ExpiryInPast => ErrorCode::ExpiryInPast,
            InvalidInput::Label(_) => ErrorCode::InvalidLabel,
            InvalidInput::Config(_) => ErrorCode::InvalidConfig,
            InvalidInput::OAuthClient(_) => ErrorCode::InvalidOAuthClient,
            InvalidInput::Profile(_) => ErrorCode::InvalidProfile,
            InvalidInput::Webauthn(_) => ErrorCode::InvalidWebauthn,
        }
    }
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Denied(d) => d.code(),
            Error::Invalid(i) => i.code(),
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::UsernameTaken => ErrorCode::UsernameTaken,
            Error::State(c) => c.code(),
            Error::Contention => ErrorCode::Contention,
            Error::Store(StoreError::Overloaded { .. }) => ErrorCode::Overloaded,
            Error::Store(_) => ErrorCode::StoreUnavailable,
            Error::AuditChain(_) => ErrorCode::AuditChainBroken,
            Error::Crypto(_) => ErrorCode::CryptoFailure,
            Error::MasterKey(_) => ErrorCode::InvalidConfig,
        }
    }

    /// The denial, if this error is one.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Error::Denied(d) => Some(d),
            _ => None,
        }
    }
}

/// Result of an iam operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_do_not_reveal_which_credential_failed() {
        let text = Error::from(Denial::BadCredentials).to_string();
        assert_eq!(text, "denied: invalid credentials");
        assert!(!text.contains("password") && !text.contains("username"));
        let t = Denial::Throttled {
            retry_after: Duration::from_millis(200),
        };
        assert_eq!(t.to_string(), "too many attempts; retry after 1 s");
    }

    #[test]
    fn typed_not_found_and_state_keep_their_messages_and_codes() {
        let missing = Error::NotFound(Missing::OAuthClient);
        assert_eq!(missing.to_string(), "OAuth client not found");
        assert_eq!(missing.code(), ErrorCode::NotFound);
        let conflict = Error::State(Conflict::TotpNotEnrolled);
        assert_eq!(conflict.to_string(), "TOTP is not enrolled");
        assert_eq!(conflict.code(), ErrorCode::TotpNotEnrolled);
        assert_eq!(
            Error::State(Conflict::TotpStateMissing).code(),
            ErrorCode::InconsistentState
        );
        assert_eq!(
            Error::from(Denial::RecentAuthenticationRequired {
                max_age: Duration::from_secs(300)
            })
            .code()
            .as_str(),
            "insufficient_user_authentication"
        );
        assert_eq!(
            Error::from(InvalidInput::Config("x")).code(),
            ErrorCode::InvalidConfig
        );
        let unset = Error::from(MasterKeyError::EnvUnset {
            var: "IAM_MASTER_KEY".to_owned(),
        });
        assert_eq!(unset.code(), ErrorCode::InvalidConfig);
        assert!(unset.to_string().contains("IAM_MASTER_KEY"), "{unset}");
        let profile = Error::from(InvalidInput::Profile(ProfileRule::NameLength { max: 128 }));
        assert_eq!(profile.code().as_str(), "invalid_profile");
        assert_eq!(
            profile.to_string(),
            "invalid profile: name must be 1-128 characters"
        );
    }
}
