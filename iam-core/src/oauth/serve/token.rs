//! The token endpoint (RFC 6749 §3.2): authorization code with PKCE, refresh with rotation
//! and reuse detection, client credentials, and the device code grant.

use std::collections::BTreeSet;

use super::{family_record, holds_scope, revoke_family_into, settle, token_response, Flow};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::ADMIN_ROLE;
use crate::clock::{Clock, Timestamp};
use crate::iam::Iam;
use crate::oauth::client::StoredClient;
use crate::oauth::device::{decide_poll, DeviceApproval, DeviceStatus, Poll, StoredDevice};
use crate::oauth::grant::{StoredCode, StoredFamily, StoredOAuthRefresh};
use crate::oauth::scope::{decide_resources, decide_scope, format_scope};
use crate::oauth::{
    pkce, Actor, ClientAuth, ClientKind, GrantType, OAuthError, OAuthErrorCode, TokenRequest,
    TokenResponse,
};
use crate::secret::SecretString;
use crate::store::{Commit, Record, RecordKind, Store, Write};
use crate::token::access::{AccessClaims, Audience};
use crate::token::is_opaque_token_shape;

/// The hash of an opaque secret the client presented, or `None` when it cannot be one of ours.
fn opaque_hash<S: Store, C: Clock>(iam: &Iam<S, C>, secret: &SecretString) -> Option<String> {
    is_opaque_token_shape(secret.expose()).then(|| iam.inner.token_hasher.hash(secret.expose()))
}

