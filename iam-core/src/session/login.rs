//! Password (+ TOTP) login: attempt reservation, credential check, session and token pair.

use crate::account::manage::account_record;
use crate::account::{validate_username, Account, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::{Clock, Timestamp};
use crate::error::{Conflict, Denial, Error, Result};
use crate::iam::Iam;
use crate::secret::SecretString;
use crate::session::{RefreshState, Session, StoredRefresh};
use crate::store::{Commit, Record, RecordKind, Store, ThrottleWrite, Write};
use crate::token::access::AccessClaims;
use crate::token::Amr;
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

/// What the credential check concluded (before any write).
enum Checked {
    Failed {
        account: Option<String>,
        reason: &'static str,
        denial: Denial,
        counts: bool,
    },
    Passed {
        totp_step: Option<u64>,
        rehash: bool,
    },
}

fn throttle_key(username: &str) -> String {
    format!("login:{username}")
}

/// The username as it may appear in an audit event: valid names as they are, others cut and escaped.
fn loggable_username(username: &str) -> String {
    if validate_username(username).is_ok() {
        username.to_owned()
    } else {
        username
            .chars()
            .take(64)
            .flat_map(char::escape_default)
            .take(256)
            .collect()
    }
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Logs in with a password (and TOTP code once TOTP is on) and opens a session.
    ///
    /// An unknown username costs the same Argon2 work as a wrong password and gives the same
    /// [`Denial::BadCredentials`]. Consecutive failures per username impose a back-off
    /// ([`Denial::Throttled`]); each attempt is reserved against it before the password and
    /// code are checked, so concurrent guesses are checked only as far as the back-off allows.
    pub async fn login(&self, req: &LoginRequest) -> Result<LoginSuccess> {
        let key = validate_username(&req.username)
            .is_ok()
            .then(|| throttle_key(&req.username));
        if let Some(key) = &key {
            if let Err(e) = self.reserve_attempt(key).await {
                if let Error::Denied(Denial::Throttled { retry_after }) = &e {
                    let audit = AuditDraft::new(AuditKind::LoginThrottled, self.now())
                        .detail("username", req.username.clone())
                        .detail("retry_after_s", retry_after.as_secs().to_string());
                    self.inner
                        .store
                        .commit(Commit {
                            audit: vec![audit],
                            ..Commit::default()
                        })
                        .await?;
                }
                return Err(e);
            }
        }
        let outcome = self.retrying(|| self.try_login(req, key.as_deref())).await;
        if let (Some(key), Err(e)) = (&key, &outcome) {
            if !matches!(e, Error::Denied(_)) {
                // The credentials could not be checked: no failed guess, so the attempt does not
                // count. Should the refund fail too, it stays counted (fail closed).
                let _ = self.refund_attempt(key).await;
            }
        }
        outcome
    }

    /// One login under the reservation already made under `key` (`None` for a name that can
    /// never exist, which is not throttled).
    async fn try_login(&self, req: &LoginRequest, key: Option<&str>) -> Result<LoginSuccess> {
        let valid_name = key.is_some();
        let store = &self.inner.store;

        let found = if valid_name {
            self.stored_account_by_name(&req.username).await?
        } else {
            None
        };
        let checked = self
            .check_credentials(found.as_ref().map(|(_, a)| a), req)
            .await?;
        let now = self.now();
        match checked {
            Checked::Failed {
                account,
                reason,
                denial,
                counts,
            } => {
                let mut audit = AuditDraft::new(AuditKind::LoginFailed, now)
                    .detail("reason", reason)
                    .detail("username", loggable_username(&req.username));
                audit.account = account;
                // The reservation already counted the attempt; one that is no failed guess is
                // taken back.
                let throttle = key
                    .filter(|_| !counts)
                    .map(|key| ThrottleWrite::Refund {
                        key: key.to_owned(),
                    })
                    .into_iter()
                    .collect();
                store
                    .commit(Commit {
                        throttle,
                        audit: vec![audit],
                        ..Commit::default()
                    })
                    .await?;
                Err(denial.into())
            }
            Checked::Passed { totp_step, rehash } => {
                let Some((record, mut account)) = found else {
                    return Err(Denial::BadCredentials.into());
                };
                let mut writes = Vec::new();
                let mut audit = Vec::new();
                if rehash {
                    account.password_hash = Some(
                        self.inner
                            .passwords
                            .hash(&req.password, &self.inner.rng)
                            .await?,
                    );
                    audit.push(
                        AuditDraft::new(AuditKind::PasswordRehashed, now).account(&account.id),
                    );
                }
                if let (Some(step), Some(t)) = (totp_step, account.totp.as_mut()) {
                    t.last_step = Some(step);
                }
                if rehash || totp_step.is_some() {
                    writes.push(Write::Update {
                        record: account_record(&account)?,
                        expected_version: record.version,
                    });
                }
                let amr = if totp_step.is_some() {
                    vec![Amr::Password.into(), Amr::Otp.into()]
                } else {
                    vec![Amr::Password.into()]
                };
                let session = Session {
                    id: self.inner.rng.id("ses_"),
                    account_id: account.id.clone(),
                    created_at: now,
                    expires_at: now.plus(self.inner.config.session_ttl),
                    revoked_at: None,
                    last_refreshed_at: None,
                    auth_time: now,
                    amr,
                    elevations: vec![],
                };
                let (tokens, refresh_record) = self.issue_pair(&account, &session, now)?;
                writes.push(Write::Insert(session_record(&session)?));
                writes.push(Write::Insert(refresh_record));
                audit.push(
                    AuditDraft::new(AuditKind::LoginSucceeded, now)
                        .actor(Some(&account.id))
                        .account(&account.id)
                        .session(&session.id)
                        .detail("amr", session.amr.join(",")),
                );
                let throttle = key
                    .map(|key| ThrottleWrite::Reset {
                        key: key.to_owned(),
                    })
                    .into_iter()
                    .collect();
                store
                    .commit(Commit {
                        writes,
                        throttle,
                        audit,
                        ..Commit::default()
                    })
                    .await?;
                Ok(LoginSuccess {
                    account: account.view(),
                    session,
                    tokens,
                })
            }
        }
    }

    /// Checks password, TOTP and account state, in an order that reveals nothing to a caller
    /// who does not know the password.
    async fn check_credentials(
        &self,
        account: Option<&StoredAccount>,
        req: &LoginRequest,
    ) -> Result<Checked> {
        let acc_id = account.map(|a| a.id.clone());
        let fail = |reason, denial, counts| Checked::Failed {
            account: acc_id.clone(),
            reason,
            denial,
            counts,
        };
        if self.inner.passwords.policy().check(&req.password).is_err() {
            // Out-of-range length can never match; still spend the Argon2 time.
            self.inner
                .passwords
                .verify(&SecretString::new(String::new()), None)
                .await?;
            return Ok(fail("bad_credentials", Denial::BadCredentials, true));
        }
        let stored = account.and_then(|a| a.password_hash.as_deref());
        let v = self.inner.passwords.verify(&req.password, stored).await?;
        let Some(account) = account.filter(|_| v.matched) else {
            return Ok(fail("bad_credentials", Denial::BadCredentials, true));
        };
        let mut totp_step = None;
        if account.totp_required() {
            let Some(code) = req.totp_code.as_deref() else {
                return Ok(fail("totp_required", Denial::TotpRequired, false));
            };
            let state = account
                .totp
                .as_ref()
                .ok_or(Error::State(Conflict::TotpStateMissing))?;
            let secret = self
                .inner
                .sealer
                .open(&state.sealed_secret, &totp_aad(&account.id))?;
            let now_secs = u64::try_from(self.now().as_secs()).unwrap_or(0);
            match crate::totp::matching_step(&secret, code, now_secs, state.last_step) {
                Some(step) => totp_step = Some(step),
                None => return Ok(fail("bad_totp", Denial::BadCredentials, true)),
            }
        }
        if account.disabled {
            return Ok(fail("account_disabled", Denial::AccountDisabled, false));
        }
        Ok(Checked::Passed {
            totp_step,
            rehash: v.needs_rehash,
        })
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

    /// Mints an access token and a fresh refresh token (with its record) for `session`.
    pub(crate) fn issue_pair(
        &self,
        account: &StoredAccount,
        session: &Session,
        now: Timestamp,
    ) -> Result<(TokenPair, Record)> {
        let (access, exp) = self.session_access_token(account, session, now)?;
        let refresh = new_opaque_token(&self.inner.rng);
        let stored = StoredRefresh {
            session_id: session.id.clone(),
            account_id: account.id.clone(),
            issued_at: now,
            state: RefreshState::Active,
        };
        let record = Record {
            kind: RecordKind::RefreshToken,
            id: self.inner.token_hasher.hash(refresh.expose()),
            version: 0,
            parent: Some(session.id.clone()),
            lookup: None,
            expires_at: Some(session.expires_at),
            body: crate::json::to_body(&stored)?,
        };
        let pair = TokenPair {
            access_token: SecretString::new(access),
            refresh_token: refresh,
            expires_in: now.until(exp).as_secs(),
            session_id: session.id.clone(),
        };
        Ok((pair, record))
    }
}

/// The sealing context of an account's TOTP secret.
pub(crate) fn totp_aad(account_id: &str) -> String {
    format!("totp:{account_id}")
}

/// The stored record for `session`.
pub(crate) fn session_record(session: &Session) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::Session,
        id: session.id.clone(),
        version: 0,
        parent: Some(session.account_id.clone()),
        lookup: None,
        expires_at: Some(session.expires_at),
        body: crate::json::to_body(session)?,
    })
}
