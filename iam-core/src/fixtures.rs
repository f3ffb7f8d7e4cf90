//! Loaded state for the unit tests of every concept's rules: records, accounts, sessions and
//! principals as a store or a verified token would hand them back, built without a store; and
//! short views of the plans the rules return.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::account::{AccountKind, StoredAccount};
use crate::audit::AuditKind;
use crate::authz::CredentialKind;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::plan::Plan;
use crate::secret::MasterKey;
use crate::session::Session;
use crate::store::{Record, RecordKind, Write};
use crate::token::Principal;

/// The time the tests decide at.
pub(crate) const NOW: Timestamp = Timestamp::from_millis(1_000_000_000);

/// A set of strings.
pub(crate) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The default configuration under a fixed key.
pub(crate) fn config() -> Config {
    Config::new(MasterKey::from_bytes([7; 32]))
}

/// A record of `kind`/`id` at `version` holding `body`.
pub(crate) fn record(kind: RecordKind, id: &str, version: u64, body: &impl Serialize) -> Record {
    Record {
        kind,
        id: id.to_owned(),
        version,
        parent: None,
        lookup: None,
        expires_at: None,
        body: crate::record_body::to_body(body).expect("body"),
    }
}

/// An enabled account `id` (username `{id}-name`) of `kind` holding `roles`, created at 1 s,
/// without password, TOTP or elevatable roles.
pub(crate) fn stored_account(id: &str, kind: AccountKind, roles: &[&str]) -> StoredAccount {
    StoredAccount {
        id: id.to_owned(),
        username: format!("{id}-name"),
        kind,
        roles: set(roles),
        disabled: false,
        created_at: Timestamp::from_millis(1_000),
        password_hash: None,
        totp: None,
        elevatable_roles: BTreeSet::default(),
        deletion_due: None,
        service_grant: None,
        profile: crate::account::Profile::default(),
        sessions_revoked_before: None,
    }
}

/// [`stored_account`] with its record at version 4, looked up by its username.
pub(crate) fn account(id: &str, kind: AccountKind, roles: &[&str]) -> (Record, StoredAccount) {
    let stored = stored_account(id, kind, roles);
    let mut r = record(RecordKind::Account, id, 4, &stored);
    r.lookup = Some(stored.username.clone());
    (r, stored)
}

/// A live session `id` of `account` by password, authenticated when created at `created_at`,
/// ending at `expires_at`, without elevations.
pub(crate) fn session(
    id: &str,
    account: &str,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> Session {
    Session {
        id: id.into(),
        account_id: account.into(),
        created_at,
        expires_at,
        revoked_at: None,
        last_refreshed_at: None,
        auth_time: created_at,
        amr: vec!["pwd".into()],
        elevations: vec![],
        upstream_acr: None,
    }
}

/// A principal of `account` presenting `credential` (token `tok_1` of session `ses_1`) with
/// `roles`, authenticated by password just now, for ten minutes, for the audience `iam`.
pub(crate) fn principal(account: &str, credential: CredentialKind, roles: &[&str]) -> Principal {
    Principal {
        credential,
        account_id: account.to_owned(),
        session_id: "ses_1".into(),
        token_id: "tok_1".into(),
        kind: if credential == CredentialKind::ServiceToken {
            AccountKind::System
        } else {
            AccountKind::Human
        },
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        issued_at: NOW,
        expires_at: NOW.plus(Duration::from_secs(600)),
        auth_time: NOW,
        amr: vec!["pwd".into()],
        scopes: vec![],
        org: None,
        elevated_roles: vec![],
        elevated_until: None,
        client_id: None,
        actor: None,
        resources: vec![],
        audience: vec!["iam".into()],
    }
}

/// `principal` re-timed: issued (and authenticated) at `issued_at`, expiring at `expires_at`.
pub(crate) fn issued(
    principal: Principal,
    issued_at: Timestamp,
    expires_at: Timestamp,
) -> Principal {
    Principal {
        issued_at,
        expires_at,
        auth_time: issued_at,
        ..principal
    }
}

/// The audit kinds a plan carries, in order.
pub(crate) fn audit_kinds<T>(plan: &Plan<T>) -> Vec<AuditKind> {
    plan.commit.audit.iter().map(|a| a.kind).collect()
}

/// A short description of each write a plan carries: (`insert` / `update` / `delete` /
/// `check`, kind, id, expected version; 0 for an insert).
pub(crate) fn writes<T>(plan: &Plan<T>) -> Vec<(&'static str, RecordKind, String, u64)> {
    plan.commit
        .writes
        .iter()
        .map(|w| match w {
            Write::Insert(r) => ("insert", r.kind, r.id.clone(), 0),
            Write::Update {
                record,
                expected_version,
            } => ("update", record.kind, record.id.clone(), *expected_version),
            Write::Delete {
                kind,
                id,
                expected_version,
            } => ("delete", *kind, id.clone(), *expected_version),
            Write::Check {
                kind,
                id,
                expected_version,
            } => ("check", *kind, id.clone(), *expected_version),
        })
        .collect()
}
