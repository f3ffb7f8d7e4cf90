//! Shared machinery of the OAuth service: client authentication, minting OAuth tokens,
//! token families and their revocation.

mod authorize;
mod clients;
mod device;
mod introspect;
mod token;

use std::collections::BTreeSet;

use crate::account::StoredAccount;
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Result};
use crate::iam::Iam;
use crate::oauth::client::{ClientKind, StoredClient};
use crate::oauth::grant::{StoredFamily, StoredOAuthRefresh};
use crate::oauth::scope::format_scope;
use crate::oauth::{ClientAuth, OAuthError, TokenResponse, BEARER};
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::secret::SecretString;
use crate::store::{Commit, Record, RecordKind, Store, Write};
use crate::token::access::{AccessClaims, Audience};
use crate::token::{new_opaque_token, MAX_OPAQUE_TOKEN_LEN};

/// Whether `account` holds `scope` now in the sense of a user's own client: a role it has,
/// or one of OpenID's standard scopes.
pub(crate) fn holds_scope(account: &StoredAccount, scope: &str) -> bool {
    account.roles.contains(scope) || crate::authz::STANDARD_SCOPES.contains(&scope)
}

/// A protocol outcome inside an infrastructure result: the outer error is a store failure or
/// lost race (retried, then `server_error`), the inner one the OAuth answer.
pub(crate) type Flow<T> = Result<std::result::Result<T, OAuthError>>;

/// Flattens a [`Flow`] into what the OAuth endpoints return.
pub(crate) fn settle<T>(flow: Flow<T>) -> std::result::Result<T, OAuthError> {
    flow.map_err(OAuthError::from)?
}

/// The stored record of a client.
pub(crate) fn client_record(client: &StoredClient) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::OAuthClient,
        id: client.info.id.clone(),
        version: 0,
        parent: client.info.owner.clone(),
        lookup: None,
        expires_at: None,
        body: crate::json::to_body(client)?,
    })
}

/// The stored record of a token family.
pub(crate) fn family_record(family: &StoredFamily) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::OAuthFamily,
        id: family.id.clone(),
        version: 0,
        parent: Some(family.client_id.clone()),
        lookup: None,
        expires_at: Some(family.expires_at),
        body: crate::json::to_body(family)?,
    })
}

/// The revocation that voids every access token of `family` at once.
pub(crate) fn family_revocation(family: &StoredFamily) -> RevocationChange {
    RevocationChange::Put(Revocation {
        subject: RevokedSubject::Grant,
        id: family.id.clone(),
        issued_before: Timestamp::MAX,
        until: family.expires_at,
    })
}

/// Adds to `commit` what revoking `family` (read as `record`) takes; nothing if it is
/// already revoked. Returns whether it was live.
pub(crate) fn revoke_family_into(
    commit: &mut Commit,
    record: &Record,
    mut family: StoredFamily,
    now: Timestamp,
) -> Result<bool> {
    if family.revoked_at.is_some() {
        return Ok(false);
    }
    family.revoked_at = Some(now);
    commit.revocations.push(family_revocation(&family));
    commit.writes.push(Write::Update {
        record: family_record(&family)?,
        expected_version: record.version,
    });
    Ok(true)
}

