//! Client authentication methods (`token_endpoint_auth_method`) and `private_key_jwt`
//! (RFC 7523 §2.2, OpenID Connect Core §9): a client's registered public keys (an inline
//! RFC 7517 JWK set), the signature check of a client assertion (an input to the decision),
//! and the pure judgement of its claims.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::jose::JwsAlg;
use crate::store::{Record, RecordKind};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE_JWT: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest client assertion accepted; longer input is refused unread.
pub(crate) const MAX_ASSERTION_LEN: usize = 8 * 1024;
/// Furthest in the future an assertion's `exp` may lie (plus a minute of clock skew): an
/// hour, what common client libraries sign by default (Authlib), and what the used-`jti`
/// records are kept for at most.
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);
/// Clock skew allowed for an assertion's `nbf` and `iat`.
const SKEW: Duration = Duration::from_secs(60);
/// Longest `jti` accepted.
const MAX_JTI_LEN: usize = 256;
/// Most keys a client may register.
const MAX_KEYS: usize = 10;
/// Longest `kid` accepted.
const MAX_KID_LEN: usize = 128;
/// RSA moduli accepted, in bytes (2048 to 8192 bits, as the verifier allows).
const RSA_MODULUS_BYTES: std::ops::RangeInclusive<usize> = 256..=1024;
/// JWK members that hold private key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 9] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "r"];

/// How a client authenticates at the token, revocation, introspection and device endpoints
/// (OpenID Connect Core §9; RFC 7591 §2).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// The secret in HTTP Basic credentials (the default for confidential clients).
    ClientSecretBasic,
    /// The secret in the form's `client_secret`.
    ClientSecretPost,
    /// A JWT signed with one of the client's registered keys (RFC 7523 §2.2).
    PrivateKeyJwt,
    /// No authentication: a public client.
    None,
}

impl TokenEndpointAuthMethod {
    /// Every method, in the order discovery lists them.
    pub const ALL: [TokenEndpointAuthMethod; 4] = [
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::ClientSecretPost,
        TokenEndpointAuthMethod::PrivateKeyJwt,
        TokenEndpointAuthMethod::None,
    ];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
            TokenEndpointAuthMethod::None => "none",
        }
    }

    /// Parses a registered name.
    pub fn parse(name: &str) -> Option<Self> {
        TokenEndpointAuthMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == name)
    }

    /// Whether the method proves possession of a client secret.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost
        )
    }
}

/// One public key of a client (RFC 7517 §4): RSA, EC P-256 or OKP Ed25519, public members only.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientJwk {
    /// `kty`: `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// `kid`, matched against an assertion's header `kid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// `alg`, if the key is restricted to one algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// `use` (`sig` if present).
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// `crv` (EC and OKP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// `x` (EC and OKP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// `y` (EC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// `n` (RSA modulus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// `e` (RSA exponent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A client's registered public keys: an RFC 7517 JWK set (`{"keys": [...]}`).
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientJwks {
    /// The keys.
    pub keys: Vec<ClientJwk>,
}

impl ClientJwks {
    /// Reads a JWK set as a client registers it. Refused: anything but an object with a
    /// `keys` array of objects, a key with private members (`d`, `p`, `q`, ...), more than
    /// 10 keys, and (checked again at registration) a set without a usable signing key.
    pub fn from_json(value: &Value) -> Result<Self, &'static str> {
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("jwks must be a JWK set object with a \"keys\" array")?;
        if keys.len() > MAX_KEYS {
            return Err("jwks holds more than 10 keys");
        }
        let keys = keys
            .iter()
            .map(|k| {
                let obj = k.as_object().ok_or("a JWK must be an object")?;
                if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
                    return Err("jwks must hold public keys only (no d, p, q, ... members)");
                }
                serde_json::from_value(k.clone()).map_err(|_| "a JWK has a malformed member")
            })
            .collect::<Result<Vec<ClientJwk>, _>>()?;
        let jwks = ClientJwks { keys };
        jwks.check()?;
        Ok(jwks)
    }

    /// Checks the set: at most 10 keys, bounded members, and at least one usable signing key.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.keys.len() > MAX_KEYS {
            return Err("jwks holds more than 10 keys");
        }
        if self
            .keys
            .iter()
            .any(|k| k.kid.as_ref().is_some_and(|kid| kid.len() > MAX_KID_LEN))
        {
            return Err("a JWK kid is longer than 128 characters");
        }
        if !self.keys.iter().any(|k| k.usable().is_some()) {
            return Err(
                "jwks needs at least one usable signing key (RSA 2048+, EC P-256 or Ed25519)",
            );
        }
        Ok(())
    }
}

