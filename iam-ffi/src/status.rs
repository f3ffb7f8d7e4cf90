//! [`iam_status`]: the stable numeric result of every call, and how iam's errors map onto it.

use iam_core::{Denial, Error, ErrorCode, OAuthErrorCode};

/// The result of an iam call. The numbers are stable: a code keeps its meaning in every
/// later version, and new codes only get new numbers. `IAM_STATUS_OK` (0) is success; any other
/// value is a failure whose message `iam_last_error()` returns on the same thread.
///
/// Ranges: 1-9 a bad argument or configuration; 10-29 and 39-59 a refusal (every reason iam
/// refuses for has a code of its own, derived from `iam_core::ErrorCode`); 30-38 a failure of the object, the store or iam itself;
/// 99 a panic.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum iam_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// An argument breaks a rule (username, password length, role name, code format, ...).
    InvalidArgument = 3,
    /// The configuration JSON is malformed or unusable.
    InvalidConfig = 4,
    /// Reserved: once a refusal without a code of its own. Every refusal has a code now (each
    /// `ErrorCode` maps to a status when the library is built), so iam no longer returns it.
    Denied = 10,
    /// Username, password or one-time code did not match (deliberately not saying which).
    BadCredentials = 11,
    /// The account requires a TOTP code and none was given.
    TotpRequired = 12,
    /// Too many recent failures; the last error says when to retry.
    Throttled = 13,
    /// The account is disabled.
    AccountDisabled = 14,
    /// The token is malformed, badly signed, or meant for another issuer, audience or use.
    TokenInvalid = 15,
    /// The token has expired.
    TokenExpired = 16,
    /// The token or its session has been revoked.
    Revoked = 17,
    /// The session has reached the end of its lifetime.
    SessionExpired = 18,
    /// The refresh token is unknown or malformed.
    RefreshTokenInvalid = 19,
    /// A used refresh token was presented again; its session is now revoked.
    RefreshTokenReused = 20,
    /// The caller lacks the role, scope or right the action needs.
    NotPermitted = 21,
    /// The action needs a fresh proof of identity.
    StepUpRequired = 22,
    /// The account cannot log in with a password (a system account: it uses service tokens).
    PasswordLoginNotAllowed = 23,
    /// Whether the token was revoked cannot be told right now (the revocation feed of a shared
    /// store was lost), so verification fails closed; retry shortly.
    RevocationUnavailable = 24,
    /// The action needs a recent sign-in (within `recent_authentication_secs`; the last error
    /// says how recent): log in again and retry with the new session's access token.
    RecentAuthenticationRequired = 25,
    /// The named object (account, session, credentials) does not exist.
    NotFound = 30,
    /// The username is already in use.
    UsernameTaken = 31,
    /// The operation does not fit the object's state (e.g. confirming TOTP never enrolled).
    InvalidState = 32,
    /// Concurrent changes kept conflicting; nothing was changed; try again.
    Contention = 33,
    /// The store (database) failed or could not be opened.
    Store = 34,
    /// The audit chain is broken; the last error says where.
    AuditChainBroken = 35,
    /// A cryptographic step failed (e.g. data sealed under another master key).
    Crypto = 36,
    /// The call was made from a thread that is running an async (tokio) runtime, or the
    /// handle's runtime could not be started.
    Runtime = 37,
    /// An unexpected failure inside iam.
    Internal = 38,
    /// The role is not elevatable for this account (grant it with `iam_grant_elevatable_role`).
    ElevationNotAllowed = 39,
    /// An elevation request must be approved (or denied) by another account than the requester.
    SelfApproval = 40,
    /// The elevation request is not pending: unknown, answered, expired, or its session ended.
    ElevationRequestClosed = 41,
    /// This kind of token cannot be used here (e.g. a service token where a login session's
    /// access token is needed).
    WrongTokenKind = 42,
    /// iam panicked; the call was stopped at the boundary and had no effect beyond what it
    /// may already have committed. Please report the last error as a bug.
    Panic = 99,
}

