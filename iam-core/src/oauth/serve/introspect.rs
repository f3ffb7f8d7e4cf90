//! Token revocation (RFC 7009) and introspection (RFC 7662). Rules:
//! [`crate::oauth::rules::revoke`] and [`crate::oauth::rules::introspect`].

use crate::clock::{Clock, Timestamp};
use crate::iam::Iam;
use crate::oauth::client::StoredClient;
use crate::oauth::grant::{StoredFamily, StoredOAuthRefresh};
use crate::oauth::rules::introspect::{
    introspect_access, introspect_refresh, may_introspect, RefreshFacts,
};
use crate::oauth::rules::revoke::{decide_revoke_access, decide_revoke_refresh};
use crate::oauth::{ClientAuth, Introspection, OAuthError, TokenTypeHint};
use crate::store::{RecordKind, Store};
use crate::token::is_opaque_token_shape;

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
        let now = self.now();
        let (_, client) = self.authenticate_once(auth, now).await?;
        let refresh_first = hint != Some(TokenTypeHint::AccessToken);
        if refresh_first && self.revoke_refresh(&client, token, now).await? {
            return Ok(());
        }
        if self.revoke_access(&client, token, now).await? {
            return Ok(());
        }
        if !refresh_first {
            self.revoke_refresh(&client, token, now).await?;
        }
        Ok(())
    }

    /// Revokes the family of a refresh token; `Ok(false)` when `token` is not one.
    async fn revoke_refresh(
        &self,
        client: &StoredClient,
        token: &str,
        now: Timestamp,
    ) -> Result<bool, OAuthError> {
        if !is_opaque_token_shape(token) {
            return Ok(false);
        }
        let hash = self.inner.token_hasher.hash(token);
        Ok(self
            .retrying(|| async {
                let refresh = self
                    .load::<StoredOAuthRefresh>(RecordKind::OAuthRefresh, &hash)
                    .await?
                    .map(|(_, r)| r);
                let family = match &refresh {
                    Some(r) => self.load(RecordKind::OAuthFamily, &r.family_id).await?,
                    None => None,
                };
                let plan = decide_revoke_refresh(&client.info.id, refresh.as_ref(), family, now)?;
                plan.apply(&self.inner.store).await
            })
            .await?)
    }

    /// Revokes the grant of a valid access token; `Ok(false)` when `token` is not one (or no
    /// longer valid, which needs nothing).
    async fn revoke_access(
        &self,
        client: &StoredClient,
        token: &str,
        now: Timestamp,
    ) -> Result<bool, OAuthError> {
        let Ok(p) = self.verify_with(token, None).await else {
            return Ok(false);
        };
        self.retrying(|| async {
            let family = self
                .load::<StoredFamily>(RecordKind::OAuthFamily, &p.session_id)
                .await?;
            let plan = decide_revoke_access(&client.info.id, &p, family, now)?;
            plan.apply(&self.inner.store).await
        })
        .await?;
        Ok(true)
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
        let now = self.now();
        let (_, client) = self.authenticate_once(auth, now).await?;
        may_introspect(&client)?;
        let refresh_first = hint != Some(TokenTypeHint::AccessToken);
        if refresh_first {
            if let Some(i) = self.introspect_refresh(&client, token, now).await? {
                return Ok(i);
            }
        }
        if let Ok(p) = self.verify_with(token, None).await {
            let cfg = &self.inner.config;
            return Ok(introspect_access(&client, p, (&cfg.issuer, &cfg.audience)));
        }
        if !refresh_first {
            if let Some(i) = self.introspect_refresh(&client, token, now).await? {
                return Ok(i);
            }
        }
        Ok(Introspection::inactive())
    }

    /// The introspection of a refresh token: `None` when `token` is not a known one.
    async fn introspect_refresh(
        &self,
        client: &StoredClient,
        token: &str,
        now: Timestamp,
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
        let family = self
            .load::<StoredFamily>(RecordKind::OAuthFamily, &refresh.family_id)
            .await?
            .map(|(_, f)| f);
        let family_client = match &family {
            Some(f) => self.load_client(&f.client_id).await?.map(|(_, c)| c),
            None => None,
        };
        let facts = RefreshFacts {
            family,
            family_client,
        };
        let issuer = &self.inner.config.issuer;
        Ok(Some(introspect_refresh(
            client, &refresh, facts, issuer, now,
        )))
    }
}
