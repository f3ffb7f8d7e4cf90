//! The signing key ring: one active Ed25519 key that signs, older keys that still verify.
//!
//! Keys live in the store (the private half sealed under the master key), so tokens survive a
//! restart and every instance sharing the store accepts every other's tokens. Each key is
//! named by its PASERK id (`k4.pid.…`), carried in the token footer as `{"kid":"…"}`.

use std::collections::HashMap;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use pasetors::keys::AsymmetricPublicKey;
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::version4::V4;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::clock::Timestamp;
use crate::error::Error;
use crate::random::SecureRandom;
use crate::secret::Sealer;
use crate::store::{Record, RecordKind};

/// A signing key as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredKey {
    /// The Ed25519 public key, base64url.
    pub public_key: String,
    /// The 32-byte seed, sealed and bound to the key id.
    pub sealed_seed: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stopped signing; it verifies until this plus the longest token lifetime.
    pub retired_at: Option<Timestamp>,
}

/// A public key as published (PASERK and JWK forms).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyInfo {
    /// The PASERK id (`k4.pid.…`), as in token footers.
    pub kid: String,
    /// The key as PASERK `k4.public.…`.
    pub paserk: String,
    /// The key as an RFC 8037 OKP JWK (`{"kty":"OKP","crv":"Ed25519",…}`).
    pub jwk: serde_json::Value,
    /// Whether this key signs new tokens (otherwise it only verifies older ones).
    pub active: bool,
}

/// The PASERK id of an Ed25519 public key.
pub(crate) fn paserk_id(public: &[u8; 32]) -> Result<String, Error> {
    let pk =
        AsymmetricPublicKey::<V4>::from(public).map_err(|_| Error::Crypto("bad public key"))?;
    let mut out = String::new();
    Id::from(&pk)
        .fmt(&mut out)
        .map_err(|_| Error::Crypto("PASERK id formatting failed"))?;
    Ok(out)
}

/// The PASERK `k4.public.…` form of an Ed25519 public key.
pub(crate) fn paserk_public(public: &VerifyingKey) -> String {
    format!("k4.public.{}", URL_SAFE_NO_PAD.encode(public.as_bytes()))
}

/// Parses a PASERK `k4.public.…` key (the form `/keys` publishes); `None` unless it is one.
pub(crate) fn parse_paserk_public(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = URL_SAFE_NO_PAD
        .decode(text.strip_prefix("k4.public.")?)
        .ok()?
        .try_into()
        .ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

impl StoredKey {
    /// The public half.
    pub(crate) fn verifying_key(&self) -> Result<VerifyingKey, Error> {
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&self.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::Crypto("stored public key is malformed"))?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| Error::Crypto("stored public key is invalid"))
    }
}

/// The footer iam writes into every token signed with `kid`.
pub(crate) fn footer_for(kid: &str) -> Vec<u8> {
    format!("{{\"kid\":\"{kid}\"}}").into_bytes()
}

