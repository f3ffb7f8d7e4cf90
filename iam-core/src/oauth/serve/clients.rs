//! The OAuth client registry: registration, secret rotation with a grace period, disabling.

use std::time::Duration;

use super::{client_record, revoke_family_into};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::{check_client_scopes, Action, Caller};
use crate::clock::Clock;
use crate::error::{Conflict, Denial, Error, Missing, Result};
use crate::iam::Iam;
use crate::oauth::client::{validate_new_client, PreviousSecret, StoredClient};
use crate::oauth::grant::StoredFamily;
use crate::oauth::{ClientKind, NewClient, OAuthClient, RegisteredClient, CLIENT_SECRET_PREFIX};
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::secret::SecretString;
use crate::store::{Commit, ListQuery, RecordKind, Store, Write};
use crate::token::{new_opaque_token, Principal};

impl<S: Store, C: Clock> Iam<S, C> {
    fn new_client_secret(&self) -> SecretString {
        SecretString::new(format!(
            "{CLIENT_SECRET_PREFIX}{}",
            new_opaque_token(&self.inner.rng).expose()
        ))
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
            .may(
                actor.into(),
                Action::RegisterClient {
                    first_party: false,
                    acts_for_owner: false,
                },
            )
            .is_ok();
        validate_new_client(&new)?;
        let secret = (new.kind == ClientKind::Confidential).then(|| self.new_client_secret());
        let info = OAuthClient {
            id: self.inner.rng.id("cli_"),
            name: new.name,
            kind: new.kind,
            redirect_uris: new.redirect_uris,
            grant_types: new.grant_types,
            scopes: new.scopes,
            resources: new.resources,
            require_pkce: new.require_pkce || new.kind == ClientKind::Public,
            owner: Some(actor.account_id.clone()),
            acts_for_owner: new.acts_for_owner,
            first_party: new.first_party,
            owner_scoped: !registered_by_admin,
            disabled: false,
            created_at: now,
            secret_rotated_at: None,
        };
        let stored = StoredClient {
            info,
            secret_hash: secret
                .as_ref()
                .map(|s| self.inner.token_hasher.hash(s.expose())),
            previous_secret: None,
        };
        let audit = AuditDraft::new(AuditKind::OAuthClientRegistered, now)
            .actor(Some(&actor.account_id))
            .account(&actor.account_id)
            .detail("client_id", stored.info.id.clone())
            .detail(
                "kind",
                match stored.info.kind {
                    ClientKind::Confidential => "confidential",
                    ClientKind::Public => "public",
                },
            );
        self.inner
            .store
            .commit(Commit {
                writes: vec![Write::Insert(client_record(&stored)?)],
                audit: vec![audit],
                ..Commit::default()
            })
            .await?;
        Ok(RegisteredClient {
            client: stored.info,
            client_secret: secret,
        })
    }

    /// The client with `client_id` (its owner and admins; [`Error::NotFound`] to others).
    pub async fn oauth_client(&self, caller: Caller<'_>, client_id: &str) -> Result<OAuthClient> {
        let client = self
            .load_client(client_id)
            .await?
            .ok_or(Error::NotFound(Missing::OAuthClient))?
            .1
            .info;
        self.may_manage_client(caller, &client)?;
        Ok(client)
    }

    /// `Ok` when `caller` may manage `client` (its owner or an admin); others learn nothing
    /// of it ([`Error::NotFound`]).
    fn may_manage_client(&self, caller: Caller<'_>, client: &OAuthClient) -> Result<()> {
        let action = Action::ManageClient {
            owner: client.owner.as_deref(),
        };
        match self.may(caller, action) {
            Err(Error::Denied(Denial::NotPermitted)) => Err(Error::NotFound(Missing::OAuthClient)),
            other => other,
        }
    }

    /// Every registered client, ordered by id (admins).
    pub async fn list_oauth_clients(&self, caller: Caller<'_>) -> Result<Vec<OAuthClient>> {
        self.may(caller, Action::ListClients)?;
        let records = self
            .inner
            .store
            .list(RecordKind::OAuthClient, &ListQuery::default())
            .await?;
        records
            .iter()
            .map(|r| crate::json::from_body::<StoredClient>(&r.body).map(|c| c.info))
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
        let grace = self.inner.config.oauth.client_secret_grace;
        self.retrying(|| async {
            let (record, mut client) = self
                .load_client(client_id)
                .await?
                .ok_or(Error::NotFound(Missing::OAuthClient))?;
            self.may_manage_client(actor.into(), &client.info)?;
            if client.info.kind != ClientKind::Confidential {
                return Err(Error::State(Conflict::PublicClientHasNoSecret));
            }
            let now = self.now();
            let secret = self.new_client_secret();
            let old = client
                .secret_hash
                .replace(self.inner.token_hasher.hash(secret.expose()));
            client.previous_secret = old.map(|hash| PreviousSecret {
                hash,
                valid_until: now.plus(grace),
            });
            client.info.secret_rotated_at = Some(now);
            let audit = AuditDraft::new(AuditKind::OAuthClientSecretRotated, now)
                .actor(Some(&actor.account_id))
                .detail("client_id", client.info.id.clone())
                .detail("grace_secs", grace.as_secs().to_string());
            self.inner
                .store
                .commit(Commit {
                    writes: vec![Write::Update {
                        record: client_record(&client)?,
                        expected_version: record.version,
                    }],
                    audit: vec![audit],
                    ..Commit::default()
                })
                .await?;
            Ok(secret)
        })
        .await
    }

    /// Disables a client: it can no longer authenticate, and every token issued to it (user
    /// token families and client-credentials tokens) stops working at once. Allowed for
    /// admins and the client's owner. Returns how many live token families were revoked.
    pub async fn disable_client(&self, actor: &Principal, client_id: &str) -> Result<usize> {
        let access_ttl = self.inner.config.oauth.access_token_ttl;
        self.retrying(|| async {
            let (record, mut client) = self
                .load_client(client_id)
                .await?
                .ok_or(Error::NotFound(Missing::OAuthClient))?;
            self.may_manage_client(actor.into(), &client.info)?;
            let now = self.now();
            let mut commit = Commit::default();
            let families = self
                .inner
                .store
                .list(
                    RecordKind::OAuthFamily,
                    &ListQuery {
                        parent: Some(client_id.to_owned()),
                        ..ListQuery::default()
                    },
                )
                .await?;
            let mut revoked = 0;
            for r in &families {
                let family: StoredFamily = crate::json::from_body(&r.body)?;
                if family.is_live(now) && revoke_family_into(&mut commit, r, family, now)? {
                    revoked += 1;
                }
            }
            if !client.info.disabled {
                client.info.disabled = true;
                commit.writes.push(Write::Update {
                    record: client_record(&client)?,
                    expected_version: record.version,
                });
                // Client-credentials tokens name the client as subject.
                commit.revocations.push(RevocationChange::Put(Revocation {
                    subject: RevokedSubject::Account,
                    id: client.info.id.clone(),
                    issued_before: self.inner.revocations.cutoff(now),
                    until: now.plus(access_ttl).plus(Duration::from_secs(1)),
                }));
            }
            commit.audit.push(
                AuditDraft::new(AuditKind::OAuthClientDisabled, now)
                    .actor(Some(&actor.account_id))
                    .detail("client_id", client.info.id.clone())
                    .detail("families_revoked", revoked.to_string()),
            );
            self.inner.store.commit(commit).await?;
            Ok(revoked)
        })
        .await
    }
}
