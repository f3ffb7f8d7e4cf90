//! Secret values and the keyed primitives over them: redacted strings, the master key,
//! keyed hashing of iam-generated tokens and authenticated sealing of data iam must read back.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, InvalidInput};
use crate::random::SecureRandom;

mod key_file;

pub use key_file::MasterKeyError;

/// A secret string (password, token, TOTP secret): zeroized on drop, never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret text. Call only where the secret must be used or shown to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with `other` in constant time (for equal lengths).
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString(s.to_owned())
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString(s)
    }
}

/// The 256-bit master key from configuration. Every other server key is derived from it;
/// it is never stored.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    /// A fresh random key.
    pub fn generate(rng: &SecureRandom) -> Self {
        MasterKey(rng.bytes())
    }

    /// Parses 32 bytes in base64url (as [`MasterKey::to_base64`] writes).
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        MasterKey::parse(text).map_err(|reason| InvalidInput::Config(reason).into())
    }

    /// Parses 32 bytes in base64url (surrounding whitespace ignored), or says what is wrong.
    fn parse(text: &str) -> Result<Self, &'static str> {
        let bytes = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| "master key is not base64url")?,
        );
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| "master key must be 32 bytes")?;
        Ok(MasterKey(arr))
    }

    /// The key as base64url, for writing a configuration file.
    pub fn to_base64(&self) -> SecretString {
        SecretString(URL_SAFE_NO_PAD.encode(self.0))
    }

    /// A purpose-bound subkey: HMAC-SHA-256(master, purpose).
    fn derive(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(hmac_sha256(&self.0, purpose.as_bytes()))
    }

    /// The hasher for iam-generated tokens.
    pub(crate) fn token_hasher(&self) -> TokenHasher {
        TokenHasher(*self.derive("iam/token-hash/v1"))
    }

    /// The sealer for data iam stores encrypted.
    pub(crate) fn sealer(&self) -> Sealer {
        Sealer(*self.derive("iam/seal/v1"))
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Keyed hash (HMAC-SHA-256) of high-entropy tokens iam generates; only the hash is stored.
///
/// Tokens carry 256 random bits, so a slow hash would add nothing; the key means a stolen
/// database alone does not even allow offline guessing.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TokenHasher([u8; 32]);

impl TokenHasher {
    /// The lowercase hex hash of `token`, used as its storage id.
    pub fn hash(&self, token: &str) -> String {
        let digest = hmac_sha256(&self.0, token.as_bytes());
        let mut out = String::with_capacity(64);
        for b in digest {
            use std::fmt::Write as _;
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

/// Authenticated encryption (XChaCha20-Poly1305) of data iam must read back (signing keys,
/// TOTP secrets). `aad` binds a ciphertext to its purpose and owner, so it cannot be moved.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Sealer([u8; 32]);

impl Sealer {
    /// Encrypts `plain` with a fresh random nonce; returns base64url(nonce ‖ ciphertext).
    pub fn seal(&self, rng: &SecureRandom, plain: &[u8], aad: &str) -> Result<String, Error> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let nonce: [u8; 24] = rng.bytes();
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Error::Crypto("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts what [`Sealer::seal`] wrote; fails if the key, `aad` or data differ.
    pub fn open(&self, sealed: &str, aad: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        let raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| Error::Crypto("sealed data is not base64url"))?;
        if raw.len() < 24 + 16 {
            return Err(Error::Crypto("sealed data is too short"));
        }
        let (nonce, ct) = raw.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Error::Crypto("sealed data does not open with the configured master key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = SecretString::new("hunter2-password");
        assert!(!format!("{s:?}").contains("hunter2"));
        let k = MasterKey::from_bytes([9; 32]);
        assert!(!format!("{k:?}").contains('9'));
        assert!(s.ct_eq("hunter2-password"));
        assert!(!s.ct_eq("hunter2-passwore"));
        assert!(!s.ct_eq("short"));
    }

    #[test]
    fn master_key_base64_round_trip_and_errors() {
        let k = MasterKey::from_bytes([1; 32]);
        let text = k.to_base64();
        let back = MasterKey::from_base64(text.expose()).map(|k| k.token_hasher().hash("x"));
        assert_eq!(back.ok(), Some(k.token_hasher().hash("x")));
        assert!(MasterKey::from_base64("AAAA").is_err());
        assert!(MasterKey::from_base64("not base64 !!").is_err());
    }

    #[test]
    fn token_hash_is_keyed() {
        let a = MasterKey::from_bytes([1; 32]).token_hasher();
        let b = MasterKey::from_bytes([2; 32]).token_hasher();
        assert_eq!(a.hash("t").len(), 64);
        assert_eq!(a.hash("t"), a.hash("t"));
        assert_ne!(a.hash("t"), b.hash("t"));
        assert_ne!(a.hash("t"), a.hash("u"));
    }

    #[test]
    fn sealing_uses_fresh_nonces_and_binds_aad_and_key() {
        let rng = SecureRandom::from_seed([3; 32]);
        let s = MasterKey::from_bytes([1; 32]).sealer();
        let one = s.seal(&rng, b"secret", "totp:acc_1").unwrap_or_default();
        let two = s.seal(&rng, b"secret", "totp:acc_1").unwrap_or_default();
        assert_ne!(one, two);
        assert_eq!(
            s.open(&one, "totp:acc_1").map(|p| p.to_vec()).ok(),
            Some(b"secret".to_vec())
        );
        assert!(s.open(&one, "totp:acc_2").is_err());
        let other = MasterKey::from_bytes([2; 32]).sealer();
        assert!(matches!(
            other.open(&one, "totp:acc_1"),
            Err(Error::Crypto(_))
        ));
        assert!(s.open("AAAA", "x").is_err());
        assert!(s.open("%%%", "x").is_err());
    }
}
