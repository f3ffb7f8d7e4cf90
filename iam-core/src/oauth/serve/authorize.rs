//! The authorization endpoint (RFC 6749 §4.1.1-§4.1.2, RFC 7636, OpenID Connect `prompt`
//! and `max_age`) and the account's consents.

use std::collections::BTreeSet;

use super::{revoke_family_into, settle, Flow};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::{Clock, Timestamp};
use crate::error::{Error, Missing, Result};
use crate::iam::Iam;
use crate::oauth::authorize::{
    decide_interaction, match_redirect_uri, parse_prompt, Interaction, Prompt, SessionFacts,
};
use crate::oauth::client::StoredClient;
use crate::oauth::grant::{consent_id, OAuthConsent, StoredCode, StoredFamily};
use crate::oauth::scope::{decide_resources, decide_scope};
use crate::oauth::{
    pkce, AuthorizationRedirect, AuthorizationResult, AuthorizeOutcome, AuthorizeRequest,
    ClientKind, ConsentPrompt, GrantType, OAuthError, OAuthErrorCode,
};
use crate::session::Session;
use crate::store::{Commit, ListQuery, Record, RecordKind, Store, Write};
use crate::token::{new_opaque_token, Principal};

/// Longest `state` echoed back.
const MAX_STATE_LEN: usize = 2048;

/// An authorization request that passed every check.
struct Checked {
    client: StoredClient,
    redirect_uri: String,
    redirect_uri_given: bool,
    scopes: BTreeSet<String>,
    resources: BTreeSet<String>,
    challenge: Option<String>,
    prompt: Prompt,
    max_age: Option<u64>,
    state: Option<String>,
}

/// The user behind the request, when logged in with a live session.
struct LiveUser {
    account_id: String,
    session: Session,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Handles an authorization request for the user holding `user` (the principal of their
    /// iam session token, or `None` when not logged in).
    ///
    /// `Err` must be **shown to the user, never redirected**: the client is unknown or
    /// disabled, or the redirect URI is missing or not registered (RFC 6749 §4.1.2.1). Every
    /// other problem is an [`AuthorizeOutcome::Redirect`] carrying `error` and `state`. With
    /// `prompt=none`, a missing session answers `login_required` and a missing consent
    /// `consent_required`, both by redirect (OpenID Connect Core §3.1.2.6).
    pub async fn authorize(
        &self,
        req: &AuthorizeRequest,
        user: Option<&Principal>,
    ) -> std::result::Result<AuthorizeOutcome, OAuthError> {
        let checked = match self.check_authorize(req).await? {
            Ok(c) => c,
            Err(redirect) => return Ok(AuthorizeOutcome::Redirect(redirect)),
        };
        settle(self.retrying(|| self.try_authorize(&checked, user)).await)
    }

    /// The user consented on the page [`AuthorizeOutcome::ConsentRequired`] asked for: records
    /// the consent (widening any earlier one) and issues the code, in one step.
    pub async fn consent_and_authorize(
        &self,
        req: &AuthorizeRequest,
        user: &Principal,
    ) -> std::result::Result<AuthorizeOutcome, OAuthError> {
        let checked = match self.check_authorize(req).await? {
            Ok(c) => c,
            Err(redirect) => return Ok(AuthorizeOutcome::Redirect(redirect)),
        };
        settle(
            self.retrying(|| async {
                let now = self.now();
                let Some(live) = self.live_user(Some(user)).await? else {
                    return Ok(Ok(AuthorizeOutcome::LoginRequired));
                };
                let max_age = checked.max_age.map(std::time::Duration::from_secs);
                if max_age.is_some_and(|m| live.session.auth_time.plus(m) < now) {
                    return Ok(Ok(AuthorizeOutcome::LoginRequired));
                }
                let mut commit = Commit::default();
                self.widen_consent(
                    &mut commit,
                    &live.account_id,
                    &checked.client.info.id,
                    &checked.scopes,
                )
                .await?;
                let redirect = self.issue_code(&checked, &live, now, commit).await?;
                Ok(Ok(AuthorizeOutcome::Redirect(redirect)))
            })
            .await,
        )
    }

    /// The user declined on the consent page: the redirect carries `access_denied`.
    /// `Err` is shown to the user, as for [`Iam::authorize`].
    pub async fn deny_authorization(
        &self,
        req: &AuthorizeRequest,
    ) -> std::result::Result<AuthorizationRedirect, OAuthError> {
        Ok(match self.check_authorize(req).await? {
            Ok(c) => AuthorizationRedirect {
                redirect_uri: c.redirect_uri,
                result: AuthorizationResult::Error(OAuthError::new(
                    OAuthErrorCode::AccessDenied,
                    "the user denied the request",
                )),
                state: c.state,
            },
            Err(redirect) => redirect,
        })
    }

    /// An account's consents to clients.
    /// For the account itself or an admin.
    pub async fn list_consents(
        &self,
        caller: crate::authz::Caller<'_>,
        account_id: &str,
    ) -> Result<Vec<OAuthConsent>> {
        self.may(
            caller,
            crate::authz::Action::ReadAccount {
                account: account_id,
            },
        )?;
        let q = ListQuery {
            parent: Some(account_id.to_owned()),
            ..ListQuery::default()
        };
        let records = self.inner.store.list(RecordKind::OAuthConsent, &q).await?;
        records
            .iter()
            .map(|r| crate::json::from_body(&r.body))
            .collect()
    }

    /// Withdraws the consent of `actor`'s account to `client_id`; every token issued to that
    /// client for the account stops working at once. Returns how many token families died.
    pub async fn revoke_consent(&self, actor: &Principal, client_id: &str) -> Result<usize> {
        self.may(
            actor.into(),
            crate::authz::Action::RevokeCredentials {
                account: &actor.account_id,
            },
        )?;
        let account_id = actor.account_id.clone();
        self.retrying(|| async {
            let id = consent_id(&account_id, client_id);
            let consent = self
                .load::<OAuthConsent>(RecordKind::OAuthConsent, &id)
                .await?;
            let now = self.now();
            let mut commit = Commit::default();
            if let Some((record, _)) = &consent {
                commit.writes.push(Write::Delete {
                    kind: RecordKind::OAuthConsent,
                    id: id.clone(),
                    expected_version: record.version,
                });
            }
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
                if family.account_id == account_id
                    && family.is_live(now)
                    && revoke_family_into(&mut commit, r, family, now)?
                {
                    revoked += 1;
                }
            }
            if consent.is_none() && revoked == 0 {
                return Err(Error::NotFound(Missing::Consent));
            }
            commit.audit.push(
                AuditDraft::new(AuditKind::OAuthConsentRevoked, now)
                    .actor(Some(&account_id))
                    .account(&account_id)
                    .detail("client_id", client_id.to_owned())
                    .detail("families_revoked", revoked.to_string()),
            );
            self.inner.store.commit(commit).await?;
            Ok(revoked)
        })
        .await
    }

