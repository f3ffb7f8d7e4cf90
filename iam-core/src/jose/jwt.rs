//! JWS compact serialization (RFC 7515 §7.1) of JWTs signed and verified with the JOSE ring.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::keys::{JoseRing, Signer};
use super::JwsAlg;
use crate::error::Error;

/// Longest JWT accepted for verification; longer input is refused undecoded.
pub(crate) const MAX_JWT_LEN: usize = 32 * 1024;

/// Why a JWT presented as one of iam's own was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtRefusal {
    /// Not a compact JWS with a JSON object header and payload (or too long, or with `crit`).
    #[error("malformed JWT")]
    Malformed,
    /// The header's `alg` is not one iam signs with (`none` and HMAC included).
    #[error("unsupported JWT algorithm")]
    UnsupportedAlg,
    /// The `kid` is missing, not one of iam's keys, or names a key of another algorithm.
    #[error("unknown JWT signing key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad JWT signature")]
    BadSignature,
    /// The `iss` claim is missing or not iam's issuer.
    #[error("JWT from another issuer")]
    WrongIssuer,
    /// The header's `typ` is not the one expected (an ID token presented as an access
    /// token, say).
    #[error("JWT of another type")]
    WrongType,
}

/// Signs `claims` (a JSON object) as a JWS with header `{"alg","kid","typ"}`.
pub(crate) fn sign(
    signer: &Signer,
    alg: JwsAlg,
    typ: &str,
    claims: &Value,
) -> Result<String, Error> {
    if !claims.is_object() {
        return Err(Error::Crypto("JWT claims must be a JSON object"));
    }
    let header = serde_json::json!({ "alg": alg.as_str(), "kid": signer.kid, "typ": typ });
    let encode = |v: &Value| {
        serde_json::to_vec(v)
            .map(|b| URL_SAFE_NO_PAD.encode(b))
            .map_err(|_| Error::Crypto("JWT encoding failed"))
    };
    let mut token = encode(&header)?;
    token.push('.');
    token.push_str(&encode(claims)?);
    let sig = signer.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(token)
}

fn json_object(part: &str) -> Result<Map<String, Value>, JwtRefusal> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtRefusal::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtRefusal::Malformed)
}

/// Verifies a JWT signed by a key of `ring` and issued by `issuer`, with header `typ` equal to
/// `typ` when that is given; returns its claims. Neither `exp` nor `aud` is checked.
pub(crate) fn verify(
    ring: &JoseRing,
    token: &str,
    issuer: &str,
    typ: Option<&str>,
) -> Result<Map<String, Value>, JwtRefusal> {
    if token.len() > MAX_JWT_LEN {
        return Err(JwtRefusal::Malformed);
    }
    let (signed, sig) = token.rsplit_once('.').ok_or(JwtRefusal::Malformed)?;
    let (header, payload) = signed.split_once('.').ok_or(JwtRefusal::Malformed)?;
    if payload.contains('.') {
        return Err(JwtRefusal::Malformed);
    }
    let header = json_object(header)?;
    // No extension is understood, so any critical one refuses the token (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(JwtRefusal::Malformed);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(JwsAlg::parse)
        .ok_or(JwtRefusal::UnsupportedAlg)?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(JwtRefusal::UnknownKey)?;
    let (key_alg, key) = ring.verifier(kid).ok_or(JwtRefusal::UnknownKey)?;
    if *key_alg != alg {
        return Err(JwtRefusal::UnknownKey);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| JwtRefusal::Malformed)?;
    if !key.verify(signed.as_bytes(), &sig) {
        return Err(JwtRefusal::BadSignature);
    }
    if typ.is_some_and(|t| header.get("typ").and_then(Value::as_str) != Some(t)) {
        return Err(JwtRefusal::WrongType);
    }
    let claims = json_object(payload)?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(JwtRefusal::WrongIssuer);
    }
    Ok(claims)
}
