//! Passkey rules as pure functions (see [`crate::plan`]): no store, no clock, no runtime.
//!
//! The `Iam` methods in `register` and `sign_in` load the records, ask webauthn-rs to make or
//! check a challenge, and hand what it found here; these functions decide and return the
//! [`Plan`] to commit. A finished ceremony is always deleted in the commit that records its
//! outcome, so it is used at most once even when two answers race.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{AuthenticationResult, Passkey, Uuid, WebauthnError};

use crate::account::{AccountKind, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::{Conflict, Denial, Error, InvalidInput, Result};
use crate::plan::Plan;
use crate::store::{Record, RecordKind, ThrottleWrite, Write};
use crate::token::rules::unchanged;
use crate::token::Amr;

use super::{Ceremony, PasskeyInfo, StoredPasskey};

/// Longest passkey label, in characters.
pub(crate) const LABEL_MAX: usize = 128;

/// The WebAuthn user handle of an account: 16 bytes derived from its id, so it is stable,
/// needs no storage and says nothing about the person.
pub(crate) fn user_handle(account_id: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(b"iam passkey user handle\0")
        .chain_update(account_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// A credential id as iam writes it (base64url, no padding).
pub(crate) fn credential_id(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// A passkey label, trimmed: 1-128 characters, no control characters.
pub(crate) fn validate_label(label: &str) -> Result<String, InvalidInput> {
    let label = label.trim();
    let count = label.chars().count();
    if count == 0 || count > LABEL_MAX || label.chars().any(char::is_control) {
        return Err(InvalidInput::Label("a passkey label"));
    }
    Ok(label.to_owned())
}

/// Whether `account` may hold passkeys: a person's account that is enabled.
pub(crate) fn may_hold_passkeys(account: &StoredAccount) -> Result<()> {
    if account.kind != AccountKind::Human {
        return Err(InvalidInput::AccountKind("only people's accounts hold passkeys").into());
    }
    if account.disabled {
        return Err(Denial::AccountDisabled.into());
    }
    Ok(())
}

/// The `amr` value of a passkey: `swk` for a key that may be synced or backed up, `hwk` for
/// one bound to its authenticator.
pub(crate) fn key_amr(passkey: &StoredPasskey) -> Amr {
    if passkey.info.backup_eligible {
        Amr::SoftwareKey
    } else {
        Amr::HardwareKey
    }
}

/// The `amr` of a passwordless sign-in or step-up with `passkey`: the key and user verification.
pub(crate) fn passwordless_amr(passkey: &StoredPasskey) -> Vec<String> {
    vec![key_amr(passkey).into(), Amr::User.into()]
}

/// The `amr` of a password followed by `passkey`.
pub(crate) fn second_factor_amr(passkey: &StoredPasskey) -> Vec<String> {
    vec![
        Amr::Password.into(),
        key_amr(passkey).into(),
        Amr::MultiFactor.into(),
    ]
}

/// Why webauthn-rs refused an answer, as the audit event's `reason` and the caller's denial.
pub(crate) fn failure(e: &WebauthnError) -> (&'static str, Denial) {
    use WebauthnError as W;
    let reason = match e {
        W::CredentialPossibleCompromise => {
            return ("counter_regressed", Denial::PasskeyCounterRegressed)
        }
        W::MismatchedChallenge => "challenge",
        W::InvalidRPOrigin => "origin",
        W::InvalidRPIDHash => "rp_id",
        W::UserNotVerified => "user_not_verified",
        W::UserNotPresent => "user_not_present",
        W::AuthenticationFailure => "signature",
        W::CredentialNotFound => "credential",
        W::CredentialBackupEligibilityInconsistent | W::CredentialMayNotBeHardwareBound => {
            "backup_flags"
        }
        W::InvalidClientDataType => "client_data_type",
        _ => "malformed",
    };
    (reason, Denial::PasskeyRejected)
}

/// The stored record of a ceremony (parent: its account, when bound to one).
pub(crate) fn ceremony_record(ceremony: &Ceremony) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::PasskeyCeremony,
        id: ceremony.id.clone(),
        version: 0,
        parent: ceremony.purpose.account().map(str::to_owned),
        lookup: None,
        expires_at: Some(ceremony.expires_at),
        body: crate::record_body::to_body(ceremony)?,
    })
}

/// The start of a ceremony: its record is inserted; nothing is audited until it finishes.
pub(crate) fn begin(ceremony: &Ceremony) -> Result<Plan<()>> {
    Ok(Plan::new(()).write(Write::Insert(ceremony_record(ceremony)?)))
}

/// The stored record of a passkey.
pub(crate) fn passkey_record(passkey: &StoredPasskey) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::Passkey,
        id: passkey.info.id.clone(),
        version: 0,
        parent: Some(passkey.account_id.clone()),
        lookup: Some(passkey.info.credential_id.clone()),
        expires_at: None,
        body: crate::record_body::to_body(passkey)?,
    })
}