    /// Checks an authorization request. Outer `Err`: show to the user. Inner `Err`: redirect.
    async fn check_authorize(
        &self,
        req: &AuthorizeRequest,
    ) -> std::result::Result<std::result::Result<Checked, AuthorizationRedirect>, OAuthError> {
        if req
            .repeated
            .iter()
            .any(|n| n == "client_id" || n == "redirect_uri")
        {
            return Err(OAuthError::invalid_request(
                "client_id or redirect_uri is repeated",
            ));
        }
        let client_id = req
            .client_id
            .as_deref()
            .ok_or(OAuthError::invalid_request("client_id is required"))?;
        let client = match self.load_client(client_id).await {
            Ok(Some((_, c))) if !c.info.disabled => c,
            Ok(_) => {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidClient,
                    "the client is unknown or disabled",
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let (redirect_uri, redirect_uri_given) =
            match_redirect_uri(&client.info, req.redirect_uri.as_deref())?;
        let state = req.state.clone();
        let fail = |e: OAuthError| {
            Ok(Err(AuthorizationRedirect {
                redirect_uri: redirect_uri.clone(),
                result: AuthorizationResult::Error(e),
                state: state.clone(),
            }))
        };
        if !req.repeated.is_empty() {
            return fail(OAuthError::invalid_request(
                "a request parameter is repeated",
            ));
        }
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return fail(OAuthError::invalid_request("state is too long"));
        }
        match req.response_type.as_deref() {
            Some("code") => {}
            None => return fail(OAuthError::invalid_request("response_type is required")),
            Some(_) => return fail(OAuthError::code(OAuthErrorCode::UnsupportedResponseType)),
        }
        if !client.info.allows(GrantType::AuthorizationCode) {
            return fail(OAuthError::code(OAuthErrorCode::UnauthorizedClient));
        }
        let scopes = match decide_scope(
            req.scope.as_deref(),
            &client.info.scopes,
            &client.info.scopes,
        ) {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let resources = match decide_resources(&req.resource, &client.info.resources) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let challenge = match (&req.code_challenge, req.code_challenge_method.as_deref()) {
            (Some(c), method) => match pkce::check_challenge(c, method) {
                Ok(()) => Some(c.clone()),
                Err(e) => return fail(e),
            },
            (None, Some(_)) => {
                return fail(OAuthError::invalid_request(
                    "code_challenge_method without code_challenge",
                ))
            }
            (None, None) => None,
        };
        if challenge.is_none()
            && (client.info.require_pkce || client.info.kind == ClientKind::Public)
        {
            return fail(OAuthError::invalid_request(
                "code_challenge (PKCE, S256) is required",
            ));
        }
        let prompt = match parse_prompt(req.prompt.as_deref()) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        Ok(Ok(Checked {
            client,
            redirect_uri,
            redirect_uri_given,
            scopes,
            resources,
            challenge,
            prompt,
            max_age: req.max_age,
            state,
        }))
    }

    /// The user's live session, if `user` is an iam session token whose session still lives.
    async fn live_user(&self, user: Option<&Principal>) -> Result<Option<LiveUser>> {
        let Some(p) = user.filter(|p| {
            crate::authz::authorize(
                p,
                crate::authz::Action::ApproveDelegation,
                self.now(),
                self.inner.config.recent_authentication,
            )
            .is_ok()
        }) else {
            return Ok(None);
        };
        let Some((_, session)) = self
            .load::<Session>(RecordKind::Session, &p.session_id)
            .await?
        else {
            return Ok(None);
        };
        if session.account_id != p.account_id || !session.is_live(self.now()) {
            return Ok(None);
        }
        Ok(Some(LiveUser {
            account_id: p.account_id.clone(),
            session,
        }))
    }

    async fn try_authorize(
        &self,
        checked: &Checked,
        user: Option<&Principal>,
    ) -> Flow<AuthorizeOutcome> {
        let now = self.now();
        let live = self.live_user(user).await?;
        let consent = match &live {
            Some(l) => self
                .load::<OAuthConsent>(
                    RecordKind::OAuthConsent,
                    &consent_id(&l.account_id, &checked.client.info.id),
                )
                .await?
                .map(|(_, c)| c),
            None => None,
        };
        let covers = consent.as_ref().is_some_and(|c| c.covers(&checked.scopes));
        let facts = live.as_ref().map(|l| SessionFacts {
            auth_time: l.session.auth_time,
        });
        let decision = decide_interaction(checked.prompt, facts, checked.max_age, covers, now);
        match (decision, live) {
            (Err(e), _) => Ok(Ok(AuthorizeOutcome::Redirect(AuthorizationRedirect {
                redirect_uri: checked.redirect_uri.clone(),
                result: AuthorizationResult::Error(e),
                state: checked.state.clone(),
            }))),
            (Ok(Interaction::Login), _) | (Ok(_), None) => Ok(Ok(AuthorizeOutcome::LoginRequired)),
            (Ok(Interaction::Consent), Some(_)) => {
                let new_scopes = match &consent {
                    Some(c) => checked.scopes.difference(&c.scopes).cloned().collect(),
                    None => checked.scopes.clone(),
                };
                Ok(Ok(AuthorizeOutcome::ConsentRequired(ConsentPrompt {
                    client_id: checked.client.info.id.clone(),
                    client_name: checked.client.info.name.clone(),
                    scopes: checked.scopes.clone(),
                    new_scopes,
                    registered_by: self.client_registrar(&checked.client.info).await?,
                })))
            }
            (Ok(Interaction::Issue), Some(live)) => {
                let redirect = self
                    .issue_code(checked, &live, now, Commit::default())
                    .await?;
                Ok(Ok(AuthorizeOutcome::Redirect(redirect)))
            }
        }
    }

    /// Issues a code for `live` and commits it together with `commit`.
    async fn issue_code(
        &self,
        checked: &Checked,
        live: &LiveUser,
        now: Timestamp,
        mut commit: Commit,
    ) -> Result<AuthorizationRedirect> {
        let code = new_opaque_token(&self.inner.rng);
        let expires_at = now.plus(self.inner.config.oauth.code_ttl);
        let stored = StoredCode {
            client_id: checked.client.info.id.clone(),
            redirect_uri: checked.redirect_uri.clone(),
            redirect_uri_given: checked.redirect_uri_given,
            code_challenge: checked.challenge.clone(),
            account_id: live.account_id.clone(),
            session_id: live.session.id.clone(),
            scopes: checked.scopes.clone(),
            resources: checked.resources.clone(),
            auth_time: live.session.auth_time,
            amr: live.session.amr.clone(),
            issued_at: now,
            expires_at,
            used_for: None,
        };
        commit.writes.push(Write::Insert(Record {
            kind: RecordKind::AuthCode,
            id: self.inner.token_hasher.hash(code.expose()),
            version: 0,
            parent: Some(stored.client_id.clone()),
            lookup: None,
            expires_at: Some(expires_at),
            body: crate::json::to_body(&stored)?,
        }));
        commit.audit.push(
            AuditDraft::new(AuditKind::OAuthCodeIssued, now)
                .actor(Some(&live.account_id))
                .account(&live.account_id)
                .session(&live.session.id)
                .detail("client_id", stored.client_id.clone())
                .detail("scope", crate::oauth::scope::format_scope(&stored.scopes)),
        );
        self.inner.store.commit(commit).await?;
        Ok(AuthorizationRedirect {
            redirect_uri: checked.redirect_uri.clone(),
            result: AuthorizationResult::Code(code),
            state: checked.state.clone(),
        })
    }
}
