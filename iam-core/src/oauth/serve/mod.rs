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
use crate::oauth::assertion::{assertion_record_id, verify_assertion};
use crate::oauth::client::StoredClient;
use crate::oauth::grant::StoredFamily;
use crate::oauth::rules::clients::{authenticate_client, Authenticated, ClientProof};
use crate::oauth::rules::token::Issue;
use crate::oauth::rules::{Answer, NewSecret};
use crate::oauth::scope::format_scope;
use crate::oauth::{ClientAuth, OAuthClient, OAuthError, TokenResponse, BEARER};
use crate::oidc::id_token::{at_hash, ID_TOKEN_TYP};
use crate::secret::SecretString;
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, StoreError, Write};
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

/// The paths of the token endpoint under the issuer (as the HTTP layer serves it, and as the
/// core's default metadata names it): audiences client assertions may name.
const TOKEN_ENDPOINT_PATHS: [&str; 2] = ["/oauth2/token", "/oauth/token"];

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

    /// What `presented` proves for `client` at `now`: the secret compared with the stored
    /// hashes, or the assertion's signature checked with the client's keys and its `jti`
    /// looked up among the used ones.
    async fn proof(
        &self,
        presented: &Presented<'_>,
        client: Option<&(Record, StoredClient)>,
        now: Timestamp,
    ) -> Result<ClientProof> {
        let auth = presented.auth;
        if let Some(assertion) = &auth.client_assertion {
            let claims = client
                .and_then(|(_, c)| c.info.oidc.jwks.as_ref())
                .and_then(|jwks| verify_assertion(jwks, assertion.expose()));
            let replayed = match claims.as_ref().and_then(|c| c.jti.as_deref()) {
                Some(jti) => {
                    let id = assertion_record_id(&auth.client_id, jti);
                    self.inner
                        .store
                        .get(RecordKind::ClientAssertion, &id)
                        .await?
                        .is_some_and(|r| r.expires_at.is_none_or(|exp| exp > now))
                }
                None => false,
            };
            return Ok(ClientProof::Assertion { claims, replayed });
        }
        Ok(match (&auth.client_secret, &presented.hash, client) {
            (None, _, _) => ClientProof::NoSecret,
            (Some(_), Some(hash), Some((_, c))) => ClientProof::Secret {
                method: auth.method,
                matched: c.secret_matches(hash, now),
            },
            (Some(_), _, _) => ClientProof::Secret {
                method: auth.method,
                matched: false,
            },
        })
    }

    /// Audiences a client assertion may name: the issuer and the token endpoint URL (as
    /// served by the HTTP layer, and as the core's default metadata names it).
    fn assertion_audiences(&self) -> [String; 4] {
        let issuer = &self.inner.config.issuer;
        let base = issuer.trim_end_matches('/');
        [
            issuer.clone(),
            base.to_owned(),
            format!("{base}{}", TOKEN_ENDPOINT_PATHS[0]),
            format!("{base}{}", TOKEN_ENDPOINT_PATHS[1]),
        ]
    }

    /// Loads the client `presented` names, checks what it presented ([`Iam::proof`]) and
    /// authenticates it at `now` ([`authenticate_client`]).
    ///
    /// The first attempt of an operation authenticates against the client as remembered
    /// ([`KnownClients`](crate::oauth::known_clients::KnownClients)) when that is still
    /// current; a refusal, or any later attempt, reads the client from the store.
    pub(crate) async fn authenticate(
        &self,
        presented: &Presented<'_>,
        now: Timestamp,
    ) -> Flow<Authenticated> {
        let id = &presented.auth.client_id;
        let revocations = &self.inner.revocations;
        let generation = revocations.client_generation();
        let audiences = self.assertion_audiences();
        let first = !presented.tried.swap(true, Ordering::AcqRel);
        if first && revocations.is_current() {
            if let Some(known) = self.inner.clients.get(id, generation) {
                let proof = self.proof(presented, Some(&known), now).await?;
                if let Ok(client) = authenticate_client(Some(known), &proof, &audiences, now) {
                    return Ok(Ok(client));
                }
            }
        }
        let client = self.load_client(id).await?;
        match &client {
            Some(read) => self.inner.clients.remember(read, generation),
            None => self.inner.clients.forget(id),
        }
        let proof = self.proof(presented, client.as_ref(), now).await?;
        Ok(authenticate_client(client, &proof, &audiences, now))
    }

    /// Authenticates the client `auth` names for an operation that commits nothing else:
    /// the used-assertion record of a `private_key_jwt` client is committed at once (a
    /// replay that raced it is `invalid_client`).
    pub(crate) async fn authenticate_once(
        &self,
        auth: &ClientAuth,
        now: Timestamp,
    ) -> Answer<(Record, StoredClient)> {
        let presented = self.presented(auth);
        let Authenticated { client, spend } = settle(self.authenticate(&presented, now).await)?;
        if let Some(record) = spend {
            let commit = Commit {
                writes: vec![Write::Insert(record)],
                ..Commit::default()
            };
            match self.inner.store.commit(commit).await {
                Ok(()) => {}
                Err(StoreError::Duplicate { .. }) => return Err(OAuthError::invalid_client()),
                Err(e) => return Err(OAuthError::from(e)),
            }
        }
        Ok(client)
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
