//! Password (+ TOTP) login: attempt reservation, credential check, session and token pair.

use crate::account::{totp_aad, Account, StoredAccount};
use crate::clock::{Clock, Timestamp};
use crate::error::{Conflict, Denial, Error, Result};
use crate::iam::Iam;
use crate::plan::Plan;
use crate::secret::SecretString;
use crate::session::rules::{self, FreshLogin, LoginAccepted, LoginChecks, LoginVerdict};
use crate::session::Session;
use crate::store::Store;
use crate::token::access::AccessClaims;
use crate::token::{new_opaque_token, TokenPair};

/// What a login presents.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// The username.
    pub username: String,
    /// The password.
    pub password: SecretString,
    /// The current TOTP code, required once TOTP is on.
    pub totp_code: Option<String>,
}

impl LoginRequest {
    /// A login with username and password only.
    pub fn password(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        LoginRequest {
            username: username.into(),
            password: password.into(),
            totp_code: None,
        }
    }

    /// Adds a TOTP code.
    #[must_use]
    pub fn with_totp(mut self, code: impl Into<String>) -> Self {
        self.totp_code = Some(code.into());
        self
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// Who logged in.
    pub account: Account,
    /// The new session.
    pub session: Session,
    /// Its first token pair.
    pub tokens: TokenPair,
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Logs in with a password (and TOTP code once TOTP is on) and opens a session.
    ///
    /// An unknown username costs the same Argon2 work as a wrong password and gives the same
    /// [`Denial::BadCredentials`]. Consecutive failures per username impose a back-off
    /// ([`Denial::Throttled`]); each attempt is reserved against it before the password and
    /// code are checked, so concurrent guesses are checked only as far as the back-off allows.
    pub async fn login(&self, req: &LoginRequest) -> Result<LoginSuccess> {
        let now = self.now();
        let key = self.reserve_login(&req.username, now).await?;
        let outcome = self
            .retrying(|| self.try_login(req, key.as_deref(), now))
            .await;
        self.settle_login(key.as_deref(), outcome).await
    }

    /// Reserves one login attempt for `username` at `now` and returns its throttle key (`None`
    /// for a name that can never exist, which is not throttled); a throttled attempt is
    /// audited and denied.
    pub(crate) async fn reserve_login(
        &self,
        username: &str,
        now: Timestamp,
    ) -> Result<Option<String>> {
        let key = rules::login_throttle_key(username);
        if let Some(key) = &key {
            match self.reserve_attempt_at(key, now).await {
                Err(Error::Denied(Denial::Throttled { retry_after })) => {
                    let plan = rules::login_throttled(username, retry_after, now);
                    self.inner.store.commit(plan.commit).await?;
                    return Err(plan.output.into());
                }
                other => other?,
            }
        }
        Ok(key)
    }

    /// Settles the attempt reserved under `key` by what the login concluded: an error that is
    /// no denial means the credentials could not be checked, so the attempt does not count.
    pub(crate) async fn settle_login<T>(&self, key: Option<&str>, outcome: Result<T>) -> Result<T> {
        if let (Some(key), Err(e)) = (key, &outcome) {
            if !matches!(e, Error::Denied(_)) {
                // Should the refund fail too, it stays counted (fail closed).
                let _ = self.refund_attempt(key).await;
            }
        }
        outcome
    }

    /// One login at `now` under the reservation already made under `key` (`None` for a name
    /// that can never exist, which is not throttled).
    async fn try_login(
        &self,
        req: &LoginRequest,
        key: Option<&str>,
        now: Timestamp,
    ) -> Result<LoginSuccess> {
        let accepted = self.judge_password(req, key, false, now).await?;
        let password_hash = if accepted.rehash {
            Some(
                self.inner
                    .passwords
                    .hash(&req.password, &self.inner.rng)
                    .await?,
            )
        } else {
            None
        };
        let session_id = self.inner.rng.id("ses_");
        let (refresh_token, refresh_hash) = self.new_refresh_token();
        let fresh = FreshLogin {
            session_id,
            refresh_hash,
            password_hash,
        };
        let plan = rules::grant_login(accepted, fresh, key, self.inner.config.session_ttl, now)?;
        let Plan {
            commit,
            output: (account, session),
        } = plan;
        let tokens = self.token_pair(&account, &session, refresh_token, now)?;
        self.inner.store.commit(commit).await?;
        Ok(LoginSuccess {
            account: account.view(),
            session,
            tokens,
        })
    }

    /// Checks the password (and the TOTP code, unless `passkey_follows`) of `req` at `now` under
    /// the reservation made under `key`; a refusal is committed and returned as the error.
    pub(crate) async fn judge_password(
        &self,
        req: &LoginRequest,
        key: Option<&str>,
        passkey_follows: bool,
        now: Timestamp,
    ) -> Result<LoginAccepted> {
        let found = match key {
            Some(_) => self.stored_account_by_name(&req.username).await?,
            None => None,
        };
        let checks = self
            .check_credentials(found.as_ref().map(|(_, a)| a), req, now)
            .await?;
        match rules::judge_login(found, checks, &req.username, key, passkey_follows, now) {
            LoginVerdict::Refused(plan) => {
                self.inner.store.commit(plan.commit).await?;
                Err(plan.output.into())
            }
            LoginVerdict::Accepted(accepted) => Ok(*accepted),
        }
    }

    /// Runs the costly checks of a login at `now`: the password against the account's hash
    /// (or the dummy hash, at the same cost), then, only for a matched password on an account
    /// that requires TOTP, the presented code. What they conclude is [`rules::judge_login`]'s.
    async fn check_credentials(
        &self,
        account: Option<&StoredAccount>,
        req: &LoginRequest,
        now: Timestamp,
    ) -> Result<LoginChecks> {
        let mut checks = LoginChecks {
            totp_code_given: req.totp_code.is_some(),
            ..LoginChecks::default()
        };
        if self.inner.passwords.policy().check(&req.password).is_err() {
            // Out-of-range length can never match; still spend the Argon2 time.
            self.inner
                .passwords
                .verify(&SecretString::new(String::new()), None)
                .await?;
            return Ok(checks);
        }
        let stored = account.and_then(|a| a.password_hash.as_deref());
        let v = self.inner.passwords.verify(&req.password, stored).await?;
        let Some(account) = account.filter(|_| v.matched) else {
            return Ok(checks);
        };
        checks.password_matched = true;
        checks.needs_rehash = v.needs_rehash;
        if let (true, Some(code)) = (account.totp_required(), req.totp_code.as_deref()) {
            let state = account
                .totp
                .as_ref()
                .ok_or(Error::State(Conflict::TotpStateMissing))?;
            let secret = self
                .inner
                .sealer
                .open(&state.sealed_secret, &totp_aad(&account.id))?;
            let now_secs = u64::try_from(now.as_secs()).unwrap_or(0);
            checks.totp_step = crate::totp::matching_step(&secret, code, now_secs, state.last_step);
        }
        Ok(checks)
    }

    /// Mints a session access token: standing roles plus the session's open elevations; it
    /// expires no later than the session or the earliest open elevation. Returns it with its expiry.
    pub(crate) fn session_access_token(
        &self,
        account: &StoredAccount,
        session: &Session,
        now: Timestamp,
    ) -> Result<(String, Timestamp)> {
        self.session_token_with(account, session, now, |_| {})
    }

    /// Like [`Self::session_access_token`], with `customize` applied to the claims before signing.
    pub(crate) fn session_token_with(
        &self,
        account: &StoredAccount,
        session: &Session,
        now: Timestamp,
        customize: impl FnOnce(&mut AccessClaims),
    ) -> Result<(String, Timestamp)> {
        let open: Vec<&crate::session::ActiveElevation> = session
            .active_elevations(now)
            .filter(|e| account.elevatable_roles.contains(&e.role))
            .collect();
        let elev_until = open.iter().map(|e| e.until).min();
        let exp = now
            .plus(self.inner.config.access_token_ttl)
            .min(session.expires_at)
            .min(elev_until.unwrap_or(Timestamp::MAX));
        let mut roles: Vec<String> = account.roles.iter().cloned().collect();
        let elev: Vec<String> = open
            .iter()
            .map(|e| e.role.clone())
            .filter(|r| !account.roles.contains(r))
            .collect();
        roles.extend(elev.iter().cloned());
        let mut claims = AccessClaims::base(
            &self.inner.config,
            &account.id,
            &session.id,
            self.inner.rng.id("tok_"),
            account.kind,
            crate::authz::CredentialKind::Session,
            now,
            exp,
        );
        claims.roles = roles;
        claims.auth_time = session.auth_time.to_rfc3339();
        claims.amr.clone_from(&session.amr);
        claims.elev_until = elev_until
            .filter(|_| !elev.is_empty())
            .map(Timestamp::to_rfc3339);
        claims.elev = elev;
        customize(&mut claims);
        Ok((self.sign_claims(&claims)?, exp))
    }

    /// A fresh refresh token and its keyed hash (the id of its record).
    pub(crate) fn new_refresh_token(&self) -> (SecretString, String) {
        let token = new_opaque_token(&self.inner.rng);
        let hash = self.inner.token_hasher.hash(token.expose());
        (token, hash)
    }

    /// The token pair handed out for `session`: a new access token signed at `now`, and
    /// `refresh_token` (whose record the plan inserts).
    pub(crate) fn token_pair(
        &self,
        account: &StoredAccount,
        session: &Session,
        refresh_token: SecretString,
        now: Timestamp,
    ) -> Result<TokenPair> {
        let (access, exp) = self.session_access_token(account, session, now)?;
        Ok(TokenPair {
            access_token: SecretString::new(access),
            refresh_token,
            expires_in: now.until(exp).as_secs(),
            session_id: session.id.clone(),
        })
    }
}
