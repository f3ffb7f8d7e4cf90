//! PASETO v4.public (Ed25519) signing and verification over the pre-authentication encoding.
//!
//! Written directly against `ed25519-dalek` so verification costs one signature check plus
//! parsing; checked against the official PASETO test vectors and against `pasetors`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

/// The token header for version 4, public purpose.
pub const HEADER: &str = "v4.public.";
/// Longest token accepted; anything larger is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Why a token failed at the PASETO layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasetoError {
    /// Not `v4.public.<payload>[.<footer>]` with canonical base64url, or too large.
    Malformed,
    /// No key for the footer's key id.
    UnknownKey,
    /// The signature does not verify.
    BadSignature,
}

/// PAE: the little-endian 64-bit count, then each piece with its little-endian 64-bit length.
pub fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let total: usize = pieces.iter().map(|p| p.len() + 8).sum::<usize>() + 8;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&le64(pieces.len()));
    for p in pieces {
        out.extend_from_slice(&le64(p.len()));
        out.extend_from_slice(p);
    }
    out
}

fn le64(n: usize) -> [u8; 8] {
    // The spec clears the top bit; lengths here never reach it.
    ((n as u64) & (u64::MAX >> 1)).to_le_bytes()
}

/// Signs `message` with `footer` and implicit assertion `implicit`.
pub fn sign(key: &SigningKey, message: &[u8], footer: &[u8], implicit: &[u8]) -> String {
    let m2 = pae(&[HEADER.as_bytes(), message, footer, implicit]);
    let sig = key.sign(&m2);
    let mut body = Vec::with_capacity(message.len() + 64);
    body.extend_from_slice(message);
    body.extend_from_slice(&sig.to_bytes());
    let mut token =
        String::with_capacity(HEADER.len() + body.len() * 4 / 3 + footer.len() * 4 / 3 + 4);
    token.push_str(HEADER);
    URL_SAFE_NO_PAD.encode_string(&body, &mut token);
    if !footer.is_empty() {
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(footer, &mut token);
    }
    token
}

/// A token split into its decoded parts, not yet verified.
pub struct Unverified {
    body: Vec<u8>,
    /// The decoded footer (empty when absent). Untrusted until [`Unverified::verify`] succeeds.
    pub footer: Vec<u8>,
}

/// Splits and decodes `token`; checks only its shape.
pub fn decode(token: &str) -> Result<Unverified, PasetoError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(PasetoError::Malformed);
    }
    let rest = token.strip_prefix(HEADER).ok_or(PasetoError::Malformed)?;
    let (payload, footer) = match rest.split_once('.') {
        Some((p, f)) if !f.is_empty() && !f.contains('.') => (p, f),
        Some(_) => return Err(PasetoError::Malformed),
        None => (rest, ""),
    };
    let body = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| PasetoError::Malformed)?;
    if body.len() < 64 {
        return Err(PasetoError::Malformed);
    }
    let footer = URL_SAFE_NO_PAD
        .decode(footer)
        .map_err(|_| PasetoError::Malformed)?;
    Ok(Unverified { body, footer })
}

