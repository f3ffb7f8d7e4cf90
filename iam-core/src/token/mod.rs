//! Tokens: PASETO v4.public access tokens, the signing key ring, and opaque refresh tokens.

pub(crate) mod signing;
mod verify;

pub mod amr;
mod api_tokens;
pub(crate) mod rules;
mod service_tokens;

#[cfg(test)]
pub(crate) mod fixtures;

pub use amr::Amr;
pub use api_tokens::{ApiTokenInfo, NewApiToken, API_TOKEN_AMR, API_TOKEN_PREFIX};
pub use service_tokens::{ServiceToken, SERVICE_TOKEN_AMR};

pub(crate) mod access;
pub(crate) mod keys;
pub mod paseto;

pub use access::Principal;
pub use keys::PublicKeyInfo;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::Result;
use crate::plan::Plan;
use crate::random::SecureRandom;
use crate::secret::SecretString;
use crate::store::{Commit, Store};

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

/// Applies a decided plan through `store` and returns its output. A plan that changes nothing
/// (an operation that found nothing to do) is not sent to the store.
pub(crate) async fn commit_plan<S: Store, T>(store: &S, plan: Plan<T>) -> Result<T> {
    if plan.commit != Commit::default() {
        store.commit(plan.commit).await?;
    }
    Ok(plan.output)
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
