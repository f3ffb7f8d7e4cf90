//! Password hashing with Argon2id (PHC strings), through an [`Offload`] and behind a concurrency bound.

use std::cell::RefCell;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use crate::error::{Error, InvalidInput};
use crate::offload::{Bounded, Offload};
use crate::random::SecureRandom;
use crate::secret::SecretString;

/// Password rules and Argon2id cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Argon2 memory cost in KiB (default 19456, OWASP's minimum recommendation).
    pub memory_kib: u32,
    /// Argon2 passes (default 2).
    pub iterations: u32,
    /// Argon2 lanes (default 1).
    pub parallelism: u32,
    /// Fewest characters accepted (default 8; no composition rules, per NIST SP 800-63B).
    pub min_length: usize,
    /// Most characters accepted (default 1024).
    pub max_length: usize,
    /// Hashes computed at once; further logins wait (default: the number of CPUs).
    pub max_concurrent_hashes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            min_length: 8,
            max_length: 1024,
            max_concurrent_hashes: std::thread::available_parallelism()
                .map_or(2, std::num::NonZero::get),
        }
    }
}

impl PasswordPolicy {
    /// A very cheap policy for tests only (m=64 KiB, t=1): never use it in production.
    pub fn insecure_fast_for_tests() -> Self {
        PasswordPolicy {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            ..PasswordPolicy::default()
        }
    }

    /// Rejects a policy that cannot work: inconsistent length bounds, or an Argon2id cost the
    /// algorithm does not accept (e.g. `memory_kib` below `8 * parallelism`).
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.min_length == 0 || self.min_length > self.max_length {
            return Err(InvalidInput::Config(
                "password length bounds are inconsistent",
            ));
        }
        self.params().map(drop)
    }

    /// The Argon2id parameters, if the algorithm accepts them.
    fn params(&self) -> Result<Params, InvalidInput> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|_| InvalidInput::Config("Argon2 parameters out of range"))
    }

    /// Checks a candidate password against the length rules.
    pub fn check(&self, password: &SecretString) -> Result<(), InvalidInput> {
        let text = password.expose();
        // Bound the work before counting characters of arbitrarily large input.
        if text.len() > self.max_length.saturating_mul(4) {
            return Err(InvalidInput::PasswordTooLong {
                max: self.max_length,
            });
        }
        let n = text.chars().count();
        if n < self.min_length {
            return Err(InvalidInput::PasswordTooShort {
                min: self.min_length,
            });
        }
        if n > self.max_length {
            return Err(InvalidInput::PasswordTooLong {
                max: self.max_length,
            });
        }
        Ok(())
    }

    fn argon2(&self) -> Result<Argon2<'static>, Error> {
        Ok(Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            self.params()?,
        ))
    }
}

/// The outcome of checking a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verification {
    /// The password matched the stored hash.
    pub matched: bool,
    /// The stored hash uses another cost or algorithm than the policy; rehash it.
    pub needs_rehash: bool,
}

/// Hashes and verifies passwords through an [`Offload`], at most `max_concurrent_hashes` at once.
pub(crate) struct Passwords {
    policy: PasswordPolicy,
    argon: Argon2<'static>,
    offload: Bounded,
    /// A hash of a random password, verified against when the username is unknown.
    dummy: String,
    /// Argon2 blocks a hashing thread keeps between verifications: the policy's memory cost.
    kept_blocks: usize,
}

impl Passwords {
    /// Builds the hasher and its dummy hash (one Argon2 run).
    pub async fn new(
        policy: PasswordPolicy,
        offload: Arc<dyn Offload>,
        rng: &SecureRandom,
    ) -> Result<Self, Error> {
        let argon = policy.argon2()?;
        let offload = Bounded::new(offload, policy.max_concurrent_hashes);
        let random_password = SecretString::new(base64_of(&rng.bytes::<24>()));
        let kept_blocks = argon.params().block_count();
        let mut me = Passwords {
            policy,
            argon,
            offload,
            dummy: String::new(),
            kept_blocks,
        };
        me.dummy = me.hash(&random_password, rng).await?;
        Ok(me)
    }

