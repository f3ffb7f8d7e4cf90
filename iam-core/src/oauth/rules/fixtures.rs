//! Records and decoded state for the OAuth rules' unit tests, built on the crate's shared
//! fixtures.

use serde::Serialize;

use super::NewSecret;
use crate::account::{AccountKind, StoredAccount};
use crate::authz::CredentialKind;
use crate::clock::Timestamp;
use crate::fixtures::{issued, record, session as live_session, stored_account};
use crate::oauth::client::{ClientKind, GrantType, OAuthClient, StoredClient};
use crate::oauth::grant::{consent_id, OAuthConsent, StoredFamily};
use crate::plan::Plan;
use crate::secret::SecretString;
use crate::session::Session;
use crate::store::{Record, RecordKind, Write};
use crate::token::Principal;

pub(crate) use crate::fixtures::{audit_kinds, config, set, writes};

/// A record holding `body`, of the kind its type is stored as, at `version`.
pub fn record_of<T: Stored>(body: &T, version: u64) -> Record {
    record(T::KIND, &body.id(), version, body)
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
            oidc: crate::oidc::OidcClientSettings::default(),
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
        username: format!("user-{id}"),
        created_at: Timestamp::from_secs(0),
        ..stored_account(id, AccountKind::Human, &["read"])
    }
}

/// The account and its record at version 5.
pub fn account_read(id: &str) -> (Record, StoredAccount) {
    let a = account(id);
    (record_of(&a, 5), a)
}

/// A session of `account` authenticated at 900 s, live until 10 000 s.
pub fn session(id: &str, account: &str) -> Session {
    live_session(
        id,
        account,
        Timestamp::from_secs(900),
        Timestamp::from_secs(10_000),
    )
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
        session_id: Some("ses_1".into()),
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
    let r = Record {
        parent: Some("acc_a".into()),
        ..record(
            RecordKind::OAuthConsent,
            &consent_id("acc_a", "cli_1"),
            6,
            &c,
        )
    };
    (r, c)
}

/// The principal of a session token of `account` in `session`, authenticated at 900 s.
pub fn principal(account: &str, session: &str) -> Principal {
    let p = crate::fixtures::principal(account, CredentialKind::Session, &[]);
    Principal {
        session_id: session.into(),
        audience: vec![],
        ..issued(p, Timestamp::from_secs(900), Timestamp::from_secs(1_800))
    }
}

/// A fresh secret `s` whose hash is `hash-s`.
pub fn secret(s: &str) -> NewSecret {
    NewSecret {
        secret: SecretString::new(s),
        hash: format!("hash-{s}"),
    }
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
