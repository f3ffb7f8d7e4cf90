//! Elevation ("sudo mode"): roles an account holds switched off until it opens them for one
//! session, with a fresh proof, possibly another account's approval, and a time limit.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::account::manage::{account_record, RoleSet};
use crate::account::{Account, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::{Action, Caller};
use crate::clock::{Clock, Timestamp};
use crate::config::StepUp;
use crate::error::{Conflict, Denial, Error, InvalidInput, Result};
use crate::iam::Iam;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::secret::SecretString;
use crate::session::login::{session_record, totp_aad};
use crate::session::{ActiveElevation, Session};
use crate::store::{Commit, Record, RecordKind, Store, ThrottleWrite, Write};
use crate::token::Amr;
use crate::token::Principal;

/// The fresh proof presented to open an elevated role.
#[derive(Debug, Clone, Default)]
pub struct StepUpProof {
    /// The account's password.
    pub password: Option<SecretString>,
    /// A current TOTP code.
    pub totp_code: Option<String>,
}

/// What [`Iam::elevate`] achieved.
#[derive(Debug, Clone)]
pub enum ElevationOutcome {
    /// The role is open for the session now.
    Active {
        /// The open elevation.
        elevation: ActiveElevation,
        /// An access token carrying the role, expiring no later than the elevation.
        access_token: SecretString,
    },
    /// The role needs approval; the request waits until `expires_at`.
    Pending {
        /// The request id, for the approver.
        request_id: String,
        /// When the request lapses unanswered.
        expires_at: Timestamp,
    },
}

/// A pending elevation request, as an approver sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElevationRequest {
    /// The request id (`elr_…`).
    pub id: String,
    /// The requesting account.
    pub account_id: String,
    /// The session the role would open for.
    pub session_id: String,
    /// The role.
    pub role: String,
    /// How long the elevation would last once approved, in milliseconds.
    pub duration_ms: u64,
    /// When it was requested.
    pub created_at: Timestamp,
    /// When it lapses unanswered.
    pub expires_at: Timestamp,
}

/// The throttle key for failed step-up proofs of an account.
fn step_up_throttle_key(account_id: &str) -> String {
    format!("stepup:{account_id}")
}

impl<S: Store, C: Clock> Iam<S, C> {
    /// Makes `role` elevatable for an account (admins): held, but off until opened per session.
    pub async fn grant_elevatable_role(
        &self,
        caller: Caller<'_>,
        account_id: &str,
        role: &str,
    ) -> Result<Account> {
        self.change_role(caller, account_id, role, RoleSet::Elevatable, true)
            .await
    }

    /// Takes an elevatable role away (admins); tokens carrying it (open elevations) stop
    /// verifying at once.
    pub async fn revoke_elevatable_role(
        &self,
        caller: Caller<'_>,
        account_id: &str,
        role: &str,
    ) -> Result<Account> {
        self.change_role(caller, account_id, role, RoleSet::Elevatable, false)
            .await
    }

    /// Opens `role` for the principal's session for `duration` (the role's maximum when `None`).
    ///
    /// The proof must satisfy the role's [`crate::config::ElevationPolicy`]; failed proofs count
    /// towards a back-off like failed logins. Roles with an approver role return
    /// [`ElevationOutcome::Pending`]; the role opens when another account approves.
    pub async fn elevate(
        &self,
        principal: &Principal,
        role: &str,
        duration: Option<Duration>,
        proof: &StepUpProof,
    ) -> Result<ElevationOutcome> {
        self.may(principal.into(), Action::Elevate)?;
        let policy = self.inner.config.elevation_policy(role).clone();
        let duration = duration.unwrap_or(policy.max_duration);
        if duration > policy.max_duration {
            return Err(InvalidInput::DurationTooLong {
                max_secs: policy.max_duration.as_secs(),
            }
            .into());
        }
        if duration.is_zero() {
            return Err(InvalidInput::ExpiryInPast.into());
        }
        let (_, account) = self.stored_account(&principal.account_id).await?;
        if !account.elevatable_roles.contains(role) {
            return Err(Denial::ElevationNotAllowed.into());
        }
        // A role that asks for no proof has nothing to guess: it neither counts nor clears.
        let proves = policy.step_up != StepUp::None;
        if proves {
            self.reserve_step_up(&account.id).await?;
        }
        let totp_step = match self.check_step_up(&account, policy.step_up, proof).await {
            Ok(step) => step,
            Err(e) => {
                let now = self.now();
                self.record_step_up_failure(
                    AuditDraft::new(AuditKind::ElevationDenied, now)
                        .actor(Some(&account.id))
                        .account(&account.id)
                        .session(&principal.session_id)
                        .detail("role", role)
                        .detail("reason", "step_up_failed"),
                )
                .await?;
                return Err(e);
            }
        };
        self.retrying(|| {
            self.try_elevate(
                principal,
                role,
                duration,
                totp_step,
                policy.approver_role.is_some(),
                proves,
            )
        })
        .await
    }

