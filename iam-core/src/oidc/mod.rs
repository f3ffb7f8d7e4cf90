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
use crate::oauth::{ClientJwks, ClientKind, TokenEndpointAuthMethod};

/// Longest `default_max_age` a client may register (a year, in seconds).
const MAX_DEFAULT_MAX_AGE: u64 = 365 * 24 * 3600;

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
    /// `token_endpoint_auth_method`: how the client authenticates. Absent: a confidential
    /// client may send its secret by Basic or in the form (`client_secret_basic` is the
    /// advertised default), a public client uses `none`. Registered: only that method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// `jwks`: the client's public keys (an inline RFC 7517 JWK set), for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<ClientJwks>,
}

impl OidcClientSettings {
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