/// A token response for an access token expiring at `exp`.
pub(crate) fn token_response(
    access: String,
    exp: Timestamp,
    now: Timestamp,
    refresh_token: Option<SecretString>,
    scopes: &BTreeSet<String>,
) -> TokenResponse {
    TokenResponse {
        access_token: SecretString::new(access),
        token_type: BEARER,
        expires_in: now.until(exp).as_secs(),
        refresh_token,
        scope: (!scopes.is_empty()).then(|| format_scope(scopes)),
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

    /// Authenticates a client (RFC 6749 §2.3): confidential clients by secret (the current one,
    /// or the previous one within its grace period), public clients by id alone. Anything
    /// wrong, including a disabled client, is `invalid_client`.
    pub(crate) async fn authenticate_client(
        &self,
        auth: &ClientAuth,
    ) -> Flow<(Record, StoredClient)> {
        let presented = auth
            .client_secret
            .as_ref()
            .filter(|s| s.expose().len() <= MAX_OPAQUE_TOKEN_LEN)
            .map(|s| self.inner.token_hasher.hash(s.expose()));
        if auth.client_secret.is_some() && presented.is_none() {
            return Ok(Err(OAuthError::invalid_client()));
        }
        let Some((record, client)) = self.load_client(&auth.client_id).await? else {
            return Ok(Err(OAuthError::invalid_client()));
        };
        let now = self.now();
        let ok = match (client.info.kind, presented.as_deref()) {
            (ClientKind::Confidential, Some(hash)) => client.secret_matches(hash, now),
            (ClientKind::Public, None) => true,
            _ => false,
        };
        if !ok || client.info.disabled {
            return Ok(Err(OAuthError::invalid_client()));
        }
        Ok(Ok((record, client)))
    }

    /// The scopes a token of `client` for `account` carries out of `granted`: all of them,
    /// except that a client registered by a non-admin gets only those naming roles the
    /// account holds now (and OpenID's standard scopes).
    pub(crate) fn token_scopes(
        client: &crate::oauth::OAuthClient,
        account: &StoredAccount,
        granted: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        granted
            .iter()
            .filter(|s| !client.owner_scoped || holds_scope(account, s))
            .cloned()
            .collect()
    }

    /// Signs an access token of `family` for `account`, carrying `scopes` (and, as roles,
    /// those scopes that are the account's roles) and `resources`. It expires after the
    /// OAuth access-token lifetime or with the family, whichever is first.
    pub(crate) fn mint_family_token(
        &self,
        account: &StoredAccount,
        family: &StoredFamily,
        scopes: &BTreeSet<String>,
        resources: &BTreeSet<String>,
        now: Timestamp,
    ) -> Result<(String, Timestamp)> {
        let exp = now
            .plus(self.inner.config.oauth.access_token_ttl)
            .min(family.expires_at);
        let mut claims = AccessClaims::base(
            &self.inner.config,
            &account.id,
            &family.id,
            self.inner.rng.id("tok_"),
            account.kind,
            crate::authz::CredentialKind::OAuthUser,
            now,
            exp,
        );
        claims.roles = scopes
            .iter()
            .filter(|s| account.roles.contains(*s))
            .cloned()
            .collect();
        claims.scope = scopes.iter().cloned().collect();
        claims.auth_time = family.auth_time.to_rfc3339();
        claims.amr.clone_from(&family.amr);
        claims.client_id = Some(family.client_id.clone());
        claims.resource = resources.iter().cloned().collect();
        claims.aud = Audience::of(&claims.resource, &self.inner.config.audience);
        Ok((self.sign_claims(&claims)?, exp))
    }

    /// A fresh refresh token of `family`, with its record.
    pub(crate) fn new_family_refresh(
        &self,
        family: &StoredFamily,
        now: Timestamp,
    ) -> Result<(SecretString, Record)> {
        let token = new_opaque_token(&self.inner.rng);
        let stored = StoredOAuthRefresh {
            family_id: family.id.clone(),
            client_id: family.client_id.clone(),
            issued_at: now,
            rotated_at: None,
        };
        let record = Record {
            kind: RecordKind::OAuthRefresh,
            id: self.inner.token_hasher.hash(token.expose()),
            version: 0,
            parent: Some(family.id.clone()),
            lookup: None,
            expires_at: Some(family.expires_at),
            body: crate::json::to_body(&stored)?,
        };
        Ok((token, record))
    }

    /// The account a family's tokens speak for, if it may still receive tokens.
    pub(crate) async fn family_account(&self, account_id: &str) -> Flow<StoredAccount> {
        match self
            .load::<StoredAccount>(RecordKind::Account, account_id)
            .await?
        {
            Some((_, a)) if !a.disabled => Ok(Ok(a)),
            Some(_) => Ok(Err(OAuthError::invalid_grant("the account is disabled"))),
            None => Ok(Err(OAuthError::invalid_grant(
                "the account no longer exists",
            ))),
        }
    }

    /// The username of the account that registered `client` when that is an ordinary user
    /// (not an admin, and the client not first-party), for consent pages to name.
    pub(crate) async fn client_registrar(
        &self,
        client: &crate::oauth::OAuthClient,
    ) -> Result<Option<String>> {
        let Some(owner) = client.owner.as_deref().filter(|_| !client.first_party) else {
            return Ok(None);
        };
        Ok(
            match self
                .load::<StoredAccount>(RecordKind::Account, owner)
                .await?
            {
                Some((_, a)) if a.roles.contains(crate::authz::ADMIN_ROLE) => None,
                Some((_, a)) => Some(a.username),
                None => Some("a deleted account".to_owned()),
            },
        )
    }

    /// Whether the login session that approved a code or device request still lives (it may
    /// have been signed out, or its account signed out everywhere, since).
    pub(crate) async fn approving_session_live(
        &self,
        session_id: &str,
        account_id: &str,
        now: Timestamp,
    ) -> Result<bool> {
        Ok(self
            .load::<crate::session::Session>(RecordKind::Session, session_id)
            .await?
            .is_some_and(|(_, s)| s.account_id == account_id && s.is_live(now)))
    }

    /// Commits `commit`, mapping nothing: store errors stay infrastructure errors.
    pub(crate) async fn commit_oauth(&self, commit: Commit) -> Result<()> {
        self.inner.store.commit(commit).await.map_err(Error::from)
    }
}
