//! Service-account tokens: exactly one live token per system account.

use serde::{Deserialize, Serialize};

use crate::account::manage::account_record;
use crate::account::AccountKind;
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::Action;
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error, InvalidInput, Result};
use crate::iam::Iam;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::secret::SecretString;
use crate::store::{Commit, Record, RecordKind, Store, StoreError, Write};
use crate::token::access::AccessClaims;
use crate::token::Amr;
use crate::token::Principal;

/// The `amr` value of service-account tokens.
pub const SERVICE_TOKEN_AMR: &str = Amr::ServiceToken.as_str();

/// A freshly issued service-account token (shown once).
#[derive(Debug, Clone)]
pub struct ServiceToken {
    /// The PASETO access token the service presents.
    pub token: SecretString,
    /// The grant id (the token's `sid`).
    pub grant_id: String,
    /// When it expires.
    pub expires_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredServiceGrant {
    account_id: String,
    created_at: Timestamp,
    expires_at: Timestamp,
    issued_by: String,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Issues a token for a system account, revoking its previous token at once.
    /// Allowed for admins and for holders of the role named exactly like the account.
    pub async fn issue_service_token(
        &self,
        actor: &Principal,
        service_account_id: &str,
    ) -> Result<ServiceToken> {
        let (_, sa) = self.stored_account(service_account_id).await?;
        if sa.kind != AccountKind::System {
            return Err(InvalidInput::AccountKind("service tokens are for system accounts").into());
        }
        self.may(
            actor.into(),
            Action::IssueServiceToken {
                service_role: &sa.username,
            },
        )?;
        self.replace_service_grant(service_account_id, &actor.account_id)
            .await
    }

    /// Renews the presenting service token before it expires: a new token replaces it.
    pub async fn renew_service_token(&self, holder: &Principal) -> Result<ServiceToken> {
        self.may(holder.into(), Action::RenewServiceToken)?;
        let (_, sa) = self.stored_account(&holder.account_id).await?;
        if sa.service_grant.as_deref() != Some(holder.session_id.as_str()) {
            return Err(Denial::TokenRevoked.into());
        }
        self.replace_service_grant(&holder.account_id, &holder.account_id)
            .await
    }

    /// Revokes a system account's token (admins only).
    pub async fn revoke_service_token(
        &self,
        actor: &Principal,
        service_account_id: &str,
    ) -> Result<()> {
        self.may(actor.into(), Action::RevokeServiceToken)?;
        for _ in 0..crate::iam::MAX_ATTEMPTS {
            let (record, mut sa) = self.stored_account(service_account_id).await?;
            let Some(old) = sa.service_grant.take() else {
                return Ok(());
            };
            let now = self.now();
            let commit = Commit {
                writes: vec![Write::Update {
                    record: account_record(&sa)?,
                    expected_version: record.version,
                }],
                revocations: vec![self.grant_revocation(&old, now)],
                audit: vec![AuditDraft::new(AuditKind::ServiceTokenRevoked, now)
                    .actor(Some(&actor.account_id))
                    .account(service_account_id)
                    .session(&old)],
                ..Commit::default()
            };
            match self.inner.store.commit(commit).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict) => crate::offload::yield_now().await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention)
    }

    /// A revocation of a service grant that lasts as long as a token of it could.
    fn grant_revocation(&self, grant_id: &str, now: Timestamp) -> RevocationChange {
        RevocationChange::Put(Revocation {
            subject: RevokedSubject::Grant,
            id: grant_id.to_owned(),
            issued_before: Timestamp::MAX,
            until: now.plus(self.inner.config.service_token_ttl),
        })
    }

    async fn replace_service_grant(
        &self,
        service_account_id: &str,
        actor: &str,
    ) -> Result<ServiceToken> {
        for _ in 0..crate::iam::MAX_ATTEMPTS {
            let (record, mut sa) = self.stored_account(service_account_id).await?;
            if sa.disabled {
                return Err(Denial::AccountDisabled.into());
            }
            let now = self.now();
            let exp = now.plus(self.inner.config.service_token_ttl);
            let grant_id = self.inner.rng.id("svc_");
            let old = sa.service_grant.replace(grant_id.clone());
            let grant = StoredServiceGrant {
                account_id: sa.id.clone(),
                created_at: now,
                expires_at: exp,
                issued_by: actor.to_owned(),
            };
            let mut claims = AccessClaims::base(
                &self.inner.config,
                &sa.id,
                &grant_id,
                self.inner.rng.id("tok_"),
                sa.kind,
                crate::authz::CredentialKind::ServiceToken,
                now,
                exp,
            );
            claims.roles = sa.roles.iter().cloned().collect();
            claims.amr = vec![Amr::ServiceToken.into()];
            let token = self.sign_claims(&claims)?;
            let mut commit = Commit {
                writes: vec![
                    Write::Update {
                        record: account_record(&sa)?,
                        expected_version: record.version,
                    },
                    Write::Insert(Record {
                        kind: RecordKind::ServiceGrant,
                        id: grant_id.clone(),
                        version: 0,
                        parent: Some(sa.id.clone()),
                        lookup: None,
                        expires_at: Some(exp),
                        body: crate::json::to_body(&grant)?,
                    }),
                ],
                audit: vec![AuditDraft::new(AuditKind::ServiceTokenIssued, now)
                    .actor(Some(actor))
                    .account(&sa.id)
                    .session(&grant_id)],
                ..Commit::default()
            };
            if let Some(old) = old {
                commit.revocations.push(self.grant_revocation(&old, now));
                commit.audit[0].detail.insert("replaces".into(), old);
            }
            match self.inner.store.commit(commit).await {
                Ok(()) => {
                    return Ok(ServiceToken {
                        token: SecretString::new(token),
                        grant_id,
                        expires_at: exp,
                    })
                }
                Err(StoreError::Conflict) => crate::offload::yield_now().await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention)
    }
}