impl iam_status {
    /// The code's C name, e.g. `"IAM_STATUS_OK"`.
    pub const fn name(self) -> &'static str {
        match self {
            iam_status::Ok => "IAM_STATUS_OK",
            iam_status::NullParameter => "IAM_STATUS_NULL_PARAMETER",
            iam_status::InvalidUtf8 => "IAM_STATUS_INVALID_UTF8",
            iam_status::InvalidArgument => "IAM_STATUS_INVALID_ARGUMENT",
            iam_status::InvalidConfig => "IAM_STATUS_INVALID_CONFIG",
            iam_status::Denied => "IAM_STATUS_DENIED",
            iam_status::BadCredentials => "IAM_STATUS_BAD_CREDENTIALS",
            iam_status::TotpRequired => "IAM_STATUS_TOTP_REQUIRED",
            iam_status::Throttled => "IAM_STATUS_THROTTLED",
            iam_status::AccountDisabled => "IAM_STATUS_ACCOUNT_DISABLED",
            iam_status::TokenInvalid => "IAM_STATUS_TOKEN_INVALID",
            iam_status::TokenExpired => "IAM_STATUS_TOKEN_EXPIRED",
            iam_status::Revoked => "IAM_STATUS_REVOKED",
            iam_status::SessionExpired => "IAM_STATUS_SESSION_EXPIRED",
            iam_status::RefreshTokenInvalid => "IAM_STATUS_REFRESH_TOKEN_INVALID",
            iam_status::RefreshTokenReused => "IAM_STATUS_REFRESH_TOKEN_REUSED",
            iam_status::NotPermitted => "IAM_STATUS_NOT_PERMITTED",
            iam_status::StepUpRequired => "IAM_STATUS_STEP_UP_REQUIRED",
            iam_status::PasswordLoginNotAllowed => "IAM_STATUS_PASSWORD_LOGIN_NOT_ALLOWED",
            iam_status::RevocationUnavailable => "IAM_STATUS_REVOCATION_UNAVAILABLE",
            iam_status::RecentAuthenticationRequired => "IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED",
            iam_status::NotFound => "IAM_STATUS_NOT_FOUND",
            iam_status::UsernameTaken => "IAM_STATUS_USERNAME_TAKEN",
            iam_status::InvalidState => "IAM_STATUS_INVALID_STATE",
            iam_status::Contention => "IAM_STATUS_CONTENTION",
            iam_status::Store => "IAM_STATUS_STORE",
            iam_status::AuditChainBroken => "IAM_STATUS_AUDIT_CHAIN_BROKEN",
            iam_status::Crypto => "IAM_STATUS_CRYPTO",
            iam_status::Runtime => "IAM_STATUS_RUNTIME",
            iam_status::Internal => "IAM_STATUS_INTERNAL",
            iam_status::ElevationNotAllowed => "IAM_STATUS_ELEVATION_NOT_ALLOWED",
            iam_status::SelfApproval => "IAM_STATUS_SELF_APPROVAL",
            iam_status::ElevationRequestClosed => "IAM_STATUS_ELEVATION_REQUEST_CLOSED",
            iam_status::WrongTokenKind => "IAM_STATUS_WRONG_TOKEN_KIND",
            iam_status::Panic => "IAM_STATUS_PANIC",
        }
    }

    /// The code's C name as a C string.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        // Each name is a literal free of NUL bytes; the list below is checked by a test.
        match self {
            iam_status::Ok => c"IAM_STATUS_OK",
            iam_status::NullParameter => c"IAM_STATUS_NULL_PARAMETER",
            iam_status::InvalidUtf8 => c"IAM_STATUS_INVALID_UTF8",
            iam_status::InvalidArgument => c"IAM_STATUS_INVALID_ARGUMENT",
            iam_status::InvalidConfig => c"IAM_STATUS_INVALID_CONFIG",
            iam_status::Denied => c"IAM_STATUS_DENIED",
            iam_status::BadCredentials => c"IAM_STATUS_BAD_CREDENTIALS",
            iam_status::TotpRequired => c"IAM_STATUS_TOTP_REQUIRED",
            iam_status::Throttled => c"IAM_STATUS_THROTTLED",
            iam_status::AccountDisabled => c"IAM_STATUS_ACCOUNT_DISABLED",
            iam_status::TokenInvalid => c"IAM_STATUS_TOKEN_INVALID",
            iam_status::TokenExpired => c"IAM_STATUS_TOKEN_EXPIRED",
            iam_status::Revoked => c"IAM_STATUS_REVOKED",
            iam_status::SessionExpired => c"IAM_STATUS_SESSION_EXPIRED",
            iam_status::RefreshTokenInvalid => c"IAM_STATUS_REFRESH_TOKEN_INVALID",
            iam_status::RefreshTokenReused => c"IAM_STATUS_REFRESH_TOKEN_REUSED",
            iam_status::NotPermitted => c"IAM_STATUS_NOT_PERMITTED",
            iam_status::StepUpRequired => c"IAM_STATUS_STEP_UP_REQUIRED",
            iam_status::PasswordLoginNotAllowed => c"IAM_STATUS_PASSWORD_LOGIN_NOT_ALLOWED",
            iam_status::RevocationUnavailable => c"IAM_STATUS_REVOCATION_UNAVAILABLE",
            iam_status::RecentAuthenticationRequired => {
                c"IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED"
            }
            iam_status::NotFound => c"IAM_STATUS_NOT_FOUND",
            iam_status::UsernameTaken => c"IAM_STATUS_USERNAME_TAKEN",
            iam_status::InvalidState => c"IAM_STATUS_INVALID_STATE",
            iam_status::Contention => c"IAM_STATUS_CONTENTION",
            iam_status::Store => c"IAM_STATUS_STORE",
            iam_status::AuditChainBroken => c"IAM_STATUS_AUDIT_CHAIN_BROKEN",
            iam_status::Crypto => c"IAM_STATUS_CRYPTO",
            iam_status::Runtime => c"IAM_STATUS_RUNTIME",
            iam_status::Internal => c"IAM_STATUS_INTERNAL",
            iam_status::ElevationNotAllowed => c"IAM_STATUS_ELEVATION_NOT_ALLOWED",
            iam_status::SelfApproval => c"IAM_STATUS_SELF_APPROVAL",
            iam_status::ElevationRequestClosed => c"IAM_STATUS_ELEVATION_REQUEST_CLOSED",
            iam_status::WrongTokenKind => c"IAM_STATUS_WRONG_TOKEN_KIND",
            iam_status::Panic => c"IAM_STATUS_PANIC",
        }
    }

    /// The code with number `code`, if there is one.
    pub fn from_code(code: i32) -> Option<iam_status> {
        ALL.into_iter().find(|s| *s as i32 == code)
    }
}

