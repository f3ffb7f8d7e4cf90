//! ID tokens (OpenID Connect Core §2, §3.1.3.6): the claims, and `at_hash`.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

use super::claims::account_claims;
use crate::account::StoredAccount;
use crate::clock::Timestamp;
use crate::jose::JwsAlg;
use crate::token::Amr;

/// The JOSE header `typ` of ID tokens.
pub(crate) const ID_TOKEN_TYP: &str = "JWT";

/// The `acr` of a sign-in with one factor.
pub const ACR_SINGLE_FACTOR: &str = "urn:iam:acr:1fa";
/// The `acr` of a sign-in with two factors (password and one-time code).
pub const ACR_MULTI_FACTOR: &str = "urn:iam:acr:2fa";

/// The `acr` for a sign-in that used `amr`.
pub(crate) fn acr_for(amr: &[String]) -> &'static str {
    if Amr::Otp.in_list(amr) {
        ACR_MULTI_FACTOR
    } else {
        ACR_SINGLE_FACTOR
    }
}

/// An ID token to sign beside an access token: its algorithm and claims, all but `at_hash`
/// (which needs the signed access token).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IdTokenDraft {
    /// The client's `id_token_signed_response_alg`.
    pub alg: JwsAlg,
    /// The claims.
    pub claims: Map<String, Value>,
}

/// What an ID token says besides the account's claims.
#[derive(Clone, Debug)]
pub(crate) struct IdTokenFacts<'a> {
    /// The issuer.
    pub issuer: &'a str,
    /// The client (`aud` and `azp`).
    pub client_id: &'a str,
    /// The client's signing algorithm.
    pub alg: JwsAlg,
    /// When the user authenticated.
    pub auth_time: Timestamp,
    /// How.
    pub amr: &'a [String],
    /// The authorization request's `nonce` (absent on refresh).
    pub nonce: Option<&'a str>,
    /// The login session's id (`sid`, OpenID Connect Back-Channel Logout §2.1), when known.
    pub sid: Option<&'a str>,
    /// The scopes granted (they decide which account claims are released).
    pub scopes: &'a BTreeSet<String>,
    /// How long the ID token lives.
    pub ttl: Duration,
}

/// The ID token for `account` at `now`. The account's claims that the granted scopes
/// release go into the ID token too (as Keycloak and Dex do), so a relying party that reads
/// only the ID token sees the same consented claims as userinfo serves.
pub(crate) fn draft(account: &StoredAccount, f: &IdTokenFacts<'_>, now: Timestamp) -> IdTokenDraft {
    let mut claims = account_claims(account, f.scopes, None);
    let mut put = |name: &str, v: Value| {
        claims.insert(name.to_owned(), v);
    };
    put("iss", Value::from(f.issuer));
    put("aud", Value::from(f.client_id));
    put("azp", Value::from(f.client_id));
    put("iat", Value::from(now.as_secs()));
    put("exp", Value::from(now.plus(f.ttl).as_secs()));
    put("auth_time", Value::from(f.auth_time.as_secs()));
    put("acr", Value::from(acr_for(f.amr)));
    put("amr", Value::from(f.amr.to_vec()));
    if let Some(nonce) = f.nonce {
        put("nonce", Value::from(nonce));
    }
    if let Some(sid) = f.sid {
        put("sid", Value::from(sid));
    }
    IdTokenDraft { alg: f.alg, claims }
}

/// `at_hash` (OpenID Connect Core §3.1.3.6): the left half of the hash of the access token,
/// base64url; the hash is the one of the signing algorithm (SHA-512 for Ed25519).
pub(crate) fn at_hash(alg: JwsAlg, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        JwsAlg::Rs256 | JwsAlg::Es256 => Sha256::digest(access_token.as_bytes()).to_vec(),
        JwsAlg::EdDsa => Sha512::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of OpenID Connect Core §A.3 (RS256): access token and its at_hash.
    #[test]
    fn at_hash_matches_the_spec_example() {
        assert_eq!(
            at_hash(JwsAlg::Rs256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash(JwsAlg::EdDsa, "x").len(), 43);
    }

    #[test]
    fn acr_says_how_many_factors() {
        assert_eq!(acr_for(&["pwd".into()]), ACR_SINGLE_FACTOR);
        assert_eq!(acr_for(&["pwd".into(), "otp".into()]), ACR_MULTI_FACTOR);
    }
}
