//! Chain hashes as lowercase hex, the form exports and checkpoints carry.

use serde::{Deserialize, Deserializer, Serializer};

use super::ChainHash;

/// `hash` as 64 lowercase hex digits.
pub(crate) fn encode(hash: &ChainHash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in hash {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses exactly 64 lowercase hex digits (one spelling per hash, so nothing can hide in case).
pub(crate) fn decode(text: &str) -> Option<ChainHash> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

/// `#[serde(with = "hex")]` for a [`ChainHash`] field.
pub(crate) fn serialize<S: Serializer>(hash: &ChainHash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode(hash))
}

/// `#[serde(with = "hex")]` for a [`ChainHash`] field.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ChainHash, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    decode(&text).ok_or_else(|| serde::de::Error::custom("expected 64 lowercase hex digits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_and_other_spellings_are_refused() {
        let mut h = [0u8; 32];
        for (i, b) in h.iter_mut().enumerate() {
            *b = u8::try_from(i * 8).unwrap_or(0);
        }
        let text = encode(&h);
        assert_eq!(text.len(), 64);
        assert!(text.starts_with("0008101820"));
        assert_eq!(decode(&text), Some(h));
        assert_eq!(decode(&text.to_uppercase()), None);
        assert_eq!(decode(&text[..62]), None);
        assert_eq!(decode(&format!("{}zz", &text[..62])), None);
    }
}
