//! The OAuth client registry: registration, secret rotation with a grace period, disabling.
//! Rules: [`crate::oauth::rules::clients`].

use crate::authz::{check_client_scopes, Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error, Missing, Result};
use crate::iam::Iam;
use crate::oauth::client::StoredClient;
use crate::oauth::rules::clients::{
    decide_disable_client, decide_register_client, decide_rotate_client_secret, TokenCutoff,
};
use crate::oauth::rules::NewSecret;
use crate::oauth::{NewClient, OAuthClient, RegisteredClient, CLIENT_SECRET_PREFIX};
use crate::secret::SecretString;
use crate::store::{ListQuery, Record, RecordKind, Store};
use crate::token::{new_opaque_token, Principal};

impl<S: Store, C: Clock> Iam<S, C> {
    /// A fresh client secret (`iam_cs_…`) and its keyed hash.
    fn new_client_secret(&self) -> NewSecret {
        let token = new_opaque_token(&self.inner.rng);
        let secret = SecretString::new(format!("{CLIENT_SECRET_PREFIX}{}", token.expose()));
        let hash = self.inner.token_hasher.hash(secret.expose());
        NewSecret { secret, hash }
    }

    /// Registers an OAuth client. Admins may register any client; any other account may
    /// register only a client that acts for itself ([`NewClient::acting_for_owner`]). The
    /// secret of a confidential client is returned here once; only its keyed hash is stored.
    pub async fn register_client(
        &self,
        actor: &Principal,
        new: NewClient,
    ) -> Result<RegisteredClient> {
        let now = self.now();
        self.check(
            actor.into(),
            Action::RegisterClient {
                first_party: new.first_party,
                acts_for_owner: new.acts_for_owner,
            },
            now,
        )?;
        check_client_scopes(actor, new.first_party, &new.scopes)?;
        let registered_by_admin = self
            .check(
                actor.into(),
                Action::RegisterClient {
                    first_party: false,
                    acts_for_owner: false,
                },
                now,
            )
            .is_ok();
        let client_id = self.inner.rng.id("cli_");
        let secret = self.new_client_secret();
        let plan = decide_register_client(
            &actor.account_id,
            new,
            registered_by_admin,
            client_id,
            secret,
            now,
        )?;
        plan.apply(&self.inner.store).await
    }

    /// The client with `client_id` (its owner and admins; [`Error::NotFound`] to others).
    pub async fn oauth_client(&self, caller: Caller<'_>, client_id: &str) -> Result<OAuthClient> {
        let now = self.now();
        let (_, client) = self.managed_client(caller, client_id, now).await?;
        Ok(client.info)
    }

    /// Every registered client, ordered by id (admins).
    pub async fn list_oauth_clients(&self, caller: Caller<'_>) -> Result<Vec<OAuthClient>> {
        let now = self.now();
        self.check(caller, Action::ListClients, now)?;
        let records = self
            .inner
            .store
            .list(RecordKind::OAuthClient, &ListQuery::default())
            .await?;
        records
            .iter()
            .map(|r| crate::record_body::from_body::<StoredClient>(&r.body).map(|c| c.info))
            .collect()
    }

    /// Gives a confidential client a new secret (returned once). The old secret keeps working
    /// for the configured grace period (default 24 h), then fails with `invalid_client`.
    /// Allowed for admins and the client's owner.
    pub async fn rotate_client_secret(
        &self,
        actor: &Principal,
        client_id: &str,
    ) -> Result<SecretString> {
        let now = self.now();
        let grace = self.inner.config.oauth.client_secret_grace;
        self.retrying(|| async {
            let client = self.managed_client(actor.into(), client_id, now).await?;
            let secret = self.new_client_secret();
            let plan = decide_rotate_client_secret(client, &actor.account_id, secret, grace, now)?;
            plan.apply(&self.inner.store).await
        })
        .await
    }

    /// Disables a client: it can no longer authenticate, and every token issued to it (user
    /// token families and client-credentials tokens) stops working at once. Allowed for
    /// admins and the client's owner. Returns how many live token families were revoked.
    pub async fn disable_client(&self, actor: &Principal, client_id: &str) -> Result<usize> {
        let now = self.now();
        self.retrying(|| async {
            let tokens = TokenCutoff {
                cutoff: self.inner.revocations.cutoff(now),
                access_ttl: self.inner.config.oauth.access_token_ttl,
            };
            let client = self.managed_client(actor.into(), client_id, now).await?;
            let families = self.client_families(client_id).await?;
            let plan = decide_disable_client(client, families, &actor.account_id, tokens, now)?;
            plan.apply(&self.inner.store).await
        })
        .await
    }

    /// Loads the client with `client_id` if `caller` may manage it (its owner or an admin);
    /// others learn nothing of it ([`Error::NotFound`]).
    async fn managed_client(
        &self,
        caller: Caller<'_>,
        client_id: &str,
        now: Timestamp,
    ) -> Result<(Record, StoredClient)> {
        let (record, client) = self
            .load_client(client_id)
            .await?
            .ok_or(Error::NotFound(Missing::OAuthClient))?;
        let action = Action::ManageClient {
            owner: client.info.owner.as_deref(),
        };
        match self.check(caller, action, now) {
            Err(Error::Denied(Denial::NotPermitted)) => Err(Error::NotFound(Missing::OAuthClient)),
            other => other.map(|()| (record, client)),
        }
    }
}
