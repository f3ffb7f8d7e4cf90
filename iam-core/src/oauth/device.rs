//! The device authorization grant (RFC 8628): user codes and the polling decision.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::{OAuthError, OAuthErrorCode};
use crate::clock::Timestamp;
use crate::random::SecureRandom;

/// The user-code alphabet: 20 consonants with no vowels (so no words form) and none easily
/// confused, as RFC 8628 §6.1 suggests.
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code (about 34.6 bits).
pub const USER_CODE_LEN: usize = 8;
/// Seconds a client must add to its polling interval after `slow_down` (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP_SECS: u64 = 5;

/// A fresh user code in normalized form (8 characters, no separator), uniformly drawn.
pub(crate) fn new_user_code(rng: &SecureRandom) -> String {
    let mut out = String::with_capacity(USER_CODE_LEN);
    while out.len() < USER_CODE_LEN {
        for b in rng.bytes::<16>() {
            // 240 = 12 * 20: reject the top bytes so every letter is equally likely.
            if b < 240 && out.len() < USER_CODE_LEN {
                out.push(char::from(USER_CODE_ALPHABET[usize::from(b % 20)]));
            }
        }
    }
    out
}

/// A normalized user code as shown to people: `XXXX-XXXX`.
pub fn format_user_code(code: &str) -> String {
    if code.len() == USER_CODE_LEN && code.is_ascii() {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code.to_owned()
    }
}

/// What a person typed, normalized: case folded, dashes and spaces dropped; `None` when it
/// cannot be a user code.
pub fn normalize_user_code(input: &str) -> Option<String> {
    if input.len() > 32 {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// Who approved a device authorization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeviceApproval {
    pub account_id: String,
    pub session_id: String,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
}

/// Where a device authorization stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub(crate) enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// The user approved; the next poll gets tokens.
    Approved(DeviceApproval),
    /// The user denied.
    Denied,
    /// Tokens were issued (the code is spent).
    Issued { family_id: String },
}

/// A device authorization as stored (record id: keyed hash of the device code; lookup: the
/// normalized user code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredDevice {
    pub client_id: String,
    pub user_code: String,
    pub scopes: BTreeSet<String>,
    pub resources: BTreeSet<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The polling interval now in force, in seconds.
    pub interval_secs: u64,
    pub last_poll: Option<Timestamp>,
    pub status: DeviceStatus,
}

/// What a poll of the token endpoint concludes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Poll {
    /// Keep polling: `authorization_pending` or `slow_down`; the updated record must be saved.
    Wait(OAuthError),
    /// A final refusal (`access_denied`, `expired_token`, or `invalid_grant` for a spent code).
    Refuse(OAuthError),
    /// Approved: issue tokens.
    Issue(DeviceApproval),
}

/// Decides a poll at `now`, recording it in `device` (last poll time, and the interval grown
/// by 5 s when the client polled faster than the interval in force).
pub(crate) fn decide_poll(device: &mut StoredDevice, now: Timestamp) -> Poll {
    if now >= device.expires_at {
        return Poll::Refuse(OAuthError::code(OAuthErrorCode::ExpiredToken));
    }
    match &device.status {
        DeviceStatus::Denied => Poll::Refuse(OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "the user denied the authorization",
        )),
        DeviceStatus::Issued { .. } => Poll::Refuse(OAuthError::invalid_grant(
            "the device code was already used",
        )),
        DeviceStatus::Approved(a) => Poll::Issue(a.clone()),
        DeviceStatus::Pending => {
            let interval = std::time::Duration::from_secs(device.interval_secs);
            let too_fast = device.last_poll.is_some_and(|t| now < t.plus(interval));
            device.last_poll = Some(now);
            if too_fast {
                device.interval_secs = device.interval_secs.saturating_add(SLOW_DOWN_STEP_SECS);
                Poll::Wait(OAuthError::code(OAuthErrorCode::SlowDown))
            } else {
                Poll::Wait(OAuthError::code(OAuthErrorCode::AuthorizationPending))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_alphabet_and_normalize() {
        let rng = SecureRandom::from_seed([5; 32]);
        let code = new_user_code(&rng);
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
        let shown = format_user_code(&code);
        assert_eq!(shown.len(), 9);
        assert_eq!(&shown[4..5], "-");
        assert_eq!(
            normalize_user_code(&shown.to_lowercase()),
            Some(code.clone())
        );
        assert_eq!(normalize_user_code(&format!(" {code} ")), Some(code));
        assert_eq!(
            normalize_user_code("BCDF-GHJA"),
            None,
            "vowels are not in the alphabet"
        );
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
        assert_eq!(normalize_user_code(&"B".repeat(100)), None);
        assert_ne!(new_user_code(&rng), new_user_code(&rng));
    }

    fn device() -> StoredDevice {
        StoredDevice {
            client_id: "cli_1".into(),
            user_code: "BCDFGHJK".into(),
            scopes: BTreeSet::new(),
            resources: BTreeSet::new(),
            created_at: Timestamp::from_secs(0),
            expires_at: Timestamp::from_secs(600),
            interval_secs: 5,
            last_poll: None,
            status: DeviceStatus::Pending,
        }
    }

    fn code(p: &Poll) -> Option<OAuthErrorCode> {
        match p {
            Poll::Wait(e) | Poll::Refuse(e) => Some(e.code),
            Poll::Issue(_) => None,
        }
    }

    #[test]
    fn polling_answers() {
        let mut d = device();
        let at = Timestamp::from_secs;
        assert_eq!(
            code(&decide_poll(&mut d, at(1))),
            Some(OAuthErrorCode::AuthorizationPending)
        );
        assert_eq!(
            code(&decide_poll(&mut d, at(3))),
            Some(OAuthErrorCode::SlowDown)
        );
        assert_eq!(d.interval_secs, 10);
        assert_eq!(
            code(&decide_poll(&mut d, at(8))),
            Some(OAuthErrorCode::SlowDown),
            "now 10 s apart"
        );
        assert_eq!(d.interval_secs, 15);
        assert_eq!(
            code(&decide_poll(&mut d, at(23))),
            Some(OAuthErrorCode::AuthorizationPending)
        );
        d.status = DeviceStatus::Denied;
        assert_eq!(
            code(&decide_poll(&mut d, at(40))),
            Some(OAuthErrorCode::AccessDenied)
        );
        d.status = DeviceStatus::Issued {
            family_id: "f".into(),
        };
        assert_eq!(
            code(&decide_poll(&mut d, at(40))),
            Some(OAuthErrorCode::InvalidGrant)
        );
        assert_eq!(
            code(&decide_poll(&mut d, at(600))),
            Some(OAuthErrorCode::ExpiredToken)
        );
    }
}