/// Every code, in numeric order.
const ALL: [iam_status; 35] = [
    iam_status::Ok,
    iam_status::NullParameter,
    iam_status::InvalidUtf8,
    iam_status::InvalidArgument,
    iam_status::InvalidConfig,
    iam_status::Denied,
    iam_status::BadCredentials,
    iam_status::TotpRequired,
    iam_status::Throttled,
    iam_status::AccountDisabled,
    iam_status::TokenInvalid,
    iam_status::TokenExpired,
    iam_status::Revoked,
    iam_status::SessionExpired,
    iam_status::RefreshTokenInvalid,
    iam_status::RefreshTokenReused,
    iam_status::NotPermitted,
    iam_status::StepUpRequired,
    iam_status::PasswordLoginNotAllowed,
    iam_status::RevocationUnavailable,
    iam_status::RecentAuthenticationRequired,
    iam_status::NotFound,
    iam_status::UsernameTaken,
    iam_status::InvalidState,
    iam_status::Contention,
    iam_status::Store,
    iam_status::AuditChainBroken,
    iam_status::Crypto,
    iam_status::Runtime,
    iam_status::Internal,
    iam_status::ElevationNotAllowed,
    iam_status::SelfApproval,
    iam_status::ElevationRequestClosed,
    iam_status::WrongTokenKind,
    iam_status::Panic,
];

