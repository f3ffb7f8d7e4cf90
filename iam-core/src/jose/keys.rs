//! JOSE keys: generation, the stored form, RFC 7638 thumbprints, and the ring built from records.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::JwsAlg;
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::Error;
use crate::random::SecureRandom;
use crate::secret::Sealer;
use crate::store::{Record, RecordKind, Write};

/// RSA modulus size of new RS256 keys.
const RSA_BITS: usize = 2048;

/// The public members of a JWK (RFC 7518 §6, RFC 8037 §2), values base64url.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub(crate) enum PublicJwk {
    /// An RSA public key: modulus and exponent, big-endian without leading zeros.
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
    /// A P-256 public key: the point's coordinates.
    #[serde(rename = "EC")]
    Ec { crv: String, x: String, y: String },
    /// An Ed25519 public key.
    #[serde(rename = "OKP")]
    Okp { crv: String, x: String },
}

/// A JSON string literal (the values are base64url or fixed names, but stored data is not trusted).
fn lit(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

impl PublicJwk {
    /// The RFC 7638 thumbprint: base64url SHA-256 of the required members, sorted, no whitespace.
    pub fn thumbprint(&self) -> String {
        let canonical = match self {
            PublicJwk::Rsa { n, e } => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, lit(e), lit(n)),
            PublicJwk::Ec { crv, x, y } => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                lit(crv),
                lit(x),
                lit(y)
            ),
            PublicJwk::Okp { crv, x } => {
                format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, lit(crv), lit(x))
            }
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// The published JWK (RFC 7517): the members plus `kid`, `alg` and `use: "sig"`.
    pub fn to_published(&self, kid: &str, alg: JwsAlg) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("kid".into(), kid.into());
            m.insert("alg".into(), alg.as_str().into());
            m.insert("use".into(), "sig".into());
        }
        v
    }

    /// The key that verifies `alg` signatures, if this JWK is a well-formed key for `alg`.
    fn verifying_key(&self, alg: JwsAlg) -> Result<VerifyingKey, Error> {
        const BAD: Error = Error::Crypto("stored JOSE public key is malformed");
        let dec = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| BAD);
        match (alg, self) {
            (JwsAlg::Rs256, PublicJwk::Rsa { n, e }) => Ok(VerifyingKey::Rsa {
                n: dec(n)?,
                e: dec(e)?,
            }),
            (JwsAlg::Es256, PublicJwk::Ec { crv, x, y }) if crv == "P-256" => {
                let (x, y) = (dec(x)?, dec(y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(BAD);
                }
                Ok(VerifyingKey::Ec([&[4u8][..], &x, &y].concat()))
            }
            (JwsAlg::EdDsa, PublicJwk::Okp { crv, x }) if crv == "Ed25519" => {
                let x = dec(x)?;
                if x.len() != 32 {
                    return Err(BAD);
                }
                Ok(VerifyingKey::Ed(x))
            }
            _ => Err(Error::Crypto(
                "stored JOSE key does not match its algorithm",
            )),
        }
    }
}

/// A public key that checks signatures (through `ring`).
pub(crate) enum VerifyingKey {
    /// RSA modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed P-256 point.
    Ec(Vec<u8>),
    /// An Ed25519 public key.
    Ed(Vec<u8>),
}

impl VerifyingKey {
    /// Whether `sig` is a valid signature of `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self {
            VerifyingKey::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            VerifyingKey::Ec(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            VerifyingKey::Ed(x) => signature::UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, sig)
                .is_ok(),
        }
    }
}

/// A private key ready to sign (parsed by `ring`).
enum PrivateKey {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl PrivateKey {
    /// Parses the stored private form of an `alg` key: PKCS#1 DER for RS256, PKCS#8 for ES256,
    /// the 32-byte seed for EdDSA.
    fn parse(alg: JwsAlg, private: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::Crypto("stored JOSE private key is invalid");
        Ok(match alg {
            JwsAlg::Rs256 => PrivateKey::Rsa(RsaKeyPair::from_der(private).map_err(bad)?),
            JwsAlg::Es256 => PrivateKey::Ec(
                EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    private,
                    &SystemRandom::new(),
                )
                .map_err(bad)?,
            ),
            JwsAlg::EdDsa => {
                PrivateKey::Ed(Ed25519KeyPair::from_seed_unchecked(private).map_err(bad)?)
            }
        })
    }