    async fn try_elevate(
        &self,
        principal: &Principal,
        role: &str,
        duration: Duration,
        totp_step: Option<u64>,
        needs_approval: bool,
        proved: bool,
    ) -> Result<ElevationOutcome> {
        let (account_read, mut account) = self.stored_account(&principal.account_id).await?;
        // The decision rests on the account's elevatable roles as read now (a retry re-reads
        // them): the commit checks the account is unchanged, or writes it at this version.
        if !account.elevatable_roles.contains(role) {
            return Err(Denial::ElevationNotAllowed.into());
        }
        let (session_read, mut session) = self.live_session_of(principal).await?;
        let now = self.now();
        let mut commit = Commit::default();
        if proved {
            // The proof passed: the back-off starts over.
            commit.throttle.push(ThrottleWrite::Reset {
                key: step_up_throttle_key(&account.id),
            });
        }
        if let (Some(step), Some(t)) = (totp_step, account.totp.as_mut()) {
            if t.last_step.is_some_and(|last| last >= step) {
                return Err(Denial::BadCredentials.into());
            }
            t.last_step = Some(step);
            commit.writes.push(Write::Update {
                record: account_record(&account)?,
                expected_version: account_read.version,
            });
        } else {
            commit.writes.push(Write::Check {
                kind: RecordKind::Account,
                id: account.id.clone(),
                expected_version: account_read.version,
            });
        }
        if needs_approval {
            let request = ElevationRequest {
                id: self.inner.rng.id("elr_"),
                account_id: account.id.clone(),
                session_id: session.id.clone(),
                role: role.to_owned(),
                duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
                created_at: now,
                expires_at: now.plus(self.inner.config.elevation_request_ttl),
            };
            commit.writes.push(Write::Insert(request_record(&request)?));
            commit.audit.push(
                AuditDraft::new(AuditKind::ElevationRequested, now)
                    .actor(Some(&account.id))
                    .account(&account.id)
                    .session(&session.id)
                    .detail("role", role)
                    .detail("request", request.id.clone()),
            );
            self.inner.store.commit(commit).await?;
            return Ok(ElevationOutcome::Pending {
                request_id: request.id,
                expires_at: request.expires_at,
            });
        }
        let elevation = open_elevation(&mut session, role, now, now.plus(duration));
        commit.writes.push(Write::Update {
            record: session_record(&session)?,
            expected_version: session_read.version,
        });
        commit
            .audit
            .push(activated(&account.id, &session.id, &elevation, now));
        let (access_token, _) = self.session_access_token(&account, &session, now)?;
        self.inner.store.commit(commit).await?;
        Ok(ElevationOutcome::Active {
            elevation,
            access_token: SecretString::new(access_token),
        })
    }

    /// Proves the holder of the principal's session again: the password, and a TOTP code when
    /// the account has TOTP on. On success the session's sign-in time becomes now, so actions
    /// that need a recent sign-in ([`Denial::RecentAuthenticationRequired`]) work again, and a
    /// fresh access token for the session is returned. Failed proofs count towards the step-up
    /// back-off.
    pub async fn reauthenticate(
        &self,
        principal: &Principal,
        proof: &StepUpProof,
    ) -> Result<SecretString> {
        self.may(principal.into(), Action::Elevate)?;
        let (_, account) = self.stored_account(&principal.account_id).await?;
        let step_up = if account.totp_required() {
            StepUp::PasswordAndTotp
        } else {
            StepUp::Password
        };
        self.reserve_step_up(&account.id).await?;
        let totp_step = match self.check_step_up(&account, step_up, proof).await {
            Ok(step) => step,
            Err(e) => {
                let now = self.now();
                self.record_step_up_failure(
                    AuditDraft::new(AuditKind::SessionReauthenticationDenied, now)
                        .actor(Some(&account.id))
                        .account(&account.id)
                        .session(&principal.session_id),
                )
                .await?;
                return Err(e);
            }
        };
        self.retrying(|| self.try_reauthenticate(principal, totp_step))
            .await
    }

