//! [`ApiError`]: every refusal and failure as an HTTP status plus a JSON body
//! `{"error": "<stable_code>", "message": "..."}`.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use iam_core::{Denial, Error, InvalidInput};
use serde::Serialize;

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

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
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
            "internal_error",
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

/// The stable code and status of a denial.
fn denial_parts(d: &Denial) -> (StatusCode, &'static str, Challenge) {
    use Challenge::{InsufficientScope, InvalidToken};
    let unauthorized = StatusCode::UNAUTHORIZED;
    let forbidden = StatusCode::FORBIDDEN;
    match d {
        Denial::BadCredentials => (unauthorized, "invalid_credentials", Challenge::None),
        Denial::TotpRequired => (unauthorized, "totp_required", Challenge::None),
        Denial::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "throttled", Challenge::None),
        Denial::AccountDisabled => (forbidden, "account_disabled", Challenge::None),
        Denial::PasswordLoginNotAllowed => {
            (forbidden, "password_login_not_allowed", Challenge::None)
        }
        Denial::TokenMalformed => (unauthorized, "token_malformed", InvalidToken),
        Denial::TokenUnknownKey => (unauthorized, "token_unknown_key", InvalidToken),
        Denial::TokenBadSignature => (unauthorized, "token_bad_signature", InvalidToken),
        Denial::TokenExpired => (unauthorized, "token_expired", InvalidToken),
        Denial::TokenNotYetValid => (unauthorized, "token_not_yet_valid", InvalidToken),
        Denial::TokenWrongIssuer => (unauthorized, "token_wrong_issuer", InvalidToken),
        Denial::TokenWrongAudience => (unauthorized, "token_wrong_audience", InvalidToken),
        Denial::TokenRevoked => (unauthorized, "token_revoked", InvalidToken),
        Denial::SessionRevoked => (unauthorized, "session_revoked", InvalidToken),
        Denial::SessionExpired => (unauthorized, "session_expired", InvalidToken),
        Denial::RefreshTokenInvalid => (unauthorized, "refresh_token_invalid", Challenge::None),
        Denial::RefreshTokenReused => (unauthorized, "refresh_token_reused", Challenge::None),
        Denial::RevocationUnavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "revocation_unavailable",
            Challenge::None,
        ),
        Denial::MissingRole(_) => (forbidden, "missing_role", InsufficientScope),
        Denial::MissingScope(_) => (forbidden, "missing_scope", InsufficientScope),
        Denial::MissingOrgRole { .. } => (forbidden, "missing_org_role", InsufficientScope),
        Denial::NotPermitted => (forbidden, "not_permitted", Challenge::None),
        Denial::StepUpRequired => (forbidden, "step_up_required", Challenge::None),
        Denial::ElevationNotAllowed => (forbidden, "elevation_not_allowed", Challenge::None),
        Denial::SelfApproval => (forbidden, "self_approval", Challenge::None),
        Denial::ElevationRequestClosed => (
            StatusCode::CONFLICT,
            "elevation_request_closed",
            Challenge::None,
        ),
        Denial::ApiTokenInvalid => (unauthorized, "api_token_invalid", InvalidToken),
        Denial::WrongTokenKind => (forbidden, "wrong_token_kind", Challenge::None),
        Denial::RecentAuthenticationRequired { max_age } => (
            unauthorized,
            "insufficient_user_authentication",
            Challenge::InsufficientUserAuthentication {
                max_age: max_age.as_secs(),
            },
        ),
        _ => (forbidden, "denied", Challenge::None),
    }
}

fn invalid_code(i: &InvalidInput) -> &'static str {
    match i {
        InvalidInput::Username(_) => "invalid_username",
        InvalidInput::PasswordTooShort { .. } => "password_too_short",
        InvalidInput::PasswordTooLong { .. } => "password_too_long",
        InvalidInput::RoleName(_) => "invalid_role",
        InvalidInput::AccountKind(_) => "wrong_account_kind",
        InvalidInput::TotpCodeFormat => "invalid_totp_code",
        InvalidInput::DurationTooLong { .. } => "duration_too_long",
        InvalidInput::ExpiryInPast => "expiry_in_past",
        InvalidInput::Label(_) => "invalid_label",
        _ => "invalid_input",
    }
}

impl From<Denial> for ApiError {
    fn from(d: Denial) -> Self {
        let (status, code, challenge) = denial_parts(&d);
        let mut e = ApiError::new(status, code, d.to_string());
        e.challenge = challenge;
        if let Denial::Throttled { retry_after } = d {
            e.retry_after = Some(retry_after);
        }
        e
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Denied(d) => d.into(),
            Error::Invalid(InvalidInput::Config(_)) => {
                tracing::error!(error = %err, "configuration fault");
                ApiError::internal()
            }
            Error::Invalid(i) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                invalid_code(&i),
                i.to_string(),
            ),
            Error::NotFound(what) => ApiError::not_found(what),
            Error::UsernameTaken => ApiError::new(
                StatusCode::CONFLICT,
                "username_taken",
                "username is already taken",
            ),
            Error::State(msg) => ApiError::new(StatusCode::CONFLICT, "conflict", msg),
            Error::Contention => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "contention",
                    "too much contention; try again",
                );
                e.retry_after = Some(Duration::from_secs(1));
                e
            }
            Error::Store(ref store) => {
                tracing::error!(error = %store, "store failure");
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "storage is unavailable; try again",
                );
                e.retry_after = Some(Duration::from_secs(1));
                e
            }
            other => {
                tracing::error!(error = %other, "internal failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.code,
            message: &self.message,
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
}
