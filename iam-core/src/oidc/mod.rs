//! The OpenID Connect provider on top of the OAuth 2.0 server: ID tokens, standard claims
//! and userinfo, discovery, and the relying-party settings of a client.
//!
//! An authorization request whose scopes include `openid` is an OpenID Connect one: the code
//! exchange (and each refresh) then also returns an ID token, a JWT signed with the client's
//! `id_token_signed_response_alg` (RS256 by default; ES256 and EdDSA on request; never
//! `none`), with the keys of [`crate::jose`]. The account's claims are released by the
//! standard scopes the user consented to (`profile`, `email`), both in the ID token and from
//! [`crate::Iam::userinfo`].

pub(crate) mod claims;
pub(crate) mod id_token;
pub(crate) mod logout;
mod serve;

use serde::{Deserialize, Serialize};

pub use claims::{supported_claims, OPENID_SCOPE, SCOPE_CLAIMS};
pub use id_token::{ACR_MULTI_FACTOR, ACR_SINGLE_FACTOR};
pub use logout::{retry_delay, LogoutDelivery, LogoutOutcome, LOGOUT_EVENT, LOGOUT_TOKEN_TYP};
pub use serve::EndSession;

use crate::jose::JwsAlg;
use crate::oauth::{ClientJwks, ClientKind, TokenEndpointAuthMethod};

/// Longest `default_max_age` a client may register (a year, in seconds).
const MAX_DEFAULT_MAX_AGE: u64 = 365 * 24 * 3600;

/// The format of the access tokens a client receives.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenFormat {
    /// PASETO v4.public (the default).
    #[default]
    Paseto,
    /// RFC 9068 JWT access tokens (header `typ: at+jwt`), signed with the client's
    /// `id_token_signed_response_alg`, for resource servers that understand only JWTs.
    Jwt,
}

impl AccessTokenFormat {
    /// The name (`paseto`, `jwt`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessTokenFormat::Paseto => "paseto",
            AccessTokenFormat::Jwt => "jwt",
        }
    }
}

/// A client's OpenID Connect registration settings (OpenID Connect Dynamic Client
/// Registration §2 and RP-Initiated Logout §3.1).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcClientSettings {
    /// `id_token_signed_response_alg` (default RS256).
    #[serde(default)]
    pub id_token_signed_response_alg: JwsAlg,
    /// `post_logout_redirect_uris`: where RP-initiated logout may send the browser back to,
    /// matched exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// `default_max_age` in seconds: the `max_age` of authorization requests that give none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_age: Option<u64>,
    /// The format of the client's access tokens (PASETO unless registered otherwise).
    #[serde(default, skip_serializing_if = "is_paseto")]
    pub access_token_format: AccessTokenFormat,
    /// `backchannel_logout_uri` (OpenID Connect Back-Channel Logout §2.2): where a Logout
    /// Token is POSTed when a login session the client holds a grant from ends. https, or
    /// http on a loopback host; no fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required` (default true). iam puts `sid` (and `sub`) in
    /// every Logout Token, so either value is served.
    #[serde(default = "yes")]
    pub backchannel_logout_session_required: bool,
    /// `token_endpoint_auth_method`: how the client authenticates. Absent: a confidential
    /// client may send its secret by Basic or in the form (`client_secret_basic` is the
    /// advertised default), a public client uses `none`. Registered: only that method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// `jwks`: the client's public keys (an inline RFC 7517 JWK set), for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<ClientJwks>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_paseto(f: &AccessTokenFormat) -> bool {
    *f == AccessTokenFormat::Paseto
}

/// `true`, for serde defaults.
fn yes() -> bool {
    true
}

impl Default for OidcClientSettings {
    fn default() -> Self {
        OidcClientSettings {
            id_token_signed_response_alg: JwsAlg::default(),
            post_logout_redirect_uris: Vec::new(),
            default_max_age: None,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: true,
            access_token_format: AccessTokenFormat::Paseto,
            token_endpoint_auth_method: None,
            jwks: None,
        }
    }
}

impl OidcClientSettings {
    /// The algorithm to sign the client's access tokens with as JWTs; `None` when they are
    /// PASETO tokens.
    pub(crate) fn jwt_access_token_alg(&self) -> Option<JwsAlg> {
        (self.access_token_format == AccessTokenFormat::Jwt)
            .then_some(self.id_token_signed_response_alg)
    }

