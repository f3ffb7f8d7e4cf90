//! Elevation rules as pure functions (see [`crate::plan`]): no store, no clock, no runtime.
//!
//! The `Iam` methods in `request`, `approval` and `step_up` load the records, run the costly
//! proof checks (Argon2id, TOTP) and hand the results here; these functions decide and return
//! the [`Plan`] to commit. Every record a decision rests on is either written at the version
//! read or named in a [`Write::Check`], so a concurrent change makes the commit conflict and the
//! operation start over on fresh state.

use std::time::Duration;

use crate::account::account_record;
use crate::account::StoredAccount;
use crate::audit::{AuditDraft, AuditKind};
use crate::authz::Action;
use crate::clock::Timestamp;
use crate::config::{Config, ElevationPolicy, StepUp};
use crate::error::{Conflict, Denial, Error, InvalidInput, Missing, Result};
use crate::plan::Plan;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::session::session_record;
use crate::session::{ActiveElevation, Session};
use crate::store::{Record, RecordKind, ThrottleWrite, Write};
use crate::token::{Amr, Principal};

use super::ElevationRequest;

/// A record as read, with its decoded body.
pub(crate) type Loaded<T> = (Record, T);

/// The throttle key for failed step-up proofs of an account.
pub(crate) fn step_up_throttle_key(account_id: &str) -> String {
    format!("stepup:{account_id}")
}

/// Which proofs a step-up asks for: `(password, totp)`.
pub(crate) fn wanted_proofs(step_up: StepUp) -> (bool, bool) {
    match step_up {
        StepUp::None => (false, false),
        StepUp::Password => (true, false),
        StepUp::Totp => (false, true),
        StepUp::PasswordAndTotp => (true, true),
    }
}

/// The proof that re-authenticating asks of an account: its password, and a TOTP code when
/// it has TOTP on.
pub(crate) fn reauthentication_step_up(account: &StoredAccount) -> StepUp {
    if account.totp_required() {
        StepUp::PasswordAndTotp
    } else {
        StepUp::Password
    }
}

/// How long an elevation asked for `requested` lasts under `policy`: the policy's maximum when
/// none is asked; more than the maximum, or nothing at all, is refused.
pub(crate) fn elevation_duration(
    requested: Option<Duration>,
    policy: &ElevationPolicy,
) -> Result<Duration> {
    let duration = requested.unwrap_or(policy.max_duration);
    if duration > policy.max_duration {
        return Err(InvalidInput::DurationTooLong {
            max_secs: policy.max_duration.as_secs(),
        }
        .into());
    }
    if duration.is_zero() {
        return Err(InvalidInput::ExpiryInPast.into());
    }
    Ok(duration)
}

/// Whether `account` holds `role` as an elevatable role (checked before any proof, and again
/// on the state the elevation commits against).
pub(crate) fn may_elevate(account: &StoredAccount, role: &str) -> Result<(), Denial> {
    if account.elevatable_roles.contains(role) {
        Ok(())
    } else {
        Err(Denial::ElevationNotAllowed)
    }
}

/// The audit event of a failed step-up proof for opening `role`.
pub(crate) fn elevation_step_up_failed(
    account_id: &str,
    session_id: &str,
    role: &str,
    now: Timestamp,
) -> AuditDraft {
    by_session_holder(AuditKind::ElevationDenied, account_id, session_id, now)
        .detail("role", role)
        .detail("reason", "step_up_failed")
}

/// The audit event of a failed re-authentication.
pub(crate) fn reauthentication_failed(
    account_id: &str,
    session_id: &str,
    now: Timestamp,
) -> AuditDraft {
    by_session_holder(
        AuditKind::SessionReauthenticationDenied,
        account_id,
        session_id,
        now,
    )
}

/// An audit event of `kind` about the holder of `account_id`'s session `session_id`, who
/// acted themselves.
fn by_session_holder(
    kind: AuditKind,
    account_id: &str,
    session_id: &str,
    now: Timestamp,
) -> AuditDraft {
    AuditDraft::new(kind, now)
        .actor(Some(account_id))
        .account(account_id)
        .session(session_id)
}