    async fn try_reauthenticate(
        &self,
        principal: &Principal,
        totp_step: Option<u64>,
    ) -> Result<SecretString> {
        let (account_read, mut account) = self.stored_account(&principal.account_id).await?;
        let (session_read, mut session) = self.live_session_of(principal).await?;
        let now = self.now();
        let mut commit = Commit::default();
        commit.throttle.push(ThrottleWrite::Reset {
            key: step_up_throttle_key(&account.id),
        });
        let mut amr = vec![String::from(Amr::Password)];
        if let (Some(step), Some(t)) = (totp_step, account.totp.as_mut()) {
            if t.last_step.is_some_and(|last| last >= step) {
                return Err(Denial::BadCredentials.into());
            }
            t.last_step = Some(step);
            amr.push(Amr::Otp.into());
            commit.writes.push(Write::Update {
                record: account_record(&account)?,
                expected_version: account_read.version,
            });
        }
        session.auth_time = now;
        session.amr = amr;
        commit.writes.push(Write::Update {
            record: session_record(&session)?,
            expected_version: session_read.version,
        });
        commit.audit.push(
            AuditDraft::new(AuditKind::SessionReauthenticated, now)
                .actor(Some(&account.id))
                .account(&account.id)
                .session(&session.id),
        );
        let (access_token, _) = self.session_access_token(&account, &session, now)?;
        self.inner.store.commit(commit).await?;
        Ok(SecretString::new(access_token))
    }

    /// Reserves one step-up attempt of `account_id` (elevation proofs, password changes) before
    /// its proof is checked; [`Denial::Throttled`] while failed step-ups call for a back-off.
    /// The attempt counts as failed until [`Self::end_step_up_back_off`] or
    /// [`Self::refund_step_up`] settles it.
    pub(crate) async fn reserve_step_up(&self, account_id: &str) -> Result<()> {
        self.reserve_attempt(&step_up_throttle_key(account_id))
            .await
    }

    /// Takes back a reserved step-up attempt whose proof could not be checked.
    pub(crate) async fn refund_step_up(&self, account_id: &str) -> Result<()> {
        self.refund_attempt(&step_up_throttle_key(account_id)).await
    }

    /// Clears the step-up back-off of `account_id` after a proof passed.
    pub(crate) async fn end_step_up_back_off(&self, account_id: &str) -> Result<()> {
        self.reset_attempts(&step_up_throttle_key(account_id)).await
    }

    /// Audits a failed step-up of `account_id` (its reservation already counted it).
    pub(crate) async fn record_step_up_failure(&self, audit: AuditDraft) -> Result<()> {
        self.inner
            .store
            .commit(Commit {
                audit: vec![audit],
                ..Commit::default()
            })
            .await?;
        Ok(())
    }

    /// Checks the proof a step-up policy asks for; returns the TOTP step used, if any.
    pub(crate) async fn check_step_up(
        &self,
        account: &StoredAccount,
        step_up: StepUp,
        proof: &StepUpProof,
    ) -> Result<Option<u64>> {
        let (want_password, want_totp) = match step_up {
            StepUp::None => (false, false),
            StepUp::Password => (true, false),
            StepUp::Totp => (false, true),
            StepUp::PasswordAndTotp => (true, true),
        };
        if want_password {
            let Some(password) = proof.password.as_ref() else {
                return Err(Denial::StepUpRequired.into());
            };
            let v = self
                .inner
                .passwords
                .verify(password, account.password_hash.as_deref())
                .await?;
            if !v.matched {
                return Err(Denial::BadCredentials.into());
            }
        }
        if !want_totp {
            return Ok(None);
        }
        let Some(state) = account.totp.as_ref().filter(|_| account.totp_required()) else {
            // The policy asks for a factor this account does not have.
            return Err(Denial::StepUpRequired.into());
        };
        let Some(code) = proof.totp_code.as_deref() else {
            return Err(Denial::StepUpRequired.into());
        };
        let secret = self
            .inner
            .sealer
            .open(&state.sealed_secret, &totp_aad(&account.id))?;
        let now_secs = u64::try_from(self.now().as_secs()).unwrap_or(0);
        crate::totp::matching_step(&secret, code, now_secs, state.last_step)
            .map(Some)
            .ok_or_else(|| Denial::BadCredentials.into())
    }

