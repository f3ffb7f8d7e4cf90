//! [`ApiError`]: every refusal and failure as an HTTP status plus a JSON body
//! `{"error": "<stable_code>", "message": "..."}`.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_core::store::StoreError;
use iam_core::{Denial, Error, ErrorCode};

use crate::dto::ErrorOut;

/// How an error touches the RFC 6750 `WWW-Authenticate` challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// No challenge header.
    None,
    /// No credentials were sent: `Bearer realm="iam"`.
    Missing,
    /// The token is bad: `error="invalid_token"`.
    InvalidToken,
    /// The token lacks a role or scope: `error="insufficient_scope"`.
    InsufficientScope,
    /// The action needs a sign-in within `max_age` seconds (RFC 9470):
    /// `error="insufficient_user_authentication"`.
    InsufficientUserAuthentication {
        /// Seconds.
        max_age: u64,
    },
}

/// An HTTP error answer: status, stable code, safe message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable machine-readable code (`invalid_credentials`, `token_expired`, ...).
    pub code: &'static str,
    /// A human-readable message that never carries internal details.
    pub message: Cow<'static, str>,
    retry_after: Option<Duration>,
    challenge: Challenge,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            challenge: Challenge::None,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 401 for a request that carried no bearer token.
    pub(crate) fn missing_token() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "a bearer token is required",
        );
        e.challenge = Challenge::Missing;
        e
    }

    /// The answer to a bearer token refused for `d`: always 401 with `error="invalid_token"`
    /// unless the refusal is a temporary fault (503).
    pub(crate) fn token_refused(d: Denial) -> Self {
        let mut e = ApiError::from(d);
        if e.status == StatusCode::FORBIDDEN {
            e.status = StatusCode::UNAUTHORIZED;
        }
        if e.status == StatusCode::UNAUTHORIZED {
            e.challenge = Challenge::InvalidToken;
        }
        e
    }

    /// 429 `rate_limited` with `Retry-After`.
    pub(crate) fn rate_limited(retry_after: Duration) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests from this address; slow down",
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// The generic answer for faults that must not be described to the caller.
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            INTERNAL_ERROR,
            "the server could not complete the request",
        )
    }

    /// The `Retry-After` delay, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The JSON answer for a bare status (used for framework rejections with no body of ours).
    pub(crate) fn from_status(status: StatusCode) -> Self {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such route"),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "method not allowed for this route")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "the request body must be application/json",
            ),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "authentication is required"),
            StatusCode::FORBIDDEN => ("forbidden", "not permitted"),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests"),
            s if s.is_client_error() => ("bad_request", "the request is not acceptable"),
            _ => (
                "internal_error",
                "the server could not complete the request",
            ),
        };
        Self::new(status, code, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

/// The HTTP status, JSON `error` string and challenge kind of every [`ErrorCode`]: an exhaustive
/// match, so a code added to iam-core does not build here until it has its answer. Codes whose
/// details must not reach the caller (faults of configuration, the audit chain, cryptography or
/// stored state) answer 500 `internal_error`; every other code answers with its own string.
pub(crate) fn code_parts(code: ErrorCode) -> (StatusCode, &'static str, Challenge) {
    use Challenge::{InsufficientScope, InvalidToken};
    use ErrorCode as C;
    let (status, challenge) = match code {
        C::InvalidCredentials
        | C::TotpRequired
        | C::PasskeyRejected
        | C::PasskeyCounterRegressed => (StatusCode::UNAUTHORIZED, Challenge::None),
        C::PasskeyCeremonyInvalid => (StatusCode::BAD_REQUEST, Challenge::None),
        C::RefreshTokenInvalid | C::RefreshTokenReused => {
            (StatusCode::UNAUTHORIZED, Challenge::None)
        }
        C::TokenMalformed
        | C::TokenUnknownKey
        | C::TokenBadSignature
        | C::TokenExpired
        | C::TokenNotYetValid
        | C::TokenWrongIssuer
        | C::TokenWrongAudience
        | C::TokenRevoked
        | C::SessionRevoked
        | C::SessionExpired
        | C::ApiTokenInvalid => (StatusCode::UNAUTHORIZED, InvalidToken),
        C::InsufficientUserAuthentication => (
            StatusCode::UNAUTHORIZED,
            // The caller fills in the age from the denial.
            Challenge::InsufficientUserAuthentication { max_age: 0 },
        ),
        C::Throttled => (StatusCode::TOO_MANY_REQUESTS, Challenge::None),
        C::AccountDisabled
        | C::PasswordLoginNotAllowed
        | C::NotPermitted
        | C::StepUpRequired
        | C::ElevationNotAllowed
        | C::SelfApproval
        | C::AuthenticatorNotAllowed
        | C::WrongTokenKind => (StatusCode::FORBIDDEN, Challenge::None),
        C::MissingRole | C::MissingScope | C::MissingOrgRole => {
            (StatusCode::FORBIDDEN, InsufficientScope)
        }
        C::RevocationUnavailable | C::Contention | C::StoreUnavailable | C::Overloaded => {
            (StatusCode::SERVICE_UNAVAILABLE, Challenge::None)
        }
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
        | C::InvalidWebauthn => (StatusCode::UNPROCESSABLE_ENTITY, Challenge::None),
        C::NotFound => (StatusCode::NOT_FOUND, Challenge::None),
        C::ElevationRequestClosed
        | C::UsernameTaken
        | C::TotpAlreadyEnabled
        | C::TotpNotEnrolled
        | C::TotpAlreadyConfirmed
        | C::PublicClientHasNoSecret
        | C::OrganizationNameTaken
        | C::RoleNeedsNoApproval
        | C::PasskeyAlreadyRegistered => (StatusCode::CONFLICT, Challenge::None),
        C::InvalidConfig | C::InconsistentState | C::AuditChainBroken | C::CryptoFailure => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                INTERNAL_ERROR,
                Challenge::None,
            );
        }
    };
    (status, code.as_str(), challenge)
}