/// The session of `account_id` as read (`None`: not found), which must be that account's and
/// live at `now`.
fn own_live_session<'a>(
    account_id: &str,
    session: Option<&'a Loaded<Session>>,
    now: Timestamp,
) -> Result<&'a Loaded<Session>, Denial> {
    let loaded = session.ok_or(Denial::SessionRevoked)?;
    let s = &loaded.1;
    if s.account_id != account_id {
        return Err(Denial::NotPermitted);
    }
    if s.revoked_at.is_some() {
        return Err(Denial::SessionRevoked);
    }
    if s.expires_at <= now {
        return Err(Denial::SessionExpired);
    }
    Ok(loaded)
}

/// The write that pins the account a decision read: an update when the proof used a TOTP step
/// (the step is spent, so no code is accepted twice), else a read precondition. A step not
/// after the last one accepted is a replayed code.
fn spend_totp_step(account: &Loaded<StoredAccount>, step: Option<u64>) -> Result<(Write, bool)> {
    let (read, account) = account;
    let check = Write::Check {
        kind: RecordKind::Account,
        id: account.id.clone(),
        expected_version: read.version,
    };
    let (Some(step), Some(totp)) = (step, account.totp.as_ref()) else {
        return Ok((check, false));
    };
    if totp.last_step.is_some_and(|last| last >= step) {
        return Err(Denial::BadCredentials.into());
    }
    let mut spent = account.clone();
    if let Some(t) = spent.totp.as_mut() {
        t.last_step = Some(step);
    }
    let update = Write::Update {
        record: account_record(&spent)?,
        expected_version: read.version,
    };
    Ok((update, true))
}

/// An elevation as asked, with what its proof established.
#[derive(Clone, Debug)]
pub(crate) struct ElevationAsk<'a> {
    /// The role to open.
    pub role: &'a str,
    /// How long it stays open (already checked by [`elevation_duration`]).
    pub duration: Duration,
    /// Whether the role's policy asked for a proof (which passed).
    pub proved: bool,
    /// The TOTP step the proof used, if any.
    pub totp_step: Option<u64>,
    /// For a role that needs approval: the new request's id and how long it waits.
    pub approval: Option<(String, Duration)>,
}

/// What an elevation decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Elevated {
    /// The role opens; `session` is the session as committed, to mint the token from.
    Open {
        /// The open elevation.
        elevation: ActiveElevation,
        /// The session with the elevation open.
        session: Session,
    },
    /// The request waits for approval.
    Pending {
        /// The request id.
        request_id: String,
        /// When it lapses unanswered.
        expires_at: Timestamp,
    },
}

/// Opening `ask.role` for the account's session after its proof passed: denied unless the
/// account (as read now) still holds the role and the session is its own and live. A role that
/// needs approval files a request (the session must stay as read); otherwise the role opens on
/// the session. Either way the account is pinned (written when a TOTP step is spent) and a
/// proof that passed clears the step-up back-off.
pub(crate) fn elevate(
    account: &Loaded<StoredAccount>,
    session: Option<&Loaded<Session>>,
    ask: &ElevationAsk<'_>,
    now: Timestamp,
) -> Result<Plan<Elevated>> {
    let id = account.1.id.as_str();
    may_elevate(&account.1, ask.role)?;
    let (session_read, session) = own_live_session(id, session, now)?;
    let (account_write, _) = spend_totp_step(account, ask.totp_step)?;
    let proved = |plan: Plan<Elevated>| {
        if ask.proved {
            plan.throttle(ThrottleWrite::Reset {
                key: step_up_throttle_key(id),
            })
        } else {
            plan
        }
    };
    if let Some((request_id, ttl)) = &ask.approval {
        let request = ElevationRequest {
            id: request_id.clone(),
            account_id: id.to_owned(),
            session_id: session.id.clone(),
            role: ask.role.to_owned(),
            duration_ms: u64::try_from(ask.duration.as_millis()).unwrap_or(u64::MAX),
            created_at: now,
            expires_at: now.plus(*ttl),
        };
        let plan = Plan::new(Elevated::Pending {
            request_id: request.id.clone(),
            expires_at: request.expires_at,
        })
        .write(account_write)
        .write(Write::Check {
            kind: RecordKind::Session,
            id: session.id.clone(),
            expected_version: session_read.version,
        })
        .write(Write::Insert(request_record(&request)?))
        .audit(
            by_session_holder(AuditKind::ElevationRequested, id, &session.id, now)
                .detail("role", ask.role)
                .detail("request", request.id),
        );
        return Ok(proved(plan));
    }
    let mut session = session.clone();
    let elevation = open_elevation(&mut session, ask.role, now, now.plus(ask.duration));
    let plan = Plan::new(())
        .write(account_write)
        .write(Write::Update {
            record: session_record(&session)?,
            expected_version: session_read.version,
        })
        .audit(activated(id, &session.id, &elevation, now));
    Ok(proved(plan.map(|()| Elevated::Open { elevation, session })))
}

