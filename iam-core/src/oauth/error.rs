//! OAuth 2.0 error responses: the codes of RFC 6749 §4.1.2.1 and §5.2, RFC 8628 §3.5,
//! RFC 8707 §2 and OpenID Connect Core §3.1.2.6, each with a description safe to send.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::Error;

/// An OAuth 2.0 `error` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong or expired secret, disabled client).
    InvalidClient,
    /// The code, refresh token or device code is invalid, expired, used, revoked or not the client's.
    InvalidGrant,
    /// The client is not allowed this grant type or response type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The requested scope is invalid, unknown or exceeds what the client may have.
    InvalidScope,
    /// The resource owner (or the server) denied the request.
    AccessDenied,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// The device authorization is still pending (RFC 8628).
    AuthorizationPending,
    /// The device client polls too fast; it must add 5 seconds to its interval (RFC 8628).
    SlowDown,
    /// The device code has expired (RFC 8628).
    ExpiredToken,
    /// `prompt=none` and the user is not logged in (OpenID Connect Core).
    LoginRequired,
    /// `prompt=none` and the user has not consented to the client (OpenID Connect Core).
    ConsentRequired,
    /// A `resource` is invalid or not allowed for the client (RFC 8707).
    InvalidTarget,
    /// The token type cannot be revoked (RFC 7009).
    UnsupportedTokenType,
    /// The server failed; nothing more is said.
    ServerError,
    /// The server is busy (its commit queue is full); retry shortly. Answered with HTTP 503
    /// and `Retry-After` (RFC 6749 §4.1.2.1 names the code; the token endpoint uses it too).
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    /// The `error` value as the RFCs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthErrorCode::AuthorizationPending => "authorization_pending",
            OAuthErrorCode::SlowDown => "slow_down",
            OAuthErrorCode::ExpiredToken => "expired_token",
            OAuthErrorCode::LoginRequired => "login_required",
            OAuthErrorCode::ConsentRequired => "consent_required",
            OAuthErrorCode::InvalidTarget => "invalid_target",
            OAuthErrorCode::UnsupportedTokenType => "unsupported_token_type",
            OAuthErrorCode::ServerError => "server_error",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// A generic description of the code.
    pub fn default_description(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "the request is malformed",
            OAuthErrorCode::InvalidClient => "client authentication failed",
            OAuthErrorCode::InvalidGrant => "the grant is invalid, expired or revoked",
            OAuthErrorCode::UnauthorizedClient => "the client is not allowed to do this",
            OAuthErrorCode::UnsupportedGrantType => "the grant type is not supported",
            OAuthErrorCode::InvalidScope => "the requested scope is not allowed",
            OAuthErrorCode::AccessDenied => "access denied",
            OAuthErrorCode::UnsupportedResponseType => "the response type is not supported",
            OAuthErrorCode::AuthorizationPending => "the authorization is pending",
            OAuthErrorCode::SlowDown => "polling too fast; add 5 seconds to the interval",
            OAuthErrorCode::ExpiredToken => "the device code has expired",
            OAuthErrorCode::LoginRequired => "the user is not logged in",
            OAuthErrorCode::ConsentRequired => "the user has not consented",
            OAuthErrorCode::InvalidTarget => "the requested resource is not allowed",
            OAuthErrorCode::UnsupportedTokenType => "the token type cannot be revoked",
            OAuthErrorCode::ServerError => "the server failed to handle the request",
            OAuthErrorCode::TemporarilyUnavailable => "the server is busy; try again shortly",
        }
    }

    /// The HTTP status RFC 6749 §5.2 gives the token endpoint for this error (401 for
    /// `invalid_client`, 500 for `server_error`, 503 for `temporarily_unavailable`, otherwise
    /// 400).
    pub fn http_status(self) -> u16 {
        match self {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::ServerError => 500,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

impl std::fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error response: a code and a static description that reveals nothing internal.
///
/// Serializes as RFC 6749 §5.2 gives it: `{"error": "...", "error_description": "..."}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The `error` code.
    pub code: OAuthErrorCode,
    /// The `error_description`: fixed text, never echoing input or internals.
    pub description: &'static str,
}

impl OAuthError {
    /// An error with a specific description.
    pub const fn new(code: OAuthErrorCode, description: &'static str) -> Self {
        OAuthError { code, description }
    }

    /// An error with the code's generic description.
    pub fn code(code: OAuthErrorCode) -> Self {
        OAuthError {
            code,
            description: code.default_description(),
        }
    }

    /// `invalid_request` with `description`.
    pub const fn invalid_request(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_client` (generic: never says whether the client exists).
    pub const fn invalid_client() -> Self {
        Self::new(
            OAuthErrorCode::InvalidClient,
            "client authentication failed",
        )
    }

    /// `invalid_grant` with `description`.
    pub const fn invalid_grant(description: &'static str) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    /// `server_error`.
    pub const fn server_error() -> Self {
        Self::new(
            OAuthErrorCode::ServerError,
            "the server failed to handle the request",
        )
    }

    /// The HTTP status for the token, revocation and introspection endpoints.
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }
}

impl Serialize for OAuthError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("error", self.code.as_str())?;
        m.serialize_entry("error_description", self.description)?;
        m.end()
    }
}

/// Internal failures (store, contention, crypto, corrupt data) become `server_error` without
/// detail; refusals that reach here map to the nearest OAuth code.
impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        match e {
            Error::Denied(crate::error::Denial::AccountDisabled) => {
                OAuthError::invalid_grant("the account is disabled")
            }
            Error::Denied(_) => OAuthError::code(OAuthErrorCode::AccessDenied),
            Error::Invalid(_) => OAuthError::code(OAuthErrorCode::InvalidRequest),
            Error::Store(e) => e.into(),
            _ => OAuthError::server_error(),
        }
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Overloaded { .. } => {
                OAuthError::code(OAuthErrorCode::TemporarilyUnavailable)
            }
            _ => OAuthError::server_error(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn serializes_as_rfc_6749_error_response() {
        let e = OAuthError::invalid_grant("the code has expired");
        let json = serde_json::to_value(e).ok();
        assert_eq!(
            json,
            Some(
                serde_json::json!({"error": "invalid_grant", "error_description": "the code has expired"})
            )
        );
        assert_eq!(OAuthError::invalid_client().http_status(), 401);
        assert_eq!(OAuthError::server_error().http_status(), 500);
        assert_eq!(
            OAuthError::code(OAuthErrorCode::SlowDown).http_status(),
            400
        );
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let e: OAuthError =
            Error::Store(StoreError::Backend("password=secret host=db".into())).into();
        assert_eq!(e, OAuthError::server_error());
        assert!(!e.to_string().contains("secret"));
        let e: OAuthError = StoreError::Corrupt("x".into()).into();
        assert_eq!(e.code, OAuthErrorCode::ServerError);
        let busy = StoreError::Overloaded {
            retry_after: std::time::Duration::from_secs(1),
        };
        let e: OAuthError = Error::Store(busy.clone()).into();
        assert_eq!(e.code, OAuthErrorCode::TemporarilyUnavailable);
        assert_eq!(e.http_status(), 503);
        assert_eq!(OAuthError::from(busy), e);
    }

    #[test]
    fn codes_are_spelled_as_the_rfcs_do() {
        assert_eq!(
            OAuthErrorCode::UnsupportedGrantType.as_str(),
            "unsupported_grant_type"
        );
        assert_eq!(
            OAuthErrorCode::AuthorizationPending.as_str(),
            "authorization_pending"
        );
        assert_eq!(OAuthErrorCode::InvalidTarget.as_str(), "invalid_target");
        assert_eq!(
            OAuthErrorCode::ConsentRequired.to_string(),
            "consent_required"
        );
    }
}
