//! The tamper-evident audit log: events, their hash chain, queries and chain verification.
//!
//! Each event holds the hash of the one before it; [`verify_chain`] recomputes every link and
//! names the first event that was edited, removed or inserted. Events never hold secrets:
//! only ids, kinds, times and short non-secret details.
//!
//! The hash chain alone shows edits, but anyone who can write the database could rewrite
//! every hash after an edit, or cut the newest events off. So iam signs the chain's head from
//! time to time with its token-signing key ([`AuditCheckpoint`], made by [`Iam::sweep`] at
//! [`Config::audit_checkpoint_interval`] and by every export). An export
//! ([`Iam::export_audit`], JSON lines) holds the events, the checkpoints and the public keys
//! that signed them; [`verify_export`] checks it offline, trusting only the keys it is given.
//!
//! [`Iam::sweep`]: crate::Iam::sweep
//! [`Iam::export_audit`]: crate::Iam::export_audit
//! [`Config::audit_checkpoint_interval`]: crate::Config::audit_checkpoint_interval

mod checkpoint;
mod export;
mod hex;
mod read;
mod verify_export;

pub use checkpoint::{AuditCheckpoint, CHECKPOINT_IMPLICIT_ASSERTION};
pub use export::{AuditExport, EXPORT_FORMAT, EXPORT_VERSION};
pub use verify_export::{
    verify_export, ExportFault, ExportVerified, ExportVerifier, PinnedKey, VerifiedCheckpoint,
};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;

