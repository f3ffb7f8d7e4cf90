//! Session rules as pure functions (see [`crate::plan`]): login, refresh rotation with reuse
//! detection, and revocation. No store, no clock, no randomness: the `Iam` methods in
//! `login.rs` and `manage.rs` load the records, read the clock once, run the costly checks
//! (Argon2id, TOTP), generate fresh ids and secrets, and commit what these functions decide.

use std::time::Duration;

use crate::account::account_record;
use crate::account::{validate_username, StoredAccount};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::error::{Denial, Result};
use crate::plan::Plan;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::session::session_record;
use crate::session::{RefreshState, Session, StoredRefresh};
use crate::store::{Record, RecordKind, ThrottleWrite, Write};
use crate::token::Amr;

/// The throttle key of login attempts for `username`; `None` for a name that can never exist
/// (such attempts are not throttled: no account can be guessed through them).
pub(crate) fn login_throttle_key(username: &str) -> Option<String> {
    validate_username(username)
        .is_ok()
        .then(|| format!("login:{username}"))
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

/// A login the back-off refused before any check: one `login.throttled` event, and the denial.
pub(crate) fn login_throttled(
    username: &str,
    retry_after: Duration,
    now: Timestamp,
) -> Plan<Denial> {
    Plan::new(Denial::Throttled { retry_after }).audit(
        AuditDraft::new(AuditKind::LoginThrottled, now)
            .detail("username", loggable_username(username))
            .detail("retry_after_s", retry_after.as_secs().to_string()),
    )
}

/// What the load step's costly checks found for one login.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LoginChecks {
    /// The password is within the length policy and matched the account's stored hash (never
    /// true without an account: the dummy hash matches nothing).
    pub password_matched: bool,
    /// The matched hash was made with other parameters than the policy's.
    pub needs_rehash: bool,
    /// A TOTP code was presented.
    pub totp_code_given: bool,
    /// The unused time step the TOTP code matched; checked only after the password matched on
    /// an account that requires TOTP.
    pub totp_step: Option<u64>,
}

/// A login whose credentials passed: the account as read, and what its success writes back.
#[derive(Debug)]
pub(crate) struct LoginAccepted {
    /// The account record as read (its version guards the commit).
    pub record: Record,
    /// The account.
    pub account: StoredAccount,
    /// The TOTP step to mark used, when a code was checked.
    pub totp_step: Option<u64>,
    /// Whether the password hash should be renewed under the current policy.
    pub rehash: bool,
}

/// How [`judge_login`] concludes.
#[derive(Debug)]
pub(crate) enum LoginVerdict {
    /// Refused: the plan records the failure and settles the reserved attempt.
    Refused(Plan<Denial>),
    /// The credentials passed; [`grant_login`] opens the session.
    Accepted(Box<LoginAccepted>),
}

/// Judges a login's credentials in an order that reveals nothing to a caller who does not know
/// the password: the password first, then the TOTP code, then the account's state.
///
/// A refusal records `login.failed` with its reason; the attempt reserved under `key` stays
/// counted for a failed guess (wrong password or code) and is refunded otherwise (code missing,
/// account disabled). A refusal carries no read precondition: it grants nothing, so a stale
/// account can only make it fail closed.
///
/// With `passkey_follows` (the password is the first step of a passkey sign-in) the TOTP code
/// is not asked for: the passkey is the second factor.
pub(crate) fn judge_login(
    found: Option<(Record, StoredAccount)>,
    checks: LoginChecks,
    username: &str,
    key: Option<&str>,
    passkey_follows: bool,
    now: Timestamp,
) -> LoginVerdict {
    let account_id = found.as_ref().map(|(_, a)| a.id.clone());
    let refuse = |reason: &str, denial: Denial, counts: bool| {
        let mut audit = AuditDraft::new(AuditKind::LoginFailed, now)
            .detail("reason", reason)
            .detail("username", loggable_username(username));
        audit.account.clone_from(&account_id);
        let mut plan = Plan::new(denial).audit(audit);
        if let Some(key) = key.filter(|_| !counts) {
            plan = plan.throttle(ThrottleWrite::Refund {
                key: key.to_owned(),
            });
        }
        LoginVerdict::Refused(plan)
    };
    let Some((record, account)) = found.filter(|_| checks.password_matched) else {
        return refuse("bad_credentials", Denial::BadCredentials, true);
    };
    let mut totp_step = None;
    if account.totp_required() && !passkey_follows {
        if !checks.totp_code_given {
            return refuse("totp_required", Denial::TotpRequired, false);
        }
        match checks.totp_step {
            Some(step) => totp_step = Some(step),
            None => return refuse("bad_totp", Denial::BadCredentials, true),
        }
    }
    if account.disabled {
        return refuse("account_disabled", Denial::AccountDisabled, false);
    }
    LoginVerdict::Accepted(Box::new(LoginAccepted {
        record,
        account,
        totp_step,
        rehash: checks.needs_rehash,
    }))
}

/// Fresh material the load step generated for an accepted login.
#[derive(Debug)]
pub(crate) struct FreshLogin {
    /// The new session's id.
    pub session_id: String,
    /// The keyed hash of the new refresh token (the token itself stays with the caller).
    pub refresh_hash: String,
    /// A new PHC hash of the presented password, when the verdict asked for a rehash.
    pub password_hash: Option<String>,
}

