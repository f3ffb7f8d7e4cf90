//! Token revocation (RFC 7009) and introspection (RFC 7662).

use super::{revoke_family_into, settle, Flow};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::{Clock, Timestamp};
use crate::iam::Iam;
use crate::oauth::client::StoredClient;
use crate::oauth::grant::{StoredFamily, StoredOAuthRefresh};
use crate::oauth::scope::format_scope;
use crate::oauth::{
    Actor, ClientAuth, ClientKind, Introspection, OAuthError, TokenTypeHint, BEARER,
    REFRESH_TOKEN_TYPE,
};
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::store::{Commit, RecordKind, Store};
use crate::token::{is_opaque_token_shape, Principal};

impl<S: Store, C: Clock> Iam<S, C> {
    /// Revokes an access or refresh token for the client authenticated by `auth` (RFC 7009).
    ///
    /// Revoking either kind revokes the whole token family (the refresh token and every access
    /// token of the same grant). Unknown, invalid or expired tokens succeed (RFC 7009 §2.2), and
    /// so does a token issued to another client, which stays valid: the answer never tells a
    /// client whether someone else's token exists. `hint` only orders the search.
    pub async fn revoke_token(
        &self,
        auth: &ClientAuth,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<(), OAuthError> {
        let (_, client) = settle(self.authenticate_client(auth).await)?;
        let refresh_first = hint != Some(TokenTypeHint::AccessToken);
        if refresh_first && self.revoke_refresh(&client, token).await? {
            return Ok(());
        }
        if self.revoke_access(&client, token).await? {
            return Ok(());
        }
        if !refresh_first {
            self.revoke_refresh(&client, token).await?;
        }
        Ok(())
    }

    /// Revokes the family of a refresh token; `Ok(false)` when `token` is not one. Another
    /// client's refresh token is left alone (`Ok(true)`: found, nothing to do).
    async fn revoke_refresh(&self, client: &StoredClient, token: &str) -> Result<bool, OAuthError> {
        if !is_opaque_token_shape(token) {
            return Ok(false);
        }
        let hash = self.inner.token_hasher.hash(token);
        settle(
            self.retrying(|| async {
                let Some((_, refresh)) = self
                    .load::<StoredOAuthRefresh>(RecordKind::OAuthRefresh, &hash)
                    .await?
                else {
                    return Ok(Ok(false));
                };
                if refresh.client_id != client.info.id {
                    return Ok(Ok(true));
                }
                self.revoke_family_by_id(&refresh.family_id, &client.info.id, "refresh_token")
                    .await?;
                Ok(Ok(true))
            })
            .await,
        )
    }

    /// Revokes the grant of a valid access token; `Ok(false)` when `token` is not one (or no
    /// longer valid, which needs nothing). Another client's token is left alone (`Ok(true)`).
    async fn revoke_access(&self, client: &StoredClient, token: &str) -> Result<bool, OAuthError> {
        let Ok(p) = self.verify_with(token, None).await else {
            return Ok(false);
        };
        if p.client_id.as_deref() != Some(client.info.id.as_str()) {
            return Ok(true);
        }
        let flow: Flow<bool> = self
            .retrying(|| async {
                if self
                    .load::<StoredFamily>(RecordKind::OAuthFamily, &p.session_id)
                    .await?
                    .is_some()
                {
                    self.revoke_family_by_id(&p.session_id, &client.info.id, "access_token")
                        .await?;
                    return Ok(Ok(true));
                }
                // A client-credentials token: its grant is the token alone.
                let now = self.now();
                self.commit_oauth(Commit {
                    revocations: vec![RevocationChange::Put(Revocation {
                        subject: RevokedSubject::Grant,
                        id: p.session_id.clone(),
                        issued_before: Timestamp::MAX,
                        until: p.expires_at,
                    })],
                    audit: vec![AuditDraft::new(AuditKind::OAuthTokenRevoked, now)
                        .session(&p.session_id)
                        .detail("client_id", client.info.id.clone())
                        .detail("token_type", "access_token")],
                    ..Commit::default()
                })
                .await?;
                Ok(Ok(true))
            })
            .await;
        settle(flow)
    }

    async fn revoke_family_by_id(
        &self,
        family_id: &str,
        client_id: &str,
        token_type: &str,
    ) -> crate::error::Result<()> {
        let now = self.now();
        let mut commit = Commit::default();
        let mut audit = AuditDraft::new(AuditKind::OAuthTokenRevoked, now)
            .session(family_id)
            .detail("client_id", client_id.to_owned())
            .detail("token_type", token_type.to_owned());
        if let Some((record, family)) = self
            .load::<StoredFamily>(RecordKind::OAuthFamily, family_id)
            .await?
        {
            audit = audit.account(&family.account_id);
            if !revoke_family_into(&mut commit, &record, family, now)? {
                return Ok(());
            }
        }
        commit.audit.push(audit);
        self.commit_oauth(commit).await
    }

    /// Introspects a token for the confidential client authenticated by `auth` (RFC 7662).
    /// Anything not valid now gives `{"active": false}` and nothing else; public clients are
    /// refused with `invalid_client`.
    ///
    /// A client learns only about tokens it may know of (RFC 7662 §4): access tokens issued to
    /// it or meant for one of its registered resources (the token's audience names one), and
    /// refresh tokens issued to it. Any other token answers `{"active": false}`, as if unknown.
    pub async fn introspect(
        &self,
        auth: &ClientAuth,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<Introspection, OAuthError> {
        let (_, client) = settle(self.authenticate_client(auth).await)?;
        if client.info.kind != ClientKind::Confidential {
            return Err(OAuthError::invalid_client());
        }
        let refresh_first = hint != Some(TokenTypeHint::AccessToken);
        if refresh_first {
            if let Some(i) = self.introspect_refresh(&client, token).await? {
                return Ok(i);
            }
        }
        if let Ok(p) = self.verify_with(token, None).await {
            return Ok(self.access_introspection(&client, p));
        }
        if !refresh_first {
            if let Some(i) = self.introspect_refresh(&client, token).await? {
                return Ok(i);
            }
        }
        Ok(Introspection::inactive())
    }

    /// The introspection of a valid access token for `client`: inactive unless the token was
    /// issued to `client` or its audience names one of `client`'s resources.
    fn access_introspection(&self, client: &StoredClient, p: Principal) -> Introspection {
        let aud = if p.resources.is_empty() {
            vec![self.inner.config.audience.clone()]
        } else {
            p.resources
        };
        let issued_to_client = p.client_id.as_deref() == Some(client.info.id.as_str());
        if !issued_to_client && !aud.iter().any(|a| client.info.resources.contains(a)) {
            return Introspection::inactive();
        }
        let scope = (!p.scopes.is_empty()).then(|| p.scopes.join(" "));
        Introspection {
            active: true,
            scope,
            client_id: p.client_id,
            token_type: Some(BEARER.to_owned()),
            exp: Some(p.expires_at.as_secs()),
            iat: Some(p.issued_at.as_secs()),
            nbf: Some(p.issued_at.as_secs()),
            sub: Some(p.account_id),
            aud,
            iss: Some(self.inner.config.issuer.clone()),
            jti: Some(p.token_id),
            sid: Some(p.session_id),
            auth_time: Some(p.auth_time.as_secs()),
            act: p.actor.map(|sub| Actor { sub }),
        }
    }

    /// The introspection of a refresh token: `None` when `token` is not a known refresh token,
    /// inactive when it is used, revoked, expired, or issued to a client other than `client`.
    async fn introspect_refresh(
        &self,
        client: &StoredClient,
        token: &str,
    ) -> Result<Option<Introspection>, OAuthError> {
        if !is_opaque_token_shape(token) {
            return Ok(None);
        }
        let hash = self.inner.token_hasher.hash(token);
        let Some((_, refresh)) = self
            .load::<StoredOAuthRefresh>(RecordKind::OAuthRefresh, &hash)
            .await?
        else {
            return Ok(None);
        };
        if refresh.client_id != client.info.id {
            return Ok(Some(Introspection::inactive()));
        }
        let family = self
            .load::<StoredFamily>(RecordKind::OAuthFamily, &refresh.family_id)
            .await?
            .map(|(_, f)| f);
        let now = self.now();
        let Some(family) = family.filter(|f| refresh.rotated_at.is_none() && f.is_live(now)) else {
            return Ok(Some(Introspection::inactive()));
        };
        let client_live = matches!(
            self.load_client(&family.client_id).await?,
            Some((_, c)) if !c.info.disabled
        );
        if !client_live {
            return Ok(Some(Introspection::inactive()));
        }
        Ok(Some(Introspection {
            active: true,
            scope: (!family.scopes.is_empty()).then(|| format_scope(&family.scopes)),
            client_id: Some(family.client_id.clone()),
            token_type: Some(REFRESH_TOKEN_TYPE.to_owned()),
            exp: Some(family.expires_at.as_secs()),
            iat: Some(refresh.issued_at.as_secs()),
            nbf: None,
            sub: Some(family.account_id.clone()),
            aud: family.resources.iter().cloned().collect(),
            iss: Some(self.inner.config.issuer.clone()),
            jti: None,
            sid: Some(family.id.clone()),
            auth_time: Some(family.auth_time.as_secs()),
            act: None,
        }))
    }
}
