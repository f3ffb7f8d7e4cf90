//! The CSPRNG handle: operating-system entropy in production, a fixed seed in tests.

use std::sync::{Arc, Mutex, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// A cryptographically secure random generator shared by all iam operations.
///
/// [`SecureRandom::from_entropy`] is the production choice: every request is answered by the
/// operating system (`getrandom`), so there is no userspace state a `fork()` could duplicate,
/// and a child process never repeats its parent's identifiers, tokens or nonces.
/// [`SecureRandom::from_seed`] is a deterministic stream for reproducible tests; clones share
/// that stream; it must never be used in production (nor across a `fork()`).
#[derive(Clone)]
pub struct SecureRandom(Source);

/// Where the bytes come from.
#[derive(Clone)]
enum Source {
    /// The operating system, on every call.
    Os,
    /// A seeded ChaCha20 stream shared by all clones (tests only).
    Seeded(Arc<Mutex<ChaCha20Rng>>),
}

impl std::fmt::Debug for SecureRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecureRandom(..)")
    }
}

impl SecureRandom {
    /// The production generator: every request reads the operating system's CSPRNG, so it
    /// stays unpredictable and unrepeated across `fork()`.
    pub fn from_entropy() -> Self {
        SecureRandom(Source::Os)
    }

    /// A deterministic generator for tests.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SecureRandom(Source::Seeded(Arc::new(Mutex::new(
            ChaCha20Rng::from_seed(seed),
        ))))
    }

    /// Fills `buf` with random bytes.
    ///
    /// # Panics
    /// If the operating system cannot supply randomness, which on a supported platform does
    /// not happen once the kernel's generator is seeded (`getrandom` then blocks, not fails).
    pub fn fill(&self, buf: &mut [u8]) {
        match &self.0 {
            Source::Os => OsRng.fill_bytes(buf),
            Source::Seeded(rng) => rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .fill_bytes(buf),
        }
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
    fn entropy_keeps_no_userspace_state_and_seeded_clones_share_one_stream() {
        // The production generator holds nothing a fork could copy: each call asks the OS.
        let e = SecureRandom::from_entropy();
        assert!(matches!(e.0, Source::Os));
        assert!(matches!(e.clone().0, Source::Os));
        assert_ne!(e.bytes::<32>(), e.clone().bytes::<32>());
        assert_ne!(e.child().next_u64(), e.child().next_u64());
        // A seeded generator is one deterministic stream, continued by its clones.
        let a = SecureRandom::from_seed([9; 32]);
        let b = SecureRandom::from_seed([9; 32]);
        let first = a.bytes::<16>();
        let second = a.clone().bytes::<16>();
        assert_ne!(first, second);
        assert_eq!(b.bytes::<32>()[..], [first, second].concat()[..]);
    }

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