impl ClientJwk {
    /// The algorithm this key verifies and its decoding key, when it is a usable signing key.
    fn usable(&self) -> Option<(JwsAlg, DecodingKey)> {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let b64_len = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
                .map(|b| b.len())
        };
        let (alg, key) = match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => {
                let n = self.n.as_deref()?;
                let e = self.e.as_deref()?;
                let modulus = b64_len(&self.n)?;
                if !RSA_MODULUS_BYTES.contains(&modulus) || b64_len(&self.e)? > 8 {
                    return None;
                }
                (JwsAlg::Rs256, DecodingKey::from_rsa_components(n, e).ok()?)
            }
            ("EC", Some("P-256")) => {
                if b64_len(&self.x)? != 32 || b64_len(&self.y)? != 32 {
                    return None;
                }
                let key = DecodingKey::from_ec_components(self.x.as_deref()?, self.y.as_deref()?);
                (JwsAlg::Es256, key.ok()?)
            }
            ("OKP", Some("Ed25519")) => {
                if b64_len(&self.x)? != 32 {
                    return None;
                }
                let key = DecodingKey::from_ed_components(self.x.as_deref()?).ok()?;
                (JwsAlg::EdDsa, key)
            }
            _ => return None,
        };
        match self.alg.as_deref() {
            Some(a) if a != alg.as_str() => None,
            _ => Some((alg, key)),
        }
    }
}

/// The claims of a client assertion whose signature verified.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct AssertionClaims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub jti: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// The `sub` (else `iss`) of an assertion, read without verifying it: only to find the client
/// whose keys then verify it.
pub(crate) fn unverified_subject(assertion: &str) -> Option<String> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return None;
    }
    let mut parts = assertion.split('.');
    let (_, payload) = (parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("sub")
        .or_else(|| claims.get("iss"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Verifies the signature of `assertion` with a key of `jwks` (the header's `kid` when it
/// names one, else every key of the header's algorithm) and returns its claims. `None` for
/// anything that does not verify: a malformed or oversized JWT, an algorithm other than
/// RS256, ES256 or EdDSA (`none` and HMAC included), an unknown key, a bad signature.
/// The claims themselves are judged by [`judge_assertion`].
pub(crate) fn verify_assertion(jwks: &ClientJwks, assertion: &str) -> Option<AssertionClaims> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return None;
    }
    let header = jsonwebtoken::decode_header(assertion).ok()?;
    let (alg, jwt_alg) = match header.alg {
        Algorithm::RS256 => (JwsAlg::Rs256, Algorithm::RS256),
        Algorithm::ES256 => (JwsAlg::Es256, Algorithm::ES256),
        Algorithm::EdDSA => (JwsAlg::EdDsa, Algorithm::EdDSA),
        _ => return None,
    };
    let mut validation = Validation::new(jwt_alg);
    // The claims are judged against the iam clock, not here.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    jwks.keys
        .iter()
        .filter(|k| header.kid.is_none() || k.kid == header.kid)
        .filter_map(ClientJwk::usable)
        .filter(|(a, _)| *a == alg)
        .find_map(|(_, key)| {
            jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
                .ok()
                .map(|d| d.claims)
        })
}

/// What the decision needs to judge an assertion whose signature verified.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AssertionContext<'a> {
    /// The client the assertion authenticates.
    pub client_id: &'a str,
    /// Audiences that identify this server (the issuer and the token endpoint URL).
    pub audiences: &'a [String],
    /// Now.
    pub now: Timestamp,
}

/// Judges the claims of a verified assertion (RFC 7523 §3): `iss` and `sub` are the client,
/// `aud` names this server, `exp` is present, not past and at most
/// [`MAX_ASSERTION_LIFETIME`] (and a minute) ahead, `nbf` and `iat` are not in the future (with a minute of
/// skew), and `jti` is present and bounded. Replay is judged separately, by the store.
pub(crate) fn judge_assertion(claims: &AssertionClaims, ctx: AssertionContext<'_>) -> bool {
    let now = ctx.now.as_secs();
    let latest = ctx.now.plus(MAX_ASSERTION_LIFETIME).plus(SKEW).as_secs();
    let skewed = ctx.now.plus(SKEW).as_secs();
    claims.iss.as_deref() == Some(ctx.client_id)
        && claims.sub.as_deref() == Some(ctx.client_id)
        && claims.aud.iter().any(|a| ctx.audiences.contains(a))
        && claims.exp.is_some_and(|exp| exp > now && exp <= latest)
        && claims.nbf.is_none_or(|t| t <= skewed)
        && claims.iat.is_none_or(|t| t <= skewed)
        && claims
            .jti
            .as_deref()
            .is_some_and(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
}

/// The id of the record that marks `jti` of `client_id` used: SHA-256 of both, base64url.
pub(crate) fn assertion_record_id(client_id: &str, jti: &str) -> String {
    let mut h = Sha256::new();
    h.update(client_id.as_bytes());
    h.update([0]);
    h.update(jti.as_bytes());
    // The digest, base64url: 43 characters, safe in any store key.
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// The stored mark that an assertion was used, kept until it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UsedAssertion {
    pub client_id: String,
    pub used_at: Timestamp,
}

/// The record that spends assertion `jti` of `client_id` (expiring at `exp`): inserted in the
/// commit of the operation the assertion authenticated, so a replay conflicts.
pub(crate) fn used_assertion_record(
    client_id: &str,
    jti: &str,
    exp: Timestamp,
    now: Timestamp,
) -> crate::error::Result<Record> {
    let body = UsedAssertion {
        client_id: client_id.to_owned(),
        used_at: now,
    };
    Ok(Record {
        kind: RecordKind::ClientAssertion,
        id: assertion_record_id(client_id, jti),
        version: 0,
        parent: Some(client_id.to_owned()),
        lookup: None,
        expires_at: Some(exp),
        body: crate::record_body::to_body(&body)?,
    })
}