/// Opens the session of an accepted login: the session and its refresh token are inserted,
/// the account is written back when its password was rehashed or a TOTP step was used (else a
/// read precondition pins the account the login was judged on), the throttle counter under
/// `key` is cleared, and `login.succeeded` (after `password.rehashed`, when rehashed) is
/// recorded. The output is the account as written and the new session, from which the caller
/// signs the access token.
pub(crate) fn grant_login(
    accepted: LoginAccepted,
    fresh: FreshLogin,
    key: Option<&str>,
    session_ttl: Duration,
    now: Timestamp,
) -> Result<Plan<(StoredAccount, Session)>> {
    let LoginAccepted {
        record,
        mut account,
        totp_step,
        ..
    } = accepted;
    let mut plan = Plan::new(());
    let rehashed = fresh.password_hash.is_some();
    if let Some(hash) = fresh.password_hash {
        account.password_hash = Some(hash);
        plan = plan.audit(AuditDraft::new(AuditKind::PasswordRehashed, now).account(&account.id));
    }
    if let (Some(step), Some(t)) = (totp_step, account.totp.as_mut()) {
        t.last_step = Some(step);
    }
    plan = plan.write(if rehashed || totp_step.is_some() {
        Write::Update {
            record: account_record(&account)?,
            expected_version: record.version,
        }
    } else {
        check(&record)
    });
    let amr = match totp_step {
        Some(_) => vec![Amr::Password.into(), Amr::Otp.into()],
        None => vec![Amr::Password.into()],
    };
    let opening = SessionOpening {
        account: &account,
        session_id: fresh.session_id,
        refresh_hash: fresh.refresh_hash,
        amr,
        throttle_key: key,
    };
    let (plan, session) = open_session(plan, opening, session_ttl, now)?;
    Ok(plan.map(|()| (account, session)))
}

/// A session a successful sign-in opens.
#[derive(Debug)]
pub(crate) struct SessionOpening<'a> {
    /// The account that signed in, as the sign-in read it.
    pub account: &'a StoredAccount,
    /// The new session's id.
    pub session_id: String,
    /// The keyed hash of its first refresh token.
    pub refresh_hash: String,
    /// How the account proved itself (RFC 8176 values).
    pub amr: Vec<String>,
    /// The login throttle key to clear, if any.
    pub throttle_key: Option<&'a str>,
}

/// Adds to `plan` the opening of a session at `now` (lasting `session_ttl`; begun, as a
/// sign-out everywhere sees it, at [`StoredAccount::session_begins`]): the session and its
/// refresh token are inserted, `login.succeeded` recorded with the `amr`, and the login
/// throttle counter cleared. Returns the plan and the session.
pub(crate) fn open_session<T>(
    mut plan: Plan<T>,
    opening: SessionOpening<'_>,
    session_ttl: Duration,
    now: Timestamp,
) -> Result<(Plan<T>, Session)> {
    let session = Session {
        id: opening.session_id,
        account_id: opening.account.id.clone(),
        created_at: opening.account.session_begins(now),
        expires_at: now.plus(session_ttl),
        revoked_at: None,
        last_refreshed_at: None,
        auth_time: now,
        amr: opening.amr,
        elevations: vec![],
        upstream_acr: None,
    };
    plan = plan
        .write(Write::Insert(session_record(&session)?))
        .write(Write::Insert(refresh_record(
            opening.refresh_hash,
            &session,
            now,
        )?))
        .audit(
            AuditDraft::new(AuditKind::LoginSucceeded, now)
                .actor(Some(&opening.account.id))
                .account(&opening.account.id)
                .session(&session.id)
                .detail("amr", session.amr.join(",")),
        );
    if let Some(key) = opening.throttle_key {
        plan = plan.throttle(ThrottleWrite::Reset {
            key: key.to_owned(),
        });
    }
    Ok((plan, session))
}

/// A read precondition on `record` as it was read.
fn check(record: &Record) -> Write {
    Write::Check {
        kind: record.kind,
        id: record.id.clone(),
        expected_version: record.version,
    }
}

/// The stored record of a new, active refresh token of `session` whose keyed hash is `hash`.
pub(crate) fn refresh_record(hash: String, session: &Session, now: Timestamp) -> Result<Record> {
    let stored = StoredRefresh {
        session_id: session.id.clone(),
        account_id: session.account_id.clone(),
        issued_at: now,
        state: RefreshState::Active,
    };
    Ok(Record {
        kind: RecordKind::RefreshToken,
        id: hash,
        version: 0,
        parent: Some(session.id.clone()),
        lookup: None,
        expires_at: Some(session.expires_at),
        body: crate::record_body::to_body(&stored)?,
    })
}

/// The revocation that kills every token of `session`.
fn session_revocation(session: &Session) -> RevocationChange {
    RevocationChange::Put(Revocation {
        subject: RevokedSubject::Grant,
        id: session.id.clone(),
        issued_before: Timestamp::MAX,
        until: session.expires_at,
    })
}

