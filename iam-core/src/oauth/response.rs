//! Typed responses of the OAuth endpoints, serializing with the RFCs' field names.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::error::OAuthError;
use crate::secret::SecretString;

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenResponse {
    /// `access_token`: a PASETO v4.public token, or an RFC 9068 JWT for a client registered for
    /// them.
    pub access_token: SecretString,
    /// `token_type`: always `Bearer`.
    pub token_type: &'static str,
    /// `expires_in`: seconds until the access token expires.
    pub expires_in: u64,
    /// `refresh_token`, when the grant yields one.
    pub refresh_token: Option<SecretString>,
    /// `scope` granted, space-delimited (omitted when empty).
    pub scope: Option<String>,
    /// `id_token` (OpenID Connect), when the grant has the `openid` scope.
    pub id_token: Option<String>,
}

impl Serialize for TokenResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("access_token", self.access_token.expose())?;
        m.serialize_entry("token_type", self.token_type)?;
        m.serialize_entry("expires_in", &self.expires_in)?;
        if let Some(r) = &self.refresh_token {
            m.serialize_entry("refresh_token", r.expose())?;
        }
        if let Some(scope) = &self.scope {
            m.serialize_entry("scope", scope)?;
        }
        if let Some(id_token) = &self.id_token {
            m.serialize_entry("id_token", id_token)?;
        }
        m.end()
    }
}

/// What the authorization endpoint answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// Redirect the user agent to the client (a code, or an error with `state`).
    Redirect(AuthorizationRedirect),
    /// Show a login page, then call again with the new session (without `prompt=login`).
    LoginRequired,
    /// Ask the user to consent, then call [`crate::Iam::consent_and_authorize`] or
    /// [`crate::Iam::deny_authorization`].
    ConsentRequired(ConsentPrompt),
}

/// The result carried back to the client's redirect URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationResult {
    /// `code`: the authorization code (single use, short-lived).
    Code(SecretString),
    /// `error` and `error_description`.
    Error(OAuthError),
}

/// How an authorization response reaches the client (OAuth 2.0 Multiple Response Type
/// Encoding Practices §2.1; OAuth 2.0 Form Post Response Mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponseMode {
    /// `query`: a redirect with the parameters in the query (the default for `code`).
    #[default]
    Query,
    /// `form_post`: an HTML form the browser posts to the redirect URI.
    FormPost,
}

impl ResponseMode {
    /// Parses `response_mode` (absent: `query`); `None` for a mode iam does not offer.
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("query") => Some(ResponseMode::Query),
            Some("form_post") => Some(ResponseMode::FormPost),
            Some(_) => None,
        }
    }

    /// The `response_mode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::FormPost => "form_post",
        }
    }
}

/// A redirect to the client (RFC 6749 §4.1.2 and §4.1.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRedirect {
    /// The registered redirect URI it goes to.
    pub redirect_uri: String,
    /// The code or the error.
    pub result: AuthorizationResult,
    /// The request's `state`, returned unchanged.
    pub state: Option<String>,
    /// Whether it goes as a redirect (`query`) or a posted form (`form_post`).
    pub response_mode: ResponseMode,
}

impl AuthorizationRedirect {
    /// The query parameters, in order (`code` or `error`/`error_description`, then `state`).
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::with_capacity(3);
        match &self.result {
            AuthorizationResult::Code(code) => out.push(("code", code.expose().to_owned())),
            AuthorizationResult::Error(e) => {
                out.push(("error", e.code.as_str().to_owned()));
                out.push(("error_description", e.description.to_owned()));
            }
        }
        if let Some(state) = &self.state {
            out.push(("state", state.clone()));
        }
        out
    }

    /// The full `Location`: the redirect URI with the parameters added to its query
    /// (keeping any query it already has).
    pub fn location(&self) -> String {
        self.location_with(self.params())
    }

    /// Like [`Self::location`], with the `iss` parameter of RFC 9207 naming the
    /// authorization server (its issuer identifier, as in its metadata), so a client that
    /// talks to several servers can tell which one answered (mix-up defence).
    pub fn location_for_issuer(&self, issuer: &str) -> String {
        let mut params = self.params();
        params.push(("iss", issuer.to_owned()));
        self.location_with(params)
    }

    fn location_with(&self, params: Vec<(&'static str, String)>) -> String {
        let mut url = self.redirect_uri.clone();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for (name, value) in params {
            url.push(sep);
            url.push_str(name);
            url.push('=');
            url.push_str(&form_encode(&value));
            sep = '&';
        }
        url
    }
}