    /// The pending elevation requests whose role `approver` may approve.
    pub async fn pending_elevations(&self, approver: &Principal) -> Result<Vec<ElevationRequest>> {
        let now = self.now();
        self.check(approver.into(), Action::ListElevationRequests, now)?;
        let records = self
            .inner
            .store
            .list(
                RecordKind::ElevationRequest,
                &crate::store::ListQuery::default(),
            )
            .await?;
        let mut out = Vec::new();
        for r in records {
            let request: ElevationRequest = crate::json::from_body(&r.body)?;
            let approver_role = self
                .inner
                .config
                .elevation_policy(&request.role)
                .approver_role
                .clone();
            if request.expires_at > now
                && request.account_id != approver.account_id
                && approver_role.is_some_and(|role| approver.has_role(&role))
            {
                out.push(request);
            }
        }
        Ok(out)
    }

    /// Approves a pending request: the role opens for the requester's session, whose next
    /// refresh yields a token carrying it. The approver must hold the role's approver role and
    /// be another account.
    pub async fn approve_elevation(
        &self,
        approver: &Principal,
        request_id: &str,
    ) -> Result<ActiveElevation> {
        self.retrying(|| self.try_answer(approver, request_id, true))
            .await?
            .ok_or(Error::State(Conflict::ApprovalOpenedNoElevation))
    }

    /// Denies a pending request (same rights as approving).
    pub async fn deny_elevation(&self, approver: &Principal, request_id: &str) -> Result<()> {
        self.retrying(|| self.try_answer(approver, request_id, false))
            .await
            .map(|_| ())
    }

    async fn try_answer(
        &self,
        approver: &Principal,
        request_id: &str,
        approve: bool,
    ) -> Result<Option<ActiveElevation>> {
        let (request_read, request) = self
            .load::<ElevationRequest>(RecordKind::ElevationRequest, request_id)
            .await?
            .ok_or(Denial::ElevationRequestClosed)?;
        let now = self.now();
        if request.expires_at <= now {
            return Err(Denial::ElevationRequestClosed.into());
        }
        let policy = self.inner.config.elevation_policy(&request.role);
        let approver_role = policy
            .approver_role
            .as_deref()
            .ok_or(Error::State(Conflict::RoleNeedsNoApproval))?;
        self.check(
            approver.into(),
            Action::AnswerElevation {
                requester: &request.account_id,
                approver_role,
            },
            now,
        )?;
        let mut commit = Commit {
            writes: vec![Write::Delete {
                kind: RecordKind::ElevationRequest,
                id: request.id.clone(),
                expected_version: request_read.version,
            }],
            ..Commit::default()
        };
        let answer = AuditDraft::new(
            if approve {
                AuditKind::ElevationApproved
            } else {
                AuditKind::ElevationDenied
            },
            now,
        )
        .actor(Some(&approver.account_id))
        .account(&request.account_id)
        .session(&request.session_id)
        .detail("role", request.role.clone())
        .detail("request", request.id.clone());
        commit.audit.push(answer);
        if !approve {
            self.inner.store.commit(commit).await?;
            return Ok(None);
        }
        let (session_read, mut session) = self
            .load::<Session>(RecordKind::Session, &request.session_id)
            .await?
            .ok_or(Denial::ElevationRequestClosed)?;
        if !session.is_live(now) {
            return Err(Denial::ElevationRequestClosed.into());
        }
        // The requester may have lost the role since asking: decide on the account as read,
        // and let the commit fail if it changes meanwhile.
        let (account_read, account) = self.stored_account(&request.account_id).await?;
        if account.disabled || !account.elevatable_roles.contains(&request.role) {
            return Err(Denial::ElevationNotAllowed.into());
        }
        commit.writes.push(Write::Check {
            kind: RecordKind::Account,
            id: account.id.clone(),
            expected_version: account_read.version,
        });
        let duration = Duration::from_millis(request.duration_ms).min(policy.max_duration);
        let elevation = open_elevation(&mut session, &request.role, now, now.plus(duration));
        commit.writes.push(Write::Update {
            record: session_record(&session)?,
            expected_version: session_read.version,
        });
        commit
            .audit
            .push(activated(&request.account_id, &session.id, &elevation, now));
        self.inner.store.commit(commit).await?;
        Ok(Some(elevation))
    }

