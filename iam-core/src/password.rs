//! Password hashing with Argon2id (PHC strings), through an [`Offload`] and behind a concurrency bound.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
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
        let mut me = Passwords {
            policy,
            argon,
            offload,
            dummy: String::new(),
        };
        me.dummy = me.hash(&random_password, rng).await?;
        Ok(me)
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
        self.offload
            .run(move || {
                argon
                    .hash_password(password.expose().as_bytes(), &salt)
                    .map(|h| h.to_string())
                    .map_err(|_| Error::Crypto("password hashing failed"))
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
        let argon = self.argon.clone();
        let password = password.clone();
        let matched = self
            .offload
            .run(move || {
                PasswordHash::new(&phc).is_ok_and(|parsed| {
                    argon
                        .verify_password(password.expose().as_bytes(), &parsed)
                        .is_ok()
                })
            })
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
}