/// Percent-encodes everything but the unreserved characters (RFC 3986 §2.3).
pub(crate) fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// What a consent page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentPrompt {
    /// The client asking.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// Every scope requested.
    pub scopes: BTreeSet<String>,
    /// The requested scopes not yet consented to.
    pub new_scopes: BTreeSet<String>,
    /// The username of the account that registered the client, when that is a user rather
    /// than an administrator (the page says so).
    pub registered_by: Option<String>,
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuthorizationResponse {
    /// `device_code`, for the client's polling (a secret).
    pub device_code: SecretString,
    /// `user_code`, shown as `XXXX-XXXX`.
    pub user_code: String,
    /// `verification_uri`, where the user goes.
    pub verification_uri: String,
    /// `verification_uri_complete`: the same with the user code filled in.
    pub verification_uri_complete: String,
    /// `expires_in`: seconds until the codes expire.
    pub expires_in: u64,
    /// `interval`: least seconds between polls.
    pub interval: u64,
}

impl Serialize for DeviceAuthorizationResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("device_code", self.device_code.expose())?;
        m.serialize_entry("user_code", &self.user_code)?;
        m.serialize_entry("verification_uri", &self.verification_uri)?;
        m.serialize_entry("verification_uri_complete", &self.verification_uri_complete)?;
        m.serialize_entry("expires_in", &self.expires_in)?;
        m.serialize_entry("interval", &self.interval)?;
        m.end()
    }
}

/// What the device verification page shows before the user approves or denies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DevicePrompt {
    /// The user code, as `XXXX-XXXX`.
    pub user_code: String,
    /// The client asking.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// The scopes requested.
    pub scopes: BTreeSet<String>,
    /// The username of the account that registered the client, when that is a user rather
    /// than an administrator (the page says so).
    pub registered_by: Option<String>,
}

/// An introspection response (RFC 7662 §2.2). Inactive tokens serialize as `{"active": false}`
/// and nothing else.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Introspection {
    /// Whether the token is valid now.
    pub active: bool,
    /// `scope`, space-delimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `client_id` the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `token_type` (`Bearer` for access tokens, `refresh_token` for refresh tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// `exp`, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// `iat`, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `nbf`, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// `sub`: the account, or the client for client-credentials tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// `aud`: the resource indicators the token is for, else the configured audience.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
    /// `iss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `jti`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `sid`: the grant (session or token family) the token belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `auth_time`, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// `act`: the account a client-credentials token acts for (RFC 8693 §4.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
}

impl Introspection {
    /// The answer for anything not valid now.
    pub fn inactive() -> Self {
        Introspection::default()
    }
}

/// The `act` claim (RFC 8693 §4.1): who the token's subject acts for.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Actor {
    /// The acting party's subject (an account id).
    pub sub: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::OAuthErrorCode;

    #[test]
    fn redirects_encode_parameters_and_keep_the_query() {
        let r = AuthorizationRedirect {
            redirect_uri: "https://app.example/cb?x=1".into(),
            result: AuthorizationResult::Error(OAuthError::code(OAuthErrorCode::LoginRequired)),
            state: Some("a b&c=d".into()),
            response_mode: ResponseMode::Query,
        };
        assert_eq!(
            r.location(),
            "https://app.example/cb?x=1&error=login_required&error_description=the%20user%20is%20not%20logged%20in&state=a%20b%26c%3Dd"
        );
        let c = AuthorizationRedirect {
            redirect_uri: "https://app.example/cb".into(),
            result: AuthorizationResult::Code(SecretString::from("abc")),
            state: None,
            response_mode: ResponseMode::Query,
        };
        assert_eq!(c.location(), "https://app.example/cb?code=abc");
        assert_eq!(
            c.location_for_issuer("https://id.example/base"),
            "https://app.example/cb?code=abc&iss=https%3A%2F%2Fid.example%2Fbase"
        );
        assert!(r
            .location_for_issuer("https://id.example")
            .ends_with("&state=a%20b%26c%3Dd&iss=https%3A%2F%2Fid.example"));
        assert!(
            !format!("{c:?}").contains("abc"),
            "the code stays out of Debug"
        );
    }

    #[test]
    fn token_response_uses_rfc_field_names() {
        let t = TokenResponse {
            access_token: SecretString::from("at"),
            token_type: "Bearer",
            expires_in: 900,
            refresh_token: None,
            id_token: None,
            scope: Some("read".into()),
        };
        assert_eq!(
            serde_json::to_value(&t).ok(),
            Some(
                serde_json::json!({"access_token": "at", "token_type": "Bearer", "expires_in": 900, "scope": "read"})
            )
        );
        assert!(!format!("{t:?}").contains("\"at\""));
    }

    #[test]
    fn inactive_introspection_says_nothing_else() {
        assert_eq!(
            serde_json::to_value(Introspection::inactive()).ok(),
            Some(serde_json::json!({"active": false}))
        );
    }
}
