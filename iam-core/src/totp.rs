//! Time-based one-time passwords (RFC 6238): six digits, 30-second steps, SHA-1 (what
//! authenticator apps expect), one step of skew either way, and each step usable once.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::error::{Error, InvalidInput};
use crate::secret::SecretString;

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Steps of clock skew accepted before and after the current one.
pub const SKEW_STEPS: u64 = 1;
/// Secret length in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

/// What TOTP enrolment returns to the account holder, once.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// The shared secret in base32, for typing into an authenticator.
    pub secret_base32: SecretString,
    /// The `otpauth://totp/...` URI (for a QR code); it contains the secret.
    pub uri: SecretString,
}

/// An account's TOTP state as stored (the secret only sealed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TotpState {
    /// The secret, sealed with the server key and bound to the account id.
    pub sealed_secret: String,
    /// Whether a first code confirmed the enrolment (only then is TOTP required at login).
    pub confirmed: bool,
    /// The last time step accepted, so no step is accepted twice.
    pub last_step: Option<u64>,
}

fn generator(
    algorithm: Algorithm,
    digits: usize,
    secret: &[u8],
    issuer: Option<&str>,
    account: &str,
) -> TOTP {
    TOTP::new_unchecked(
        algorithm,
        digits,
        0,
        STEP_SECONDS,
        secret.to_vec(),
        issuer.map(str::to_owned),
        account.to_owned(),
    )
}

/// The code for `secret` at Unix time `unix_secs` (any algorithm and length; used for test vectors).
pub fn code_at(algorithm: Algorithm, digits: usize, secret: &[u8], unix_secs: u64) -> String {
    generator(algorithm, digits, secret, None, "").generate(unix_secs)
}

/// Builds the enrolment (base32 secret and otpauth URI) for `secret`.
pub(crate) fn enrolment(
    secret: &[u8],
    issuer: &str,
    username: &str,
) -> Result<TotpEnrolment, Error> {
    if issuer.contains(':') {
        return Err(InvalidInput::Config("the TOTP issuer must not contain ':'").into());
    }
    let t = generator(Algorithm::SHA1, DIGITS, secret, Some(issuer), username);
    Ok(TotpEnrolment {
        secret_base32: SecretString::new(t.get_secret_base32()),
        uri: SecretString::new(t.get_url()),
    })
}

/// Checks the shape of a code: exactly six ASCII digits.
pub(crate) fn check_format(code: &str) -> Result<(), InvalidInput> {
    if code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(InvalidInput::TotpCodeFormat)
    }
}

/// The time step `code` is valid for, within the skew window around `now_secs` and strictly
/// after `last_step` (the replay guard); `None` if there is no such step.
pub(crate) fn matching_step(
    secret: &[u8],
    code: &str,
    now_secs: u64,
    last_step: Option<u64>,
) -> Option<u64> {
    if check_format(code).is_err() {
        return None;
    }
    let t = generator(Algorithm::SHA1, DIGITS, secret, None, "");
    let current = now_secs / STEP_SECONDS;
    let mut found = None;
    // Check every step in the window (no early exit) so timing does not depend on which matched.
    for step in current.saturating_sub(SKEW_STEPS)..=current + SKEW_STEPS {
        let expected = t.generate(step * STEP_SECONDS);
        let fresh = last_step.is_none_or(|last| step > last);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && fresh && found.is_none() {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: seeds are ASCII "1234567890" repeated to the hash's block size.
    #[test]
    fn rfc6238_appendix_b_vectors() {
        let sha1 = b"12345678901234567890".to_vec();
        let sha256 = b"12345678901234567890123456789012".to_vec();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1_111_111_109, "07081804", "68084774", "25091201"),
            (1_111_111_111, "14050471", "67062674", "99943326"),
            (1_234_567_890, "89005924", "91819424", "93441116"),
            (2_000_000_000, "69279037", "90698825", "38618901"),
            (20_000_000_000, "65353130", "77737706", "47863826"),
        ];
        for (t, c1, c256, c512) in table {
            assert_eq!(code_at(Algorithm::SHA1, 8, &sha1, t), c1, "SHA1 at {t}");
            assert_eq!(
                code_at(Algorithm::SHA256, 8, &sha256, t),
                c256,
                "SHA256 at {t}"
            );
            assert_eq!(
                code_at(Algorithm::SHA512, 8, &sha512, t),
                c512,
                "SHA512 at {t}"
            );
        }
    }

    #[test]
    fn window_and_replay_guard() {
        let secret = [7u8; SECRET_BYTES];
        let now = 1_700_000_000;
        let step = now / STEP_SECONDS;
        let code_now = code_at(Algorithm::SHA1, 6, &secret, now);
        assert_eq!(matching_step(&secret, &code_now, now, None), Some(step));
        assert_eq!(
            matching_step(&secret, &code_now, now, Some(step)),
            None,
            "same step twice"
        );
        let prev = code_at(Algorithm::SHA1, 6, &secret, now - 30);
        assert_eq!(matching_step(&secret, &prev, now, None), Some(step - 1));
        assert_eq!(
            matching_step(&secret, &prev, now, Some(step)),
            None,
            "older than last used"
        );
        let old = code_at(Algorithm::SHA1, 6, &secret, now - 60);
        assert_eq!(
            matching_step(&secret, &old, now, None),
            None,
            "outside the window"
        );
        let next = code_at(Algorithm::SHA1, 6, &secret, now + 30);
        assert_eq!(matching_step(&secret, &next, now, None), Some(step + 1));
        assert_eq!(matching_step(&secret, "12345", now, None), None);
        assert_eq!(matching_step(&secret, "abcdef", now, None), None);
    }

    #[test]
    fn enrolment_uri_is_an_authenticator_uri() {
        let e = enrolment(&[1u8; SECRET_BYTES], "iam", "alice").expect("enrolment");
        let uri = e.uri.expose();
        assert!(uri.starts_with("otpauth://totp/iam:alice?secret="), "{uri}");
        assert!(uri.contains(e.secret_base32.expose()));
        assert!(enrolment(&[1u8; SECRET_BYTES], "bad:issuer", "alice").is_err());
        // An authenticator reading the URI produces codes we accept.
        let parsed = TOTP::from_url(uri).expect("parse");
        let code = parsed.generate(1_700_000_000);
        assert!(matching_step(&[1u8; SECRET_BYTES], &code, 1_700_000_000, None).is_some());
    }
}