/// The status of every [`ErrorCode`]: an exhaustive match, so a code added to iam-core does not
/// build here until it has a status. Several codes share a status where the table above says so
/// (the token faults `TokenInvalid`, missing roles or scopes `NotPermitted`, state conflicts
/// `InvalidState`, input faults `InvalidArgument`).
pub(crate) fn code_status(code: ErrorCode) -> iam_status {
    use ErrorCode as C;
    match code {
        C::InvalidCredentials | C::PasskeyRejected | C::PasskeyCounterRegressed => {
            iam_status::BadCredentials
        }
        C::TotpRequired => iam_status::TotpRequired,
        C::Throttled => iam_status::Throttled,
        C::AccountDisabled => iam_status::AccountDisabled,
        C::PasswordLoginNotAllowed => iam_status::PasswordLoginNotAllowed,
        C::RevocationUnavailable => iam_status::RevocationUnavailable,
        C::InsufficientUserAuthentication => iam_status::RecentAuthenticationRequired,
        C::TokenMalformed
        | C::TokenUnknownKey
        | C::TokenBadSignature
        | C::TokenNotYetValid
        | C::TokenWrongIssuer
        | C::TokenWrongAudience
        | C::ApiTokenInvalid => iam_status::TokenInvalid,
        C::TokenExpired => iam_status::TokenExpired,
        C::TokenRevoked | C::SessionRevoked => iam_status::Revoked,
        C::SessionExpired => iam_status::SessionExpired,
        C::RefreshTokenInvalid => iam_status::RefreshTokenInvalid,
        C::RefreshTokenReused => iam_status::RefreshTokenReused,
        C::MissingRole
        | C::MissingScope
        | C::MissingOrgRole
        | C::NotPermitted
        | C::AuthenticatorNotAllowed => iam_status::NotPermitted,
        C::StepUpRequired => iam_status::StepUpRequired,
        C::ElevationNotAllowed => iam_status::ElevationNotAllowed,
        C::SelfApproval => iam_status::SelfApproval,
        C::ElevationRequestClosed => iam_status::ElevationRequestClosed,
        C::WrongTokenKind => iam_status::WrongTokenKind,
        C::InvalidUsername
        | C::PasswordTooShort
        | C::PasswordTooLong
        | C::InvalidRole
        | C::WrongAccountKind
        | C::InvalidTotpCode
        | C::DurationTooLong
        | C::ExpiryInPast
        | C::InvalidLabel
        | C::InvalidOAuthClient
        | C::InvalidProfile
        | C::InvalidWebauthn => iam_status::InvalidArgument,
        C::InvalidConfig => iam_status::InvalidConfig,
        C::NotFound => iam_status::NotFound,
        C::UsernameTaken => iam_status::UsernameTaken,
        C::TotpAlreadyEnabled
        | C::TotpNotEnrolled
        | C::TotpAlreadyConfirmed
        | C::PublicClientHasNoSecret
        | C::OrganizationNameTaken
        | C::RoleNeedsNoApproval
        | C::PasskeyCeremonyInvalid
        | C::PasskeyAlreadyRegistered
        | C::InconsistentState => iam_status::InvalidState,
        // An overloaded store changed nothing, and a retry shortly after may succeed.
        C::Contention | C::Overloaded => iam_status::Contention,
        C::StoreUnavailable => iam_status::Store,
        C::AuditChainBroken => iam_status::AuditChainBroken,
        C::CryptoFailure => iam_status::Crypto,
    }
}

/// The status of an OAuth error answered to a client at the introspection endpoint (the only
/// OAuth endpoint the C API offers). It answers `invalid_client` when the client is unknown,
/// disabled, public or gives a wrong secret, `temporarily_unavailable` when the store is
/// overloaded and `server_error` when iam failed; `OAuthErrorCode` is non-exhaustive, so any
/// other code (which introspection never answers) is an internal failure.
pub(crate) fn oauth_status(code: OAuthErrorCode) -> iam_status {
    match code {
        OAuthErrorCode::InvalidClient => iam_status::BadCredentials,
        OAuthErrorCode::InvalidRequest => iam_status::InvalidArgument,
        OAuthErrorCode::TemporarilyUnavailable => iam_status::Contention,
        _ => iam_status::Internal,
    }
}