/// The JSON `error` string of faults that must not be described to the caller.
const INTERNAL_ERROR: &str = "internal_error";

/// The JSON `error` strings this crate answers with that are not an [`ErrorCode`]: the edge's
/// own answers (malformed requests, missing tokens, rate limits, framework rejections).
pub(crate) const EDGE_CODES: &[&str] = &[
    "bad_request",
    INTERNAL_ERROR,
    "missing_token",
    "rate_limited",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
    "request_timeout",
    "unauthorized",
    "forbidden",
    "malformed_json",
    "invalid_body",
    "invalid_query",
];

/// Every JSON `error` string of the REST API, each once: the answers of every [`ErrorCode`]
/// and the [`EDGE_CODES`]. The OpenAPI document's error schema enumerates them.
pub(crate) fn wire_codes() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let all = ErrorCode::ALL.iter().map(|c| code_parts(*c).1);
    for code in all.chain(EDGE_CODES.iter().copied()) {
        if !out.contains(&code) {
            out.push(code);
        }
    }
    out
}

impl From<Denial> for ApiError {
    fn from(d: Denial) -> Self {
        let (status, code, challenge) = code_parts(d.code());
        let mut e = ApiError::new(status, code, d.to_string());
        e.challenge = challenge;
        match d {
            Denial::Throttled { retry_after } => e.retry_after = Some(retry_after),
            Denial::RecentAuthenticationRequired { max_age } => {
                e.challenge = Challenge::InsufficientUserAuthentication {
                    max_age: max_age.as_secs(),
                };
            }
            _ => {}
        }
        e
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let code = err.code();
        let err = match err {
            Error::Denied(d) => return d.into(),
            other => other,
        };
        let (status, wire, challenge) = code_parts(code);
        let mut retry_after = Duration::from_secs(1);
        let message: Cow<'static, str> = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %err, code = code.as_str(), "internal failure");
            return ApiError::internal();
        } else if let Error::Store(StoreError::Overloaded { retry_after: after }) = err {
            // Expected under a burst: logged quietly, answered with when to come back.
            tracing::debug!("store commit queue full; answering 503");
            retry_after = after;
            "the server is busy; try again shortly".into()
        } else if let Error::Store(ref store) = err {
            tracing::error!(error = %store, "store failure");
            "storage is unavailable; try again".into()
        } else {
            err.to_string().into()
        };
        let mut e = ApiError::new(status, wire, message);
        e.challenge = challenge;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            e.retry_after = Some(retry_after);
        }
        e
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorOut {
            error: self.code.to_owned(),
            message: self.message.into_owned(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        let challenge: Option<Cow<'static, str>> = match self.challenge {
            Challenge::None => None,
            Challenge::Missing => Some(r#"Bearer realm="iam""#.into()),
            Challenge::InvalidToken => Some(r#"Bearer realm="iam", error="invalid_token""#.into()),
            Challenge::InsufficientScope => {
                Some(r#"Bearer realm="iam", error="insufficient_scope""#.into())
            }
            Challenge::InsufficientUserAuthentication { max_age } => Some(
                format!(
                    r#"Bearer realm="iam", error="insufficient_user_authentication", error_description="A recent sign-in is required", max_age={max_age}"#
                )
                .into(),
            ),
        };
        if let Some(c) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, c);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_credentials_do_not_say_which_part_failed() {
        let e = ApiError::from(Error::Denied(Denial::BadCredentials));
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert_eq!(e.code, "invalid_credentials");
        assert!(!e.message.contains("password") && !e.message.contains("username"));
    }

    #[test]
    fn throttled_is_429_with_retry_after() {
        let e = ApiError::from(Denial::Throttled {
            retry_after: Duration::from_millis(1500),
        });
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        let r = e.into_response();
        assert_eq!(
            r.headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("2")
        );
    }

    #[test]
    fn internal_faults_are_not_described() {
        let e = ApiError::from(Error::Crypto("sealed data does not open"));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("sealed"));
    }
    #[test]
    fn typed_state_conflicts_have_their_own_codes() {
        let e = ApiError::from(Error::State(iam_core::Conflict::OrganizationNameTaken));
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.code, "organization_name_taken");
        assert_eq!(e.message, "organization name taken");
        let e = ApiError::from(Error::State(iam_core::Conflict::TotpStateMissing));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("TOTP"));
        let e = ApiError::from(Error::NotFound(iam_core::Missing::ApiToken));
        assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, "not_found"));
        assert_eq!(e.message, "API token not found");
    }

    #[test]
    fn recent_authentication_challenge_carries_the_max_age() {
        let e = ApiError::from(Denial::RecentAuthenticationRequired {
            max_age: Duration::from_secs(300),
        });
        assert_eq!(e.code, "insufficient_user_authentication");
        let r = e.into_response();
        let challenge = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(challenge.ends_with("max_age=300"), "{challenge}");
    }

    /// The rows of the "Error codes" table in docs/api.md, as (code, number, HTTP, FFI status).
    fn documented_codes() -> Vec<Vec<String>> {
        let doc = include_str!("../../docs/api.md");
        let (_, section) = doc
            .split_once("## Error codes")
            .expect("docs/api.md has an Error codes section");
        section
            .lines()
            .skip_while(|line| !line.starts_with("| code |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                line.trim_matches('|')
                    .split('|')
                    .map(|cell| cell.trim().to_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn api_md_lists_every_code_with_its_http_answer() {
        let rows = documented_codes();
        assert_eq!(rows.len(), ErrorCode::ALL.len(), "one row per code");
        for (code, row) in ErrorCode::ALL.iter().zip(&rows) {
            let (status, wire, _) = code_parts(*code);
            assert_eq!(row[0], format!("`{}`", code.as_str()));
            assert_eq!(row[1], code.number().to_string(), "{code:?}");
            assert_eq!(row[2], format!("{} `{wire}`", status.as_u16()), "{code:?}");
            assert!(
                wire == code.as_str() || wire == INTERNAL_ERROR,
                "{code:?} answers {wire}"
            );
        }
    }

    #[test]
    fn retired_codes_are_never_answered() {
        let retired = iam_core::error::RETIRED_CODES;
        for code in ErrorCode::ALL {
            let (_, wire, _) = code_parts(*code);
            assert!(!retired.contains(&wire), "{code:?} answers retired {wire}");
        }
        for edge in EDGE_CODES {
            assert!(!retired.contains(edge), "{edge} is retired");
        }
        let doc = include_str!("../../docs/api.md");
        for code in retired {
            assert!(
                doc.contains(&format!("`{code}`")),
                "{code} is not documented as retired"
            );
        }
    }
}