/// What happened. The `as_str` names are stable and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditKind {
    /// An account was created.
    #[serde(rename = "account.created")]
    AccountCreated,
    /// An account was disabled.
    #[serde(rename = "account.disabled")]
    AccountDisabled,
    /// An account was enabled again.
    #[serde(rename = "account.enabled")]
    AccountEnabled,
    /// An account's profile changed (detail `fields` names the changed fields, never values).
    #[serde(rename = "account.profile_updated")]
    AccountProfileUpdated,
    /// A password was set or changed.
    #[serde(rename = "password.changed")]
    PasswordChanged,
    /// A password change was refused: the current password given was wrong.
    #[serde(rename = "password.change_denied")]
    PasswordChangeDenied,
    /// A password hash was upgraded to the configured cost at login.
    #[serde(rename = "password.rehashed")]
    PasswordRehashed,
    /// A session's holder proved their credentials again (recent sign-in renewed).
    #[serde(rename = "session.reauthenticated")]
    SessionReauthenticated,
    /// A re-authentication was refused: the proof was wrong.
    #[serde(rename = "session.reauthentication_denied")]
    SessionReauthenticationDenied,
    /// A standing role was granted.
    #[serde(rename = "role.granted")]
    RoleGranted,
    /// A standing role was revoked.
    #[serde(rename = "role.revoked")]
    RoleRevoked,
    /// A login succeeded and opened a session.
    #[serde(rename = "login.succeeded")]
    LoginSucceeded,
    /// A login failed.
    #[serde(rename = "login.failed")]
    LoginFailed,
    /// A login was refused because of back-off.
    #[serde(rename = "login.throttled")]
    LoginThrottled,
    /// TOTP enrolment started (not yet confirmed).
    #[serde(rename = "totp.enrolled")]
    TotpEnrolled,
    /// TOTP enrolment was confirmed with a first code.
    #[serde(rename = "totp.confirmed")]
    TotpConfirmed,
    /// TOTP was removed from an account.
    #[serde(rename = "totp.removed")]
    TotpRemoved,
    /// A refresh token was exchanged for a new token pair.
    #[serde(rename = "token.refreshed")]
    TokenRefreshed,
    /// A used refresh token was presented again; its session was revoked.
    #[serde(rename = "token.reuse_detected")]
    RefreshReuseDetected,
    /// A session was revoked (logout or administrative).
    #[serde(rename = "session.revoked")]
    SessionRevoked,
    /// All sessions of an account were revoked.
    #[serde(rename = "session.revoked_all")]
    AllSessionsRevoked,
    /// The token-signing key was rotated.
    #[serde(rename = "key.rotated")]
    SigningKeyRotated,
    /// A service-account token was issued (the previous one revoked).
    #[serde(rename = "service_token.issued")]
    ServiceTokenIssued,
    /// A service-account token was revoked.
    #[serde(rename = "service_token.revoked")]
    ServiceTokenRevoked,
    /// A personal API token was created.
    #[serde(rename = "api_token.created")]
    ApiTokenCreated,
    /// A personal API token was revoked.
    #[serde(rename = "api_token.revoked")]
    ApiTokenRevoked,
    /// Database credentials were stored for a service account.
    #[serde(rename = "credentials.stored")]
    CredentialsStored,
    /// Database credentials were fetched.
    #[serde(rename = "credentials.fetched")]
    CredentialsFetched,
    /// A fetch of database credentials was refused.
    #[serde(rename = "credentials.denied")]
    CredentialsDenied,
    /// A role was made elevatable for an account.
    #[serde(rename = "elevation.role_granted")]
    ElevatableRoleGranted,
    /// A role stopped being elevatable for an account.
    #[serde(rename = "elevation.role_revoked")]
    ElevatableRoleRevoked,
    /// An elevation awaits approval.
    #[serde(rename = "elevation.requested")]
    ElevationRequested,
    /// An elevation request was approved.
    #[serde(rename = "elevation.approved")]
    ElevationApproved,
    /// An elevation request was denied.
    #[serde(rename = "elevation.denied")]
    ElevationDenied,
    /// An elevated role was opened for a session.
    #[serde(rename = "elevation.activated")]
    ElevationActivated,
    /// An elevated role was closed early.
    #[serde(rename = "elevation.ended")]
    ElevationEnded,
    /// An account was scheduled for deletion.
    #[serde(rename = "account.deletion_scheduled")]
    DeletionScheduled,
    /// A scheduled deletion was cancelled.
    #[serde(rename = "account.deletion_cancelled")]
    DeletionCancelled,
    /// An account's data was deleted (its audit events remain).
    #[serde(rename = "account.deleted")]
    AccountDeleted,
    /// An organization was created.
    #[serde(rename = "org.created")]
    OrganizationCreated,
    /// An account joined an organization (or changed role there).
    #[serde(rename = "org.member_added")]
    MemberAdded,
    /// An account left an organization.
    #[serde(rename = "org.member_removed")]
    MemberRemoved,
    /// A sweep carried out deletions and pruned expired data.
    #[serde(rename = "sweep.completed")]
    SweepCompleted,
    /// An OAuth client was registered.
    #[serde(rename = "oauth.client_registered")]
    OAuthClientRegistered,
    /// An OAuth client's secret was rotated (the old one kept for the grace period).
    #[serde(rename = "oauth.client_secret_rotated")]
    OAuthClientSecretRotated,
    /// An OAuth client was disabled and its tokens revoked.
    #[serde(rename = "oauth.client_disabled")]
    OAuthClientDisabled,
    /// An authorization code was issued.
    #[serde(rename = "oauth.code_issued")]
    OAuthCodeIssued,
    /// OAuth tokens were issued (detail `grant_type` names the grant).
    #[serde(rename = "oauth.token_issued")]
    OAuthTokenIssued,
    /// An account consented to a client (or widened its consent).
    #[serde(rename = "oauth.consent_given")]
    OAuthConsentGiven,
    /// An account's consent to a client was revoked, with the tokens issued under it.
    #[serde(rename = "oauth.consent_revoked")]
    OAuthConsentRevoked,
    /// A used authorization code was presented again; the tokens it produced were revoked.
    #[serde(rename = "oauth.code_replay_detected")]
    OAuthCodeReplayDetected,
    /// A used OAuth refresh token was presented again; its token family was revoked.
    #[serde(rename = "oauth.refresh_reuse_detected")]
    OAuthRefreshReuseDetected,
    /// A user approved a device authorization.
    #[serde(rename = "oauth.device_approved")]
    OAuthDeviceApproved,
    /// A user denied a device authorization.
    #[serde(rename = "oauth.device_denied")]
    OAuthDeviceDenied,
    /// A client revoked an OAuth token (RFC 7009).
    #[serde(rename = "oauth.token_revoked")]
    OAuthTokenRevoked,
    /// A back-channel logout token was delivered to a client (detail `client_id`, `status`).
    #[serde(rename = "oidc.logout_delivered")]
    OidcLogoutDelivered,
    /// Delivery of a back-channel logout token to a client was given up after its last retry
    /// (detail `client_id`, `status` of the last attempt, `attempts`).
    #[serde(rename = "oidc.logout_abandoned")]
    OidcLogoutAbandoned,
    /// The audit log was exported (detail `through`: the last event the export holds, signed
    /// by its checkpoint; `end` when the chain could not be signed).
    #[serde(rename = "audit.exported")]
    AuditExported,
    /// An invitation to create an account was made (detail `invitation`, `roles`, `org`, `expires_at`).
    #[serde(rename = "invitation.created")]
    InvitationCreated,
    /// An invitation was used: its account was created (detail `invitation`).
    #[serde(rename = "invitation.used")]
    InvitationUsed,
    /// An invitation was revoked before use (detail `invitation`).
    #[serde(rename = "invitation.revoked")]
    InvitationRevoked,
    /// A use of an expired, used or revoked invitation was refused (detail `invitation`, `reason`).
    #[serde(rename = "invitation.refused")]
    InvitationRefused,
    /// A passkey was registered (detail `passkey`, `label`, `aaguid`, `backup_eligible`).
    #[serde(rename = "passkey.registered")]
    PasskeyRegistered,
    /// A passkey proved its holder: a login, a second factor or a step-up (detail `passkey`,
    /// `purpose`, `counter`).
    #[serde(rename = "passkey.used")]
    PasskeyUsed,
    /// A passkey ceremony failed (detail `purpose`, `reason`; `passkey` when known). A
    /// `reason` of `counter_regressed` means the authenticator may have been cloned.
    #[serde(rename = "passkey.failed")]
    PasskeyFailed,
    /// A passkey was renamed (detail `passkey`, `label`).
    #[serde(rename = "passkey.renamed")]
    PasskeyRenamed,
    /// A passkey was removed (detail `passkey`).
    #[serde(rename = "passkey.removed")]
    PasskeyRemoved,
}