    /// Runs other CPU-heavy work (such as RSA key generation) through the same bounded offload.
    pub async fn offloaded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        self.offload.run(work).await
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// A PHC string for `password` under the policy (call [`PasswordPolicy::check`] first).
    pub async fn hash(&self, password: &SecretString, rng: &SecureRandom) -> Result<String, Error> {
        let salt = SaltString::encode_b64(&rng.bytes::<16>())
            .map_err(|_| Error::Crypto("salt encoding failed"))?;
        let argon = self.argon.clone();
        let password = password.clone();
        let keep = self.kept_blocks;
        self.offload
            .run(move || {
                hash_phc(&argon, password.expose().as_bytes(), &salt, keep)
                    .ok_or(Error::Crypto("password hashing failed"))
            })
            .await?
    }

    /// Checks `password` against `stored`; with `None` (unknown user) it verifies against the
    /// dummy hash so the time taken is the same, and reports no match.
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<Verification, Error> {
        let known = stored.is_some();
        let phc = stored.unwrap_or(&self.dummy).to_owned();
        let needs_rehash = known && self.differs_from_policy(&phc);
        let password = password.clone();
        let keep = self.kept_blocks;
        let matched = self
            .offload
            .run(move || verify_phc(password.expose().as_bytes(), &phc, keep))
            .await?;
        Ok(Verification {
            matched: matched && known,
            needs_rehash,
        })
    }

    fn differs_from_policy(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm != argon2::ARGON2ID_IDENT
            || params.m_cost() != self.policy.memory_kib
            || params.t_cost() != self.policy.iterations
            || params.p_cost() != self.policy.parallelism
    }
}

thread_local! {
    /// Argon2 working memory kept by each hashing thread between verifications. Taking a fresh
    /// 19 MiB block for every verification costs page faults and zeroing each time, and the
    /// allocator tends to keep the freed blocks, so resident memory under a login flood grows to
    /// many times what the concurrent hashes need; kept here, it is one block per thread.
    static ARGON2_MEMORY: RefCell<Vec<argon2::Block>> = const { RefCell::new(Vec::new()) };
}

/// Whether `password` matches the PHC string `phc` (any Argon2 variant, version and cost it
/// names), computed with [`compute`] (in this thread's kept memory when the cost needs at most
/// `keep` blocks).
fn verify_phc(password: &[u8], phc: &str, keep: usize) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    let mut out = zeroize::Zeroizing::new(vec![0u8; expected.len()]);
    compute(&argon, password, salt, &mut out, keep)
        && bool::from(subtle::ConstantTimeEq::ct_eq(&out[..], expected.as_bytes()))
}

/// A PHC string for `password` with `salt` under `argon` (Argon2id, v0x13: the policy's),
/// computed like [`verify_phc`] in this thread's kept memory.
fn hash_phc(argon: &Argon2<'_>, password: &[u8], salt: &SaltString, keep: usize) -> Option<String> {
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut salt_bytes).ok()?;
    let params = argon.params();
    let mut out = zeroize::Zeroizing::new(vec![
        0u8;
        params
            .output_len()
            .unwrap_or(Params::DEFAULT_OUTPUT_LEN)
    ]);
    if !compute(argon, password, raw_salt, &mut out, keep) {
        return None;
    }
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(params).ok()?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).ok()?),
    };
    Some(hash.to_string())
}

