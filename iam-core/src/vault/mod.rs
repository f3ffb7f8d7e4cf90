//! The database-credentials vault: PostgreSQL credentials per service account, sealed at rest.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::authz::Action;
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Missing, Result};
use crate::iam::Iam;
use crate::secret::SecretString;
use crate::store::{Record, RecordKind, Store};
use crate::token::Principal;

pub(crate) mod rules;

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

/// Sealed credentials as stored (the body of a [`RecordKind::DbCredentials`] record).
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
            let plan =
                rules::credentials_denied(&actor.account_id, service_account_id, "store", now);
            plan.apply(&self.inner.store).await?;
            return Err(denied);
        }
        self.retrying(|| async {
            let account = self.stored_account(service_account_id).await?;
            rules::require_system_account(&account.1)?;
            let sealed = self.seal_credentials(service_account_id, creds)?;
            let existing = self
                .inner
                .store
                .get(RecordKind::DbCredentials, service_account_id)
                .await?;
            let plan = rules::store_db_credentials(
                &account,
                existing.as_ref(),
                sealed,
                &creds.user,
                &actor.account_id,
                now,
            )?;
            plan.apply(&self.inner.store).await
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
        let window = self.inner.config.recent_authentication;
        self.retrying(|| async {
            let account = self.stored_account(service_account_id).await?;
            let stored = self
                .inner
                .store
                .get(RecordKind::DbCredentials, service_account_id)
                .await?;
            let plan = rules::fetch_db_credentials(actor, &account, stored.as_ref(), window, now)?;
            let creds = match (&plan.output, &stored) {
                (Ok(()), Some(record)) => Some(self.open_credentials(service_account_id, record)?),
                _ => None,
            };
            plan.apply(&self.inner.store).await??;
            creds.ok_or(Error::NotFound(Missing::DatabaseCredentials))
        })
        .await
    }

    /// Seals `creds` for `service_account_id` (a fresh nonce each time).
    fn seal_credentials(&self, service_account_id: &str, creds: &DbCredentials) -> Result<String> {
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
        self.inner
            .sealer
            .seal(&self.inner.rng, &json, &aad(service_account_id))
    }

    /// Opens the sealed credentials in `record`.
    fn open_credentials(&self, service_account_id: &str, record: &Record) -> Result<DbCredentials> {
        let stored: StoredCredentials = crate::record_body::from_body(&record.body)?;
        let json = self
            .inner
            .sealer
            .open(&stored.sealed, &aad(service_account_id))?;
        let plain: Plain = serde_json::from_slice(&json)
            .map_err(|_| Error::Crypto("sealed credentials are malformed"))?;
        Ok(DbCredentials {
            host: plain.host.clone(),
            port: plain.port,
            database: plain.database.clone(),
            user: plain.user.clone(),
            password: SecretString::new(plain.password.clone()),
        })
    }
}