/// What a step-up proof established.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StepUpChecked {
    /// The TOTP step the proof used, if any.
    pub totp_step: Option<u64>,
    /// The `amr` of the passkey that answered instead of a password, if one did.
    pub passkey_amr: Option<Vec<String>>,
}

/// Re-authenticating the account's own live session after its proof passed: the session's
/// sign-in time becomes `now` and its methods `pwd` (and `otp` when a TOTP step was spent), or
/// the passkey's when one answered; the account is pinned (written when the step is spent) and
/// the step-up back-off cleared. The output is the session as committed, to mint the token from.
pub(crate) fn reauthenticate(
    account: &Loaded<StoredAccount>,
    session: Option<&Loaded<Session>>,
    checked: &StepUpChecked,
    now: Timestamp,
) -> Result<Plan<Session>> {
    let id = account.1.id.as_str();
    let (session_read, session) = own_live_session(id, session, now)?;
    let (account_write, spent) = spend_totp_step(account, checked.totp_step)?;
    let mut session = session.clone();
    session.auth_time = now;
    session.amr = match &checked.passkey_amr {
        Some(amr) => amr.clone(),
        None => vec![String::from(Amr::Password)],
    };
    if spent {
        session.amr.push(Amr::Otp.into());
    }
    Ok(Plan::new(())
        .throttle(ThrottleWrite::Reset {
            key: step_up_throttle_key(id),
        })
        .write(account_write)
        .write(Write::Update {
            record: session_record(&session)?,
            expected_version: session_read.version,
        })
        .audit(by_session_holder(
            AuditKind::SessionReauthenticated,
            id,
            &session.id,
            now,
        ))
        .map(|()| session))
}

/// Closing `role` early on the account's own live session. `None` when the role is not open
/// (nothing to do). Otherwise the session drops the role (and lapsed openings) and every token
/// of the session issued up to `issued_before` is revoked until `token_ttl` from now.
pub(crate) fn end_elevation(
    account_id: &str,
    session: Option<&Loaded<Session>>,
    role: &str,
    issued_before: Timestamp,
    token_ttl: Duration,
    now: Timestamp,
) -> Result<Option<Plan<()>>> {
    let (read, session) = own_live_session(account_id, session, now)?;
    if !session.active_elevations(now).any(|e| e.role == role) {
        return Ok(None);
    }
    let mut session = session.clone();
    session
        .elevations
        .retain(|e| e.role != role && e.until > now);
    Ok(Some(
        Plan::new(())
            .write(Write::Update {
                record: session_record(&session)?,
                expected_version: read.version,
            })
            .revoke(RevocationChange::Put(Revocation {
                subject: RevokedSubject::Grant,
                id: session.id.clone(),
                issued_before,
                until: now.plus(token_ttl),
            }))
            .audit(
                by_session_holder(AuditKind::ElevationEnded, account_id, &session.id, now)
                    .detail("role", role),
            ),
    ))
}

/// Whether `approver` is shown `request`: it is still open, another account's, and for a role
/// whose approver role the approver's token carries.
pub(crate) fn awaits_approver(
    request: &ElevationRequest,
    approver: &Principal,
    config: &Config,
    now: Timestamp,
) -> bool {
    request.expires_at > now
        && request.account_id != approver.account_id
        && config
            .elevation_policy(&request.role)
            .approver_role
            .as_deref()
            .is_some_and(|role| approver.has_role(role))
}

/// The records an answer to an elevation request rests on, as read (`None`: not found).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AnswerState<'a> {
    /// The request.
    pub request: Option<&'a Loaded<ElevationRequest>>,
    /// The approver's account.
    pub approver_account: Option<&'a Loaded<StoredAccount>>,
    /// The requester's account (read when approving).
    pub requester_account: Option<&'a Loaded<StoredAccount>>,
    /// The requester's session (read when approving).
    pub requester_session: Option<&'a Loaded<Session>>,
}