    /// Checks the settings of a client of `kind`; the error says why they are refused.
    pub(crate) fn check(&self, kind: ClientKind) -> Result<(), &'static str> {
        if self.post_logout_redirect_uris.len() > 64 {
            return Err("too many post-logout redirect URIs");
        }
        for uri in &self.post_logout_redirect_uris {
            crate::oauth::check_redirect_uri(uri, kind)?;
        }
        if self
            .default_max_age
            .is_some_and(|m| m > MAX_DEFAULT_MAX_AGE)
        {
            return Err("default_max_age is longer than a year");
        }
        if let Some(uri) = &self.backchannel_logout_uri {
            check_backchannel_logout_uri(uri)?;
        }
        self.check_auth_method(kind)
    }

    /// Checks `token_endpoint_auth_method` and `jwks` against each other and `kind`.
    fn check_auth_method(&self, kind: ClientKind) -> Result<(), &'static str> {
        use TokenEndpointAuthMethod as M;
        match (kind, self.token_endpoint_auth_method) {
            (ClientKind::Public, Some(m)) if m != M::None => {
                return Err("a public client's token_endpoint_auth_method is none");
            }
            (ClientKind::Confidential, Some(M::None)) => {
                return Err("a confidential client must authenticate (token_endpoint_auth_method none is for public clients)");
            }
            _ => {}
        }
        match (self.token_endpoint_auth_method, &self.jwks) {
            (Some(M::PrivateKeyJwt), Some(jwks)) => jwks.check(),
            (Some(M::PrivateKeyJwt), None) => Err("private_key_jwt needs the client's jwks"),
            (_, Some(_)) => Err("jwks is only registered with private_key_jwt"),
            (_, None) => Ok(()),
        }
    }

    /// Whether a client of `kind` with these settings accepts authentication by `method`.
    pub(crate) fn accepts(&self, kind: ClientKind, method: TokenEndpointAuthMethod) -> bool {
        match (self.token_endpoint_auth_method, kind) {
            (Some(registered), _) => registered == method,
            (None, ClientKind::Confidential) => method.uses_secret(),
            (None, ClientKind::Public) => method == TokenEndpointAuthMethod::None,
        }
    }

    /// The method the client authenticates with: the registered one, else the default of `kind`.
    pub fn auth_method(&self, kind: ClientKind) -> TokenEndpointAuthMethod {
        self.token_endpoint_auth_method.unwrap_or(match kind {
            ClientKind::Confidential => TokenEndpointAuthMethod::ClientSecretBasic,
            ClientKind::Public => TokenEndpointAuthMethod::None,
        })
    }
}

/// Checks a `backchannel_logout_uri`: a redirect-URI-shaped absolute URI (no fragment, no
/// userinfo) that is https, or http on a loopback host.
fn check_backchannel_logout_uri(uri: &str) -> Result<(), &'static str> {
    let scheme = uri.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("https" | "http")) {
        return Err("a backchannel_logout_uri must use https (or http on a loopback host)");
    }
    crate::oauth::check_redirect_uri(uri, crate::oauth::ClientKind::Confidential)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ClientKind;

    fn with_uri(uri: &str) -> OidcClientSettings {
        OidcClientSettings {
            backchannel_logout_uri: Some(uri.into()),
            ..OidcClientSettings::default()
        }
    }

    #[test]
    fn default_max_age_is_at_most_a_year() {
        let with = |m| OidcClientSettings {
            default_max_age: Some(m),
            ..OidcClientSettings::default()
        };
        for ok in [0, 3600, MAX_DEFAULT_MAX_AGE] {
            assert_eq!(with(ok).check(ClientKind::Confidential), Ok(()), "{ok}");
        }
        for bad in [MAX_DEFAULT_MAX_AGE + 1, u64::MAX] {
            assert_eq!(
                with(bad).check(ClientKind::Public),
                Err("default_max_age is longer than a year"),
                "{bad}"
            );
        }
    }

    #[test]
    fn backchannel_logout_uri_is_https_or_loopback_http() {
        for ok in [
            "https://rp.example/logout",
            "http://127.0.0.1:8080/bcl",
            "http://[::1]/bcl",
            "http://localhost/bcl",
        ] {
            assert_eq!(with_uri(ok).check(ClientKind::Confidential), Ok(()), "{ok}");
        }
        for bad in [
            "http://rp.example/logout",
            "https://rp.example/logout#frag",
            "https://user@rp.example/logout",
            "com.example.app:/logout",
            "javascript:alert(1)",
            "/relative",
            "ftp://rp.example/x",
        ] {
            assert!(with_uri(bad).check(ClientKind::Public).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_required_defaults_to_true() {
        let s: OidcClientSettings = serde_json::from_str("{}").expect("parse");
        assert!(s.backchannel_logout_session_required);
        assert!(OidcClientSettings::default().backchannel_logout_session_required);
    }
}