    /// Ends an open elevation of the principal's session early. Access tokens the session holds
    /// stop verifying at once; the next refresh yields one without the role.
    pub async fn end_elevation(&self, principal: &Principal, role: &str) -> Result<()> {
        self.may(principal.into(), Action::Elevate)?;
        self.retrying(|| self.try_end_elevation(principal, role))
            .await
    }

    async fn try_end_elevation(&self, principal: &Principal, role: &str) -> Result<()> {
        let (session_read, mut session) = self.live_session_of(principal).await?;
        let now = self.now();
        let was_open = session.active_elevations(now).any(|e| e.role == role);
        session
            .elevations
            .retain(|e| e.role != role && e.until > now);
        if !was_open {
            return Ok(());
        }
        let commit = Commit {
            writes: vec![Write::Update {
                record: session_record(&session)?,
                expected_version: session_read.version,
            }],
            revocations: vec![RevocationChange::Put(Revocation {
                subject: RevokedSubject::Grant,
                id: session.id.clone(),
                issued_before: self.inner.revocations.cutoff(now),
                until: now.plus(self.inner.config.access_token_ttl),
            })],
            audit: vec![AuditDraft::new(AuditKind::ElevationEnded, now)
                .actor(Some(&principal.account_id))
                .account(&principal.account_id)
                .session(&session.id)
                .detail("role", role)],
            ..Commit::default()
        };
        self.inner.store.commit(commit).await?;
        Ok(())
    }

    /// The principal's session, which must be live and the principal's own.
    async fn live_session_of(&self, principal: &Principal) -> Result<(Record, Session)> {
        let (record, session) = self
            .load::<Session>(RecordKind::Session, &principal.session_id)
            .await?
            .ok_or(Denial::SessionRevoked)?;
        if session.account_id != principal.account_id {
            return Err(Denial::NotPermitted.into());
        }
        if session.revoked_at.is_some() {
            return Err(Denial::SessionRevoked.into());
        }
        if session.expires_at <= self.now() {
            return Err(Denial::SessionExpired.into());
        }
        Ok((record, session))
    }
}

/// Opens `role` on `session` until `until` (never past the session), dropping lapsed openings.
/// Re-opening a role that is still open never shortens it: tokens minted under the earlier
/// opening carry the role until its end, so the opening lasts at least that long.
fn open_elevation(
    session: &mut Session,
    role: &str,
    now: Timestamp,
    until: Timestamp,
) -> ActiveElevation {
    let until = until.min(session.expires_at);
    let current = session
        .active_elevations(now)
        .find(|e| e.role == role)
        .cloned();
    let elevation = match current {
        Some(open) if open.until >= until => open,
        _ => ActiveElevation {
            role: role.to_owned(),
            since: now,
            until,
        },
    };
    session
        .elevations
        .retain(|e| e.role != role && e.until > now);
    session.elevations.push(elevation.clone());
    elevation
}

/// The audit event of a role being opened.
fn activated(
    account_id: &str,
    session_id: &str,
    elevation: &ActiveElevation,
    now: Timestamp,
) -> AuditDraft {
    AuditDraft::new(AuditKind::ElevationActivated, now)
        .actor(Some(account_id))
        .account(account_id)
        .session(session_id)
        .detail("role", elevation.role.clone())
        .detail("until", elevation.until.to_rfc3339())
}

fn request_record(request: &ElevationRequest) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::ElevationRequest,
        id: request.id.clone(),
        version: 0,
        parent: Some(request.account_id.clone()),
        lookup: None,
        expires_at: Some(request.expires_at),
        body: crate::json::to_body(request)?,
    })
}
