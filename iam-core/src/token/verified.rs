//! [`VerifiedTokens`]: access tokens whose signature and claims were checked, remembered so a
//! repeated token skips the Ed25519 verification and the claim parsing.
//!
//! Only what cannot change is remembered: the signature, the issuer and the parsed claims. Every
//! use still checks expiry against the clock, the audience it is used for, and the revocation
//! cache, so a revoked session, a disabled account or a stale revocation feed is refused at once.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::clock::Timestamp;
use crate::token::Principal;

/// Longest time a verified token is served from the cache before its signature is checked
/// again (bounds how long a signing key dropped from the ring keeps working elsewhere; a key
/// reload on this instance empties the cache at once).
pub const VERIFIED_TOKEN_TTL: Duration = Duration::from_secs(60);

/// Most tokens the cache holds by default ([`Config::verified_token_capacity`]); when full,
/// expired entries go, then (if still full) all.
///
/// [`Config::verified_token_capacity`]: crate::Config::verified_token_capacity
pub const VERIFIED_TOKEN_CAPACITY: usize = 10_000;

/// A token remembered after a full verification.
struct Remembered {
    principal: Arc<Principal>,
    /// The earlier of the token's expiry and the end of its time in the cache.
    valid_until: Timestamp,
}

/// Access tokens verified earlier, keyed by their exact text.
pub(crate) struct VerifiedTokens {
    /// Most tokens held; 0 holds none.
    capacity: usize,
    tokens: RwLock<HashMap<Box<str>, Remembered>>,
}

impl VerifiedTokens {
    /// An empty cache for at most `capacity` tokens.
    pub(crate) fn new(capacity: usize) -> Self {
        VerifiedTokens {
            capacity,
            tokens: RwLock::default(),
        }
    }

    /// The principal of `token` if it was verified earlier and is neither expired nor past its
    /// time in the cache at `now`. The caller still checks audience and revocation.
    pub(crate) fn get(&self, token: &str, now: Timestamp) -> Option<Arc<Principal>> {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .filter(|t| now < t.valid_until)
            .map(|t| Arc::clone(&t.principal))
    }

    /// Remembers `token`, fully verified at `now` as `principal`.
    pub(crate) fn remember(&self, token: &str, principal: &Arc<Principal>, now: Timestamp) {
        if self.capacity == 0 {
            return;
        }
        let valid_until = principal.expires_at.min(now.plus(VERIFIED_TOKEN_TTL));
        let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= self.capacity {
            tokens.retain(|_, t| t.valid_until > now);
            if tokens.len() >= self.capacity {
                tokens.clear();
            }
        }
        tokens.insert(
            token.into(),
            Remembered {
                principal: Arc::clone(principal),
                valid_until,
            },
        );
    }

    /// Forgets every token (the key ring changed).
    pub(crate) fn clear(&self) {
        self.tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// How many tokens are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::CredentialKind;
    use crate::fixtures;

    fn principal(expires_at: Timestamp) -> Arc<Principal> {
        let mut p = fixtures::principal("acc_1", CredentialKind::Session, &[]);
        p.expires_at = expires_at;
        Arc::new(p)
    }

    #[test]
    fn a_token_is_served_until_its_expiry_or_its_time_in_the_cache_ends() {
        let cache = VerifiedTokens::new(VERIFIED_TOKEN_CAPACITY);
        let now = Timestamp::from_secs(1_000);
        cache.remember("short", &principal(now.plus(Duration::from_secs(5))), now);
        cache.remember(
            "long",
            &principal(now.plus(Duration::from_secs(3_600))),
            now,
        );
        assert!(cache.get("short", now).is_some());
        assert!(cache.get("unknown", now).is_none());
        let later = now.plus(Duration::from_secs(5));
        assert!(cache.get("short", later).is_none(), "expired");
        assert!(cache.get("long", later).is_some());
        assert!(cache.get("long", now.plus(VERIFIED_TOKEN_TTL)).is_none());
    }

    #[test]
    fn the_cache_stays_bounded_and_clears() {
        let cache = VerifiedTokens::new(VERIFIED_TOKEN_CAPACITY);
        let now = Timestamp::from_secs(1_000);
        let p = principal(now.plus(Duration::from_secs(3_600)));
        for i in 0..=VERIFIED_TOKEN_CAPACITY {
            cache.remember(&format!("t{i}"), &p, now);
        }
        assert!(cache.len() <= VERIFIED_TOKEN_CAPACITY);
        assert!(cache
            .get(&format!("t{VERIFIED_TOKEN_CAPACITY}"), now)
            .is_some());
        cache.clear();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn a_cache_of_capacity_zero_remembers_nothing() {
        let cache = VerifiedTokens::new(0);
        let now = Timestamp::from_secs(1_000);
        cache.remember("t", &principal(now.plus(Duration::from_secs(60))), now);
        assert!(cache.get("t", now).is_none());
    }
}