    /// The matching public JWK.
    fn public_jwk(&self) -> PublicJwk {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match self {
            PrivateKey::Rsa(k) => {
                let c: signature::RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                PublicJwk::Rsa {
                    n: b64(&c.n),
                    e: b64(&c.e),
                }
            }
            PrivateKey::Ec(k) => {
                // The uncompressed point: 0x04 ‖ x ‖ y.
                let point = k.public_key().as_ref();
                PublicJwk::Ec {
                    crv: "P-256".into(),
                    x: b64(point.get(1..33).unwrap_or_default()),
                    y: b64(point.get(33..65).unwrap_or_default()),
                }
            }
            PrivateKey::Ed(k) => PublicJwk::Okp {
                crv: "Ed25519".into(),
                x: b64(k.public_key().as_ref()),
            },
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = |_| Error::Crypto("JWT signing failed");
        match self {
            PrivateKey::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(failed)?;
                Ok(sig)
            }
            PrivateKey::Ec(k) => Ok(k
                .sign(&SystemRandom::new(), message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
            PrivateKey::Ed(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

/// Makes the private form of a new `alg` key (slow for RS256: run it off the async workers).
pub(crate) fn generate_private(
    alg: JwsAlg,
    rng: &SecureRandom,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    match alg {
        JwsAlg::Rs256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey as _;
            let key = rsa::RsaPrivateKey::new(&mut rng.child(), RSA_BITS)
                .map_err(|_| Error::Crypto("RSA key generation failed"))?;
            let der = key
                .to_pkcs1_der()
                .map_err(|_| Error::Crypto("RSA key encoding failed"))?;
            Ok(Zeroizing::new(der.as_bytes().to_vec()))
        }
        JwsAlg::Es256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &SystemRandom::new(),
            )
            .map_err(|_| Error::Crypto("EC key generation failed"))?;
            Ok(Zeroizing::new(doc.as_ref().to_vec()))
        }
        JwsAlg::EdDsa => Ok(Zeroizing::new(rng.bytes::<32>().to_vec())),
    }
}

/// A JOSE key as stored (the body of a [`RecordKind::JoseKey`] record; the id is the kid).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredJoseKey {
    /// The algorithm it signs with.
    pub alg: JwsAlg,
    /// The public key.
    pub jwk: PublicJwk,
    /// The private key (see [`generate_private`]), sealed and bound to the algorithm and kid.
    pub sealed_private: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stopped signing; it verifies until this plus the retention window.
    pub retired_at: Option<Timestamp>,
}

fn seal_aad(alg: JwsAlg, kid: &str) -> String {
    format!("jose_key:{alg}:{kid}")
}

/// The record of a new key with the private form `private` (from [`generate_private`]).
pub(crate) fn key_record(
    alg: JwsAlg,
    private: &[u8],
    rng: &SecureRandom,
    sealer: &Sealer,
    now: Timestamp,
) -> Result<Record, Error> {
    let jwk = PrivateKey::parse(alg, private)?.public_jwk();
    let kid = jwk.thumbprint();
    let stored = StoredJoseKey {
        alg,
        sealed_private: sealer.seal(rng, private, &seal_aad(alg, &kid))?,
        jwk,
        created_at: now,
        retired_at: None,
    };
    Ok(Record {
        kind: RecordKind::JoseKey,
        id: kid,
        version: 0,
        parent: None,
        lookup: None,
        expires_at: None,
        body: crate::record_body::to_body(&stored)?,
    })
}

/// The audit event for a new key.
pub(crate) fn created_event(
    record: &Record,
    alg: JwsAlg,
    actor: Option<&str>,
    now: Timestamp,
) -> AuditDraft {
    AuditDraft::new(AuditKind::SigningKeyRotated, now)
        .actor(actor)
        .detail("kid", record.id.clone())
        .detail("alg", alg.as_str())
}

/// Rotation: every unretired key of an algorithm that has a fresh key in `fresh` retires at
/// `now`, and the fresh keys are inserted, each with an audit event.
pub(crate) fn rotation_writes(
    keys: Vec<(Record, StoredJoseKey)>,
    fresh: &[(JwsAlg, Record)],
    actor: Option<&str>,
    now: Timestamp,
) -> Result<(Vec<Write>, Vec<AuditDraft>), Error> {
    let mut writes = Vec::new();
    for (record, mut key) in keys {
        if key.retired_at.is_none() && fresh.iter().any(|(a, _)| *a == key.alg) {
            key.retired_at = Some(now);
            let body = crate::record_body::to_body(&key)?;
            writes.push(Write::Update {
                expected_version: record.version,
                record: Record { body, ..record },
            });
        }
    }
    let mut audit = Vec::new();
    for (alg, record) in fresh {
        audit.push(created_event(record, *alg, actor, now));
        writes.push(Write::Insert(record.clone()));
    }
    Ok((writes, audit))
}

/// The key that signs for one algorithm.
pub(crate) struct Signer {
    /// Its kid.
    pub kid: String,
    key: PrivateKey,
}

impl Signer {
    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.key.sign(message)
    }
}

/// The JOSE keys in use: per algorithm one that signs, and every key that verifies.
#[derive(Default)]
pub(crate) struct JoseRing {
    signers: HashMap<JwsAlg, Arc<Signer>>,
    verifiers: HashMap<String, (JwsAlg, VerifyingKey)>,
    published: Vec<serde_json::Value>,
}

impl JoseRing {
    /// Builds the ring from stored records: per algorithm the newest unretired key signs;
    /// every key retired less than `keep_retired` ago verifies. Signers of `previous` with the
    /// same kid are reused (their private keys are not opened again).
    pub fn from_records(
        records: &[Record],
        sealer: &Sealer,
        now: Timestamp,
        keep_retired: Duration,
        previous: Option<&JoseRing>,
    ) -> Result<JoseRing, Error> {
        let mut parsed: Vec<(&str, StoredJoseKey)> = Vec::new();
        for r in records {
            let key: StoredJoseKey = crate::record_body::from_body(&r.body)?;
            if key.jwk.thumbprint() != r.id {
                return Err(Error::Crypto("stored JOSE key does not match its id"));
            }
            parsed.push((&r.id, key));
        }
        parsed.sort_by(|(ia, a), (ib, b)| {
            (a.alg, b.created_at, *ib).cmp(&(b.alg, a.created_at, *ia))
        });
        let mut ring = JoseRing::default();
        for (kid, key) in &parsed {
            if key.retired_at.is_some_and(|r| r.plus(keep_retired) <= now) {
                continue;
            }
            let signs = key.retired_at.is_none() && !ring.signers.contains_key(&key.alg);
            if signs {
                let reused = previous
                    .and_then(|p| p.signers.get(&key.alg))
                    .filter(|s| s.kid == *kid);
                let signer = match reused {
                    Some(s) => Arc::clone(s),
                    None => Arc::new(open_signer(kid, key, sealer)?),
                };
                ring.signers.insert(key.alg, signer);
            }
            let vk = key.jwk.verifying_key(key.alg)?;
            ring.verifiers.insert((*kid).to_owned(), (key.alg, vk));
            ring.published.push(key.jwk.to_published(kid, key.alg));
        }
        Ok(ring)
    }