/// A refusal's plan (boxed: it is the error side of decisions that usually succeed).
pub(crate) type Refused = Box<Plan<Error>>;

/// A refused finish: the ceremony (when it was found) is used up, the failure audited, and
/// `extra` (a login throttle's failure) applied. Output: the error to return.
#[derive(Debug)]
pub(crate) struct Refusal<'a> {
    /// The ceremony record as read, if found.
    pub ceremony: Option<&'a Record>,
    /// Its purpose's name (`unknown` when not found).
    pub purpose: &'a str,
    /// The account concerned, when known.
    pub account: Option<&'a str>,
    /// The passkey presented, when known.
    pub passkey: Option<&'a str>,
    /// The throttle key a failure counts against.
    pub throttle_key: Option<&'a str>,
}

impl Refusal<'_> {
    /// The plan of this refusal for `reason`, answering `error`.
    pub(crate) fn plan(&self, reason: &str, error: Error, now: Timestamp) -> Plan<Error> {
        let mut audit = AuditDraft::new(AuditKind::PasskeyFailed, now)
            .detail("purpose", self.purpose)
            .detail("reason", reason);
        if let Some(account) = self.account {
            audit = audit.account(account);
        }
        if let Some(passkey) = self.passkey {
            audit = audit.detail("passkey", passkey);
        }
        let mut plan = Plan::new(error).audit(audit);
        if let Some(read) = self.ceremony {
            plan = plan.write(Write::Delete {
                kind: read.kind,
                id: read.id.clone(),
                expected_version: read.version,
            });
        }
        if let Some(key) = self.throttle_key {
            plan = plan.throttle(ThrottleWrite::Failure {
                key: key.to_owned(),
                at: now,
            });
        }
        plan
    }
}

/// The ceremony as found, if it is still open at `now`; an expired one is refused (and, being
/// past its time, used up).
pub(crate) fn open_ceremony(
    found: Option<(Record, Ceremony)>,
    now: Timestamp,
) -> std::result::Result<(Record, Ceremony), Refused> {
    let Some((read, ceremony)) = found else {
        let refusal = Refusal {
            ceremony: None,
            purpose: "unknown",
            account: None,
            passkey: None,
            throttle_key: None,
        };
        return Err(Box::new(refusal.plan(
            "unknown_ceremony",
            Denial::PasskeyCeremonyInvalid.into(),
            now,
        )));
    };
    if now >= ceremony.expires_at {
        let refusal = Refusal {
            ceremony: Some(&read),
            purpose: ceremony.purpose.name(),
            account: ceremony.purpose.account(),
            passkey: None,
            throttle_key: None,
        };
        return Err(Box::new(refusal.plan(
            "expired",
            Denial::PasskeyCeremonyInvalid.into(),
            now,
        )));
    }
    Ok((read, ceremony))
}