impl AuditKind {
    /// Every kind, for parsing and documentation.
    pub const ALL: [AuditKind; 67] = [
        AuditKind::AccountCreated,
        AuditKind::AccountDisabled,
        AuditKind::AccountEnabled,
        AuditKind::AccountProfileUpdated,
        AuditKind::PasswordChanged,
        AuditKind::PasswordChangeDenied,
        AuditKind::PasswordRehashed,
        AuditKind::SessionReauthenticated,
        AuditKind::SessionReauthenticationDenied,
        AuditKind::RoleGranted,
        AuditKind::RoleRevoked,
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::LoginThrottled,
        AuditKind::TotpEnrolled,
        AuditKind::TotpConfirmed,
        AuditKind::TotpRemoved,
        AuditKind::TokenRefreshed,
        AuditKind::RefreshReuseDetected,
        AuditKind::SessionRevoked,
        AuditKind::AllSessionsRevoked,
        AuditKind::SigningKeyRotated,
        AuditKind::ServiceTokenIssued,
        AuditKind::ServiceTokenRevoked,
        AuditKind::ApiTokenCreated,
        AuditKind::ApiTokenRevoked,
        AuditKind::CredentialsStored,
        AuditKind::CredentialsFetched,
        AuditKind::CredentialsDenied,
        AuditKind::ElevatableRoleGranted,
        AuditKind::ElevatableRoleRevoked,
        AuditKind::ElevationRequested,
        AuditKind::ElevationApproved,
        AuditKind::ElevationDenied,
        AuditKind::ElevationActivated,
        AuditKind::ElevationEnded,
        AuditKind::DeletionScheduled,
        AuditKind::DeletionCancelled,
        AuditKind::AccountDeleted,
        AuditKind::OrganizationCreated,
        AuditKind::MemberAdded,
        AuditKind::MemberRemoved,
        AuditKind::SweepCompleted,
        AuditKind::OAuthClientRegistered,
        AuditKind::OAuthClientSecretRotated,
        AuditKind::OAuthClientDisabled,
        AuditKind::OAuthCodeIssued,
        AuditKind::OAuthTokenIssued,
        AuditKind::OAuthConsentGiven,
        AuditKind::OAuthConsentRevoked,
        AuditKind::OAuthCodeReplayDetected,
        AuditKind::OAuthRefreshReuseDetected,
        AuditKind::OAuthDeviceApproved,
        AuditKind::OAuthDeviceDenied,
        AuditKind::OAuthTokenRevoked,
        AuditKind::OidcLogoutDelivered,
        AuditKind::OidcLogoutAbandoned,
        AuditKind::AuditExported,
        AuditKind::InvitationCreated,
        AuditKind::InvitationUsed,
        AuditKind::InvitationRevoked,
        AuditKind::InvitationRefused,
        AuditKind::PasskeyRegistered,
        AuditKind::PasskeyUsed,
        AuditKind::PasskeyFailed,
        AuditKind::PasskeyRenamed,
        AuditKind::PasskeyRemoved,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::AccountCreated => "account.created",
            AuditKind::AccountDisabled => "account.disabled",
            AuditKind::AccountEnabled => "account.enabled",
            AuditKind::AccountProfileUpdated => "account.profile_updated",
            AuditKind::PasswordChanged => "password.changed",
            AuditKind::PasswordChangeDenied => "password.change_denied",
            AuditKind::SessionReauthenticated => "session.reauthenticated",
            AuditKind::SessionReauthenticationDenied => "session.reauthentication_denied",
            AuditKind::PasswordRehashed => "password.rehashed",
            AuditKind::RoleGranted => "role.granted",
            AuditKind::RoleRevoked => "role.revoked",
            AuditKind::LoginSucceeded => "login.succeeded",
            AuditKind::LoginFailed => "login.failed",
            AuditKind::LoginThrottled => "login.throttled",
            AuditKind::TotpEnrolled => "totp.enrolled",
            AuditKind::TotpConfirmed => "totp.confirmed",
            AuditKind::TotpRemoved => "totp.removed",
            AuditKind::TokenRefreshed => "token.refreshed",
            AuditKind::RefreshReuseDetected => "token.reuse_detected",
            AuditKind::SessionRevoked => "session.revoked",
            AuditKind::AllSessionsRevoked => "session.revoked_all",
            AuditKind::SigningKeyRotated => "key.rotated",
            AuditKind::ServiceTokenIssued => "service_token.issued",
            AuditKind::ServiceTokenRevoked => "service_token.revoked",
            AuditKind::ApiTokenCreated => "api_token.created",
            AuditKind::ApiTokenRevoked => "api_token.revoked",
            AuditKind::CredentialsStored => "credentials.stored",
            AuditKind::CredentialsFetched => "credentials.fetched",
            AuditKind::CredentialsDenied => "credentials.denied",
            AuditKind::ElevatableRoleGranted => "elevation.role_granted",
            AuditKind::ElevatableRoleRevoked => "elevation.role_revoked",
            AuditKind::ElevationRequested => "elevation.requested",
            AuditKind::ElevationApproved => "elevation.approved",
            AuditKind::ElevationDenied => "elevation.denied",
            AuditKind::ElevationActivated => "elevation.activated",
            AuditKind::ElevationEnded => "elevation.ended",
            AuditKind::DeletionScheduled => "account.deletion_scheduled",
            AuditKind::DeletionCancelled => "account.deletion_cancelled",
            AuditKind::AccountDeleted => "account.deleted",
            AuditKind::OrganizationCreated => "org.created",
            AuditKind::MemberAdded => "org.member_added",
            AuditKind::MemberRemoved => "org.member_removed",
            AuditKind::SweepCompleted => "sweep.completed",
            AuditKind::OAuthClientRegistered => "oauth.client_registered",
            AuditKind::OAuthClientSecretRotated => "oauth.client_secret_rotated",
            AuditKind::OAuthClientDisabled => "oauth.client_disabled",
            AuditKind::OAuthCodeIssued => "oauth.code_issued",
            AuditKind::OAuthTokenIssued => "oauth.token_issued",
            AuditKind::OAuthConsentGiven => "oauth.consent_given",
            AuditKind::OAuthConsentRevoked => "oauth.consent_revoked",
            AuditKind::OAuthCodeReplayDetected => "oauth.code_replay_detected",
            AuditKind::OAuthRefreshReuseDetected => "oauth.refresh_reuse_detected",
            AuditKind::OAuthDeviceApproved => "oauth.device_approved",
            AuditKind::OAuthDeviceDenied => "oauth.device_denied",
            AuditKind::OAuthTokenRevoked => "oauth.token_revoked",
            AuditKind::OidcLogoutDelivered => "oidc.logout_delivered",
            AuditKind::OidcLogoutAbandoned => "oidc.logout_abandoned",
            AuditKind::AuditExported => "audit.exported",
            AuditKind::InvitationCreated => "invitation.created",
            AuditKind::InvitationUsed => "invitation.used",
            AuditKind::InvitationRevoked => "invitation.revoked",
            AuditKind::InvitationRefused => "invitation.refused",
            AuditKind::PasskeyRegistered => "passkey.registered",
            AuditKind::PasskeyUsed => "passkey.used",
            AuditKind::PasskeyFailed => "passkey.failed",
            AuditKind::PasskeyRenamed => "passkey.renamed",
            AuditKind::PasskeyRemoved => "passkey.removed",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Option<Self> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// An audit event before the store places it in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDraft {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: AuditKind,
    /// Who did it (an account id), when known.
    pub actor: Option<String>,
    /// The account it concerns, when any.
    pub account: Option<String>,
    /// The session it concerns, when any.
    pub session: Option<String>,
    /// Further non-secret facts (reason, role name, key id, ...).
    pub detail: BTreeMap<String, String>,
}

impl AuditDraft {
    /// A draft of `kind` at `at` with nothing else filled in.
    pub fn new(kind: AuditKind, at: Timestamp) -> Self {
        AuditDraft {
            at,
            kind,
            actor: None,
            account: None,
            session: None,
            detail: BTreeMap::new(),
        }
    }

