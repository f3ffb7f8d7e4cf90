//! Service-account tokens: exactly one live token per system account.

use crate::authz::Action;
use crate::clock::{Clock, Timestamp};
use crate::error::Result;
use crate::iam::Iam;
use crate::secret::SecretString;
use crate::store::Store;
use crate::token::rules::{self, FreshGrant, GrantRequest};
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

impl<S: Store, C: Clock> Iam<S, C> {
    /// Issues a token for a system account, revoking its previous token at once.
    /// Allowed for admins and for holders of the role named exactly like the account.
    pub async fn issue_service_token(
        &self,
        actor: &Principal,
        service_account_id: &str,
    ) -> Result<ServiceToken> {
        let now = self.now();
        self.replace_service_grant(service_account_id, GrantRequest::Issue(actor), now)
            .await
    }

    /// Renews the presenting service token before it expires: a new token replaces it.
    pub async fn renew_service_token(&self, holder: &Principal) -> Result<ServiceToken> {
        let now = self.now();
        self.check(holder.into(), Action::RenewServiceToken, now)?;
        self.replace_service_grant(&holder.account_id, GrantRequest::Renew(holder), now)
            .await
    }

    /// Revokes a system account's token (admins only).
    pub async fn revoke_service_token(
        &self,
        actor: &Principal,
        service_account_id: &str,
    ) -> Result<()> {
        let now = self.now();
        self.check(actor.into(), Action::RevokeServiceToken, now)?;
        let ttl = self.inner.config.service_token_ttl;
        self.retrying(|| async {
            let account = self.stored_account(service_account_id).await?;
            let plan = rules::revoke_service_token(account, &actor.account_id, ttl, now)?;
            plan.apply(&self.inner.store).await
        })
        .await
    }

    /// Loads the service account, decides the new grant with [`rules::issue_service_token`],
    /// signs its token and commits, retrying when the account changed meanwhile.
    async fn replace_service_grant(
        &self,
        service_account_id: &str,
        request: GrantRequest<'_>,
        now: Timestamp,
    ) -> Result<ServiceToken> {
        self.retrying(|| async {
            let account = self.stored_account(service_account_id).await?;
            let fresh = FreshGrant {
                grant_id: self.inner.rng.id("svc_"),
                token_id: self.inner.rng.id("tok_"),
            };
            let plan =
                rules::issue_service_token(account, request, fresh, &self.inner.config, now)?;
            let token = self.sign_claims(&plan.output.claims)?;
            let grant = plan.apply(&self.inner.store).await?;
            Ok(ServiceToken {
                token: SecretString::new(token),
                grant_id: grant.grant_id,
                expires_at: grant.expires_at,
            })
        })
        .await
    }
}