/// Adds to `plan` the revocation of `session` (read as `record`) at `now`, unless it is
/// already revoked. Returns whether it revoked.
fn revoke<T>(
    plan: Plan<T>,
    record: &Record,
    mut session: Session,
    now: Timestamp,
) -> Result<(Plan<T>, bool)> {
    if session.revoked_at.is_some() {
        return Ok((plan, false));
    }
    session.revoked_at = Some(now);
    let plan = plan
        .write(Write::Update {
            record: session_record(&session)?,
            expected_version: record.version,
        })
        .revoke(session_revocation(&session));
    Ok((plan, true))
}

/// Decides one refresh-token exchange, given the presented token, its session and the
/// session's account (`None` when gone), each with its record.
///
/// - A token already rotated is reuse: the whole session is revoked (if it is not yet) and
///   `token.reuse_detected` recorded; output [`Denial::RefreshTokenReused`].
/// - A revoked or expired session, a missing or disabled account: the denial, nothing written.
/// - A session created before the account was signed out everywhere
///   ([`StoredAccount::sessions_revoked_before`]): [`Denial::SessionRevoked`], and the session
///   is revoked and `session.revoked` recorded (its record did not say so yet).
/// - Otherwise the token is marked rotated, its successor (keyed hash `new_refresh_hash`)
///   inserted, the session's `last_refreshed_at` set, the account pinned by a read
///   precondition, and `token.refreshed` recorded; output the account and the session as
///   written, for signing the new access token.
pub(crate) fn decide_refresh(
    token: (Record, StoredRefresh),
    session: (Record, Session),
    account: Option<(Record, StoredAccount)>,
    new_refresh_hash: String,
    now: Timestamp,
) -> Result<Plan<std::result::Result<(StoredAccount, Session), Denial>>> {
    let (token_record, token) = token;
    let (session_record_read, mut session) = session;
    if let RefreshState::Rotated { .. } = token.state {
        let audit = AuditDraft::new(AuditKind::RefreshReuseDetected, now)
            .account(&session.account_id)
            .session(&session.id);
        let plan = Plan::new(Err(Denial::RefreshTokenReused)).audit(audit);
        return Ok(revoke(plan, &session_record_read, session, now)?.0);
    }
    let denied = |denial| Ok(Plan::new(Err(denial)));
    if session.revoked_at.is_some() {
        return denied(Denial::SessionRevoked);
    }
    if now >= session.expires_at {
        return denied(Denial::SessionExpired);
    }
    let Some((account_record_read, account)) = account else {
        return denied(Denial::RefreshTokenInvalid);
    };
    if account.disabled {
        return denied(Denial::AccountDisabled);
    }
    if account.signed_out_since(session.created_at) {
        // Signed out everywhere after this session was created (it escaped the list of
        // sessions then, committed by a concurrent login): its record now says so too.
        let audit = AuditDraft::new(AuditKind::SessionRevoked, now)
            .account(&session.account_id)
            .session(&session.id)
            .detail("reason", "signed_out_everywhere");
        let plan = Plan::new(Err(Denial::SessionRevoked)).audit(audit);
        return Ok(revoke(plan, &session_record_read, session, now)?.0);
    }
    session.last_refreshed_at = Some(now);
    let rotated = StoredRefresh {
        state: RefreshState::Rotated { at: now },
        ..token
    };
    let plan = Plan::new(())
        .write(Write::Update {
            record: Record {
                body: crate::record_body::to_body(&rotated)?,
                ..token_record.clone()
            },
            expected_version: token_record.version,
        })
        .write(Write::Insert(refresh_record(
            new_refresh_hash,
            &session,
            now,
        )?))
        .write(Write::Update {
            record: session_record(&session)?,
            expected_version: session_record_read.version,
        })
        .write(check(&account_record_read))
        .audit(
            AuditDraft::new(AuditKind::TokenRefreshed, now)
                .actor(Some(&session.account_id))
                .account(&session.account_id)
                .session(&session.id),
        );
    Ok(plan.map(|()| Ok((account, session))))
}

/// Revokes one session (read as `record`) on behalf of `actor`, already authorized: the
/// session is marked revoked, its tokens revoked, and `session.revoked` recorded. A session
/// already revoked yields an empty plan (nothing to write, nothing recorded).
pub(crate) fn decide_revoke_session(
    record: &Record,
    session: Session,
    actor: Option<&str>,
    now: Timestamp,
) -> Result<Plan<()>> {
    if session.revoked_at.is_some() {
        return Ok(Plan::new(()));
    }
    let audit = AuditDraft::new(AuditKind::SessionRevoked, now)
        .actor(actor)
        .account(&session.account_id)
        .session(&session.id);
    Ok(revoke(Plan::new(()).audit(audit), record, session, now)?.0)
}

/// The account-wide cut-offs of a sign-out everywhere, computed by the load step from the
/// revocation cache (so a cut-off lands past any earlier one).
#[derive(Debug)]
pub(crate) struct CutOffs {
    /// Sessions of the account created before this time are revoked, listed or not.
    pub sessions: Timestamp,
    /// Voids every access token the account holds.
    pub account: RevocationChange,
    /// Voids what the account delegated (OAuth grants, acting-for-owner client tokens).
    pub delegation: RevocationChange,
}