/// The approver's standing, on its account as read: not disabled, and still holding
/// `approver_role` (standing, or elevatable and opened for the session its token proves).
/// Pinned by a read precondition, so an approval racing the approver's loss of the role lands
/// before it or not at all.
fn approver_standing(
    account: Option<&Loaded<StoredAccount>>,
    approver_role: &str,
) -> Result<Write, Denial> {
    let (read, account) = account.ok_or(Denial::NotPermitted)?;
    if account.disabled {
        return Err(Denial::AccountDisabled);
    }
    if !account.roles.contains(approver_role) && !account.elevatable_roles.contains(approver_role) {
        return Err(Denial::MissingRole(approver_role.to_owned()));
    }
    Ok(Write::Check {
        kind: RecordKind::Account,
        id: account.id.clone(),
        expected_version: read.version,
    })
}

/// Answering an elevation request (`approve`, or deny). The request must be open, its role
/// must need approval, and the approver must be authorized ([`Action::AnswerElevation`]: a
/// human session of another account carrying the approver role) and still hold that role. The
/// request is consumed either way and the answer audited. Approving also needs the requester's
/// session live and its account enabled and still holding the role (pinned by a read
/// precondition); the role then opens on the session for the requested duration, capped by the
/// policy. The output is the opened elevation (`None` when denying).
pub(crate) fn answer_elevation(
    approver: &Principal,
    state: AnswerState<'_>,
    approve: bool,
    config: &Config,
    now: Timestamp,
) -> Result<Plan<Option<ActiveElevation>>> {
    let (request_read, request) = state.request.ok_or(Denial::ElevationRequestClosed)?;
    if request.expires_at <= now {
        return Err(Denial::ElevationRequestClosed.into());
    }
    let policy = config.elevation_policy(&request.role);
    let approver_role = policy
        .approver_role
        .as_deref()
        .ok_or(Error::State(Conflict::RoleNeedsNoApproval))?;
    crate::authz::authorize(
        approver,
        Action::AnswerElevation {
            requester: &request.account_id,
            approver_role,
        },
        now,
        config.recent_authentication,
    )?;
    let standing = approver_standing(state.approver_account, approver_role)?;
    let kind = if approve {
        AuditKind::ElevationApproved
    } else {
        AuditKind::ElevationDenied
    };
    let plan = Plan::new(None)
        .write(Write::Delete {
            kind: RecordKind::ElevationRequest,
            id: request.id.clone(),
            expected_version: request_read.version,
        })
        .write(standing)
        .audit(
            AuditDraft::new(kind, now)
                .actor(Some(&approver.account_id))
                .account(&request.account_id)
                .session(&request.session_id)
                .detail("role", request.role.clone())
                .detail("request", request.id.clone()),
        );
    if !approve {
        return Ok(plan);
    }
    let (session_read, session) = state
        .requester_session
        .ok_or(Denial::ElevationRequestClosed)?;
    if !session.is_live(now) {
        return Err(Denial::ElevationRequestClosed.into());
    }
    // The requester may have lost the role since asking: decide on the account as read, and
    // let the commit fail if it changes meanwhile.
    let (account_read, account) = state
        .requester_account
        .ok_or(Error::NotFound(Missing::Account))?;
    if account.disabled {
        return Err(Denial::ElevationNotAllowed.into());
    }
    may_elevate(account, &request.role)?;
    let duration = Duration::from_millis(request.duration_ms).min(policy.max_duration);
    let mut session = session.clone();
    let elevation = open_elevation(&mut session, &request.role, now, now.plus(duration));
    Ok(plan
        .write(Write::Check {
            kind: RecordKind::Account,
            id: account.id.clone(),
            expected_version: account_read.version,
        })
        .write(Write::Update {
            record: session_record(&session)?,
            expected_version: session_read.version,
        })
        .audit(activated(&request.account_id, &session.id, &elevation, now))
        .map(|_| Some(elevation)))
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
    by_session_holder(AuditKind::ElevationActivated, account_id, session_id, now)
        .detail("role", elevation.role.clone())
        .detail("until", elevation.until.to_rfc3339())
}

/// The stored record for a pending request.
fn request_record(request: &ElevationRequest) -> Result<Record> {
    Ok(Record {
        kind: RecordKind::ElevationRequest,
        id: request.id.clone(),
        version: 0,
        parent: Some(request.account_id.clone()),
        lookup: None,
        expires_at: Some(request.expires_at),
        body: crate::record_body::to_body(request)?,
    })
}

#[cfg(test)]
mod tests;
