//! The CSPRNG handle: operating-system entropy in production, a fixed seed in tests.

use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// A cryptographically secure random generator shared by all iam operations.
///
/// Cloning shares the generator. [`SecureRandom::from_entropy`] is the production choice;
/// [`SecureRandom::from_seed`] makes tests reproducible and must never be used in production.
#[derive(Clone)]
pub struct SecureRandom(Arc<Mutex<ChaCha20Rng>>);

impl std::fmt::Debug for SecureRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecureRandom(..)")
    }
}

impl SecureRandom {
    /// A generator seeded from the operating system.
    pub fn from_entropy() -> Self {
        SecureRandom(Arc::new(Mutex::new(ChaCha20Rng::from_entropy())))
    }

    /// A deterministic generator for tests.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SecureRandom(Arc::new(Mutex::new(ChaCha20Rng::from_seed(seed))))
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&self, buf: &mut [u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .fill_bytes(buf);
    }

    /// `N` random bytes.
    pub fn bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }

    /// A random identifier: `prefix` followed by 128 random bits in base64url.
    pub fn id(&self, prefix: &str) -> String {
        let raw: [u8; 16] = self.bytes();
        format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// A seeded `ChaCha20Rng` drawn from this generator, for APIs that want an `RngCore`.
    pub fn child(&self) -> ChaCha20Rng {
        ChaCha20Rng::from_seed(self.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_generators_repeat_and_entropy_does_not() {
        let a = SecureRandom::from_seed([7; 32]);
        let b = SecureRandom::from_seed([7; 32]);
        assert_eq!(a.bytes::<32>(), b.bytes::<32>());
        let e = SecureRandom::from_entropy();
        assert_ne!(e.bytes::<32>(), e.bytes::<32>());
        let id = a.id("acc_");
        assert!(id.starts_with("acc_"));
        assert_eq!(id.len(), 4 + 22);
    }
}
