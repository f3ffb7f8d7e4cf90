//! The OAuth operations of [`Iam`], each load → decide → commit: the methods here read the
//! records a decision needs, call the decision in [`crate::oauth::rules`], sign what it
//! issues and commit its plan. This module holds what the operations share: client
//! authentication, fresh secrets, and applying a plan.

mod authorize;
mod clients;
mod device;
mod introspect;
mod token;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::account::StoredAccount;
use crate::clock::{Clock, Timestamp};
use crate::error::Result;
use crate::iam::Iam;
use crate::oauth::client::StoredClient;
use crate::oauth::grant::StoredFamily;
use crate::oauth::rules::clients::{authenticate_client, ClientProof};
use crate::oauth::rules::token::Issue;
use crate::oauth::rules::{Answer, NewSecret};
use crate::oauth::scope::format_scope;
use crate::oauth::{ClientAuth, OAuthClient, OAuthError, TokenResponse, BEARER};
use crate::oidc::id_token::{at_hash, ID_TOKEN_TYP};
use crate::secret::SecretString;
use crate::store::{ListQuery, Record, RecordKind, Store};
use crate::token::{new_opaque_token, MAX_OPAQUE_TOKEN_LEN};

/// A protocol outcome inside an infrastructure result: the outer error is a store failure or
/// lost race (retried, then `server_error`), the inner one the OAuth answer.
pub(crate) type Flow<T> = Result<Answer<T>>;

/// Flattens a [`Flow`] into what the OAuth endpoints return.
pub(crate) fn settle<T>(flow: Flow<T>) -> Answer<T> {
    flow.map_err(OAuthError::from)?
}

/// What a client presented at an endpoint, hashed once per operation.
pub(crate) struct Presented<'a> {
    auth: &'a ClientAuth,
    /// The keyed hash of the presented secret; `None` without a usable one.
    hash: Option<String>,
    /// Set once the client was authenticated for this operation: a later attempt (a retry
    /// after a conflict) reads the client from the store instead of [`KnownClients`].
    ///
    /// [`KnownClients`]: crate::oauth::known_clients::KnownClients
    tried: AtomicBool,
}