/// Runs `argon` over `password` and `salt` into `out`, in this thread's kept memory when its
/// cost needs at most `keep` blocks (else in memory of its own); `false` when Argon2 refuses
/// the inputs.
///
/// Afterwards the first two blocks of every lane are zeroed: with a single pass they are a
/// cheap function of the password and salt (every later block is memory-hard to reach), so
/// nothing left behind is easier to attack than the stored hash itself.
fn compute(argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8], keep: usize) -> bool {
    let params = argon.params();
    let needed = params.block_count();
    let lanes = usize::try_from(params.p_cost()).unwrap_or(1);
    ARGON2_MEMORY.with(|kept| {
        let mut fresh;
        let mut kept = kept.borrow_mut();
        let blocks: &mut [argon2::Block] = if needed <= keep {
            if kept.len() < needed {
                kept.resize(needed, argon2::Block::default());
            }
            &mut kept[..needed]
        } else {
            fresh = vec![argon2::Block::default(); needed];
            &mut fresh
        };
        let result = argon.hash_password_into_with_memory(password, salt, out, &mut *blocks);
        let lane_length = needed / lanes.max(1);
        for lane in blocks.chunks_mut(lane_length.max(1)) {
            for block in lane.iter_mut().take(2) {
                zeroize::Zeroize::zeroize(block);
            }
        }
        result.is_ok()
    })
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules_without_composition_rules() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check(&"short".into()),
            Err(InvalidInput::PasswordTooShort { min: 8 })
        );
        assert_eq!(p.check(&"aaaaaaaa".into()), Ok(()));
        assert_eq!(
            p.check(&"ééééééé".into()),
            Err(InvalidInput::PasswordTooShort { min: 8 })
        );
        assert_eq!(p.check(&"é".repeat(1024).into()), Ok(()));
        assert_eq!(
            p.check(&"a".repeat(1025).into()),
            Err(InvalidInput::PasswordTooLong { max: 1024 })
        );
        assert_eq!(
            p.check(&"a".repeat(1 << 20).into()),
            Err(InvalidInput::PasswordTooLong { max: 1024 })
        );
    }

    #[tokio::test]
    async fn hash_verify_and_rehash_detection() {
        let rng = SecureRandom::from_seed([1; 32]);
        let threads: Arc<dyn Offload> = Arc::new(crate::offload::OsThreads);
        let cheap = Passwords::new(
            PasswordPolicy::insecure_fast_for_tests(),
            Arc::clone(&threads),
            &rng,
        )
        .await
        .expect("hasher");
        let pw = SecretString::new("correct horse battery");
        let phc = cheap.hash(&pw, &rng).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let ok = cheap.verify(&pw, Some(&phc)).await.expect("verify");
        assert_eq!(
            ok,
            Verification {
                matched: true,
                needs_rehash: false
            }
        );
        let bad = cheap
            .verify(&"wrong horse battery".into(), Some(&phc))
            .await
            .expect("verify");
        assert!(!bad.matched);
        let unknown = cheap.verify(&pw, None).await.expect("verify");
        assert_eq!(
            unknown,
            Verification {
                matched: false,
                needs_rehash: false
            }
        );
        let garbage = cheap
            .verify(&pw, Some("$not$a$hash"))
            .await
            .expect("verify");
        assert!(!garbage.matched);

        let policy = PasswordPolicy {
            memory_kib: 128,
            ..PasswordPolicy::insecure_fast_for_tests()
        };
        let stronger = Passwords::new(policy, threads, &rng).await.expect("hasher");
        let v = stronger.verify(&pw, Some(&phc)).await.expect("verify");
        assert_eq!(
            v,
            Verification {
                matched: true,
                needs_rehash: true
            }
        );
    }

    #[test]
    fn default_cost_is_the_documented_one() {
        let p = PasswordPolicy::default();
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (19_456, 2, 1));
    }

    #[test]
    fn kept_memory_hashing_and_verification_agree_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let salt = SaltString::encode_b64(&[9; 16]).expect("salt");
        let small = Params::new(64, 1, 1, None).expect("params");
        let wide = Params::new(256, 2, 2, None).expect("params");
        let cases = [
            Argon2::new(Algorithm::Argon2id, Version::V0x13, small.clone()),
            Argon2::new(Algorithm::Argon2i, Version::V0x13, small.clone()),
            Argon2::new(Algorithm::Argon2d, Version::V0x10, small.clone()),
            Argon2::new(Algorithm::Argon2id, Version::V0x13, wide),
        ];
        for argon in cases {
            let phc = argon
                .hash_password(b"correct horse", &salt)
                .expect("hash")
                .to_string();
            let parsed = PasswordHash::new(&phc).expect("parse");
            for (password, expected) in [(&b"correct horse"[..], true), (b"correct horsf", false)] {
                assert_eq!(argon.verify_password(password, &parsed).is_ok(), expected);
                // Within the kept memory, and above it (fresh memory).
                assert_eq!(verify_phc(password, &phc, 1 << 20), expected, "{phc}");
                assert_eq!(verify_phc(password, &phc, 8), expected, "{phc}");
            }
            // The same thread's kept memory serves the next verification too.
            assert!(verify_phc(b"correct horse", &phc, 1 << 20));
        }
        for bad in [
            "",
            "$argon2id$",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
            "$scrypt$x$y",
        ] {
            assert!(!verify_phc(b"correct horse", bad, 1 << 20), "{bad}");
        }
    }
}