impl Unverified {
    /// Verifies the signature with `key`; returns the signed message.
    ///
    /// RFC 8032 verification, cofactorless: `S` must be canonical and the recomputed `R` must
    /// equal the signature's `R` byte for byte (so a non-canonical `R` fails), and a weak
    /// (small-order) key is refused. With those checks Ed25519 is strongly unforgeable, which
    /// is all a bearer token needs; `verify_strict`'s extra decompression of `R` (about a tenth
    /// of the cost) buys nothing more here.
    pub fn verify(mut self, key: &VerifyingKey, implicit: &[u8]) -> Result<Vec<u8>, PasetoError> {
        if key.is_weak() {
            return Err(PasetoError::BadSignature);
        }
        let split = self.body.len() - 64;
        let sig_bytes: [u8; 64] = self.body[split..]
            .try_into()
            .map_err(|_| PasetoError::Malformed)?;
        let sig = Signature::from_bytes(&sig_bytes);
        self.body.truncate(split);
        let m2 = pae(&[HEADER.as_bytes(), &self.body, &self.footer, implicit]);
        key.verify(&m2, &sig)
            .map_err(|_| PasetoError::BadSignature)?;
        Ok(self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        tests: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        #[serde(rename = "expect-fail")]
        expect_fail: bool,
        #[serde(rename = "public-key")]
        public_key: Option<String>,
        #[serde(rename = "secret-key-seed")]
        seed: Option<String>,
        token: String,
        payload: Option<String>,
        footer: String,
        #[serde(rename = "implicit-assertion")]
        implicit: String,
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    }

    #[test]
    fn pae_matches_the_specification_examples() {
        assert_eq!(pae(&[]), b"\x00\x00\x00\x00\x00\x00\x00\x00".to_vec());
        assert_eq!(
            pae(&[b""]),
            [&[1u8, 0, 0, 0, 0, 0, 0, 0][..], &[0u8; 8][..]].concat()
        );
        assert_eq!(
            pae(&[b"test"]),
            [
                &[1u8, 0, 0, 0, 0, 0, 0, 0][..],
                &[4u8, 0, 0, 0, 0, 0, 0, 0][..],
                b"test"
            ]
            .concat()
        );
    }

    /// The official v4 vectors (test-vectors/v4.json): every public one signs to the exact
    /// token and verifies; every failing one is refused.
    #[test]
    fn official_v4_public_vectors() {
        let text = include_str!("../../tests/vectors/paseto-v4.json");
        let vectors: Vectors = serde_json::from_str(text).expect("vector file");
        let default_pk = vectors
            .tests
            .iter()
            .find_map(|v| v.public_key.clone())
            .expect("a public key");
        let mut checked = 0;
        for v in vectors.tests {
            let pk: [u8; 32] = hex(v.public_key.as_deref().unwrap_or(&default_pk))
                .try_into()
                .expect("pk");
            let vk = VerifyingKey::from_bytes(&pk).expect("public key");
            let verified = decode(&v.token).and_then(|u| {
                if u.footer != v.footer.as_bytes() {
                    return Err(PasetoError::Malformed);
                }
                u.verify(&vk, v.implicit.as_bytes())
            });
            if v.expect_fail {
                assert!(verified.is_err(), "{} must fail", v.name);
            } else {
                let payload = v.payload.expect("payload");
                assert_eq!(verified.as_deref(), Ok(payload.as_bytes()), "{}", v.name);
                let seed: [u8; 32] = hex(v.seed.as_deref().unwrap_or_default())
                    .try_into()
                    .expect("seed");
                let sk = SigningKey::from_bytes(&seed);
                assert_eq!(
                    sign(
                        &sk,
                        payload.as_bytes(),
                        v.footer.as_bytes(),
                        v.implicit.as_bytes()
                    ),
                    v.token
                );
            }
            checked += 1;
        }
        assert_eq!(checked, 8, "expected all eight v4 vectors");
    }

    #[test]
    fn interoperates_with_pasetors() {
        use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey};
        use pasetors::token::UntrustedToken;
        use pasetors::version4::{PublicToken, V4};
        use pasetors::Public;
        let sk = SigningKey::from_bytes(&[5u8; 32]);
        let mut keypair = sk.to_bytes().to_vec();
        keypair.extend_from_slice(sk.verifying_key().as_bytes());
        let their_sk = AsymmetricSecretKey::<V4>::from(&keypair).expect("sk");
        let their_pk = AsymmetricPublicKey::<V4>::from(sk.verifying_key().as_bytes()).expect("pk");

        let ours = sign(&sk, b"{\"a\":1}", b"{\"kid\":\"x\"}", b"");
        let untrusted =
            UntrustedToken::<Public, V4>::try_from(&ours).expect("pasetors parses ours");
        let theirs_reads =
            PublicToken::verify(&their_pk, &untrusted, Some(b"{\"kid\":\"x\"}"), None)
                .expect("pasetors verifies ours");
        assert_eq!(theirs_reads.payload(), "{\"a\":1}");

        let theirs = PublicToken::sign(&their_sk, b"{\"b\":2}", Some(b"f"), Some(b"ia"))
            .expect("pasetors signs");
        let ours_reads = decode(&theirs).and_then(|u| u.verify(&sk.verifying_key(), b"ia"));
        assert_eq!(ours_reads, Ok(b"{\"b\":2}".to_vec()));
        let wrong_implicit = decode(&theirs).and_then(|u| u.verify(&sk.verifying_key(), b""));
        assert_eq!(wrong_implicit, Err(PasetoError::BadSignature));
    }

    #[test]
    fn weak_keys_and_malleated_signatures_are_refused() {
        let token = |message: &[u8], sig: &[u8; 64]| {
            let mut body = message.to_vec();
            body.extend_from_slice(sig);
            format!("{HEADER}{}", URL_SAFE_NO_PAD.encode(body))
        };
        // The identity point is a small-order key: under it, R = identity and S = 0 "sign"
        // every message in cofactorless verification.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).expect("decodes");
        assert!(weak.is_weak());
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&identity);
        let t = token(b"{\"sub\":\"admin\"}", &forged);
        assert_eq!(
            decode(&t).and_then(|u| u.verify(&weak, b"")),
            Err(PasetoError::BadSignature)
        );

        // S + L (the group order) is the same scalar, not canonical: refused.
        let sk = SigningKey::from_bytes(&[5u8; 32]);
        let good = sign(&sk, b"{}", b"", b"");
        let body = decode(&good).expect("decode").body;
        let mut sig: [u8; 64] = body[body.len() - 64..].try_into().expect("64 bytes");
        let order: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(sig[32 + i]) + u16::from(order[i]) + carry;
            sig[32 + i] = sum.to_le_bytes()[0];
            carry = sum >> 8;
        }
        assert_eq!(carry, 0, "S + L fits in 32 bytes");
        assert_eq!(
            decode(&token(b"{}", &sig)).and_then(|u| u.verify(&sk.verifying_key(), b"")),
            Err(PasetoError::BadSignature)
        );
        assert!(decode(&good)
            .and_then(|u| u.verify(&sk.verifying_key(), b""))
            .is_ok());
    }

    #[test]
    fn malformed_tokens_are_refused_without_panicking() {
        let sk = SigningKey::from_bytes(&[5u8; 32]);
        let good = sign(&sk, b"{}", b"", b"");
        assert!(decode(&good).is_ok());
        for bad in [
            String::new(),
            "v4.public.".into(),
            "v4.local.AAAA".into(),
            "v4.public.AAAA".into(),
            format!("{good}."),
            format!("{good}.AA.AA"),
            format!("{good}=="),
            good.replace("v4", "v3"),
            "v4.public.".to_string() + &"A".repeat(MAX_TOKEN_LEN),
        ] {
            assert_eq!(
                decode(&bad).err(),
                Some(PasetoError::Malformed),
                "{bad:.40}"
            );
        }
        let mut tampered = good.into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        let r = decode(&tampered).and_then(|u| u.verify(&sk.verifying_key(), b""));
        assert!(r.is_err());
    }
}