    /// Sets the acting account.
    #[must_use]
    pub fn actor(mut self, actor: Option<&str>) -> Self {
        self.actor = actor.map(str::to_owned);
        self
    }

    /// Sets the account concerned.
    #[must_use]
    pub fn account(mut self, account: &str) -> Self {
        self.account = Some(account.to_owned());
        self
    }

    /// Sets the session concerned.
    #[must_use]
    pub fn session(mut self, session: &str) -> Self {
        self.session = Some(session.to_owned());
        self
    }

    /// Adds a non-secret detail.
    #[must_use]
    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }
}

/// A 32-byte SHA-256 chain hash, shown as lowercase hex.
pub type ChainHash = [u8; 32];

/// The hash before the first event.
pub const GENESIS: ChainHash = [0; 32];

/// An event in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Position in the chain, from 1 without gaps.
    pub seq: u64,
    /// The hash of the previous event ([`GENESIS`] for the first).
    pub prev_hash: ChainHash,
    /// This event's hash over `prev_hash`, `seq` and the draft.
    pub hash: ChainHash,
    /// The event's content.
    #[serde(flatten)]
    pub draft: AuditDraft,
}

impl AuditEvent {
    /// Places `draft` after the event with `prev_seq`/`prev_hash` (use 0 and [`GENESIS`] for the first).
    ///
    /// Stores call this inside the transaction that appends the event.
    pub fn chain(prev_seq: u64, prev_hash: ChainHash, draft: AuditDraft) -> Self {
        let seq = prev_seq + 1;
        let hash = link_hash(&prev_hash, seq, &draft);
        AuditEvent {
            seq,
            prev_hash,
            hash,
            draft,
        }
    }
}