/// The resources an access token is for: the requested subset of `granted`, or all of them.
fn narrow_resources(
    requested: &[String],
    granted: &BTreeSet<String>,
) -> std::result::Result<BTreeSet<String>, OAuthError> {
    if requested.is_empty() {
        Ok(granted.clone())
    } else {
        decide_resources(requested, granted)
    }
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Handles a token request from the client authenticated by `auth`.
    ///
    /// Errors are RFC 6749 §5.2 responses (`invalid_client` answers with HTTP 401; see
    /// [`OAuthError::http_status`]); device polling adds `authorization_pending`,
    /// `slow_down`, `access_denied` and `expired_token` (RFC 8628 §3.5).
    pub async fn token(
        &self,
        auth: &ClientAuth,
        req: &TokenRequest,
    ) -> std::result::Result<TokenResponse, OAuthError> {
        let (_, client) = settle(self.authenticate_client(auth).await)?;
        if !client.info.allows(req.grant_type()) {
            return Err(OAuthError::code(OAuthErrorCode::UnauthorizedClient));
        }
        match req {
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
                resource,
            } => {
                let hash = opaque_hash(self, code)
                    .ok_or(OAuthError::invalid_grant("the code is invalid"))?;
                settle(
                    self.retrying(|| {
                        self.exchange_code(
                            &client,
                            &hash,
                            redirect_uri.as_deref(),
                            code_verifier.as_ref(),
                            resource,
                        )
                    })
                    .await,
                )
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
                resource,
            } => {
                let hash = opaque_hash(self, refresh_token)
                    .ok_or(OAuthError::invalid_grant("the refresh token is invalid"))?;
                settle(
                    self.retrying(|| {
                        self.rotate_refresh(&client, &hash, scope.as_deref(), resource)
                    })
                    .await,
                )
            }
            TokenRequest::ClientCredentials { scope, resource } => settle(
                self.client_credentials(&client, scope.as_deref(), resource)
                    .await,
            ),
            TokenRequest::DeviceCode { device_code } => {
                let hash = opaque_hash(self, device_code)
                    .ok_or(OAuthError::invalid_grant("the device code is invalid"))?;
                settle(self.retrying(|| self.poll_device(&client, &hash)).await)
            }
        }
    }

    /// Starts a token family for `account_id` and issues its first tokens; returns the
    /// response and what to commit (the caller adds its own writes).
    #[allow(clippy::too_many_arguments)]
    async fn open_family(
        &self,
        client: &StoredClient,
        account_id: &str,
        scopes: &BTreeSet<String>,
        resources: &BTreeSet<String>,
        token_resources: &BTreeSet<String>,
        approval: (Timestamp, Vec<String>),
        grant: GrantType,
        now: Timestamp,
    ) -> Flow<(TokenResponse, StoredFamily, Commit)> {
        let account = match self.family_account(account_id).await? {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let family = StoredFamily {
            id: self.inner.rng.id("ofm_"),
            client_id: client.info.id.clone(),
            account_id: account.id.clone(),
            scopes: scopes.clone(),
            resources: resources.clone(),
            auth_time: approval.0,
            amr: approval.1,
            origin: grant.as_str().to_owned(),
            created_at: now,
            expires_at: now.plus(self.inner.config.oauth.refresh_ttl),
            revoked_at: None,
        };
        let scopes = &Self::token_scopes(&client.info, &account, scopes);
        let (access, exp) =
            self.mint_family_token(&account, &family, scopes, token_resources, now)?;
        let mut commit = Commit::default();
        commit.writes.push(Write::Insert(family_record(&family)?));
        let refresh = if client.info.allows(GrantType::RefreshToken) {
            let (token, record) = self.new_family_refresh(&family, now)?;
            commit.writes.push(Write::Insert(record));
            Some(token)
        } else {
            None
        };
        commit.audit.push(
            AuditDraft::new(AuditKind::OAuthTokenIssued, now)
                .actor(Some(&account.id))
                .account(&account.id)
                .session(&family.id)
                .detail("client_id", client.info.id.clone())
                .detail("grant_type", grant.as_str())
                .detail("scope", format_scope(scopes)),
        );
        let response = token_response(access, exp, now, refresh, scopes);
        Ok(Ok((response, family, commit)))
    }

    async fn exchange_code(
        &self,
        client: &StoredClient,
        hash: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&SecretString>,
        resource: &[String],
    ) -> Flow<TokenResponse> {
        let invalid = |why| Ok(Err(OAuthError::invalid_grant(why)));
        let Some((record, mut code)) = self.load::<StoredCode>(RecordKind::AuthCode, hash).await?
        else {
            return invalid("the code is invalid");
        };
        if code.client_id != client.info.id {
            return invalid("the code was issued to another client");
        }
        let now = self.now();
        if let Some(family_id) = &code.used_for {
            // RFC 6749 §4.1.2: a second use is refused and what the code produced is revoked.
            let mut commit = Commit::default();
            if let Some((fr, family)) = self
                .load::<StoredFamily>(RecordKind::OAuthFamily, family_id)
                .await?
            {
                revoke_family_into(&mut commit, &fr, family, now)?;
            }
            commit.audit.push(
                AuditDraft::new(AuditKind::OAuthCodeReplayDetected, now)
                    .account(&code.account_id)
                    .session(family_id)
                    .detail("client_id", code.client_id.clone()),
            );
            self.commit_oauth(commit).await?;
            return invalid("the code was already used");
        }
        if now >= code.expires_at {
            return invalid("the code has expired");
        }
        if !self
            .approving_session_live(&code.session_id, &code.account_id, now)
            .await?
        {
            return invalid("the session that approved this request has ended");
        }
        let uri_ok = match redirect_uri {
            Some(uri) => uri == code.redirect_uri,
            None => !code.redirect_uri_given,
        };
        if !uri_ok {
            return invalid("redirect_uri does not match the authorization request");
        }
        match (&code.code_challenge, verifier) {
            (Some(challenge), Some(v)) => {
                if let Err(e) = pkce::verify(v.expose(), challenge) {
                    return Ok(Err(e));
                }
            }
            (Some(_), None) => return invalid("code_verifier is required"),
            (None, Some(_)) => return invalid("the authorization request had no code_challenge"),
            (None, None) => {}
        }
        let token_resources = match narrow_resources(resource, &code.resources) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let (response, family, mut commit) = match self
            .open_family(
                client,
                &code.account_id,
                &code.scopes,
                &code.resources,
                &token_resources,
                (code.auth_time, code.amr.clone()),
                GrantType::AuthorizationCode,
                now,
            )
            .await?
        {
            Ok(x) => x,
            Err(e) => return Ok(Err(e)),
        };
        code.used_for = Some(family.id.clone());
        // Keep the spent code as long as its tokens live, so a replay can revoke them.
        commit.writes.push(Write::Update {
            record: Record {
                expires_at: Some(family.expires_at),
                body: crate::json::to_body(&code)?,
                ..record.clone()
            },
            expected_version: record.version,
        });
        self.commit_oauth(commit).await?;
        Ok(Ok(response))
    }

    async fn rotate_refresh(
        &self,
        client: &StoredClient,
        hash: &str,
        scope: Option<&str>,
        resource: &[String],
    ) -> Flow<TokenResponse> {
        let invalid = |why| Ok(Err(OAuthError::invalid_grant(why)));
        let Some((record, token)) = self
            .load::<StoredOAuthRefresh>(RecordKind::OAuthRefresh, hash)
            .await?
        else {
            return invalid("the refresh token is invalid");
        };
        if token.client_id != client.info.id {
            return invalid("the refresh token was issued to another client");
        }
        let Some((family_read, family)) = self
            .load::<StoredFamily>(RecordKind::OAuthFamily, &token.family_id)
            .await?
        else {
            return invalid("the refresh token is invalid");
        };
        let now = self.now();
        if token.rotated_at.is_some() {
            let mut commit = Commit::default();
            let account = family.account_id.clone();
            revoke_family_into(&mut commit, &family_read, family.clone(), now)?;
            commit.audit.push(
                AuditDraft::new(AuditKind::OAuthRefreshReuseDetected, now)
                    .account(&account)
                    .session(&family.id)
                    .detail("client_id", family.client_id.clone()),
            );
            self.commit_oauth(commit).await?;
            return invalid("the refresh token was already used; its grant is revoked");
        }
        if !family.is_live(now) {
            return invalid("the grant is revoked or expired");
        }
        if self
            .inner
            .revocations
            .delegation_cutoff(&family.account_id)
            .is_some_and(|cut| family.created_at <= cut)
        {
            return invalid("the account has withdrawn this grant");
        }
        let scopes = match decide_scope(scope, &family.scopes, &family.scopes) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let resources = match narrow_resources(resource, &family.resources) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let account = match self.family_account(&family.account_id).await? {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let scopes = Self::token_scopes(&client.info, &account, &scopes);
        let (access, exp) = self.mint_family_token(&account, &family, &scopes, &resources, now)?;
        let (next, next_record) = self.new_family_refresh(&family, now)?;
        let rotated = StoredOAuthRefresh {
            rotated_at: Some(now),
            ..token
        };
        let commit = Commit {
            writes: vec![
                Write::Update {
                    record: Record {
                        body: crate::json::to_body(&rotated)?,
                        ..record.clone()
                    },
                    expected_version: record.version,
                },
                Write::Insert(next_record),
                // Touch the family so a concurrent revocation and this rotation cannot both win.
                Write::Update {
                    record: family_record(&family)?,
                    expected_version: family_read.version,
                },
            ],
            audit: vec![AuditDraft::new(AuditKind::OAuthTokenIssued, now)
                .actor(Some(&account.id))
                .account(&account.id)
                .session(&family.id)
                .detail("client_id", family.client_id.clone())
                .detail("grant_type", GrantType::RefreshToken.as_str())
                .detail("scope", format_scope(&scopes))],
            ..Commit::default()
        };
        self.commit_oauth(commit).await?;
        Ok(Ok(token_response(access, exp, now, Some(next), &scopes)))
    }

    async fn client_credentials(
        &self,
        client: &StoredClient,
        scope: Option<&str>,
        resource: &[String],
    ) -> Flow<TokenResponse> {
        if client.info.kind != ClientKind::Confidential {
            return Ok(Err(OAuthError::code(OAuthErrorCode::UnauthorizedClient)));
        }
        let mut scopes = match decide_scope(scope, &client.info.scopes, &client.info.scopes) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let resources = match decide_resources(resource, &client.info.resources) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let mut roles = Vec::new();
        let mut act = None;
        if client.info.acts_for_owner {
            let Some(owner) = client.info.owner.as_deref() else {
                return Ok(Err(OAuthError::code(OAuthErrorCode::UnauthorizedClient)));
            };
            let Ok(account) = self.family_account(owner).await? else {
                return Ok(Err(OAuthError::new(
                    OAuthErrorCode::UnauthorizedClient,
                    "the account this client acts for cannot receive tokens",
                )));
            };
            // Re-derived against what the owner holds now: a scope naming a role the owner
            // has lost is no longer granted (asked for explicitly, it is refused).
            let owner_holds =
                |s: &String| account.roles.contains(ADMIN_ROLE) || holds_scope(&account, s);
            if scope.is_some() && !scopes.iter().all(owner_holds) {
                return Ok(Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "the account this client acts for does not hold the requested scope",
                )));
            }
            scopes.retain(owner_holds);
            roles = scopes
                .iter()
                .filter(|s| account.roles.contains(*s))
                .cloned()
                .collect();
            act = Some(Actor { sub: account.id });
        }
        let now = self.now();
        let exp = now.plus(self.inner.config.oauth.access_token_ttl);
        let grant_id = self.inner.rng.id("occ_");
        let mut claims = AccessClaims::base(
            &self.inner.config,
            &client.info.id,
            &grant_id,
            self.inner.rng.id("tok_"),
            crate::account::AccountKind::System,
            crate::authz::CredentialKind::ClientCredentials,
            now,
            exp,
        );
        claims.roles = roles;
        claims.scope = scopes.iter().cloned().collect();
        claims.client_id = Some(client.info.id.clone());
        claims.resource = resources.iter().cloned().collect();
        claims.aud = Audience::of(&claims.resource, &self.inner.config.audience);
        claims.act = act.clone();
        let access = self.sign_claims(&claims)?;
        let mut audit = AuditDraft::new(AuditKind::OAuthTokenIssued, now)
            .session(&grant_id)
            .detail("client_id", client.info.id.clone())
            .detail("grant_type", GrantType::ClientCredentials.as_str())
            .detail("scope", format_scope(&scopes));
        if let Some(a) = &act {
            audit = audit.account(&a.sub);
        }
        self.commit_oauth(Commit {
            audit: vec![audit],
            ..Commit::default()
        })
        .await?;
        Ok(Ok(token_response(access, exp, now, None, &scopes)))
    }

    async fn poll_device(&self, client: &StoredClient, hash: &str) -> Flow<TokenResponse> {
        let Some((record, mut device)) = self
            .load::<StoredDevice>(RecordKind::DeviceCode, hash)
            .await?
        else {
            return Ok(Err(OAuthError::invalid_grant("the device code is invalid")));
        };
        if device.client_id != client.info.id {
            return Ok(Err(OAuthError::invalid_grant(
                "the device code was issued to another client",
            )));
        }
        let now = self.now();
        let approval: DeviceApproval = match decide_poll(&mut device, now) {
            Poll::Refuse(e) => return Ok(Err(e)),
            Poll::Wait(e) => {
                self.commit_oauth(Commit {
                    writes: vec![Write::Update {
                        record: Record {
                            body: crate::json::to_body(&device)?,
                            ..record.clone()
                        },
                        expected_version: record.version,
                    }],
                    ..Commit::default()
                })
                .await?;
                return Ok(Err(e));
            }
            Poll::Issue(a) => a,
        };
        if !self
            .approving_session_live(&approval.session_id, &approval.account_id, now)
            .await?
        {
            return Ok(Err(OAuthError::new(
                OAuthErrorCode::AccessDenied,
                "the session that approved this request has ended",
            )));
        }
        let (response, family, mut commit) = match self
            .open_family(
                client,
                &approval.account_id,
                &device.scopes,
                &device.resources,
                &device.resources,
                (approval.auth_time, approval.amr.clone()),
                GrantType::DeviceCode,
                now,
            )
            .await?
        {
            Ok(x) => x,
            Err(e) => return Ok(Err(e)),
        };
        device.status = DeviceStatus::Issued {
            family_id: family.id.clone(),
        };
        commit.writes.push(Write::Update {
            record: Record {
                body: crate::json::to_body(&device)?,
                ..record.clone()
            },
            expected_version: record.version,
        });
        self.commit_oauth(commit).await?;
        Ok(Ok(response))
    }
}