fn seal_aad(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// Makes a new key and its record.
pub(crate) fn generate(
    rng: &SecureRandom,
    sealer: &Sealer,
    now: Timestamp,
) -> Result<Record, Error> {
    let seed = Zeroizing::new(rng.bytes::<32>());
    let key = SigningKey::from_bytes(&seed);
    let kid = paserk_id(key.verifying_key().as_bytes())?;
    let stored = StoredKey {
        public_key: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
        sealed_seed: sealer.seal(rng, seed.as_slice(), &seal_aad(&kid))?,
        created_at: now,
        retired_at: None,
    };
    Ok(Record {
        kind: RecordKind::SigningKey,
        id: kid,
        version: 0,
        parent: None,
        lookup: None,
        expires_at: None,
        body: crate::record_body::to_body(&stored)?,
    })
}

struct ActiveKey {
    kid: String,
    footer: Vec<u8>,
    key: SigningKey,
}

/// The keys in use, built from the stored key records.
pub(crate) struct KeyRing {
    active: ActiveKey,
    /// Verifying keys by the exact footer bytes iam writes (no JSON parsing on the hot path).
    verifiers: HashMap<Vec<u8>, VerifyingKey>,
    published: Vec<PublicKeyInfo>,
}

impl KeyRing {
    /// Builds the ring from stored records: the newest unretired key signs; every key retired
    /// less than `keep_retired` ago verifies. `None` when no key can sign.
    pub fn from_records(
        records: &[Record],
        sealer: &Sealer,
        now: Timestamp,
        keep_retired: Duration,
    ) -> Result<Option<KeyRing>, Error> {
        let mut parsed: Vec<(String, StoredKey)> = Vec::new();
        for r in records {
            parsed.push((r.id.clone(), crate::record_body::from_body(&r.body)?));
        }
        let active = parsed
            .iter()
            .filter(|(_, k)| k.retired_at.is_none())
            .max_by(|(ia, a), (ib, b)| a.created_at.cmp(&b.created_at).then(ia.cmp(ib)));
        let Some((active_kid, active_stored)) = active else {
            return Ok(None);
        };
        let seed = sealer.open(&active_stored.sealed_seed, &seal_aad(active_kid))?;
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| Error::Crypto("stored key seed has the wrong length"))?;
        let key = SigningKey::from_bytes(&seed);
        if paserk_id(key.verifying_key().as_bytes())? != *active_kid {
            return Err(Error::Crypto("stored signing key does not match its id"));
        }
        let mut verifiers = HashMap::new();
        let mut published = Vec::new();
        for (kid, stored) in &parsed {
            if stored
                .retired_at
                .is_some_and(|r| r.plus(keep_retired) <= now)
            {
                continue;
            }
            let vk = stored.verifying_key()?;
            verifiers.insert(footer_for(kid), vk);
            published.push(PublicKeyInfo {
                kid: kid.clone(),
                paserk: paserk_public(&vk),
                jwk: serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                    "kid": kid, "x": URL_SAFE_NO_PAD.encode(vk.as_bytes()),
                }),
                active: kid == active_kid,
            });
        }
        published.sort_by(|a, b| b.active.cmp(&a.active).then(a.kid.cmp(&b.kid)));
        Ok(Some(KeyRing {
            active: ActiveKey {
                kid: active_kid.clone(),
                footer: footer_for(active_kid),
                key,
            },
            verifiers,
            published,
        }))
    }

    /// The id of the key that signs.
    pub fn active_kid(&self) -> &str {
        &self.active.kid
    }

    /// Signs `message` with the active key.
    pub fn sign(&self, message: &[u8]) -> String {
        self.sign_asserting(message, b"")
    }

    /// Signs `message` with the active key and the PASETO implicit assertion `implicit`, which
    /// keeps tokens of one purpose from verifying as another (see
    /// [`CHECKPOINT_IMPLICIT_ASSERTION`](crate::audit::CHECKPOINT_IMPLICIT_ASSERTION)).
    pub fn sign_asserting(&self, message: &[u8], implicit: &[u8]) -> String {
        super::paseto::sign(&self.active.key, message, &self.active.footer, implicit)
    }

    /// The verifying key for a token footer, if trusted.
    pub fn verifier(&self, footer: &[u8]) -> Option<&VerifyingKey> {
        self.verifiers.get(footer)
    }

    /// The public keys, active first.
    pub fn published(&self) -> &[PublicKeyInfo] {
        &self.published
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::MasterKey;

    #[derive(serde::Deserialize)]
    struct PidVectors {
        tests: Vec<PidVector>,
    }
    #[derive(serde::Deserialize)]
    struct PidVector {
        name: String,
        #[serde(rename = "expect-fail")]
        expect_fail: bool,
        key: Option<String>,
        paserk: Option<String>,
    }

    /// The official PASERK k4.pid vectors.
    #[test]
    fn paserk_ids_match_the_official_vectors() {
        let v: PidVectors =
            serde_json::from_str(include_str!("../../tests/vectors/paserk-k4-pid.json"))
                .expect("vectors");
        let mut checked = 0;
        for t in v.tests.into_iter().filter(|t| !t.expect_fail) {
            let hex = t.key.unwrap_or_default();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            let arr: [u8; 32] = bytes.try_into().expect("32-byte key");
            assert_eq!(paserk_id(&arr).ok(), t.paserk, "{}", t.name);
            checked += 1;
        }
        assert!(checked > 0);
    }

    #[test]
    fn ring_signs_with_newest_and_verifies_retired_until_they_lapse() {
        let rng = SecureRandom::from_seed([1; 32]);
        let sealer = MasterKey::from_bytes([2; 32]).sealer();
        let t0 = Timestamp::from_secs(1000);
        let old = generate(&rng, &sealer, t0).expect("key");
        let new = generate(&rng, &sealer, t0.plus(Duration::from_secs(10))).expect("key");
        let mut old_body: StoredKey = crate::record_body::from_body(&old.body).expect("body");
        old_body.retired_at = Some(t0.plus(Duration::from_secs(10)));
        let old = Record {
            body: crate::record_body::to_body(&old_body).expect("body"),
            ..old
        };
        let keep = Duration::from_secs(900);

        let ring = KeyRing::from_records(
            &[old.clone(), new.clone()],
            &sealer,
            t0.plus(Duration::from_secs(20)),
            keep,
        )
        .expect("ring")
        .expect("active");
        assert_eq!(ring.active_kid(), new.id);
        assert!(ring.verifier(&footer_for(&old.id)).is_some());
        assert_eq!(ring.published().len(), 2);
        assert!(ring.published()[0].active);

        let later = t0.plus(Duration::from_secs(10 + 900));
        let ring = KeyRing::from_records(&[old.clone(), new.clone()], &sealer, later, keep)
            .expect("ring")
            .expect("active");
        assert!(ring.verifier(&footer_for(&old.id)).is_none());

        let wrong = MasterKey::from_bytes([3; 32]).sealer();
        assert!(matches!(
            KeyRing::from_records(&[new], &wrong, later, keep),
            Err(Error::Crypto(_))
        ));
        assert!(KeyRing::from_records(&[], &sealer, later, keep)
            .expect("empty")
            .is_none());
    }
}