fn link_hash(prev: &ChainHash, seq: u64, draft: &AuditDraft) -> ChainHash {
    let mut h = Sha256::new();
    h.update(b"iam-audit-v1\0");
    h.update(prev);
    h.update(seq.to_be_bytes());
    // Serialising a plain struct with a BTreeMap is deterministic.
    let body = serde_json::to_vec(draft).unwrap_or_default();
    h.update((body.len() as u64).to_be_bytes());
    h.update(&body);
    h.finalize().into()
}

/// Selects audit events; unset fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events concerning this account.
    pub account: Option<String>,
    /// Only events of this kind.
    pub kind: Option<AuditKind>,
    /// Only events at or after this time.
    pub from: Option<Timestamp>,
    /// Only events before this time.
    pub to: Option<Timestamp>,
    /// Only events with a greater sequence number (for paging).
    pub after_seq: Option<u64>,
    /// At most this many.
    pub limit: Option<usize>,
}

impl AuditQuery {
    /// Whether `event` passes every filter except `limit`.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        let d = &event.draft;
        self.account
            .as_ref()
            .is_none_or(|a| d.account.as_ref() == Some(a))
            && self.kind.is_none_or(|k| d.kind == k)
            && self.from.is_none_or(|f| d.at >= f)
            && self.to.is_none_or(|t| d.at < t)
            && self.after_seq.is_none_or(|s| event.seq > s)
    }
}

