//! PKCE (RFC 7636), method `S256` only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::OAuthError;

/// The only code challenge method accepted.
pub const S256: &str = "S256";

/// Whether `s` is 43-128 characters of `[A-Z a-z 0-9 - . _ ~]` (RFC 7636 §4.1 and §4.2).
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of `verifier`: base64url(SHA-256(verifier)) without padding.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks the challenge parameters of an authorization request: the method must be `S256`
/// (RFC 7636 §4.3 makes an absent method mean `plain`, which is refused) and the challenge
/// must be a base64url SHA-256 (43 characters).
pub fn check_challenge(challenge: &str, method: Option<&str>) -> Result<(), OAuthError> {
    if method != Some(S256) {
        return Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        ));
    }
    if challenge.len() != 43 || !is_pkce_string(challenge) {
        return Err(OAuthError::invalid_request("code_challenge is malformed"));
    }
    Ok(())
}

/// Checks a token request's `code_verifier` against the stored challenge (RFC 7636 §4.6):
/// a mismatch is `invalid_grant`; a malformed verifier `invalid_request`.
pub fn verify(verifier: &str, challenge: &str) -> Result<(), OAuthError> {
    if !is_pkce_string(verifier) {
        return Err(OAuthError::invalid_request("code_verifier is malformed"));
    }
    let computed = s256_challenge(verifier);
    if bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "code_verifier does not match the code challenge",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::OAuthErrorCode;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    /// RFC 7636 Appendix B (checked against `openssl dgst -sha256 -binary | base64url`).
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b_vector() {
        assert_eq!(s256_challenge(VERIFIER), CHALLENGE);
        assert_eq!(verify(VERIFIER, CHALLENGE), Ok(()));
        assert_eq!(check_challenge(CHALLENGE, Some("S256")), Ok(()));
    }

    #[test]
    fn wrong_or_malformed_verifiers_fail() {
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert_eq!(
            verify(wrong, CHALLENGE).map_err(|e| e.code),
            Err(OAuthErrorCode::InvalidGrant)
        );
        assert_eq!(
            verify("short", CHALLENGE).map_err(|e| e.code),
            Err(OAuthErrorCode::InvalidRequest)
        );
        assert!(verify(&"a".repeat(129), CHALLENGE).is_err());
        assert!(verify(&format!("{}+", &VERIFIER[..42]), CHALLENGE).is_err());
    }

    #[test]
    fn only_s256_challenges_are_accepted() {
        assert!(
            check_challenge(CHALLENGE, None).is_err(),
            "absent method means plain"
        );
        assert!(check_challenge(CHALLENGE, Some("plain")).is_err());
        assert!(check_challenge(CHALLENGE, Some("s256")).is_err());
        assert!(check_challenge("abc", Some("S256")).is_err());
        // 44 characters cannot be an unpadded base64url SHA-256.
        assert!(
            check_challenge("E9Melhoa2OwvFrEMTJguCHaoeUAt8rRvx7qQ1oEq1aJI", Some("S256")).is_err()
        );
        assert!(check_challenge(VERIFIER, Some("S256")).is_ok());
    }
}
