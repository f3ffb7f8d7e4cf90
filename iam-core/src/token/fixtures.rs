//! Loaded state for the rules' unit tests: principals, accounts and records as a store would
//! hand them back, built without a store.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::account::{AccountKind, StoredAccount};
use crate::authz::CredentialKind;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::secret::MasterKey;
use crate::store::{Record, RecordKind};
use crate::token::Principal;

/// The time the tests decide at.
pub(crate) const NOW: Timestamp = Timestamp::from_millis(1_000_000_000);

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

/// An enabled account `id` of `kind` holding `roles`, stored at version 4.
pub(crate) fn account(id: &str, kind: AccountKind, roles: &[&str]) -> (Record, StoredAccount) {
    let stored = StoredAccount {
        id: id.to_owned(),
        username: format!("{id}-name"),
        kind,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        disabled: false,
        created_at: Timestamp::from_millis(1_000),
        password_hash: None,
        totp: None,
        elevatable_roles: BTreeSet::default(),
        deletion_due: None,
        service_grant: None,
    };
    let mut r = record(RecordKind::Account, id, 4, &stored);
    r.lookup = Some(stored.username.clone());
    (r, stored)
}

/// A principal of `account` presenting `credential` with `roles`, authenticated just now.
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