/// The status of a refusal (through its [`ErrorCode`]).
pub(crate) fn denial_status(denial: &Denial) -> iam_status {
    code_status(denial.code())
}

/// The status of a core error (through its [`ErrorCode`]).
pub(crate) fn core_status(error: &Error) -> iam_status {
    code_status(error.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_named() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(a.name().starts_with("IAM_STATUS_"));
            assert_eq!(a.c_name().to_str(), Ok(a.name()));
            assert_eq!(iam_status::from_code(*a as i32), Some(*a));
            for b in &ALL[i + 1..] {
                assert!((*a as i32) < (*b as i32), "{a:?} and {b:?} out of order");
            }
        }
        assert_eq!(iam_status::from_code(5), None);
    }

    #[test]
    fn denials_map_to_their_codes() {
        assert_eq!(
            core_status(&Error::Denied(Denial::SessionRevoked)),
            iam_status::Revoked
        );
        assert_eq!(
            denial_status(&Denial::RevocationUnavailable),
            iam_status::RevocationUnavailable
        );
        assert_eq!(
            core_status(&Error::UsernameTaken),
            iam_status::UsernameTaken
        );
    }

    #[test]
    fn elevation_and_api_token_denials_have_their_codes() {
        let cases = [
            (Denial::StepUpRequired, iam_status::StepUpRequired),
            (Denial::ElevationNotAllowed, iam_status::ElevationNotAllowed),
            (Denial::SelfApproval, iam_status::SelfApproval),
            (
                Denial::ElevationRequestClosed,
                iam_status::ElevationRequestClosed,
            ),
            (Denial::WrongTokenKind, iam_status::WrongTokenKind),
            (Denial::NotPermitted, iam_status::NotPermitted),
            (Denial::MissingRole("ops".into()), iam_status::NotPermitted),
            (Denial::ApiTokenInvalid, iam_status::TokenInvalid),
            (Denial::TokenRevoked, iam_status::Revoked),
        ];
        for (denial, status) in cases {
            assert_eq!(denial_status(&denial), status, "{denial:?}");
        }
        assert_eq!(
            iam_status::from_code(39),
            Some(iam_status::ElevationNotAllowed)
        );
        assert_eq!(iam_status::from_code(42), Some(iam_status::WrongTokenKind));
        assert_eq!(iam_status::from_code(43), None);
    }

    /// One value of every `Denial` variant, with the code it must map to.
    fn every_denial() -> Vec<(Denial, iam_status)> {
        use iam_status as S;
        let role = || "ops".to_owned();
        let retry_after = std::time::Duration::from_secs(3);
        vec![
            (Denial::BadCredentials, S::BadCredentials),
            (Denial::TotpRequired, S::TotpRequired),
            (Denial::Throttled { retry_after }, S::Throttled),
            (Denial::AccountDisabled, S::AccountDisabled),
            (Denial::PasswordLoginNotAllowed, S::PasswordLoginNotAllowed),
            (Denial::TokenMalformed, S::TokenInvalid),
            (Denial::TokenUnknownKey, S::TokenInvalid),
            (Denial::TokenBadSignature, S::TokenInvalid),
            (Denial::TokenExpired, S::TokenExpired),
            (Denial::TokenNotYetValid, S::TokenInvalid),
            (Denial::TokenWrongIssuer, S::TokenInvalid),
            (Denial::TokenWrongAudience, S::TokenInvalid),
            (Denial::TokenRevoked, S::Revoked),
            (Denial::SessionRevoked, S::Revoked),
            (Denial::SessionExpired, S::SessionExpired),
            (Denial::RefreshTokenInvalid, S::RefreshTokenInvalid),
            (Denial::RefreshTokenReused, S::RefreshTokenReused),
            (Denial::RevocationUnavailable, S::RevocationUnavailable),
            (Denial::MissingRole(role()), S::NotPermitted),
            (Denial::MissingScope(role()), S::NotPermitted),
            (
                Denial::MissingOrgRole {
                    org: "org_1".into(),
                    role: role(),
                },
                S::NotPermitted,
            ),
            (Denial::NotPermitted, S::NotPermitted),
            (Denial::StepUpRequired, S::StepUpRequired),
            (Denial::ElevationNotAllowed, S::ElevationNotAllowed),
            (Denial::SelfApproval, S::SelfApproval),
            (Denial::ElevationRequestClosed, S::ElevationRequestClosed),
            (Denial::ApiTokenInvalid, S::TokenInvalid),
            (Denial::WrongTokenKind, S::WrongTokenKind),
            (
                Denial::RecentAuthenticationRequired {
                    max_age: std::time::Duration::from_secs(300),
                },
                S::RecentAuthenticationRequired,
            ),
        ]
    }

    /// The variant names of `pub enum {name}` in Rust source written by rustfmt: the lines
    /// indented by exactly four spaces that start with a capital letter.
    fn declared_variants(source: &str, name: &str) -> std::collections::BTreeSet<String> {
        let start = format!("pub enum {name} {{");
        let body = source
            .split_once(start.as_str())
            .and_then(|(_, rest)| rest.split_once("\n}\n"))
            .map(|(body, _)| body)
            .expect("the enum is declared");
        body.lines()
            .filter_map(|line| line.strip_prefix("    "))
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
            .map(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect()
            })
            .collect()
    }

    /// The variant name of a denial, from its `Debug` form.
    fn variant_name(denial: &Denial) -> String {
        format!("{denial:?}")
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect()
    }

    #[test]
    fn every_declared_denial_has_a_code_of_its_own() {
        let cases = every_denial();
        for (denial, status) in &cases {
            assert_eq!(denial_status(denial), *status, "{denial:?}");
            assert_ne!(*status, iam_status::Denied, "{denial:?} has no code");
            assert_eq!(
                core_status(&Error::Denied(denial.clone())),
                *status,
                "{denial:?}"
            );
        }
        // The list above names every variant iam-core declares: a new refusal reason fails
        // here until it has a code (and a line above).
        let declared = declared_variants(include_str!("../../iam-core/src/error.rs"), "Denial");
        let listed = cases.iter().map(|(d, _)| variant_name(d)).collect();
        assert!(declared.len() >= 29, "the parser found {declared:?}");
        assert_eq!(declared, listed);
    }

    #[test]
    fn introspection_refusals_have_their_codes() {
        use OAuthErrorCode as O;
        assert_eq!(oauth_status(O::InvalidClient), iam_status::BadCredentials);
        assert_eq!(oauth_status(O::InvalidRequest), iam_status::InvalidArgument);
        assert_eq!(
            oauth_status(O::TemporarilyUnavailable),
            iam_status::Contention
        );
        assert_eq!(oauth_status(O::ServerError), iam_status::Internal);
        let refused = crate::error::FfiError::from(iam_core::OAuthError::invalid_client());
        assert_eq!(refused.status(), iam_status::BadCredentials);
        assert!(refused.to_string().starts_with("invalid_client"));
    }

    #[test]
    fn new_refusal_codes_keep_their_numbers() {
        for (code, status) in [
            (23, iam_status::PasswordLoginNotAllowed),
            (24, iam_status::RevocationUnavailable),
            (25, iam_status::RecentAuthenticationRequired),
        ] {
            assert_eq!(status as i32, code);
            assert_eq!(iam_status::from_code(code), Some(status));
        }
        assert_eq!(
            iam_status::RecentAuthenticationRequired.name(),
            "IAM_STATUS_RECENT_AUTHENTICATION_REQUIRED"
        );
    }
    /// The rows of the "Error codes" table in docs/api.md, as (code, number, HTTP, FFI status).
    fn documented_codes() -> Vec<[String; 4]> {
        let doc = include_str!("../../docs/api.md");
        let section = doc
            .split_once("## Error codes")
            .map(|(_, rest)| rest)
            .expect("docs/api.md has an Error codes section");
        section
            .lines()
            .skip_while(|line| !line.starts_with("| code |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<String> = line
                    .trim_matches('|')
                    .split('|')
                    .map(|cell| cell.trim().to_owned())
                    .collect();
                cells.try_into().expect("four cells a row")
            })
            .collect()
    }

    #[test]
    fn every_error_code_has_its_documented_status() {
        let rows = documented_codes();
        assert_eq!(rows.len(), ErrorCode::ALL.len(), "one row per code");
        for (code, row) in ErrorCode::ALL.iter().zip(&rows) {
            let status = code_status(*code);
            assert_eq!(row[0], format!("`{}`", code.as_str()));
            assert_eq!(row[1], code.number().to_string(), "{code:?}");
            assert_eq!(
                row[3],
                format!("`{}` ({})", status.name(), status as i32),
                "{code:?}"
            );
            assert!(
                !matches!(
                    status,
                    iam_status::Ok | iam_status::Denied | iam_status::Panic | iam_status::Internal
                ),
                "{code:?} has no status of its own"
            );
        }
        for retired in iam_core::error::RETIRED_CODES {
            assert!(ErrorCode::ALL.iter().all(|c| c.as_str() != *retired));
            assert!(rows.iter().all(|row| row[0] != format!("`{retired}`")));
        }
    }

    #[test]
    fn ffi_md_lists_every_status() {
        let doc = include_str!("../../docs/ffi.md");
        let listed: Vec<(i32, String)> = doc
            .lines()
            .filter_map(|line| {
                let mut cells = line.trim_matches('|').split('|').map(str::trim);
                let number = cells.next()?.parse().ok()?;
                let name = cells.next()?.trim_matches('`').to_owned();
                name.starts_with("IAM_STATUS_").then_some((number, name))
            })
            .collect();
        let expected: Vec<(i32, String)> = ALL
            .iter()
            .map(|s| (*s as i32, s.name().to_owned()))
            .collect();
        assert_eq!(listed, expected);
    }

    /// `IAM_STATUS_BAD_CREDENTIALS` -> `BadCredentials`.
    fn camel(name: &str) -> String {
        name.trim_start_matches("IAM_STATUS_")
            .split('_')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_string() + &chars.as_str().to_ascii_lowercase()
                })
            })
            .collect()
    }

    #[test]
    fn python_exception_table_matches_the_statuses() {
        let source = include_str!("../../examples/python/iam_ffi/__init__.py");
        // Every `_error("NameError", number, ...)`, however the call is wrapped.
        let mut classes: Vec<(i32, String)> = source
            .split("_error(")
            .skip(2) // the text before the first call, and the helper's own definition
            .filter_map(|call| {
                let mut args = call.split(',').map(|a| a.trim().trim_matches('"'));
                let class = args.next()?.to_owned();
                let number = args.next()?.parse().ok()?;
                Some((number, class))
            })
            .collect();
        classes.push((iam_status::Denied as i32, "DeniedError".to_owned()));
        assert!(source.contains(&format!(
            "DeniedError.status = {}",
            iam_status::Denied as i32
        )));
        classes.sort();
        let table = source
            .split_once("STATUS_ERRORS: dict = {")
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(table, _)| table)
            .expect("the STATUS_ERRORS table");
        let expected: Vec<i32> = ALL
            .iter()
            .filter(|s| **s != iam_status::Ok)
            .map(|s| *s as i32)
            .collect();
        assert_eq!(
            classes.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            expected
        );
        for (number, class) in &classes {
            let status = iam_status::from_code(*number).expect("a known status");
            assert!(
                class.ends_with(&format!("{}Error", camel(status.name()))),
                "{class} for {}",
                status.name()
            );
            assert!(
                table.contains(&format!("{class},")),
                "{class} not in STATUS_ERRORS"
            );
        }
    }
}