/// Where and how the chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// An event is missing or out of order: `found` stands where `expected` should.
    #[error("event {expected} is missing (found {found} in its place)")]
    Gap {
        /// The sequence number that should come next.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// The event does not point at its predecessor's hash (an event before it was changed or removed).
    #[error("event {seq} does not link to the event before it")]
    BrokenLink {
        /// The event whose link fails.
        seq: u64,
    },
    /// The event's own hash does not match its content (it was edited).
    #[error("event {seq} was altered")]
    Altered {
        /// The altered event.
        seq: u64,
    },
    /// The event's hash is not the one a signed checkpoint recorded for it: this event or one
    /// before it was changed, and the hashes after it rewritten to match (or the event is gone).
    #[error("event {seq} differs from the signed checkpoint of it: it or an earlier event was rewritten")]
    CheckpointMismatch {
        /// The checkpointed event.
        seq: u64,
    },
    /// The stored checkpoint of this event does not carry a valid signature by the key it
    /// names: it was written by someone without the signing key.
    #[error("the checkpoint of event {seq} is not validly signed")]
    ForgedCheckpoint {
        /// The event the checkpoint names.
        seq: u64,
    },
}

/// Checks events one at a time, in chain order from the first, keeping only the last link.
#[derive(Clone, Debug)]
pub struct ChainVerifier {
    expected_seq: u64,
    prev: ChainHash,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            expected_seq: 1,
            prev: GENESIS,
        }
    }
}

impl ChainVerifier {
    /// A verifier that continues after the event `seq` whose hash is `hash` (a checkpoint).
    pub fn after(seq: u64, hash: ChainHash) -> Self {
        ChainVerifier {
            expected_seq: seq + 1,
            prev: hash,
        }
    }

    /// The last event checked: its sequence number and hash (0 and [`GENESIS`] before any).
    pub fn head(&self) -> (u64, ChainHash) {
        (self.expected_seq - 1, self.prev)
    }

    /// Checks the next event.
    pub fn push(&mut self, e: &AuditEvent) -> Result<(), ChainBreak> {
        if e.seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                expected: self.expected_seq,
                found: e.seq,
            });
        }
        if e.prev_hash != self.prev {
            return Err(ChainBreak::BrokenLink { seq: e.seq });
        }
        if link_hash(&e.prev_hash, e.seq, &e.draft) != e.hash {
            return Err(ChainBreak::Altered { seq: e.seq });
        }
        self.prev = e.hash;
        self.expected_seq += 1;
        Ok(())
    }

    /// The sequence number of the last event checked: from the start of the chain, how many
    /// events have verified so far.
    pub fn count(&self) -> u64 {
        self.expected_seq - 1
    }
}

/// Checks a whole chain, in order from the first event; `Ok` holds the number of events.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = &'a AuditEvent>,
) -> Result<u64, ChainBreak> {
    let mut v = ChainVerifier::default();
    for e in events {
        v.push(e)?;
    }
    Ok(v.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 0..n {
            let (seq, prev) = out.last().map_or((0, GENESIS), |e| (e.seq, e.hash));
            let draft = AuditDraft::new(
                AuditKind::LoginFailed,
                Timestamp::from_secs(i.try_into().unwrap_or(0)),
            )
            .account("acc_1")
            .detail("reason", "bad_credentials");
            out.push(AuditEvent::chain(seq, prev, draft));
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
        assert_eq!(verify_chain(&[]), Ok(0));
    }

    #[test]
    fn edit_delete_and_reorder_are_detected() {
        let mut edited = chain(5);
        edited[2].draft.detail.insert("reason".into(), "ok".into());
        assert_eq!(verify_chain(&edited), Err(ChainBreak::Altered { seq: 3 }));

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(
            verify_chain(&deleted),
            Err(ChainBreak::Gap {
                expected: 2,
                found: 3
            })
        );

        // Deleting an event and renumbering the rest still breaks the hash links.
        let mut renumbered = chain(5);
        renumbered.remove(1);
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        assert_eq!(
            verify_chain(&renumbered),
            Err(ChainBreak::BrokenLink { seq: 2 })
        );
    }

    #[test]
    fn kinds_round_trip_through_names_and_serde() {
        for k in AuditKind::ALL {
            assert_eq!(AuditKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }
}
