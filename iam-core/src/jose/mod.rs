//! JOSE signing keys and JWTs (RFC 7515, 7517, 7519), for OpenID Connect ID tokens.
//!
//! A key ring of its own, apart from the PASETO access-token keys (key separation): per
//! algorithm ([`JwsAlg`]: RS256, ES256, EdDSA) the newest unretired key signs, and retired keys
//! keep verifying for a retention window. Keys live in the store as [`RecordKind::JoseKey`]
//! records named by their RFC 7638 JWK thumbprint (the `kid`), the private half sealed under the
//! master key and bound to the kid. They are made lazily, on first use
//! ([`Iam::ensure_jose_keys`]), since RSA key generation is slow.
//!
//! RSA keys are generated with the `rsa` crate; every signature and verification goes through
//! `ring` (constant-time private-key operations).
//!
//! [`RecordKind::JoseKey`]: crate::store::RecordKind::JoseKey
//! [`Iam::ensure_jose_keys`]: crate::Iam::ensure_jose_keys

mod jwt;
pub(crate) mod keys;
pub(crate) mod service;

use serde::{Deserialize, Serialize};

pub use jwt::JwtRefusal;

/// A JWS signature algorithm iam signs JWTs with (RFC 7518 §3.1, RFC 8037 §3.1).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum JwsAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit key (mandatory in OpenID Connect; the
    /// default for ID tokens).
    #[default]
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA over P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519 (RFC 8037).
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl JwsAlg {
    /// Every algorithm, in publication order.
    pub const ALL: [JwsAlg; 3] = [JwsAlg::Rs256, JwsAlg::Es256, JwsAlg::EdDsa];

    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlg::Rs256 => "RS256",
            JwsAlg::Es256 => "ES256",
            JwsAlg::EdDsa => "EdDSA",
        }
    }

    /// Parses a JWS `alg` name (exact, case-sensitive); `None` for anything else, `none` included.
    pub fn parse(name: &str) -> Option<Self> {
        JwsAlg::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl std::fmt::Display for JwsAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
