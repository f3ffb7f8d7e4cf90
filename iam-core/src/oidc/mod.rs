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
mod serve;

use serde::{Deserialize, Serialize};

pub use claims::{supported_claims, OPENID_SCOPE, SCOPE_CLAIMS};
pub use id_token::{ACR_MULTI_FACTOR, ACR_SINGLE_FACTOR};
pub use serve::EndSession;

use crate::jose::JwsAlg;

/// Longest `default_max_age` a client may register (a year, in seconds).
const MAX_DEFAULT_MAX_AGE: u64 = 365 * 24 * 3600;

/// The format of the access tokens a client receives.
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_paseto(f: &AccessTokenFormat) -> bool {
    *f == AccessTokenFormat::Paseto
}

impl OidcClientSettings {
    /// The algorithm to sign the client's access tokens with as JWTs; `None` when they are
    /// PASETO tokens.
    pub(crate) fn jwt_access_token_alg(&self) -> Option<JwsAlg> {
        (self.access_token_format == AccessTokenFormat::Jwt)
            .then_some(self.id_token_signed_response_alg)
    }

    /// Checks the settings of a client of `kind`; the error says why they are refused.
    pub(crate) fn check(&self, kind: crate::oauth::ClientKind) -> Result<(), &'static str> {
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
        Ok(())
    }
}
