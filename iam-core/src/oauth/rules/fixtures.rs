//! Records and decoded state for the rules' unit tests.

use std::collections::BTreeSet;

use serde::Serialize;

use super::NewSecret;
use crate::account::{AccountKind, StoredAccount};
use crate::audit::AuditKind;
use crate::authz::CredentialKind;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::oauth::client::{ClientKind, GrantType, OAuthClient, StoredClient};
use crate::oauth::grant::{consent_id, OAuthConsent, StoredFamily};
use crate::plan::Plan;
use crate::secret::{MasterKey, SecretString};
use crate::session::Session;
use crate::store::{Record, RecordKind, Write};
use crate::token::Principal;

/// A set of strings.
pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// A configuration with defaults.
pub fn config() -> Config {
    Config::new(MasterKey::from_bytes([7; 32]))
}

/// A record holding `body`, of the kind its type is stored as, at `version`.
pub fn record_of<T: Stored>(body: &T, version: u64) -> Record {
    Record {
        kind: T::KIND,
        id: body.id(),
        version,
        parent: None,
        lookup: None,
        expires_at: None,
        body: crate::record_body::to_body(body).expect("body"),
    }
}

/// What a fixture is stored as.
pub trait Stored: Serialize {
    /// Its record kind.
    const KIND: RecordKind;
    /// Its record id.
    fn id(&self) -> String;
}

impl Stored for StoredClient {
    const KIND: RecordKind = RecordKind::OAuthClient;
    fn id(&self) -> String {
        self.info.id.clone()
    }
}

impl Stored for StoredAccount {
    const KIND: RecordKind = RecordKind::Account;
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Stored for Session {
    const KIND: RecordKind = RecordKind::Session;
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Stored for StoredFamily {
    const KIND: RecordKind = RecordKind::OAuthFamily;
    fn id(&self) -> String {
        self.id.clone()
    }
}

/// A confidential client allowed every grant, the scopes `read` and `write` and one resource.
pub fn client(id: &str) -> StoredClient {
    StoredClient {
        info: OAuthClient {
            id: id.into(),
            name: "app".into(),
            kind: ClientKind::Confidential,
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: GrantType::ALL.into_iter().collect(),
            scopes: set(&["read", "write"]),
            resources: set(&["https://api.example"]),
            require_pkce: true,
            owner: Some("acc_owner".into()),
            acts_for_owner: false,
            first_party: false,
            owner_scoped: false,
            disabled: false,
            created_at: Timestamp::from_secs(0),
            secret_rotated_at: None,
        },
        secret_hash: Some("hash-current".into()),
        previous_secret: None,
    }
}

/// The client and its record at version 3.
pub fn client_read(id: &str) -> (Record, StoredClient) {
    let c = client(id);
    (record_of(&c, 3), c)
}

/// An enabled human account with the role `read`.
pub fn account(id: &str) -> StoredAccount {
    StoredAccount {
        id: id.into(),
        username: format!("user-{id}"),
        kind: AccountKind::Human,
        roles: set(&["read"]),
        disabled: false,
        created_at: Timestamp::from_secs(0),
        password_hash: None,
        totp: None,
        elevatable_roles: BTreeSet::new(),
        deletion_due: None,
        service_grant: None,
    }
}

/// The account and its record at version 5.
pub fn account_read(id: &str) -> (Record, StoredAccount) {
    let a = account(id);
    (record_of(&a, 5), a)
}

/// A session of `account` authenticated at 900 s, live until 10 000 s.
pub fn session(id: &str, account: &str) -> Session {
    Session {
        id: id.into(),
        account_id: account.into(),
        created_at: Timestamp::from_secs(900),
        expires_at: Timestamp::from_secs(10_000),
        revoked_at: None,
        last_refreshed_at: None,
        auth_time: Timestamp::from_secs(900),
        amr: vec!["pwd".into()],
        elevations: vec![],
    }
}

/// The session and its record at version 2.
pub fn session_read(id: &str, account: &str) -> (Record, Session) {
    let s = session(id, account);
    (record_of(&s, 2), s)
}

/// A live family of `client` for `account`, created at 1 000 s, expiring at 50 000 s.
pub fn family(id: &str, client: &str, account: &str) -> StoredFamily {
    StoredFamily {
        id: id.into(),
        client_id: client.into(),
        account_id: account.into(),
        scopes: set(&["read"]),
        resources: set(&["https://api.example"]),
        auth_time: Timestamp::from_secs(900),
        amr: vec!["pwd".into()],
        origin: "authorization_code".into(),
        created_at: Timestamp::from_secs(1_000),
        expires_at: Timestamp::from_secs(50_000),
        revoked_at: None,
    }
}

/// Each family with its record at `version`.
pub fn families_read(families: &[StoredFamily], version: u64) -> Vec<(Record, StoredFamily)> {
    families
        .iter()
        .map(|f| (record_of(f, version), f.clone()))
        .collect()
}

/// The consent of `acc_a` to `cli_1` for `scopes`, granted at 10 s, and its record at
/// version 6.
pub fn consent_read(scopes: &[&str]) -> (Record, OAuthConsent) {
    let c = OAuthConsent {
        account_id: "acc_a".into(),
        client_id: "cli_1".into(),
        scopes: set(scopes),
        granted_at: Timestamp::from_secs(10),
        updated_at: Timestamp::from_secs(10),
    };
    let record = Record {
        kind: RecordKind::OAuthConsent,
        id: consent_id("acc_a", "cli_1"),
        version: 6,
        parent: Some("acc_a".into()),
        lookup: None,
        expires_at: None,
        body: crate::record_body::to_body(&c).expect("body"),
    };
    (record, c)
}

/// The principal of a session token of `account` in `session`, authenticated at 900 s.
pub fn principal(account: &str, session: &str) -> Principal {
    Principal {
        credential: CredentialKind::Session,
        account_id: account.into(),
        session_id: session.into(),
        token_id: "tok_1".into(),
        kind: AccountKind::Human,
        roles: vec![],
        issued_at: Timestamp::from_secs(900),
        expires_at: Timestamp::from_secs(1_800),
        auth_time: Timestamp::from_secs(900),
        amr: vec!["pwd".into()],
        scopes: vec![],
        org: None,
        elevated_roles: vec![],
        elevated_until: None,
        client_id: None,
        actor: None,
        resources: vec![],
        audience: vec![],
    }
}

/// A fresh secret `s` whose hash is `hash-s`.
pub fn secret(s: &str) -> NewSecret {
    NewSecret {
        secret: SecretString::new(s),
        hash: format!("hash-{s}"),
    }
}

/// The audit kinds a plan carries, in order.
pub fn audit_kinds<T>(plan: &Plan<T>) -> Vec<AuditKind> {
    plan.commit.audit.iter().map(|a| a.kind).collect()
}

/// A short description of each write: (`insert` / `update` / `delete` / `check`, kind, id,
/// expected version).
pub fn writes<T>(plan: &Plan<T>) -> Vec<(&'static str, RecordKind, String, u64)> {
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

/// The body of the written record of `kind` with `id`, decoded.
pub fn written<T: serde::de::DeserializeOwned, O>(plan: &Plan<O>, kind: RecordKind, id: &str) -> T {
    plan.commit
        .writes
        .iter()
        .find_map(|w| match w {
            Write::Insert(r) | Write::Update { record: r, .. } if r.kind == kind && r.id == id => {
                Some(crate::record_body::from_body(&r.body).expect("body"))
            }
            _ => None,
        })
        .expect("the record is written")
}
