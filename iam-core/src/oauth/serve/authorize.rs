//! The authorization endpoint (RFC 6749 §4.1.1-§4.1.2, RFC 7636, OpenID Connect `prompt`
//! and `max_age`) and the account's consents. Rules: [`crate::oauth::rules::authorize`] and
//! [`crate::oauth::rules::consent`].

use super::{settle, Flow};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::error::Result;
use crate::iam::Iam;
use crate::oauth::grant::{consent_id, OAuthConsent};
use crate::oauth::rules::authorize::{
    check_request, decide_authorize, decide_consent_and_authorize, denied_redirect, rejected,
    Checked, UserState,
};
use crate::oauth::rules::consent::decide_revoke_consent;
use crate::oauth::{AuthorizationRedirect, AuthorizeOutcome, AuthorizeRequest, OAuthError};
use crate::session::Session;
use crate::store::{RecordKind, Store};
use crate::token::Principal;

/// Which request of the authorization endpoint runs.
#[derive(Clone, Copy)]
enum Step {
    /// The authorization request itself.
    Authorize,
    /// The user's consent, given on the consent page.
    Consent,
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
        self.authorization_step(req, user, Step::Authorize).await
    }

    /// The user consented on the page [`AuthorizeOutcome::ConsentRequired`] asked for: records
    /// the consent (widening any earlier one) and issues the code, in one step.
    pub async fn consent_and_authorize(
        &self,
        req: &AuthorizeRequest,
        user: &Principal,
    ) -> std::result::Result<AuthorizeOutcome, OAuthError> {
        self.authorization_step(req, Some(user), Step::Consent)
            .await
    }

    /// Runs `step` of the authorization endpoint for `req`: checks the request against its
    /// client (a failed check answers at once), loads the user's state, decides and commits,
    /// again while it loses races.
    async fn authorization_step(
        &self,
        req: &AuthorizeRequest,
        user: Option<&Principal>,
        step: Step,
    ) -> std::result::Result<AuthorizeOutcome, OAuthError> {
        let now = self.now();
        let ttl = self.inner.config.oauth.code_ttl;
        settle(
            self.retrying(|| async {
                let checked = match self.check_authorize(req).await? {
                    Ok(Ok(c)) => c,
                    Ok(Err(redirect)) => return Ok(Ok(AuthorizeOutcome::Redirect(redirect))),
                    Err(shown) => return Ok(Err(shown)),
                };
                let state = self.user_state(&checked, user, now).await?;
                let code = self.new_secret();
                let plan = match step {
                    Step::Authorize => {
                        let registered_by = self.client_registrar(&checked.client.info).await?;
                        decide_authorize(&checked, state, registered_by, code, ttl, now)?
                    }
                    Step::Consent => decide_consent_and_authorize(&checked, state, code, ttl, now)?,
                };
                Ok(Ok(plan.apply(&self.inner.store).await?))
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
        Ok(match self.check_authorize(req).await?? {
            Ok(c) => denied_redirect(c),
            Err(redirect) => redirect,
        })
    }

    /// An account's consents to clients.
    /// For the account itself or an admin.
    pub async fn list_consents(
        &self,
        caller: Caller<'_>,
        account_id: &str,
    ) -> Result<Vec<OAuthConsent>> {
        let now = self.now();
        self.check(
            caller,
            Action::ReadAccount {
                account: account_id,
            },
            now,
        )?;
        let consents = self
            .list_children(RecordKind::OAuthConsent, account_id)
            .await?;
        Ok(consents.into_iter().map(|(_, c)| c).collect())
    }

    /// Withdraws the consent of `actor`'s account to `client_id`; every token issued to that
    /// client for the account stops working at once. Returns how many token families died.
    pub async fn revoke_consent(&self, actor: &Principal, client_id: &str) -> Result<usize> {
        let now = self.now();
        self.check(
            actor.into(),
            Action::RevokeCredentials {
                account: &actor.account_id,
            },
            now,
        )?;
        let account_id = actor.account_id.as_str();
        self.retrying(|| async {
            let consent = self
                .inner
                .store
                .get(RecordKind::OAuthConsent, &consent_id(account_id, client_id))
                .await?;
            let families = self.client_families(client_id).await?;
            let plan =
                decide_revoke_consent(account_id, client_id, consent.as_ref(), families, now)?;
            plan.apply(&self.inner.store).await
        })
        .await
    }

    /// Loads the client a request names and checks the request against it. Outer `Err`: a
    /// store failure. Then `Err`: show to the user; `Ok(Err)`: redirect.
    async fn check_authorize(
        &self,
        req: &AuthorizeRequest,
    ) -> Flow<std::result::Result<Checked, AuthorizationRedirect>> {
        let client = match req.client_id.as_deref() {
            Some(id) => self.load_client(id).await?,
            None => None,
        };
        let mut checked = match check_request(req, client) {
            Ok(Ok(c)) => c,
            other => return Ok(other),
        };
        if let Some(hint) = &req.id_token_hint {
            match self.id_token_hint_subject(hint).await {
                Ok(sub) => checked.hint_subject = Some(sub),
                Err(e) => return Ok(Ok(Err(rejected(checked, e)))),
            }
        }
        Ok(Ok(Ok(checked)))
    }

    /// What the decision needs about `user`: their token if it may approve delegations at
    /// `now`, the session it names, and their consent to the request's client.
    async fn user_state<'p>(
        &self,
        checked: &Checked,
        user: Option<&'p Principal>,
        now: Timestamp,
    ) -> Result<UserState<'p>> {
        let Some(p) = user.filter(|p| {
            self.check((*p).into(), Action::ApproveDelegation, now)
                .is_ok()
        }) else {
            return Ok(UserState::default());
        };
        let session = self
            .load::<Session>(RecordKind::Session, &p.session_id)
            .await?;
        let consent = self
            .load::<OAuthConsent>(
                RecordKind::OAuthConsent,
                &consent_id(&p.account_id, &checked.client.info.id),
            )
            .await?;
        Ok(UserState {
            user: Some(p),
            session,
            consent,
        })
    }
}