/// A passkey webauthn-rs accepted at registration, with what iam reads from it.
#[derive(Debug)]
pub(crate) struct Registered {
    /// The new passkey's id (`pk_…`).
    pub id: String,
    /// webauthn-rs's credential.
    pub passkey: Passkey,
    /// The AAGUID the authenticator claimed.
    pub aaguid: Option<Uuid>,
}

/// Registration of `registered` for the account read as `account` with `label`: refused when
/// `allowed_aaguids` is set and does not list the authenticator's AAGUID. The ceremony is used
/// up, the account pinned, the passkey inserted (its credential id is unique across all
/// accounts) and `passkey.registered` recorded.
pub(crate) fn register(
    ceremony: &Record,
    account: &(Record, StoredAccount),
    label: &str,
    registered: Registered,
    allowed_aaguids: Option<&[Uuid]>,
    now: Timestamp,
) -> std::result::Result<Plan<PasskeyInfo>, Refused> {
    let (account_read, stored_account) = account;
    let refusal = Refusal {
        ceremony: Some(ceremony),
        purpose: "registration",
        account: Some(&stored_account.id),
        passkey: None,
        throttle_key: None,
    };
    if let Some(allowed) = allowed_aaguids {
        if !registered.aaguid.is_some_and(|a| allowed.contains(&a)) {
            return Err(Box::new(refusal.plan(
                "aaguid_not_allowed",
                Denial::AuthenticatorNotAllowed.into(),
                now,
            )));
        }
    }
    if let Err(e) = may_hold_passkeys(stored_account) {
        return Err(Box::new(refusal.plan("account", e, now)));
    }
    let credential = webauthn_rs::prelude::Credential::from(registered.passkey.clone());
    let info = PasskeyInfo {
        id: registered.id,
        label: label.to_owned(),
        credential_id: credential_id(credential.cred_id.as_slice()),
        aaguid: registered.aaguid,
        created_at: now,
        last_used_at: None,
        backup_eligible: credential.backup_eligible,
        backup_state: credential.backup_state,
        counter: credential.counter,
    };
    let stored = StoredPasskey {
        account_id: stored_account.id.clone(),
        info: info.clone(),
        passkey: registered.passkey,
    };
    let record = passkey_record(&stored).map_err(|e| Box::new(refusal.plan("internal", e, now)))?;
    let aaguid = info.aaguid.map(|a| a.to_string()).unwrap_or_default();
    Ok(Plan::new(info.clone())
        .write(Write::Delete {
            kind: ceremony.kind,
            id: ceremony.id.clone(),
            expected_version: ceremony.version,
        })
        .write(unchanged(account_read))
        .write(Write::Insert(record))
        .audit(
            AuditDraft::new(AuditKind::PasskeyRegistered, now)
                .actor(Some(&stored_account.id))
                .account(&stored_account.id)
                .detail("passkey", info.id)
                .detail("label", info.label)
                .detail("aaguid", aaguid)
                .detail("backup_eligible", info.backup_eligible.to_string()),
        ))
}

/// A registration whose passkey turned out to be registered already (the insert found its
/// credential id taken): the ceremony is used up and the failure audited.
pub(crate) fn already_registered(
    ceremony: &Record,
    account_id: &str,
    now: Timestamp,
) -> Plan<Error> {
    Refusal {
        ceremony: Some(ceremony),
        purpose: "registration",
        account: Some(account_id),
        passkey: None,
        throttle_key: None,
    }
    .plan(
        "already_registered",
        Error::State(Conflict::PasskeyAlreadyRegistered),
        now,
    )
}