impl Presented<'_> {
    /// How the presented secret compares with `client`'s at `now`.
    fn proof(&self, client: Option<&(Record, StoredClient)>, now: Timestamp) -> ClientProof {
        match (&self.auth.client_secret, &self.hash, client) {
            (None, _, _) => ClientProof::NoSecret,
            (Some(_), Some(hash), Some((_, c))) => ClientProof::Secret {
                matched: c.secret_matches(hash, now),
            },
            (Some(_), _, _) => ClientProof::Secret { matched: false },
        }
    }
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Reads a client.
    pub(crate) async fn load_client(
        &self,
        client_id: &str,
    ) -> Result<Option<(Record, StoredClient)>> {
        if client_id.is_empty() || client_id.len() > 128 {
            return Ok(None);
        }
        self.load(RecordKind::OAuthClient, client_id).await
    }

    /// Hashes the secret `auth` presents, if it can be one (the keyed hash is computed once,
    /// outside any retries).
    pub(crate) fn presented<'a>(&self, auth: &'a ClientAuth) -> Presented<'a> {
        let hash = auth
            .client_secret
            .as_ref()
            .filter(|s| s.expose().len() <= MAX_OPAQUE_TOKEN_LEN)
            .map(|s| self.inner.token_hasher.hash(s.expose()));
        Presented {
            auth,
            hash,
            tried: AtomicBool::new(false),
        }
    }

    /// Loads the client `presented` names, compares its secret with the stored hashes at
    /// `now`, and authenticates it ([`authenticate_client`]).
    ///
    /// The first attempt of an operation authenticates against the client as remembered
    /// ([`KnownClients`](crate::oauth::known_clients::KnownClients)) when that is still
    /// current; a refusal, or any later attempt, reads the client from the store.
    pub(crate) async fn authenticate(
        &self,
        presented: &Presented<'_>,
        now: Timestamp,
    ) -> Flow<(Record, StoredClient)> {
        let id = &presented.auth.client_id;
        let revocations = &self.inner.revocations;
        let generation = revocations.client_generation();
        let first = !presented.tried.swap(true, Ordering::AcqRel);
        if first && revocations.is_current() {
            if let Some(known) = self.inner.clients.get(id, generation) {
                let proof = presented.proof(Some(&known), now);
                if let Ok(client) = authenticate_client(Some(known), proof) {
                    return Ok(Ok(client));
                }
            }
        }
        let client = self.load_client(id).await?;
        match &client {
            Some(read) => self.inner.clients.remember(read, generation),
            None => self.inner.clients.forget(id),
        }
        let proof = presented.proof(client.as_ref(), now);
        Ok(authenticate_client(client, proof))
    }

    /// A fresh opaque secret and its keyed hash.
    pub(crate) fn new_secret(&self) -> NewSecret {
        let secret = new_opaque_token(&self.inner.rng);
        let hash = self.inner.token_hasher.hash(secret.expose());
        NewSecret { secret, hash }
    }

    /// Signs what a token decision issued (the access token, PASETO or JWT as the client is
    /// registered, and the ID token with that access token's `at_hash`) and builds the token
    /// response.
    pub(crate) async fn respond(&self, issue: Issue, now: Timestamp) -> Result<TokenResponse> {
        let access = self
            .sign_access_claims(&issue.claims, issue.jwt_alg)
            .await?;
        let id_token = match issue.id_token {
            Some(mut draft) => {
                let hash = at_hash(draft.alg, &access);
                draft.claims.insert("at_hash".to_owned(), hash.into());
                Some(
                    self.sign_jwt(draft.alg, ID_TOKEN_TYP, &draft.claims.into())
                        .await?,
                )
            }
            None => None,
        };
        Ok(TokenResponse {
            access_token: SecretString::new(access),
            token_type: BEARER,
            expires_in: now.until(issue.exp).as_secs(),
            refresh_token: issue.refresh_token,
            scope: (!issue.scopes.is_empty()).then(|| format_scope(&issue.scopes)),
            id_token,
        })
    }

    /// The token families of `client_id`, as read.
    pub(crate) async fn client_families(
        &self,
        client_id: &str,
    ) -> Result<Vec<(Record, StoredFamily)>> {
        self.list_children(RecordKind::OAuthFamily, client_id).await
    }

    /// The records of `kind` whose parent is `parent`, decoded.
    pub(crate) async fn list_children<T: serde::de::DeserializeOwned>(
        &self,
        kind: RecordKind,
        parent: &str,
    ) -> Result<Vec<(Record, T)>> {
        let q = ListQuery {
            parent: Some(parent.to_owned()),
            ..ListQuery::default()
        };
        let records = self.inner.store.list(kind, &q).await?;
        records
            .into_iter()
            .map(|r| {
                let family = crate::record_body::from_body(&r.body)?;
                Ok((r, family))
            })
            .collect()
    }

    /// Reads an account.
    pub(crate) async fn load_account(
        &self,
        account_id: &str,
    ) -> Result<Option<(Record, StoredAccount)>> {
        self.load(RecordKind::Account, account_id).await
    }

    /// The username of the account that registered `client` when that is an ordinary user
    /// (not an admin, and the client not first-party), for consent pages to name.
    pub(crate) async fn client_registrar(&self, client: &OAuthClient) -> Result<Option<String>> {
        let Some(owner) = client.owner.as_deref().filter(|_| !client.first_party) else {
            return Ok(None);
        };
        Ok(match self.load_account(owner).await? {
            Some((_, a)) if a.roles.contains(crate::authz::ADMIN_ROLE) => None,
            Some((_, a)) => Some(a.username),
            None => Some("a deleted account".to_owned()),
        })
    }
}
