//! Tokens: PASETO v4.public access tokens (and RFC 9068 JWT access tokens for clients that
//! ask for them), the signing key ring, and opaque refresh tokens.

pub(crate) mod signing;
mod verified;
mod verify;

pub mod amr;
mod api_tokens;
pub(crate) mod rules;
mod service_tokens;

pub use amr::Amr;
pub use api_tokens::{NewApiToken, API_TOKEN_AMR, API_TOKEN_PREFIX};
pub use service_tokens::{ServiceToken, SERVICE_TOKEN_AMR};

pub(crate) mod access;
pub(crate) mod jwt_access;
pub(crate) mod keys;
pub mod paseto;

pub use access::Principal;
pub use jwt_access::JWT_ACCESS_TOKEN_TYP;
pub use keys::PublicKeyInfo;
pub(crate) use verified::VerifiedTokens;
pub use verified::{VERIFIED_TOKEN_CAPACITY, VERIFIED_TOKEN_TTL};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::random::SecureRandom;
use crate::secret::SecretString;

/// Longest opaque token accepted (refresh tokens are 43 characters); longer input is refused unhashed.
pub(crate) const MAX_OPAQUE_TOKEN_LEN: usize = 256;

/// A fresh opaque token: 256 random bits, base64url without padding.
pub(crate) fn new_opaque_token(rng: &SecureRandom) -> SecretString {
    let raw = zeroize::Zeroizing::new(rng.bytes::<32>());
    SecretString::new(URL_SAFE_NO_PAD.encode(*raw))
}

/// Whether `token` has the shape of an opaque token (43 base64url characters).
pub(crate) fn is_opaque_token_shape(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The access token and refresh token a login or refresh hands out.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The PASETO v4.public access token (a bearer secret).
    pub access_token: SecretString,
    /// The opaque refresh token (a bearer secret; only its hash is stored).
    pub refresh_token: SecretString,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The session the pair belongs to.
    pub session_id: String,
}

/// A personal API token's metadata (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    /// Public id (`pat_…`), for listing and revoking.
    pub id: String,
    /// The owner.
    pub account_id: String,
    /// The owner's label.
    pub label: String,
    /// What the token may do (a subset of the owner's roles).
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry time.
    pub expires_at: Timestamp,
    /// Revocation time, if revoked.
    pub revoked_at: Option<Timestamp>,
}

/// A service grant as stored (the body of a [`RecordKind::ServiceGrant`] record).
///
/// [`RecordKind::ServiceGrant`]: crate::store::RecordKind::ServiceGrant
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredServiceGrant {
    /// The service account.
    pub account_id: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When its token expires.
    pub expires_at: Timestamp,
    /// Who issued it.
    pub issued_by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_tokens_have_256_bits_in_base64url() {
        let rng = SecureRandom::from_entropy();
        let t = new_opaque_token(&rng);
        assert!(is_opaque_token_shape(t.expose()));
        assert_eq!(
            URL_SAFE_NO_PAD.decode(t.expose()).map(|b| b.len()).ok(),
            Some(32)
        );
        assert_ne!(t, new_opaque_token(&rng));
        assert!(!is_opaque_token_shape("short"));
        assert!(!is_opaque_token_shape(&"a".repeat(42).replace('a', "+")));
    }
}