/// Signs an account out everywhere, already authorized: every session live at `now` is
/// revoked, the account cut-off is added unless the account is disabled (disabling put one in
/// place already), the delegation cut-off always, and `session.revoked_all` records how many
/// sessions were revoked. The account record is rewritten with the sessions cut-off
/// ([`StoredAccount::sessions_revoked_before`]), which also revokes a session that a concurrent
/// login commits outside the list. Output: that count.
pub(crate) fn decide_revoke_all_sessions(
    account: (&Record, &StoredAccount),
    sessions: Vec<(Record, Session)>,
    cut_offs: CutOffs,
    actor: Option<&str>,
    now: Timestamp,
) -> Result<Plan<usize>> {
    let (account_record_read, account) = account;
    // Sessions that a concurrent login commits after `sessions` was read are not in it: the
    // account's own cut-off revokes them at their first refresh.
    let marked = StoredAccount {
        sessions_revoked_before: account.sessions_revoked_before.max(Some(cut_offs.sessions)),
        ..account.clone()
    };
    let mut plan = Plan::new(()).write(Write::Update {
        record: account_record(&marked)?,
        expected_version: account_record_read.version,
    });
    let mut revoked = 0;
    for (record, session) in sessions {
        if session.is_live(now) {
            let did;
            (plan, did) = revoke(plan, &record, session, now)?;
            revoked += usize::from(did);
        }
    }
    if !account.disabled {
        plan = plan.revoke(cut_offs.account);
    }
    Ok(plan
        .revoke(cut_offs.delegation)
        .audit(
            AuditDraft::new(AuditKind::AllSessionsRevoked, now)
                .actor(actor)
                .account(&account.id)
                .detail("sessions", revoked.to_string()),
        )
        .map(|()| revoked))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountKind;
    use crate::fixtures::{audit_kinds, record, stored_account, writes, NOW};
    use crate::totp::TotpState;

    const DAY: Duration = Duration::from_secs(86_400);

    /// Account `acc_a` (record version 4): disabled or not, TOTP off, pending or confirmed.
    fn account(disabled: bool, totp: Totp) -> (Record, StoredAccount) {
        let a = StoredAccount {
            username: "alice".into(),
            disabled,
            password_hash: Some("$argon2id$old".into()),
            totp: (totp != Totp::Off).then(|| TotpState {
                sealed_secret: "sealed".into(),
                confirmed: totp == Totp::On,
                last_step: Some(3),
            }),
            ..stored_account("acc_a", AccountKind::Human, &[])
        };
        (record(RecordKind::Account, "acc_a", 4, &a), a)
    }

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Totp {
        Off,
        Pending,
        On,
    }

    /// Session `id` of `acc_a` (record version 2), revoked at `revoked` if set, ending at `expires`.
    fn session(id: &str, revoked: Option<Timestamp>, expires: Timestamp) -> (Record, Session) {
        let s = Session {
            revoked_at: revoked,
            ..crate::fixtures::session(id, "acc_a", Timestamp::from_secs(10), expires)
        };
        (record(RecordKind::Session, id, 2, &s), s)
    }

    fn live_session(id: &str) -> (Record, Session) {
        session(id, None, NOW.plus(DAY))
    }

    fn w(
        what: &'static str,
        kind: RecordKind,
        id: &str,
        v: u64,
    ) -> (&'static str, RecordKind, String, u64) {
        (what, kind, id.to_owned(), v)
    }

    /// Each revocation put as (subject, id, issued_before).
    fn revoked<T>(plan: &Plan<T>) -> Vec<(RevokedSubject, String, Timestamp)> {
        plan.commit
            .revocations
            .iter()
            .map(|c| match c {
                RevocationChange::Put(r) => (r.subject, r.id.clone(), r.issued_before),
                RevocationChange::Lift { subject, id } => (*subject, id.clone(), Timestamp::MIN),
            })
            .collect()
    }

    fn body<T: serde::de::DeserializeOwned>(write: &Write) -> T {
        match write {
            Write::Insert(r) | Write::Update { record: r, .. } => {
                crate::record_body::from_body(&r.body).expect("decodes")
            }
            other => panic!("no body in {other:?}"),
        }
    }

    #[test]
    fn login_throttle_key_exists_only_for_names_that_can_exist() {
        let cases = [
            ("alice", Some("login:alice")),
            ("a.b-c_9", Some("login:a.b-c_9")),
            ("Alice", None),
            ("a", None),
            ("", None),
            ("al ice", None),
        ];
        for (name, key) in cases {
            assert_eq!(login_throttle_key(name).as_deref(), key, "{name:?}");
        }
    }

    #[test]
    fn login_throttled_records_the_wait_and_denies() {
        for secs in [1, 900] {
            let plan = login_throttled("alice", Duration::from_secs(secs), NOW);
            assert_eq!(
                plan.output,
                Denial::Throttled {
                    retry_after: Duration::from_secs(secs)
                }
            );
            assert_eq!(audit_kinds(&plan), [AuditKind::LoginThrottled]);
            let a = &plan.commit.audit[0];
            assert_eq!(a.at, NOW);
            assert_eq!(a.detail["username"], "alice");
            assert_eq!(a.detail["retry_after_s"], secs.to_string());
            assert!(plan.commit.writes.is_empty() && plan.commit.throttle.is_empty());
        }
    }

    fn checks(matched: bool, code: bool, step: Option<u64>) -> LoginChecks {
        LoginChecks {
            password_matched: matched,
            needs_rehash: false,
            totp_code_given: code,
            totp_step: step,
        }
    }

    #[test]
    fn judge_login_refuses_in_order_and_settles_the_reserved_attempt() {
        // (account: None or (disabled, totp), checks, key, reason, denial, refunded)
        type Case = (
            Option<(bool, Totp)>,
            LoginChecks,
            Option<&'static str>,
            &'static str,
            Denial,
            bool,
        );
        let key = Some("login:alice");
        let bad = Denial::BadCredentials;
        #[rustfmt::skip]
        let cases: [Case; 9] = [
            (None, checks(false, false, None), key, "bad_credentials", bad.clone(), false),
            (None, checks(true, true, Some(9)), key, "bad_credentials", bad.clone(), false),
            (Some((false, Totp::Off)), checks(false, false, None), key, "bad_credentials", bad.clone(), false),
            // A wrong password says nothing about the account's state.
            (Some((true, Totp::On)), checks(false, false, None), key, "bad_credentials", bad.clone(), false),
            (Some((false, Totp::On)), checks(true, false, None), key, "totp_required", Denial::TotpRequired, true),
            (Some((false, Totp::On)), checks(true, false, None), None, "totp_required", Denial::TotpRequired, false),
            (Some((false, Totp::On)), checks(true, true, None), key, "bad_totp", bad.clone(), false),
            // The code is judged before the account's state.
            (Some((true, Totp::On)), checks(true, true, None), key, "bad_totp", bad.clone(), false),
            (Some((true, Totp::Off)), checks(true, false, None), key, "account_disabled", Denial::AccountDisabled, true),
        ];
        for (i, (acc, checks, key, reason, denial, refunded)) in cases.into_iter().enumerate() {
            let found = acc.map(|(disabled, totp)| account(disabled, totp));
            let has_account = found.is_some();
            let LoginVerdict::Refused(plan) = judge_login(found, checks, "alice", key, false, NOW)
            else {
                panic!("case {i}: accepted");
            };
            assert_eq!(plan.output, denial, "case {i}");
            assert_eq!(audit_kinds(&plan), [AuditKind::LoginFailed], "case {i}");
            let a = &plan.commit.audit[0];
            assert_eq!(a.detail["reason"], reason, "case {i}");
            assert_eq!(a.detail["username"], "alice", "case {i}");
            assert_eq!(
                a.account.as_deref(),
                has_account.then_some("acc_a"),
                "case {i}"
            );
            assert_eq!(a.at, NOW);
            let refund = refunded.then(|| ThrottleWrite::Refund {
                key: "login:alice".into(),
            });
            assert_eq!(plan.commit.throttle, Vec::from_iter(refund), "case {i}");
            assert!(
                plan.commit.writes.is_empty(),
                "case {i}: a refusal writes no record"
            );
        }
    }

    #[test]
    fn judge_login_logs_an_impossible_username_escaped_and_cut() {
        let name = format!("{}\n", "X".repeat(100));
        let LoginVerdict::Refused(plan) =
            judge_login(None, checks(false, false, None), &name, None, false, NOW)
        else {
            panic!("accepted");
        };
        assert_eq!(plan.commit.audit[0].detail["username"], "X".repeat(64));
        let LoginVerdict::Refused(plan) =
            judge_login(None, checks(false, false, None), "É\n", None, false, NOW)
        else {
            panic!("accepted");
        };
        assert_eq!(plan.commit.audit[0].detail["username"], "\\u{c9}\\n");
        assert!(plan.commit.throttle.is_empty());
    }

    #[test]
    fn judge_login_accepts_with_the_checked_step_and_the_rehash_flag() {
        // (totp, checks, needs_rehash, expected step)
        let cases = [
            (Totp::Off, checks(true, false, None), false, None),
            (Totp::Off, checks(true, true, Some(5)), true, None),
            (Totp::Pending, checks(true, false, None), false, None),
            (Totp::On, checks(true, true, Some(7)), false, Some(7)),
            (Totp::On, checks(true, true, Some(8)), true, Some(8)),
        ];
        for (totp, mut checks, rehash, step) in cases {
            checks.needs_rehash = rehash;
            let verdict = judge_login(
                Some(account(false, totp)),
                checks,
                "alice",
                Some("login:alice"),
                false,
                NOW,
            );
            let LoginVerdict::Accepted(a) = verdict else {
                panic!("{totp:?} {checks:?}: refused");
            };
            assert_eq!((a.totp_step, a.rehash), (step, rehash), "{totp:?}");
            assert_eq!((a.record.version, a.account.id.as_str()), (4, "acc_a"));
        }
    }

    #[test]
    fn a_password_before_a_passkey_needs_no_totp_code_but_still_a_right_password() {
        let verdict = |matched, disabled| {
            judge_login(
                Some(account(disabled, Totp::On)),
                checks(matched, false, None),
                "alice",
                Some("login:alice"),
                true,
                NOW,
            )
        };
        let LoginVerdict::Accepted(a) = verdict(true, false) else {
            panic!("refused");
        };
        assert_eq!(
            a.totp_step, None,
            "no code spent: the passkey is the second factor"
        );
        let LoginVerdict::Refused(plan) = verdict(false, false) else {
            panic!("accepted a wrong password");
        };
        assert_eq!(plan.output, Denial::BadCredentials);
        let LoginVerdict::Refused(plan) = verdict(true, true) else {
            panic!("accepted a disabled account");
        };
        assert_eq!(plan.output, Denial::AccountDisabled);
    }

    fn accepted(totp: Totp, totp_step: Option<u64>) -> LoginAccepted {
        let (record, account) = account(false, totp);
        LoginAccepted {
            record,
            account,
            totp_step,
            rehash: false,
        }
    }

    #[test]
    fn grant_login_opens_a_session_and_writes_back_only_what_changed() {
        // (totp step used, new password hash, key, account write, amr, audit kinds)
        type Case = (
            Option<u64>,
            Option<&'static str>,
            Option<&'static str>,
            &'static str,
            &'static str,
            &'static [AuditKind],
        );
        let ok: &[AuditKind] = &[AuditKind::LoginSucceeded];
        let rehashed: &[AuditKind] = &[AuditKind::PasswordRehashed, AuditKind::LoginSucceeded];
        #[rustfmt::skip]
        let cases: [Case; 4] = [
            (None, None, Some("login:alice"), "check", "pwd", ok),
            (Some(7), None, Some("login:alice"), "update", "pwd,otp", ok),
            (None, Some("$argon2id$new"), None, "update", "pwd", rehashed),
            (Some(8), Some("$argon2id$new"), Some("login:alice"), "update", "pwd,otp", rehashed),
        ];
        for (step, new_hash, key, account_write, amr, kinds) in cases {
            let fresh = FreshLogin {
                session_id: "ses_new".into(),
                refresh_hash: "rh_new".into(),
                password_hash: new_hash.map(str::to_owned),
            };
            let plan = grant_login(accepted(Totp::On, step), fresh, key, DAY, NOW).expect("plan");
            let (account, session) = &plan.output;
            assert_eq!(
                writes(&plan),
                [
                    w(account_write, RecordKind::Account, "acc_a", 4),
                    w("insert", RecordKind::Session, "ses_new", 0),
                    w("insert", RecordKind::RefreshToken, "rh_new", 0),
                ],
                "{step:?} {new_hash:?}"
            );
            if account_write == "update" {
                let written: StoredAccount = body(&plan.commit.writes[0]);
                assert_eq!(&written, account);
            }
            let expected_hash = new_hash.unwrap_or("$argon2id$old");
            assert_eq!(account.password_hash.as_deref(), Some(expected_hash));
            let last_step = account.totp.as_ref().and_then(|t| t.last_step);
            assert_eq!(last_step, step.or(Some(3)));
            assert_eq!(session.id, "ses_new");
            assert_eq!(session.account_id, "acc_a");
            assert_eq!((session.created_at, session.auth_time), (NOW, NOW));
            assert_eq!(session.expires_at, NOW.plus(DAY));
            assert_eq!(session.revoked_at, None);
            assert_eq!(session.amr.join(","), amr);
            let written: Session = body(&plan.commit.writes[1]);
            assert_eq!(&written, session);
            let refresh: StoredRefresh = body(&plan.commit.writes[2]);
            assert_eq!(refresh.state, RefreshState::Active);
            assert_eq!(
                (refresh.session_id.as_str(), refresh.issued_at),
                ("ses_new", NOW)
            );
            let Write::Insert(r) = &plan.commit.writes[2] else {
                panic!("insert");
            };
            assert_eq!(r.parent.as_deref(), Some("ses_new"));
            assert_eq!(r.expires_at, Some(NOW.plus(DAY)));
            assert_eq!(audit_kinds(&plan), kinds);
            let last = plan.commit.audit.last().expect("audit");
            assert_eq!(last.detail["amr"], amr);
            assert_eq!(last.session.as_deref(), Some("ses_new"));
            assert_eq!(last.actor.as_deref(), Some("acc_a"));
            let reset = key.map(|k| ThrottleWrite::Reset { key: k.to_owned() });
            assert_eq!(plan.commit.throttle, Vec::from_iter(reset));
            assert!(plan.commit.revocations.is_empty());
        }
    }

    fn refresh_token(state: RefreshState) -> (Record, StoredRefresh) {
        let t = StoredRefresh {
            session_id: "ses_1".into(),
            account_id: "acc_a".into(),
            issued_at: Timestamp::from_secs(10),
            state,
        };
        (record(RecordKind::RefreshToken, "rh_old", 1, &t), t)
    }

    /// Asserts that `plan` writes session `ses_1` (read at version 2, ending in a day) as
    /// revoked at `NOW` and revokes all its tokens until its end.
    fn assert_revokes_ses_1<T>(plan: &Plan<T>) {
        assert_eq!(writes(plan), [w("update", RecordKind::Session, "ses_1", 2)]);
        let written: Session = body(&plan.commit.writes[0]);
        assert_eq!(written.revoked_at, Some(NOW));
        assert_eq!(
            revoked(plan),
            [(RevokedSubject::Grant, "ses_1".into(), Timestamp::MAX)]
        );
        let RevocationChange::Put(r) = &plan.commit.revocations[0] else {
            panic!("put");
        };
        assert_eq!(r.until, NOW.plus(DAY));
    }

    #[test]
    fn decide_refresh_denies_dead_sessions_and_revokes_on_reuse() {
        // (token state, session revoked, session end, account (disabled) or gone, denial, revokes session)
        type Case = (
            RefreshState,
            Option<Timestamp>,
            Timestamp,
            Option<bool>,
            Denial,
            bool,
        );
        let rotated = RefreshState::Rotated {
            at: Timestamp::from_secs(20),
        };
        let earlier = Some(Timestamp::from_secs(30));
        #[rustfmt::skip]
        let cases: [Case; 7] = [
            (rotated, None, NOW.plus(DAY), Some(false), Denial::RefreshTokenReused, true),
            (rotated, earlier, NOW.plus(DAY), Some(false), Denial::RefreshTokenReused, false),
            (rotated, None, NOW.plus(DAY), None, Denial::RefreshTokenReused, true),
            (RefreshState::Active, earlier, NOW.plus(DAY), Some(false), Denial::SessionRevoked, false),
            (RefreshState::Active, None, NOW, Some(false), Denial::SessionExpired, false),
            (RefreshState::Active, None, NOW.plus(DAY), None, Denial::RefreshTokenInvalid, false),
            (RefreshState::Active, None, NOW.plus(DAY), Some(true), Denial::AccountDisabled, false),
        ];
        for (i, (state, revoked_at, expires, acc, denial, revokes)) in cases.into_iter().enumerate()
        {
            let plan = decide_refresh(
                refresh_token(state),
                session("ses_1", revoked_at, expires),
                acc.map(|disabled| account(disabled, Totp::Off)),
                "rh_new".into(),
                NOW,
            )
            .expect("plan");
            assert_eq!(plan.output.as_ref().err(), Some(&denial), "case {i}");
            let reuse = denial == Denial::RefreshTokenReused;
            let kinds: &[AuditKind] = if reuse {
                &[AuditKind::RefreshReuseDetected]
            } else {
                &[]
            };
            assert_eq!(audit_kinds(&plan), kinds, "case {i}");
            if revokes {
                assert_revokes_ses_1(&plan);
            } else {
                assert!(plan.commit.writes.is_empty(), "case {i}");
                assert!(plan.commit.revocations.is_empty(), "case {i}");
            }
            assert!(plan.commit.throttle.is_empty());
        }
    }

    #[test]
    fn decide_refresh_revokes_a_session_begun_before_a_sign_out_everywhere() {
        let created = Timestamp::from_secs(10);
        // (the account's sessions cut-off, whether the session created at `created` is refused)
        let cases = [
            (None, false),
            (Some(created), false),
            (Some(created.plus(Duration::from_millis(1))), true),
        ];
        for (before, refused) in cases {
            let (record, acc) = account(false, Totp::Off);
            let acc = StoredAccount {
                sessions_revoked_before: before,
                ..acc
            };
            let plan = decide_refresh(
                refresh_token(RefreshState::Active),
                live_session("ses_1"),
                Some((record, acc)),
                "rh_new".into(),
                NOW,
            )
            .expect("plan");
            if refused {
                assert_eq!(plan.output.as_ref().err(), Some(&Denial::SessionRevoked));
                assert_revokes_ses_1(&plan);
                assert_eq!(audit_kinds(&plan), [AuditKind::SessionRevoked]);
            } else {
                assert!(plan.output.is_ok(), "cut-off {before:?}");
            }
        }
    }

    #[test]
    fn decide_revoke_all_sessions_never_moves_the_sessions_cut_off_back() {
        let later = NOW.plus(DAY);
        let (record, acc) = account(false, Totp::Off);
        let acc = StoredAccount {
            sessions_revoked_before: Some(later),
            ..acc
        };
        let plan = decide_revoke_all_sessions((&record, &acc), vec![], cut_offs(NOW), None, NOW)
            .expect("plan");
        let marked: StoredAccount = body(&plan.commit.writes[0]);
        assert_eq!(marked.sessions_revoked_before, Some(later));
    }

    #[test]
    fn decide_refresh_rotates_the_token_and_pins_the_account() {
        for end in [NOW.plus(Duration::from_millis(1)), NOW.plus(DAY)] {
            let plan = decide_refresh(
                refresh_token(RefreshState::Active),
                session("ses_1", None, end),
                Some(account(false, Totp::Off)),
                "rh_new".into(),
                NOW,
            )
            .expect("plan");
            let (account, session) = plan.output.as_ref().expect("granted");
            assert_eq!(account.id, "acc_a");
            assert_eq!(session.last_refreshed_at, Some(NOW));
            assert_eq!(
                writes(&plan),
                [
                    w("update", RecordKind::RefreshToken, "rh_old", 1),
                    w("insert", RecordKind::RefreshToken, "rh_new", 0),
                    w("update", RecordKind::Session, "ses_1", 2),
                    w("check", RecordKind::Account, "acc_a", 4),
                ]
            );
            let old: StoredRefresh = body(&plan.commit.writes[0]);
            assert_eq!(old.state, RefreshState::Rotated { at: NOW });
            let new: StoredRefresh = body(&plan.commit.writes[1]);
            assert_eq!((new.state, new.issued_at), (RefreshState::Active, NOW));
            let written: Session = body(&plan.commit.writes[2]);
            assert_eq!(&written, session);
            assert_eq!(audit_kinds(&plan), [AuditKind::TokenRefreshed]);
            assert_eq!(plan.commit.audit[0].session.as_deref(), Some("ses_1"));
            assert!(plan.commit.revocations.is_empty());
        }
    }

    #[test]
    fn decide_revoke_session_revokes_once() {
        let earlier = Some(Timestamp::from_secs(30));
        // (revoked at, actor, writes and revokes)
        let cases = [
            (None, Some("acc_admin"), true),
            (None, None, true),
            (earlier, Some("acc_admin"), false),
        ];
        for (revoked_at, actor, acts) in cases {
            let (record, s) = session("ses_1", revoked_at, NOW.plus(DAY));
            let plan = decide_revoke_session(&record, s, actor, NOW).expect("plan");
            if !acts {
                assert_eq!(plan.commit, crate::store::Commit::default());
                continue;
            }
            assert_revokes_ses_1(&plan);
            assert_eq!(audit_kinds(&plan), [AuditKind::SessionRevoked]);
            let a = &plan.commit.audit[0];
            assert_eq!(a.actor.as_deref(), actor);
            assert_eq!(
                (a.account.as_deref(), a.session.as_deref()),
                (Some("acc_a"), Some("ses_1"))
            );
        }
    }

    /// The account and delegation cut-offs of `acc_a` at `at`.
    fn cut_offs(at: Timestamp) -> CutOffs {
        let put = |subject| {
            RevocationChange::Put(Revocation {
                subject,
                id: "acc_a".into(),
                issued_before: at,
                until: NOW.plus(DAY),
            })
        };
        CutOffs {
            sessions: at,
            account: put(RevokedSubject::Account),
            delegation: put(RevokedSubject::Delegation),
        }
    }

    #[test]
    fn decide_revoke_all_sessions_revokes_the_live_ones_and_cuts_off() {
        let cutoff = NOW.plus(Duration::from_millis(1));
        // (account disabled, sessions to revoke, account cut-off expected)
        let cases = [(false, 2, true), (true, 2, false)];
        for (disabled, count, account_cut) in cases {
            let sessions = vec![
                live_session("ses_1"),
                session("ses_2", Some(Timestamp::from_secs(30)), NOW.plus(DAY)),
                session("ses_3", None, NOW),
                live_session("ses_4"),
            ];
            let (record, acc) = account(disabled, Totp::Off);
            let cut_offs = cut_offs(cutoff);
            let plan = decide_revoke_all_sessions(
                (&record, &acc),
                sessions,
                cut_offs,
                Some("acc_admin"),
                NOW,
            )
            .expect("plan");
            assert_eq!(plan.output, count);
            assert_eq!(
                writes(&plan),
                [
                    w("update", RecordKind::Account, "acc_a", 4),
                    w("update", RecordKind::Session, "ses_1", 2),
                    w("update", RecordKind::Session, "ses_4", 2),
                ]
            );
            let marked: StoredAccount = body(&plan.commit.writes[0]);
            assert_eq!(
                marked,
                StoredAccount {
                    sessions_revoked_before: Some(cutoff),
                    ..acc.clone()
                },
                "only the sessions cut-off changes"
            );
            let mut expected = vec![
                (RevokedSubject::Grant, "ses_1".to_owned(), Timestamp::MAX),
                (RevokedSubject::Grant, "ses_4".to_owned(), Timestamp::MAX),
            ];
            if account_cut {
                expected.push((RevokedSubject::Account, "acc_a".into(), cutoff));
            }
            expected.push((RevokedSubject::Delegation, "acc_a".into(), cutoff));
            assert_eq!(revoked(&plan), expected, "disabled {disabled}");
            assert_eq!(audit_kinds(&plan), [AuditKind::AllSessionsRevoked]);
            let a = &plan.commit.audit[0];
            assert_eq!(a.detail["sessions"], count.to_string());
            assert_eq!(a.actor.as_deref(), Some("acc_admin"));
        }
    }

    #[test]
    fn decide_revoke_all_sessions_with_none_live_still_cuts_off() {
        let (record, acc) = account(false, Totp::Off);
        let cut_offs = cut_offs(NOW);
        let plan =
            decide_revoke_all_sessions((&record, &acc), vec![], cut_offs, None, NOW).expect("plan");
        assert_eq!(plan.output, 0);
        assert_eq!(
            writes(&plan),
            [w("update", RecordKind::Account, "acc_a", 4)]
        );
        assert_eq!(plan.commit.revocations.len(), 2);
        assert_eq!(plan.commit.audit[0].detail["sessions"], "0");
        assert_eq!(plan.commit.audit[0].actor, None);
    }
}