    /// The key that signs `alg`, if there is one.
    pub fn signer(&self, alg: JwsAlg) -> Option<Arc<Signer>> {
        self.signers.get(&alg).cloned()
    }

    /// The algorithms with no signing key.
    pub fn missing(&self) -> Vec<JwsAlg> {
        JwsAlg::ALL
            .into_iter()
            .filter(|a| !self.signers.contains_key(a))
            .collect()
    }

    /// The algorithm and key of `kid`, if it verifies.
    pub fn verifier(&self, kid: &str) -> Option<&(JwsAlg, VerifyingKey)> {
        self.verifiers.get(kid)
    }

    /// The public JWKs: by algorithm, newest first.
    pub fn published(&self) -> &[serde_json::Value] {
        &self.published
    }
}

fn open_signer(kid: &str, key: &StoredJoseKey, sealer: &Sealer) -> Result<Signer, Error> {
    let private = sealer.open(&key.sealed_private, &seal_aad(key.alg, kid))?;
    let parsed = PrivateKey::parse(key.alg, &private)?;
    if parsed.public_jwk() != key.jwk {
        return Err(Error::Crypto(
            "stored JOSE private key does not match its public key",
        ));
    }
    Ok(Signer {
        kid: kid.to_owned(),
        key: parsed,
    })
}
