//! The token endpoint (RFC 6749 §3.2): authorization code with PKCE, refresh with rotation
//! and reuse detection, client credentials, and the device code grant. Rules:
//! [`crate::oauth::rules::token`].

use super::{settle, Flow};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Result};
use crate::iam::Iam;
use crate::oauth::client::StoredClient;
use crate::oauth::device::{DeviceStatus, StoredDevice};
use crate::oauth::grant::{StoredCode, StoredFamily, StoredOAuthRefresh};
use crate::oauth::rules::clients::{allow_grant, Authenticated};
use crate::oauth::rules::token::{
    decide_client_credentials, decide_code_exchange, decide_device_poll, decide_refresh,
    CodeExchange, CodeState, Fresh, GrantIds, Grantor, RefreshAsk, RefreshState,
};
use crate::oauth::{ClientAuth, OAuthError, TokenRequest, TokenResponse};
use crate::plan::Plan;
use crate::secret::SecretString;
use crate::session::Session;
use crate::store::{Record, RecordKind, Store, StoreError, Write};
use crate::token::is_opaque_token_shape;

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
        let now = self.now();
        let presented = self.presented(auth);
        settle(
            self.retrying(|| async {
                let Authenticated { client, spend } =
                    match self.authenticate(&presented, now).await? {
                        Ok(c) => c,
                        Err(e) => return Ok(Err(e)),
                    };
                if let Err(e) = allow_grant(&client.1.info, req.grant_type()) {
                    return Ok(Err(e));
                }
                self.grant(&client, spend, req, now).await
            })
            .await,
        )
    }

    /// Loads what the grant of `req` needs, decides, signs what was issued and commits,
    /// spending the client's assertion (`spend`) in the same commit.
    async fn grant(
        &self,
        client: &(Record, StoredClient),
        spend: Option<Record>,
        req: &TokenRequest,
        now: Timestamp,
    ) -> Flow<TokenResponse> {
        let config = &self.inner.config;
        let plan = match req {
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
                resource,
            } => {
                let Some(hash) = self.opaque_hash(code) else {
                    return Ok(Err(OAuthError::invalid_grant("the code is invalid")));
                };
                let state = self.load_code_state(&hash).await?;
                let exchange = CodeExchange {
                    redirect_uri: redirect_uri.as_deref(),
                    verifier: code_verifier.as_ref(),
                    resource,
                };
                decide_code_exchange(client, state, exchange, self.fresh(), config, now)?
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
                resource,
            } => {
                let Some(hash) = self.opaque_hash(refresh_token) else {
                    return Ok(Err(OAuthError::invalid_grant(
                        "the refresh token is invalid",
                    )));
                };
                let state = self.load_refresh_state(&hash).await?;
                let ask = RefreshAsk {
                    scope: scope.as_deref(),
                    resource,
                };
                decide_refresh(client, state, ask, self.fresh(), config, now)?
            }
            TokenRequest::ClientCredentials { scope, resource } => {
                let info = &client.1.info;
                let owner = match info.owner.as_deref().filter(|_| info.acts_for_owner) {
                    Some(owner) => self.load_account(owner).await?,
                    None => None,
                };
                let ids = GrantIds {
                    grant_id: self.inner.rng.id("occ_"),
                    token_id: self.inner.rng.id("tok_"),
                };
                let ask = (scope.as_deref(), resource.as_slice());
                decide_client_credentials(client, owner, ask, ids, config, now)
            }
            TokenRequest::DeviceCode { device_code } => {
                let Some(hash) = self.opaque_hash(device_code) else {
                    return Ok(Err(OAuthError::invalid_grant("the device code is invalid")));
                };
                let device = self
                    .load::<StoredDevice>(RecordKind::DeviceCode, &hash)
                    .await?;
                let grantor = match device.as_ref().map(|(_, d)| &d.status) {
                    Some(DeviceStatus::Approved(a)) => {
                        self.load_grantor(&a.session_id, &a.account_id).await?
                    }
                    _ => Grantor::default(),
                };
                decide_device_poll(client, device, grantor, self.fresh(), config, now)?
            }
        };
        // Sign before committing, so a grant is never spent without its tokens.
        let Plan { mut commit, output } = plan;
        let output = match output {
            Ok(issue) => Ok(self.respond(issue, now).await?),
            Err(e) => Err(e),
        };
        commit.writes.extend(spend.map(Write::Insert));
        match (Plan { commit, output }).apply(&self.inner.store).await {
            // Another request spent the same assertion first.
            Err(Error::Store(StoreError::Duplicate {
                kind: RecordKind::ClientAssertion,
            })) => Ok(Err(OAuthError::invalid_client())),
            other => other,
        }
    }

    /// The keyed hash of an opaque secret the client presented, or `None` when it cannot be
    /// one of ours.
    fn opaque_hash(&self, secret: &SecretString) -> Option<String> {
        is_opaque_token_shape(secret.expose())
            .then(|| self.inner.token_hasher.hash(secret.expose()))
    }

    /// Fresh ids and a refresh token for the tokens of a user grant.
    fn fresh(&self) -> Fresh {
        Fresh {
            family_id: self.inner.rng.id("ofm_"),
            token_id: self.inner.rng.id("tok_"),
            refresh: self.new_secret(),
        }
    }

    /// The approving session `session_id` and the account `account_id` of a user grant.
    async fn load_grantor(&self, session_id: &str, account_id: &str) -> Result<Grantor> {
        Ok(Grantor {
            session: self
                .load::<Session>(RecordKind::Session, session_id)
                .await?,
            account: self.load_account(account_id).await?,
        })
    }

    /// The code with keyed hash `hash`, and for a spent code the family it produced, else the
    /// session that approved it and its account.
    async fn load_code_state(&self, hash: &str) -> Result<CodeState> {
        let code = self.load::<StoredCode>(RecordKind::AuthCode, hash).await?;
        let mut state = CodeState::default();
        match code.as_ref().map(|(_, c)| c) {
            Some(StoredCode {
                used_for: Some(family_id),
                ..
            }) => {
                state.replayed = self.load(RecordKind::OAuthFamily, family_id).await?;
            }
            Some(c) => state.grantor = self.load_grantor(&c.session_id, &c.account_id).await?,
            None => {}
        }
        state.code = code;
        Ok(state)
    }

    /// The refresh token with keyed hash `hash`, its family, the family's account and the
    /// account's delegation cut-off.
    async fn load_refresh_state(&self, hash: &str) -> Result<RefreshState> {
        let mut state = RefreshState {
            token: self
                .load::<StoredOAuthRefresh>(RecordKind::OAuthRefresh, hash)
                .await?,
            ..RefreshState::default()
        };
        if let Some((_, token)) = &state.token {
            state.family = self
                .load::<StoredFamily>(RecordKind::OAuthFamily, &token.family_id)
                .await?;
        }
        if let Some((_, family)) = &state.family {
            state.account = self.load_account(&family.account_id).await?;
            state.delegation_cutoff = self.inner.revocations.delegation_cutoff(&family.account_id);
        }
        Ok(state)
    }
}
