//! Personal API tokens: opaque secrets with a label, scopes and an expiry; shown once.

use crate::account::StoredAccount;
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error, Missing, Result};
use crate::iam::Iam;
use crate::secret::SecretString;
use crate::store::{ListQuery, Record, RecordKind, Store};
use crate::token::rules::{self, ApiTokenRequest, FreshApiToken};
use crate::token::Amr;
use crate::token::{is_opaque_token_shape, new_opaque_token, ApiTokenInfo, Principal};

/// The prefix of every personal API token (so secret scanners can find leaked ones).
pub const API_TOKEN_PREFIX: &str = "iam_pat_";
/// The `amr` value of principals authenticated by an API token.
pub const API_TOKEN_AMR: &str = Amr::ApiToken.as_str();

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
        let now = self.now();
        self.check(
            Caller::Principal(owner),
            Action::CreateApiToken {
                carries_roles: !scopes.is_empty(),
            },
            now,
        )?;
        let request = ApiTokenRequest {
            label,
            scopes,
            expires_at,
        };
        self.retrying(|| async {
            let account = self
                .load::<StoredAccount>(RecordKind::Account, &owner.account_id)
                .await?;
            let secret = SecretString::new(format!(
                "{API_TOKEN_PREFIX}{}",
                new_opaque_token(&self.inner.rng).expose()
            ));
            let fresh = FreshApiToken {
                id: self.inner.rng.id("pat_"),
                secret_hash: self.inner.token_hasher.hash(secret.expose()),
            };
            let max_ttl = self.inner.config.api_token_max_ttl;
            let plan = rules::create_api_token(account.as_ref(), &request, fresh, max_ttl, now)?;
            let info = plan.apply(&self.inner.store).await?;
            Ok(NewApiToken { info, secret })
        })
        .await
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
        let mut infos: Vec<ApiTokenInfo> = self
            .api_tokens_of(account_id)
            .await?
            .into_iter()
            .map(|(_, info)| info)
            .collect();
        infos.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(infos)
    }

    /// Revokes an API token by its public id; allowed for its owner (with a session) and for
    /// admins. Takes effect at once.
    pub async fn revoke_api_token(&self, caller: Caller<'_>, token_id: &str) -> Result<()> {
        let now = self.now();
        self.retrying(|| async {
            let record = self
                .inner
                .store
                .find(RecordKind::ApiToken, token_id)
                .await?
                .ok_or(Error::NotFound(Missing::ApiToken))?;
            let info: ApiTokenInfo = crate::record_body::from_body(&record.body)?;
            self.check(
                caller,
                Action::RevokeCredentials {
                    account: &info.account_id,
                },
                now,
            )?;
            let plan = rules::revoke_api_tokens(vec![(record, info)], caller.audit_id(), now)?;
            plan.apply(&self.inner.store).await?;
            Ok(())
        })
        .await
    }

    /// Revokes every live API token of `account_id` (after an admin's password reset).
    pub(crate) async fn revoke_api_tokens_of(
        &self,
        account_id: &str,
        actor: Option<&str>,
        now: Timestamp,
    ) -> Result<usize> {
        self.retrying(|| async {
            let tokens = self.api_tokens_of(account_id).await?;
            let plan = rules::revoke_api_tokens(tokens, actor, now)?;
            plan.apply(&self.inner.store).await
        })
        .await
    }

    /// The API token records of `account_id`, decoded.
    async fn api_tokens_of(&self, account_id: &str) -> Result<Vec<(Record, ApiTokenInfo)>> {
        let q = ListQuery {
            parent: Some(account_id.to_owned()),
            ..ListQuery::default()
        };
        self.inner
            .store
            .list(RecordKind::ApiToken, &q)
            .await?
            .into_iter()
            .map(|r| {
                let info = crate::record_body::from_body(&r.body)?;
                Ok((r, info))
            })
            .collect()
    }

    /// Verifies an API token secret against the stored token and its owner (live, unexpired,
    /// owner enabled). Its scopes are cut down to the roles the owner still holds.
    pub async fn verify_api_token(&self, secret: &str) -> std::result::Result<Principal, Denial> {
        let now = self.now();
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
            crate::record_body::from_body(&record.body).map_err(|_| Denial::ApiTokenInvalid)?;
        let owner: Option<StoredAccount> = match self
            .inner
            .store
            .get(RecordKind::Account, &info.account_id)
            .await
            .map_err(unavailable)?
        {
            Some(r) => {
                Some(crate::record_body::from_body(&r.body).map_err(|_| Denial::ApiTokenInvalid)?)
            }
            None => None,
        };
        rules::verify_api_token(info, owner, &self.inner.config.audience, now)
    }
}