/// A passkey that proved its holder in the ceremony `ceremony` (its purpose named `purpose`):
/// the ceremony is used up, the passkey written back with the counter and backup flags of
/// `result` and its last use, and `passkey.used` recorded. Output: the passkey as written.
pub(crate) fn record_use(
    ceremony: &Record,
    purpose: &str,
    passkey: (&Record, &StoredPasskey),
    result: &AuthenticationResult,
    now: Timestamp,
) -> Result<Plan<StoredPasskey>> {
    let (read, stored) = passkey;
    let mut used = stored.clone();
    used.passkey.update_credential(result);
    used.info.counter = result.counter();
    used.info.backup_eligible = result.backup_eligible();
    used.info.backup_state = result.backup_state();
    used.info.last_used_at = Some(now);
    let record = Record {
        version: 0,
        ..passkey_record(&used)?
    };
    Ok(Plan::new(used.clone())
        .write(Write::Delete {
            kind: ceremony.kind,
            id: ceremony.id.clone(),
            expected_version: ceremony.version,
        })
        .write(Write::Update {
            record,
            expected_version: read.version,
        })
        .audit(
            AuditDraft::new(AuditKind::PasskeyUsed, now)
                .actor(Some(&used.account_id))
                .account(&used.account_id)
                .detail("passkey", used.info.id.clone())
                .detail("purpose", purpose)
                .detail("counter", used.info.counter.to_string()),
        ))
}

/// Renaming a passkey (read as `read`) to `label` on behalf of `actor`.
pub(crate) fn rename(
    read: &Record,
    mut passkey: StoredPasskey,
    label: String,
    actor: Option<&str>,
    now: Timestamp,
) -> Result<Plan<PasskeyInfo>> {
    passkey.info.label = label;
    let record = passkey_record(&passkey)?;
    Ok(Plan::new(passkey.info.clone())
        .write(Write::Update {
            record,
            expected_version: read.version,
        })
        .audit(
            AuditDraft::new(AuditKind::PasskeyRenamed, now)
                .actor(actor)
                .account(&passkey.account_id)
                .detail("passkey", passkey.info.id.clone())
                .detail("label", passkey.info.label),
        ))
}

/// Removing a passkey (read as `read`) on behalf of `actor`.
pub(crate) fn remove(
    read: &Record,
    passkey: &StoredPasskey,
    actor: Option<&str>,
    now: Timestamp,
) -> Plan<()> {
    Plan::new(())
        .write(Write::Delete {
            kind: read.kind,
            id: read.id.clone(),
            expected_version: read.version,
        })
        .audit(
            AuditDraft::new(AuditKind::PasskeyRemoved, now)
                .actor(actor)
                .account(&passkey.account_id)
                .detail("passkey", passkey.info.id.clone()),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(validate_label("  YubiKey 5 ").as_deref(), Ok("YubiKey 5"));
        assert!(validate_label("   ").is_err());
        assert!(validate_label("a\u{7}b").is_err());
        assert!(validate_label(&"x".repeat(LABEL_MAX)).is_ok());
        assert!(validate_label(&"x".repeat(LABEL_MAX + 1)).is_err());
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle("acc_1"), user_handle("acc_1"));
        assert_ne!(user_handle("acc_1"), user_handle("acc_2"));
    }

    #[test]
    fn webauthn_failures_map_to_typed_denials() {
        assert_eq!(
            failure(&WebauthnError::CredentialPossibleCompromise),
            ("counter_regressed", Denial::PasskeyCounterRegressed)
        );
        assert_eq!(
            failure(&WebauthnError::MismatchedChallenge),
            ("challenge", Denial::PasskeyRejected)
        );
        assert_eq!(
            failure(&WebauthnError::InvalidRPOrigin),
            ("origin", Denial::PasskeyRejected)
        );
        assert_eq!(
            failure(&WebauthnError::InvalidRPIDHash),
            ("rp_id", Denial::PasskeyRejected)
        );
    }

    #[test]
    fn an_unknown_or_expired_ceremony_is_refused_and_an_expired_one_used_up() {
        let now = Timestamp::from_secs(1_000);
        let plan = open_ceremony(None, now).expect_err("unknown");
        assert!(plan.commit.writes.is_empty(), "nothing to delete");
        assert_eq!(plan.commit.audit[0].kind, AuditKind::PasskeyFailed);
        assert_eq!(plan.output.code(), crate::ErrorCode::PasskeyCeremonyInvalid);
    }
}
