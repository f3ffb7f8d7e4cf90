//! Personal API tokens: opaque secrets with a label, scopes and an expiry; shown once.

use serde::{Deserialize, Serialize};

use crate::account::{validate_role, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::ADMIN_ROLE;
use crate::authz::{Action, Caller, CredentialKind, MANAGEMENT_SCOPE};
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error, InvalidInput, Missing, Result};
use crate::iam::Iam;
use crate::secret::SecretString;
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, Write};
use crate::token::Amr;
use crate::token::{is_opaque_token_shape, new_opaque_token, Principal};

/// The prefix of every personal API token (so secret scanners can find leaked ones).
pub const API_TOKEN_PREFIX: &str = "iam_pat_";
/// The `amr` value of principals authenticated by an API token.
pub const API_TOKEN_AMR: &str = Amr::ApiToken.as_str();

/// A personal API token's metadata (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    /// Public id (`pat_…`), for listing and revoking.
    pub id: String,
    /// The owner.
    pub account_id: String,
    /// The owner's label.
    pub label: String,
    /// What the token may do (a subset of the owner's roles).
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Expiry time.
    pub expires_at: Timestamp,
    /// Revocation time, if revoked.
    pub revoked_at: Option<Timestamp>,
}

/// A new API token: the secret is returned here once and never again.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    /// Its metadata.
    pub info: ApiTokenInfo,
    /// The secret (`iam_pat_…`).
    pub secret: SecretString,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Creates an API token for the logged-in `owner` with `scopes` drawn from their standing roles.
    pub async fn create_api_token(
        &self,
        owner: &Principal,
        label: &str,
        scopes: &[String],
        expires_at: Timestamp,
    ) -> Result<NewApiToken> {
        self.may(
            Caller::Principal(owner),
            Action::CreateApiToken {
                carries_roles: !scopes.is_empty(),
            },
        )?;
        if label.trim().is_empty() || label.chars().count() > 128 {
            return Err(InvalidInput::Label("a token label").into());
        }
        let now = self.now();
        if expires_at <= now {
            return Err(InvalidInput::ExpiryInPast.into());
        }
        let max = self.inner.config.api_token_max_ttl;
        if now.until(expires_at) > max {
            return Err(InvalidInput::DurationTooLong {
                max_secs: max.as_secs(),
            }
            .into());
        }
        let (_, account) = self.stored_account(&owner.account_id).await?;
        for s in scopes {
            validate_role(s)?;
            if s == MANAGEMENT_SCOPE {
                if !account.roles.contains(ADMIN_ROLE) {
                    return Err(Denial::MissingRole(ADMIN_ROLE.to_owned()).into());
                }
            } else if !account.roles.contains(s) {
                return Err(Denial::MissingRole(s.clone()).into());
            }
        }
        let secret = SecretString::new(format!(
            "{API_TOKEN_PREFIX}{}",
            new_opaque_token(&self.inner.rng).expose()
        ));
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        let info = ApiTokenInfo {
            id: self.inner.rng.id("pat_"),
            account_id: account.id.clone(),
            label: label.to_owned(),
            scopes,
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        let record = api_token_record(self.inner.token_hasher.hash(secret.expose()), &info)?;
        let audit = AuditDraft::new(AuditKind::ApiTokenCreated, now)
            .actor(Some(&owner.account_id))
            .account(&account.id)
            .detail("token_id", info.id.clone())
            .detail("scopes", info.scopes.join(","));
        self.inner
            .store
            .commit(Commit {
                writes: vec![Write::Insert(record)],
                audit: vec![audit],
                ..Commit::default()
            })
            .await?;
        Ok(NewApiToken { info, secret })
    }

    /// An account's API tokens (metadata only), oldest first (itself or an admin).
    pub async fn list_api_tokens(
        &self,
        caller: Caller<'_>,
        account_id: &str,
    ) -> Result<Vec<ApiTokenInfo>> {
        self.may(
            caller,
            Action::ReadAccount {
                account: account_id,
            },
        )?;
        let q = ListQuery {
            parent: Some(account_id.to_owned()),
            ..ListQuery::default()
        };
        let records = self.inner.store.list(RecordKind::ApiToken, &q).await?;
        let mut infos: Vec<ApiTokenInfo> = records
            .iter()
            .map(|r| crate::json::from_body(&r.body))
            .collect::<Result<_>>()?;
        infos.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(infos)
    }

    /// Revokes an API token by its public id; allowed for its owner (with a session) and for
    /// admins. Takes effect at once.
    pub async fn revoke_api_token(&self, caller: Caller<'_>, token_id: &str) -> Result<()> {
        self.retrying(|| async {
            let record = self
                .inner
                .store
                .find(RecordKind::ApiToken, token_id)
                .await?
                .ok_or(Error::NotFound(Missing::ApiToken))?;
            let mut info: ApiTokenInfo = crate::json::from_body(&record.body)?;
            let now = self.now();
            self.check(
                caller,
                Action::RevokeCredentials {
                    account: &info.account_id,
                },
                now,
            )?;
            if info.revoked_at.is_some() {
                return Ok(());
            }
            info.revoked_at = Some(now);
            let write = Write::Update {
                record: api_token_record(record.id.clone(), &info)?,
                expected_version: record.version,
            };
            let audit = AuditDraft::new(AuditKind::ApiTokenRevoked, now)
                .actor(caller.audit_id())
                .account(&info.account_id)
                .detail("token_id", info.id.clone());
            self.inner
                .store
                .commit(Commit {
                    writes: vec![write],
                    audit: vec![audit],
                    ..Commit::default()
                })
                .await?;
            Ok(())
        })
        .await
    }

    /// Revokes every live API token of `account_id` (after an admin's password reset).
    pub(crate) async fn revoke_api_tokens_of(
        &self,
        account_id: &str,
        actor: Option<&str>,
    ) -> Result<usize> {
        self.retrying(|| async {
            let q = ListQuery {
                parent: Some(account_id.to_owned()),
                ..ListQuery::default()
            };
            let now = self.now();
            let mut commit = Commit::default();
            for record in self.inner.store.list(RecordKind::ApiToken, &q).await? {
                let mut info: ApiTokenInfo = crate::json::from_body(&record.body)?;
                if info.revoked_at.is_some() {
                    continue;
                }
                info.revoked_at = Some(now);
                commit.writes.push(Write::Update {
                    record: api_token_record(record.id.clone(), &info)?,
                    expected_version: record.version,
                });
                commit.audit.push(
                    AuditDraft::new(AuditKind::ApiTokenRevoked, now)
                        .actor(actor)
                        .account(account_id)
                        .detail("token_id", info.id.clone()),
                );
            }
            let revoked = commit.writes.len();
            if revoked > 0 {
                self.inner.store.commit(commit).await?;
            }
            Ok(revoked)
        })
        .await
    }

    /// Verifies an API token secret (one store read). Its scopes are cut down to the roles the
    /// owner still holds.
    pub async fn verify_api_token(&self, secret: &str) -> std::result::Result<Principal, Denial> {
        let body = secret
            .strip_prefix(API_TOKEN_PREFIX)
            .ok_or(Denial::ApiTokenInvalid)?;
        if !is_opaque_token_shape(body) {
            return Err(Denial::ApiTokenInvalid);
        }
        let hash = self.inner.token_hasher.hash(secret);
        let unavailable = |_| Denial::RevocationUnavailable;
        let record = self
            .inner
            .store
            .get(RecordKind::ApiToken, &hash)
            .await
            .map_err(unavailable)?
            .ok_or(Denial::ApiTokenInvalid)?;
        let info: ApiTokenInfo =
            crate::json::from_body(&record.body).map_err(|_| Denial::ApiTokenInvalid)?;
        let now = self.now();
        if info.revoked_at.is_some() {
            return Err(Denial::TokenRevoked);
        }
        if now >= info.expires_at {
            return Err(Denial::TokenExpired);
        }
        let account: StoredAccount = match self
            .inner
            .store
            .get(RecordKind::Account, &info.account_id)
            .await
            .map_err(unavailable)?
        {
            Some(r) => crate::json::from_body(&r.body).map_err(|_| Denial::ApiTokenInvalid)?,
            None => return Err(Denial::ApiTokenInvalid),
        };
        if account.disabled {
            return Err(Denial::AccountDisabled);
        }
        let held = |s: &String| {
            account.roles.contains(s)
                || (s == MANAGEMENT_SCOPE && account.roles.contains(ADMIN_ROLE))
        };
        let scopes: Vec<String> = info.scopes.into_iter().filter(held).collect();
        let roles = scopes
            .iter()
            .filter(|s| account.roles.contains(*s))
            .cloned()
            .collect();
        Ok(Principal {
            credential: CredentialKind::ApiToken,
            account_id: account.id,
            session_id: info.id.clone(),
            token_id: info.id,
            kind: account.kind,
            roles,
            issued_at: info.created_at,
            expires_at: info.expires_at,
            auth_time: info.created_at,
            amr: vec![Amr::ApiToken.into()],
            scopes,
            org: None,
            elevated_roles: vec![],
            elevated_until: None,
            client_id: None,
            actor: None,
            resources: vec![],
            audience: vec![self.inner.config.audience.clone()],
        })
    }
}

fn api_token_record(hash: String, info: &ApiTokenInfo) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::ApiToken,
        id: hash,
        version: 0,
        parent: Some(info.account_id.clone()),
        lookup: Some(info.id.clone()),
        expires_at: Some(info.expires_at),
        body: crate::json::to_body(info)?,
    })
}
