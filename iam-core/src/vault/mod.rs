//! The database-credentials vault: PostgreSQL credentials per service account, sealed at rest.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::account::AccountKind;
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::Action;
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error, InvalidInput, Missing, Result};
use crate::iam::Iam;
use crate::secret::SecretString;
use crate::store::{Commit, Record, RecordKind, Store, Write};
use crate::token::Principal;

/// PostgreSQL credentials held for a service account.
#[derive(Clone, PartialEq, Eq)]
pub struct DbCredentials {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// Role (user) name.
    pub user: String,
    /// Password.
    pub password: SecretString,
}

impl std::fmt::Debug for DbCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbCredentials")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// The plaintext form that is sealed (zeroized after use).
#[derive(Serialize, Deserialize)]
struct Plain {
    host: String,
    port: u16,
    database: String,
    user: String,
    password: String,
}

impl Drop for Plain {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.password);
    }
}

#[derive(Serialize, Deserialize)]
struct StoredCredentials {
    sealed: String,
    updated_at: Timestamp,
    updated_by: String,
}

fn aad(service_account_id: &str) -> String {
    format!("vault:{service_account_id}")
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Stores (or replaces) the database credentials of a system account. Admins only.
    pub async fn store_db_credentials(
        &self,
        actor: &Principal,
        service_account_id: &str,
        creds: &DbCredentials,
    ) -> Result<()> {
        let now = self.now();
        if let Err(denied) = self.check(actor.into(), Action::StoreDbCredentials, now) {
            self.audit_denied_credentials(actor, service_account_id, "store", now)
                .await?;
            return Err(denied);
        }
        let (_, sa) = self.stored_account(service_account_id).await?;
        if sa.kind != AccountKind::System {
            return Err(InvalidInput::AccountKind(
                "database credentials belong to system accounts",
            )
            .into());
        }
        let plain = Plain {
            host: creds.host.clone(),
            port: creds.port,
            database: creds.database.clone(),
            user: creds.user.clone(),
            password: creds.password.expose().to_owned(),
        };
        let json = Zeroizing::new(
            serde_json::to_vec(&plain).map_err(|_| Error::Crypto("credentials encoding failed"))?,
        );
        let sealed = self
            .inner
            .sealer
            .seal(&self.inner.rng, &json, &aad(service_account_id))?;
        let body = crate::json::to_body(&StoredCredentials {
            sealed,
            updated_at: now,
            updated_by: actor.account_id.clone(),
        })?;
        let audit = AuditDraft::new(AuditKind::CredentialsStored, now)
            .actor(Some(&actor.account_id))
            .account(service_account_id)
            .detail("db_user", creds.user.clone());
        self.retrying(|| async {
            let existing = self
                .inner
                .store
                .get(RecordKind::DbCredentials, service_account_id)
                .await?;
            let record = Record {
                kind: RecordKind::DbCredentials,
                id: service_account_id.to_owned(),
                version: 0,
                parent: None,
                lookup: None,
                expires_at: None,
                body: body.clone(),
            };
            let write = match existing {
                Some(old) => Write::Update {
                    record,
                    expected_version: old.version,
                },
                None => Write::Insert(record),
            };
            let commit = Commit {
                writes: vec![write],
                audit: vec![audit.clone()],
                ..Commit::default()
            };
            Ok(self.inner.store.commit(commit).await?)
        })
        .await
    }

    /// Fetches a system account's database credentials: allowed for the account itself and for
    /// holders of the role named like it. Every fetch, allowed or refused, is audited.
    pub async fn fetch_db_credentials(
        &self,
        actor: &Principal,
        service_account_id: &str,
    ) -> Result<DbCredentials> {
        let now = self.now();
        let (_, sa) = self.stored_account(service_account_id).await?;
        let action = Action::FetchDbCredentials {
            service_account: &sa.id,
            service_role: &sa.username,
        };
        let allowed = if sa.kind == AccountKind::System {
            self.check(actor.into(), action, now)
        } else {
            Err(Denial::NotPermitted.into())
        };
        if let Err(denied) = allowed {
            self.audit_denied_credentials(actor, service_account_id, "fetch", now)
                .await?;
            return Err(denied);
        }
        let (_, stored) = self
            .load::<StoredCredentials>(RecordKind::DbCredentials, service_account_id)
            .await?
            .ok_or(Error::NotFound(Missing::DatabaseCredentials))?;
        let json = self
            .inner
            .sealer
            .open(&stored.sealed, &aad(service_account_id))?;
        let plain: Plain = serde_json::from_slice(&json)
            .map_err(|_| Error::Crypto("sealed credentials are malformed"))?;
        let audit = AuditDraft::new(AuditKind::CredentialsFetched, now)
            .actor(Some(&actor.account_id))
            .account(service_account_id);
        self.inner
            .store
            .commit(Commit {
                audit: vec![audit],
                ..Commit::default()
            })
            .await?;
        Ok(DbCredentials {
            host: plain.host.clone(),
            port: plain.port,
            database: plain.database.clone(),
            user: plain.user.clone(),
            password: SecretString::new(plain.password.clone()),
        })
    }

    async fn audit_denied_credentials(
        &self,
        actor: &Principal,
        sa: &str,
        action: &str,
        now: Timestamp,
    ) -> Result<()> {
        let audit = AuditDraft::new(AuditKind::CredentialsDenied, now)
            .actor(Some(&actor.account_id))
            .account(sa)
            .detail("action", action);
        Ok(self
            .inner
            .store
            .commit(Commit {
                audit: vec![audit],
                ..Commit::default()
            })
            .await?)
    }
}
