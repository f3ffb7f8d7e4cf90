//! Account rules as pure functions (see [`crate::plan`]): no store, no clock, no runtime.
//!
//! Each function takes the account as loaded (its record, for the version the write expects,
//! and its decoded body), the operation's input and an [`Acting`] context, and returns the
//! [`Plan`] to commit. A plan with an empty commit means there is nothing to change.

use std::collections::BTreeSet;

use crate::account::{account_record, NewAccount, Profile, RoleSet};
use crate::account::{
    validate_role, validate_username, Account, AccountKind, StoredAccount, SweepReport,
};
use crate::account::{DeletionSchedule, THROTTLE_IDLE};
use crate::audit::{AuditDraft, AuditKind};
use crate::clock::Timestamp;
use crate::config::Config;
use crate::error::{Conflict, Denial, Error, InvalidInput, Result};
use crate::password::PasswordPolicy;
use crate::plan::Plan;
use crate::revocation::{Revocation, RevocationChange, RevokedSubject};
use crate::secret::SecretString;
use crate::store::{PruneReport, Record, RecordKind, Write};
use crate::totp::TotpState;

/// What an account decision takes besides the account and its input: who acts, when, and the
/// configuration in force.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Acting<'a> {
    /// The account the audit log names as actor (`None` for the embedding application).
    pub actor: Option<&'a str>,
    /// The operation's one clock reading.
    pub now: Timestamp,
    /// When a cut-off made now takes effect: `now`, or just past the latest cut-off already in
    /// force ([`crate::revocation::RevocationCache::cutoff`] at `now`).
    pub cutoff: Timestamp,
    /// The configuration in force (token lifetimes, deletion grace).
    pub config: &'a Config,
}

impl Acting<'_> {
    /// A cut-off that kills every token of `account_id` minted so far, kept until the
    /// longest-lived of them (a service token, say) has expired.
    pub fn account_cut_off(&self, account_id: &str) -> RevocationChange {
        account_tokens_before(
            account_id,
            self.cutoff,
            self.now.plus(self.config.longest_token_ttl()),
        )
    }

    /// A cut-off that voids what `account_id` delegated until now: OAuth tokens and refresh
    /// families issued for it, and client tokens acting for it.
    pub fn delegation_cut_off(&self, account_id: &str) -> RevocationChange {
        let config = self.config;
        RevocationChange::Put(Revocation {
            subject: RevokedSubject::Delegation,
            id: account_id.to_owned(),
            issued_before: self.cutoff,
            until: self
                .now
                .plus(config.longest_token_ttl().max(config.oauth.refresh_ttl)),
        })
    }

    /// An audit event of `kind` about `account_id`, naming the actor.
    pub(super) fn audit(&self, kind: AuditKind, account_id: &str) -> AuditDraft {
        AuditDraft::new(kind, self.now)
            .actor(self.actor)
            .account(account_id)
    }
}

/// A revocation that kills every token of `account_id` issued at or before `at`.
pub(crate) fn account_tokens_before(
    account_id: &str,
    at: Timestamp,
    until: Timestamp,
) -> RevocationChange {
    RevocationChange::Put(Revocation {
        subject: RevokedSubject::Account,
        id: account_id.to_owned(),
        issued_before: at,
        until,
    })
}

/// Nothing to change: the account as it stands.
pub(super) fn unchanged(account: &StoredAccount) -> Plan<Account> {
    Plan::new(account.view())
}

/// The account as changed: its update (expecting the version read) with `revocations` and
/// one audit event.
pub(super) fn updated(
    read: &Record,
    account: &StoredAccount,
    revocations: Vec<RevocationChange>,
    audit: AuditDraft,
) -> Result<Plan<Account>> {
    let mut plan = Plan::new(account.view())
        .write(Write::Update {
            record: account_record(account)?,
            expected_version: read.version,
        })
        .audit(audit);
    for change in revocations {
        plan = plan.revoke(change);
    }
    Ok(plan)
}

/// Whether an account of `kind` may have (or lacks) a password: humans need one, system
/// accounts have none.
fn password_fits(kind: AccountKind, has_password: bool) -> Result<()> {
    match (kind, has_password) {
        (AccountKind::System, true) => {
            Err(InvalidInput::AccountKind("system accounts have no password").into())
        }
        (AccountKind::Human, false) => {
            Err(InvalidInput::AccountKind("a human account needs a password").into())
        }
        _ => Ok(()),
    }
}

/// Checks a new account's username, roles, and password (its pairing with the kind and the
/// length rules), before any hashing. Returns the password to hash, if any.
pub(crate) fn admit_new_account<'a>(
    new: &'a NewAccount,
    policy: &PasswordPolicy,
) -> Result<Option<&'a SecretString>> {
    validate_username(&new.username)?;
    for role in &new.roles {
        validate_role(role)?;
    }
    password_fits(new.kind, new.password.is_some())?;
    if let Some(password) = &new.password {
        policy.check(password)?;
    }
    Ok(new.password.as_ref())
}

/// Creation of an account admitted by [`admit_new_account`], with the fresh `id` and the hash
/// of its password: one insert (the store refuses a taken username) and its audit event.
pub(crate) fn create_account(
    new: NewAccount,
    id: String,
    password_hash: Option<String>,
    acting: Acting<'_>,
) -> Result<Plan<Account>> {
    password_fits(new.kind, password_hash.is_some())?;
    let account = StoredAccount {
        id,
        username: new.username,
        kind: new.kind,
        roles: new.roles.into_iter().collect(),
        disabled: false,
        created_at: acting.now,
        password_hash,
        totp: None,
        elevatable_roles: BTreeSet::new(),
        deletion_due: None,
        service_grant: None,
        profile: Profile::default(),
        sessions_revoked_before: None,
    };
    let kind = match account.kind {
        AccountKind::Human => "human",
        AccountKind::System => "system",
    };
    let audit = acting
        .audit(AuditKind::AccountCreated, &account.id)
        .detail("username", account.username.clone())
        .detail("kind", kind)
        .detail(
            "roles",
            account.roles.iter().cloned().collect::<Vec<_>>().join(","),
        );
    Ok(Plan::new(account.view())
        .write(Write::Insert(account_record(&account)?))
        .audit(audit))
}

/// A new password (its Argon2id hash) for a human account; what the account delegated
/// (OAuth grants, tokens acting for it) is cut off.
pub(crate) fn change_password(
    read: &Record,
    mut account: StoredAccount,
    password_hash: String,
    acting: Acting<'_>,
) -> Result<Plan<Account>> {
    if account.kind == AccountKind::System {
        return Err(InvalidInput::AccountKind("system accounts have no password").into());
    }
    account.password_hash = Some(password_hash);
    updated(
        read,
        &account,
        vec![acting.delegation_cut_off(&account.id)],
        acting.audit(AuditKind::PasswordChanged, &account.id),
    )
}

/// The proof for changing one's own password: when the current password `matched`, nothing
/// to commit and no denial; otherwise [`Denial::BadCredentials`] with an audit of the refusal
/// (the step-up reservation made before the check already counts the failure).
pub(crate) fn check_current_password(
    matched: bool,
    account_id: &str,
    session_id: &str,
    now: Timestamp,
) -> Plan<Option<Denial>> {
    if matched {
        return Plan::new(None);
    }
    Plan::new(Some(Denial::BadCredentials)).audit(
        AuditDraft::new(AuditKind::PasswordChangeDenied, now)
            .actor(Some(account_id))
            .account(account_id)
            .session(session_id),
    )
}

/// Disabling: the account's tokens, and every token acting for it, stop verifying at once.
pub(crate) fn disable_account(
    read: &Record,
    mut account: StoredAccount,
    acting: Acting<'_>,
) -> Result<Plan<Account>> {
    if account.disabled {
        return Ok(unchanged(&account));
    }
    account.disabled = true;
    let revocations = vec![
        account_tokens_before(&account.id, Timestamp::MAX, Timestamp::MAX),
        acting.delegation_cut_off(&account.id),
    ];
    let audit = acting.audit(AuditKind::AccountDisabled, &account.id);
    updated(read, &account, revocations, audit)
}

/// Enabling: the permanent cut-off of [`disable_account`] gives way to one at `now`, so tokens
/// issued while disabled stay void.
pub(crate) fn enable_account(
    read: &Record,
    mut account: StoredAccount,
    acting: Acting<'_>,
) -> Result<Plan<Account>> {
    if !account.disabled {
        return Ok(unchanged(&account));
    }
    account.disabled = false;
    let revocations = vec![acting.account_cut_off(&account.id)];
    let audit = acting.audit(AuditKind::AccountEnabled, &account.id);
    updated(read, &account, revocations, audit)
}

/// Adds `role` to (`grant`) or removes it from one of the account's role sets. Removal from
/// an enabled account voids its earlier tokens (which may carry the role) and what it
/// delegated; a disabled account's tokens are void already.
pub(crate) fn change_role(
    read: &Record,
    mut account: StoredAccount,
    role: &str,
    set: RoleSet,
    grant: bool,
    acting: Acting<'_>,
) -> Result<Plan<Account>> {
    let roles = match set {
        RoleSet::Standing => &mut account.roles,
        RoleSet::Elevatable => &mut account.elevatable_roles,
    };
    let changed = if grant {
        roles.insert(role.to_owned())
    } else {
        roles.remove(role)
    };
    if !changed {
        return Ok(unchanged(&account));
    }
    let revocations = if grant || account.disabled {
        vec![]
    } else {
        vec![
            acting.account_cut_off(&account.id),
            acting.delegation_cut_off(&account.id),
        ]
    };
    let kind = match (set, grant) {
        (RoleSet::Standing, true) => AuditKind::RoleGranted,
        (RoleSet::Standing, false) => AuditKind::RoleRevoked,
        (RoleSet::Elevatable, true) => AuditKind::ElevatableRoleGranted,
        (RoleSet::Elevatable, false) => AuditKind::ElevatableRoleRevoked,
    };
    let audit = acting.audit(kind, &account.id).detail("role", role);
    updated(read, &account, revocations, audit)
}

/// TOTP enrolment of a human account with a freshly sealed secret; replaces an unconfirmed
/// enrolment, refused while TOTP is on.
pub(crate) fn enrol_totp(
    read: &Record,
    mut account: StoredAccount,
    sealed_secret: String,
    acting: Acting<'_>,
) -> Result<Plan<Account>> {
    if account.kind == AccountKind::System {
        return Err(InvalidInput::AccountKind("system accounts cannot use TOTP").into());
    }
    if account.totp_required() {
        return Err(Error::State(Conflict::TotpAlreadyEnabled));
    }
    account.totp = Some(TotpState {
        sealed_secret,
        confirmed: false,
        last_step: None,
    });
    let audit = acting.audit(AuditKind::TotpEnrolled, &account.id);
    updated(read, &account, vec![], audit)
}

/// Confirmation of a pending TOTP enrolment. `totp_step` is the time step the given code
/// matched (checked against the pending secret while loading), `None` when it matched none.
pub(crate) fn confirm_totp(
    read: &Record,
    mut account: StoredAccount,
    totp_step: Option<u64>,
    acting: Acting<'_>,
) -> Result<Plan<Account>> {
    let state = account
        .totp
        .as_mut()
        .ok_or(Error::State(Conflict::TotpNotEnrolled))?;
    if state.confirmed {
        return Err(Error::State(Conflict::TotpAlreadyConfirmed));
    }
    let step = totp_step.ok_or(Denial::BadCredentials)?;
    state.confirmed = true;
    state.last_step = Some(step);
    let audit = acting.audit(AuditKind::TotpConfirmed, &account.id);
    updated(read, &account, vec![], audit)
}

/// Removal of TOTP, pending or confirmed.
pub(crate) fn remove_totp(
    read: &Record,
    mut account: StoredAccount,
    acting: Acting<'_>,
) -> Result<Plan<Account>> {
    if account.totp.take().is_none() {
        return Ok(unchanged(&account));
    }
    let audit = acting.audit(AuditKind::TotpRemoved, &account.id);
    updated(read, &account, vec![], audit)
}

/// Scheduling the account's deletion, requested by `requested_by`, after the configured grace
/// period: the account notes when it falls due and a schedule record is inserted. An existing
/// schedule stands. The output is when it falls due.
pub(crate) fn schedule_deletion(
    read: &Record,
    mut account: StoredAccount,
    requested_by: &str,
    acting: Acting<'_>,
) -> Result<Plan<Timestamp>> {
    if let Some(existing) = account.deletion_due {
        return Ok(Plan::new(existing));
    }
    let due = acting.now.plus(acting.config.deletion_grace);
    account.deletion_due = Some(due);
    let schedule = DeletionSchedule {
        account_id: account.id.clone(),
        due,
        requested_by: requested_by.to_owned(),
    };
    Ok(Plan::new(due)
        .write(Write::Update {
            record: account_record(&account)?,
            expected_version: read.version,
        })
        .write(Write::Insert(Record {
            kind: RecordKind::DeletionSchedule,
            id: account.id.clone(),
            version: 0,
            parent: None,
            lookup: None,
            expires_at: None,
            body: crate::record_body::to_body(&schedule)?,
        }))
        .audit(
            AuditDraft::new(AuditKind::DeletionScheduled, acting.now)
                .actor(Some(requested_by))
                .account(&account.id)
                .detail("due", due.to_rfc3339()),
        ))
}

/// Cancelling a scheduled deletion: the account forgets its due time and its schedule
/// record (`schedule`, when found) is deleted. Nothing happens when none is scheduled.
pub(crate) fn cancel_deletion(
    read: &Record,
    mut account: StoredAccount,
    schedule: Option<&Record>,
    acting: Acting<'_>,
) -> Result<Plan<()>> {
    if account.deletion_due.take().is_none() {
        return Ok(Plan::new(()));
    }
    let mut plan = Plan::new(())
        .write(Write::Update {
            record: account_record(&account)?,
            expected_version: read.version,
        })
        .audit(acting.audit(AuditKind::DeletionCancelled, &account.id));
    if let Some(schedule) = schedule {
        plan = plan.write(delete_write(schedule));
    }
    Ok(plan)
}

/// Whether a scheduled deletion falls due by `now`.
pub(crate) fn deletion_due(schedule: &DeletionSchedule, now: Timestamp) -> bool {
    schedule.due <= now
}

/// What the sweep loads, in one pass, to delete an account whose deletion is due.
#[derive(Debug, Default)]
pub(crate) struct DueDeletion {
    /// The schedule as read again (`None` when cancelled meanwhile).
    pub schedule: Option<(Record, DeletionSchedule)>,
    /// The account (`None` when already gone; then nothing below is loaded).
    pub account: Option<Record>,
    /// Its stored database credentials.
    pub credentials: Option<Record>,
    /// Its sessions, each with its refresh tokens.
    pub sessions: Vec<(Record, Vec<Record>)>,
    /// Its API tokens, service grants and elevation requests, in that order.
    pub owned: Vec<Record>,
    /// Its memberships as indexed by account, each with the organization-side record if found.
    pub memberships: Vec<(Record, Option<Record>)>,
}

/// Carrying out a deletion that is due: every token of the account dies (an account
/// revocation that outlives its longest-lived token), then its personal data goes: the
/// account (freeing the username), sessions and refresh tokens, API tokens, service grants,
/// elevation requests, memberships, stored credentials. Audit events stay. When the account
/// is already gone only the schedule is cleared; when the schedule is gone or not due,
/// nothing happens. The output says whether a due schedule was carried out.
pub(crate) fn delete_due_account(
    loaded: DueDeletion,
    now: Timestamp,
    config: &Config,
) -> Plan<bool> {
    let Some((schedule_read, schedule)) = loaded.schedule else {
        return Plan::new(false);
    };
    if !deletion_due(&schedule, now) {
        return Plan::new(false);
    }
    let mut plan = Plan::new(true).write(delete_write(&schedule_read));
    let Some(account) = loaded.account else {
        return plan;
    };
    plan = plan.write(delete_write(&account));
    let sessions = loaded
        .sessions
        .iter()
        .flat_map(|(session, refresh)| refresh.iter().chain(std::iter::once(session)));
    let memberships = loaded
        .memberships
        .iter()
        .flat_map(|(mirror, org_side)| org_side.iter().chain(std::iter::once(mirror)));
    for record in loaded
        .credentials
        .iter()
        .chain(sessions)
        .chain(&loaded.owned)
        .chain(memberships)
    {
        plan = plan.write(delete_write(record));
    }
    let outlives_tokens = config
        .longest_token_ttl()
        .max(config.api_token_max_ttl)
        .max(config.session_ttl);
    plan.revoke(account_tokens_before(
        &schedule.account_id,
        Timestamp::MAX,
        now.plus(outlives_tokens),
    ))
    .audit(AuditDraft::new(AuditKind::AccountDeleted, now).account(&schedule.account_id))
}

/// The time before which an idle throttle counter is forgotten by a sweep at `now`.
pub(crate) fn throttle_idle_since(now: Timestamp) -> Timestamp {
    now.minus(THROTTLE_IDLE)
}

/// The end of a sweep: one audit event with its counts; the output is the sweep's report.
pub(crate) fn sweep_completed(
    deleted_accounts: Vec<String>,
    pruned: PruneReport,
    now: Timestamp,
) -> Plan<SweepReport> {
    let mut audit = AuditDraft::new(AuditKind::SweepCompleted, now)
        .detail("deleted_accounts", deleted_accounts.len().to_string())
        .detail("revocations", pruned.revocations.to_string())
        .detail("throttles", pruned.throttles.to_string());
    for (kind, n) in &pruned.records {
        audit = audit.detail(kind.as_str(), n.to_string());
    }
    Plan::new(SweepReport {
        deleted_accounts,
        pruned,
        audit_checkpoint: None,
    })
    .audit(audit)
}

/// A write deleting `record` as read.
pub(crate) fn delete_write(record: &Record) -> Write {
    Write::Delete {
        kind: record.kind,
        id: record.id.clone(),
        expected_version: record.version,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::secret::MasterKey;

    const NOW: Timestamp = Timestamp::from_millis(1_000_000);
    /// The revocation cache's next cut-off: just past one made in the same millisecond.
    const CUTOFF: Timestamp = Timestamp::from_millis(1_000_001);

    fn config() -> Config {
        Config::new(MasterKey::from_bytes([7; 32]))
    }

    fn acting(config: &Config) -> Acting<'_> {
        Acting {
            actor: Some("acc_admin"),
            now: NOW,
            cutoff: CUTOFF,
            config,
        }
    }

    fn human() -> StoredAccount {
        StoredAccount {
            id: "acc_1".into(),
            username: "alice".into(),
            kind: AccountKind::Human,
            roles: BTreeSet::from(["staff".to_owned()]),
            disabled: false,
            created_at: Timestamp::from_millis(5),
            password_hash: Some("$argon2id$old".into()),
            totp: None,
            elevatable_roles: BTreeSet::new(),
            deletion_due: None,
            service_grant: None,
            profile: Profile::default(),
            sessions_revoked_before: None,
        }
    }

    fn system() -> StoredAccount {
        StoredAccount {
            kind: AccountKind::System,
            password_hash: None,
            ..human()
        }
    }

    /// The account's record as read at version 4.
    fn read(account: &StoredAccount) -> Record {
        Record {
            version: 4,
            ..account_record(account).expect("record")
        }
    }

    fn totp(confirmed: bool) -> TotpState {
        TotpState {
            sealed_secret: "sealed".into(),
            confirmed,
            last_step: confirmed.then_some(7),
        }
    }

    /// The error's variant, for comparing with a table's expectation.
    fn error<T: std::fmt::Debug>(result: Result<T>) -> String {
        format!("{:?}", result.expect_err("an error"))
    }

    /// The only write of `plan`: an update of account `acc_1` expecting version 4; its body.
    fn updated_account<T>(plan: &Plan<T>) -> StoredAccount {
        assert_eq!(plan.commit.writes.len(), 1, "{:?}", plan.commit.writes);
        match &plan.commit.writes[0] {
            Write::Update {
                record,
                expected_version: 4,
            } => {
                assert_eq!(
                    (record.kind, record.id.as_str()),
                    (RecordKind::Account, "acc_1")
                );
                assert_eq!(record.lookup.as_deref(), Some("alice"));
                crate::record_body::from_body(&record.body).expect("account")
            }
            other => panic!("expected an account update, got {other:?}"),
        }
    }

    /// The one audit event of `plan`, checked to be `kind` about `acc_1` by the admin.
    fn audited<T>(plan: &Plan<T>, kind: AuditKind) -> &AuditDraft {
        assert_eq!(plan.commit.audit.len(), 1);
        let event = &plan.commit.audit[0];
        assert_eq!(event.kind, kind);
        assert_eq!(event.at, NOW);
        assert_eq!(event.actor.as_deref(), Some("acc_admin"));
        assert_eq!(event.account.as_deref(), Some("acc_1"));
        event
    }

    fn assert_nothing_to_commit<T>(plan: &Plan<T>) {
        assert_eq!(plan.commit, crate::store::Commit::default());
    }

    fn account_cut(config: &Config) -> RevocationChange {
        account_tokens_before("acc_1", CUTOFF, NOW.plus(config.longest_token_ttl()))
    }

    fn delegation_cut(config: &Config) -> RevocationChange {
        RevocationChange::Put(Revocation {
            subject: RevokedSubject::Delegation,
            id: "acc_1".into(),
            issued_before: CUTOFF,
            until: NOW.plus(config.longest_token_ttl().max(config.oauth.refresh_ttl)),
        })
    }

    #[test]
    fn cut_offs_start_at_the_cache_cut_off_and_outlive_the_tokens_they_void() {
        let config = config();
        let a = acting(&config);
        let cases = [
            (
                a.account_cut_off("acc_1"),
                RevokedSubject::Account,
                config.longest_token_ttl(),
            ),
            (
                a.delegation_cut_off("acc_1"),
                RevokedSubject::Delegation,
                config.longest_token_ttl().max(config.oauth.refresh_ttl),
            ),
        ];
        for (change, subject, lasts) in cases {
            assert_eq!(
                change,
                RevocationChange::Put(Revocation {
                    subject,
                    id: "acc_1".into(),
                    issued_before: CUTOFF,
                    until: NOW.plus(lasts),
                })
            );
        }
    }

    #[test]
    fn a_new_account_is_admitted_only_with_valid_names_and_a_fitting_password() {
        let policy = PasswordPolicy::default();
        let ok = "correct horse";
        let cases: [(NewAccount, Option<InvalidInput>); 8] = [
            (NewAccount::human("alice", ok), None),
            (NewAccount::system("robot").with_roles(["db:reader"]), None),
            (NewAccount::human("A", ok), validate_username("A").err()),
            (
                NewAccount::human("alice", ok).with_roles(["Admin"]),
                Some(InvalidInput::RoleName("Admin".into())),
            ),
            (
                NewAccount {
                    password: None,
                    ..NewAccount::human("alice", ok)
                },
                Some(InvalidInput::AccountKind(
                    "a human account needs a password",
                )),
            ),
            (
                NewAccount {
                    password: Some(ok.into()),
                    ..NewAccount::system("robot")
                },
                Some(InvalidInput::AccountKind(
                    "system accounts have no password",
                )),
            ),
            (
                NewAccount::human("alice", "short"),
                Some(InvalidInput::PasswordTooShort { min: 8 }),
            ),
            // The username is checked first.
            (
                NewAccount::human("_x", "short"),
                validate_username("_x").err(),
            ),
        ];
        for (new, expected) in cases {
            match (admit_new_account(&new, &policy), expected) {
                (Ok(to_hash), None) => {
                    assert_eq!(to_hash.is_some(), new.kind == AccountKind::Human);
                }
                (Err(Error::Invalid(got)), Some(want)) => assert_eq!(got, want),
                (got, want) => panic!("{}: got {got:?}, want {want:?}", new.username),
            }
        }
    }

    #[test]
    fn creation_inserts_the_account_and_audits_it() {
        let config = config();
        let cases = [
            (
                NewAccount::human("alice", "pw").with_roles(["b", "a"]),
                Some("$argon2id$h"),
                "human",
                "a,b",
            ),
            (NewAccount::system("robot"), None, "system", ""),
        ];
        for (new, hash, kind, roles) in cases {
            let username = new.username.clone();
            let plan = create_account(
                new,
                "acc_1".into(),
                hash.map(str::to_owned),
                acting(&config),
            )
            .expect("plan");
            assert_eq!(plan.output.id, "acc_1");
            assert_eq!(plan.output.created_at, NOW);
            assert_eq!(plan.output.has_password, hash.is_some());
            assert!(!plan.output.disabled);
            let [Write::Insert(record)] = plan.commit.writes.as_slice() else {
                panic!("expected one insert: {:?}", plan.commit.writes);
            };
            assert_eq!(record.lookup.as_deref(), Some(username.as_str()));
            let stored: StoredAccount =
                crate::record_body::from_body(&record.body).expect("account");
            assert_eq!(stored.password_hash.as_deref(), hash);
            assert_eq!(stored.view(), plan.output);
            let event = audited(&plan, AuditKind::AccountCreated);
            assert_eq!(event.detail["kind"], kind);
            assert_eq!(event.detail["roles"], roles);
            assert_eq!(event.detail["username"], username);
            assert!(plan.commit.revocations.is_empty());
        }
        // A hash that does not fit the kind is refused.
        let wrong = [
            (NewAccount::system("robot"), Some("$argon2id$h".to_owned())),
            (NewAccount::human("alice", "pw"), None),
        ];
        for (new, hash) in wrong {
            let got = error(create_account(new, "acc_1".into(), hash, acting(&config)));
            assert!(got.starts_with("Invalid(AccountKind("), "{got}");
        }
    }

    #[test]
    fn a_password_change_stores_the_hash_and_cuts_off_delegations() {
        let config = config();
        let plan = change_password(
            &read(&human()),
            human(),
            "$argon2id$new".into(),
            acting(&config),
        )
        .expect("plan");
        let stored = updated_account(&plan);
        assert_eq!(stored.password_hash.as_deref(), Some("$argon2id$new"));
        assert_eq!(
            StoredAccount {
                password_hash: human().password_hash,
                ..stored
            },
            human()
        );
        assert_eq!(plan.commit.revocations, vec![delegation_cut(&config)]);
        audited(&plan, AuditKind::PasswordChanged);
        assert!(plan.output.has_password);

        let got = error(change_password(
            &read(&system()),
            system(),
            "h".into(),
            acting(&config),
        ));
        assert_eq!(
            got,
            r#"Invalid(AccountKind("system accounts have no password"))"#
        );
    }

    #[test]
    fn a_wrong_current_password_is_denied_and_audited() {
        let passed = check_current_password(true, "acc_1", "ses_1", NOW);
        assert_eq!(passed.output, None);
        assert_nothing_to_commit(&passed);
        let denied = check_current_password(false, "acc_1", "ses_1", NOW);
        assert_eq!(denied.output, Some(Denial::BadCredentials));
        assert!(denied.commit.writes.is_empty());
        assert!(
            denied.commit.throttle.is_empty(),
            "the reservation counted it"
        );
        let [event] = denied.commit.audit.as_slice() else {
            panic!("one audit event");
        };
        assert_eq!(event.kind, AuditKind::PasswordChangeDenied);
        assert_eq!(event.actor.as_deref(), Some("acc_1"));
        assert_eq!(event.account.as_deref(), Some("acc_1"));
        assert_eq!(event.session.as_deref(), Some("ses_1"));
    }

    /// A decision that enables or disables an account.
    type Decide = fn(&Record, StoredAccount, Acting<'_>) -> Result<Plan<Account>>;

    /// The decision, disabled before, disabled after, the revocations, and the audit kind when
    /// something changed.
    type StatusCase = (Decide, bool, bool, Vec<RevocationChange>, Option<AuditKind>);

    #[test]
    fn disabling_and_enabling_change_only_what_differs() {
        let config = config();
        let disable: Decide = disable_account;
        let enable: Decide = enable_account;
        let forever = account_tokens_before("acc_1", Timestamp::MAX, Timestamp::MAX);
        let cases: [StatusCase; 4] = [
            (
                disable,
                false,
                true,
                vec![forever, delegation_cut(&config)],
                Some(AuditKind::AccountDisabled),
            ),
            (disable, true, true, vec![], None),
            (
                enable,
                true,
                false,
                vec![account_cut(&config)],
                Some(AuditKind::AccountEnabled),
            ),
            (enable, false, false, vec![], None),
        ];
        for (decide, before, after, revocations, kind) in cases {
            let account = StoredAccount {
                disabled: before,
                ..human()
            };
            let plan = decide(&read(&account), account, acting(&config)).expect("plan");
            assert_eq!(plan.output.disabled, after);
            match kind {
                Some(kind) => {
                    assert!(updated_account(&plan).disabled == after);
                    assert_eq!(plan.commit.revocations, revocations);
                    audited(&plan, kind);
                }
                None => assert_nothing_to_commit(&plan),
            }
        }
    }

    #[test]
    fn role_changes_void_earlier_tokens_only_on_removal_from_an_enabled_account() {
        let config = config();
        // (set, grant, role, disabled, changed, cut off, audit kind)
        let cases = [
            (
                RoleSet::Standing,
                true,
                "ops",
                false,
                true,
                false,
                AuditKind::RoleGranted,
            ),
            (
                RoleSet::Standing,
                true,
                "staff",
                false,
                false,
                false,
                AuditKind::RoleGranted,
            ),
            (
                RoleSet::Standing,
                false,
                "staff",
                false,
                true,
                true,
                AuditKind::RoleRevoked,
            ),
            (
                RoleSet::Standing,
                false,
                "staff",
                true,
                true,
                false,
                AuditKind::RoleRevoked,
            ),
            (
                RoleSet::Standing,
                false,
                "ops",
                false,
                false,
                false,
                AuditKind::RoleRevoked,
            ),
            (
                RoleSet::Elevatable,
                true,
                "dba",
                false,
                true,
                false,
                AuditKind::ElevatableRoleGranted,
            ),
            (
                RoleSet::Elevatable,
                false,
                "root",
                false,
                true,
                true,
                AuditKind::ElevatableRoleRevoked,
            ),
            (
                RoleSet::Elevatable,
                false,
                "staff",
                false,
                false,
                false,
                AuditKind::ElevatableRoleRevoked,
            ),
        ];
        for (set, grant, role, disabled, changed, cut, kind) in cases {
            let account = StoredAccount {
                disabled,
                elevatable_roles: BTreeSet::from(["root".to_owned()]),
                ..human()
            };
            let before = account.clone();
            let plan = change_role(&read(&account), account, role, set, grant, acting(&config))
                .expect("plan");
            if !changed {
                assert_nothing_to_commit(&plan);
                assert_eq!(plan.output, before.view());
                continue;
            }
            let stored = updated_account(&plan);
            let (held, other, other_before) = match set {
                RoleSet::Standing => (
                    &stored.roles,
                    &stored.elevatable_roles,
                    &before.elevatable_roles,
                ),
                RoleSet::Elevatable => (&stored.elevatable_roles, &stored.roles, &before.roles),
            };
            assert_eq!(held.contains(role), grant, "{role}");
            assert_eq!(other, other_before, "the other set is untouched");
            assert_eq!(plan.output, stored.view());
            let expected = if cut {
                vec![account_cut(&config), delegation_cut(&config)]
            } else {
                vec![]
            };
            assert_eq!(plan.commit.revocations, expected, "{role} {grant}");
            assert_eq!(audited(&plan, kind).detail["role"], role);
        }
    }

    #[test]
    fn totp_enrolment_replaces_a_pending_secret_but_not_a_confirmed_one() {
        let config = config();
        let cases = [
            (human(), None),
            (
                StoredAccount {
                    totp: Some(totp(false)),
                    ..human()
                },
                None,
            ),
            (
                StoredAccount {
                    totp: Some(totp(true)),
                    ..human()
                },
                Some("State(TotpAlreadyEnabled)"),
            ),
            (
                system(),
                Some(r#"Invalid(AccountKind("system accounts cannot use TOTP"))"#),
            ),
        ];
        for (account, refused) in cases {
            let result = enrol_totp(&read(&account), account, "fresh".into(), acting(&config));
            if let Some(want) = refused {
                assert_eq!(error(result), want);
                continue;
            }
            let plan = result.expect("plan");
            let stored = updated_account(&plan);
            assert_eq!(
                stored.totp,
                Some(TotpState {
                    sealed_secret: "fresh".into(),
                    confirmed: false,
                    last_step: None,
                })
            );
            assert_eq!(plan.output.totp, crate::account::TotpStatus::Pending);
            audited(&plan, AuditKind::TotpEnrolled);
            assert!(plan.commit.revocations.is_empty());
        }
    }

    #[test]
    fn totp_confirmation_needs_a_pending_enrolment_and_a_matching_code() {
        let config = config();
        let cases = [
            (human(), Some(9), Some("State(TotpNotEnrolled)")),
            (
                StoredAccount {
                    totp: Some(totp(true)),
                    ..human()
                },
                Some(9),
                Some("State(TotpAlreadyConfirmed)"),
            ),
            (
                StoredAccount {
                    totp: Some(totp(false)),
                    ..human()
                },
                None,
                Some("Denied(BadCredentials)"),
            ),
            (
                StoredAccount {
                    totp: Some(totp(false)),
                    ..human()
                },
                Some(9),
                None,
            ),
        ];
        for (account, step, refused) in cases {
            let result = confirm_totp(&read(&account), account, step, acting(&config));
            if let Some(want) = refused {
                assert_eq!(error(result), want);
                continue;
            }
            let plan = result.expect("plan");
            let state = updated_account(&plan).totp.expect("totp");
            assert!(state.confirmed);
            assert_eq!(state.last_step, Some(9), "the step is used up");
            assert_eq!(state.sealed_secret, "sealed");
            assert_eq!(plan.output.totp, crate::account::TotpStatus::On);
            audited(&plan, AuditKind::TotpConfirmed);
        }
    }

    #[test]
    fn totp_removal_clears_any_state_and_is_a_no_op_without_one() {
        let config = config();
        for (state, changes) in [
            (None, false),
            (Some(totp(false)), true),
            (Some(totp(true)), true),
        ] {
            let account = StoredAccount {
                totp: state,
                ..human()
            };
            let plan = remove_totp(&read(&account), account, acting(&config)).expect("plan");
            assert_eq!(plan.output.totp, crate::account::TotpStatus::Off);
            if changes {
                assert_eq!(updated_account(&plan).totp, None);
                audited(&plan, AuditKind::TotpRemoved);
            } else {
                assert_nothing_to_commit(&plan);
            }
        }
    }

    #[test]
    fn scheduling_a_deletion_marks_the_account_and_inserts_its_schedule_once() {
        let config = config();
        let due = NOW.plus(config.deletion_grace);
        let earlier = Timestamp::from_millis(77);
        for existing in [None, Some(earlier)] {
            let account = StoredAccount {
                deletion_due: existing,
                ..human()
            };
            let a = Acting {
                actor: Some("acc_self"),
                ..acting(&config)
            };
            let plan = schedule_deletion(&read(&account), account, "acc_self", a).expect("plan");
            if existing.is_some() {
                assert_eq!(plan.output, earlier);
                assert_nothing_to_commit(&plan);
                continue;
            }
            assert_eq!(plan.output, due);
            let [Write::Update {
                record,
                expected_version: 4,
            }, Write::Insert(schedule)] = plan.commit.writes.as_slice()
            else {
                panic!("update then insert: {:?}", plan.commit.writes);
            };
            let stored: StoredAccount =
                crate::record_body::from_body(&record.body).expect("account");
            assert_eq!(stored.deletion_due, Some(due));
            assert_eq!(
                (schedule.kind, schedule.id.as_str()),
                (RecordKind::DeletionSchedule, "acc_1")
            );
            let body: DeletionSchedule =
                crate::record_body::from_body(&schedule.body).expect("schedule");
            assert_eq!(
                body,
                DeletionSchedule {
                    account_id: "acc_1".into(),
                    due,
                    requested_by: "acc_self".into(),
                }
            );
            let [event] = plan.commit.audit.as_slice() else {
                panic!("one audit event");
            };
            assert_eq!(event.kind, AuditKind::DeletionScheduled);
            assert_eq!(event.actor.as_deref(), Some("acc_self"));
            assert_eq!(event.account.as_deref(), Some("acc_1"));
            assert_eq!(event.detail["due"], due.to_rfc3339());
        }
    }

    #[test]
    fn cancelling_a_deletion_clears_the_due_time_and_deletes_the_schedule_as_read() {
        let config = config();
        let schedule = Record {
            kind: RecordKind::DeletionSchedule,
            id: "acc_1".into(),
            version: 2,
            parent: None,
            lookup: None,
            expires_at: None,
            body: "{}".into(),
        };
        let due = Some(Timestamp::from_millis(9));
        // (due, schedule found, writes expected)
        let cases = [
            (None, false, 0),
            (None, true, 0),
            (due, false, 1),
            (due, true, 2),
        ];
        for (due, found, writes) in cases {
            let account = StoredAccount {
                deletion_due: due,
                ..human()
            };
            let plan = cancel_deletion(
                &read(&account),
                account,
                found.then_some(&schedule),
                acting(&config),
            )
            .expect("plan");
            if writes == 0 {
                assert_nothing_to_commit(&plan);
                continue;
            }
            assert_eq!(plan.commit.writes.len(), writes);
            let Write::Update { record, .. } = &plan.commit.writes[0] else {
                panic!("the account update comes first");
            };
            let stored: StoredAccount =
                crate::record_body::from_body(&record.body).expect("account");
            assert_eq!(stored.deletion_due, None);
            if found {
                assert_eq!(
                    plan.commit.writes[1],
                    Write::Delete {
                        kind: RecordKind::DeletionSchedule,
                        id: "acc_1".into(),
                        expected_version: 2,
                    }
                );
            }
            audited(&plan, AuditKind::DeletionCancelled);
        }
    }

    fn record(kind: RecordKind, id: &str, version: u64) -> Record {
        Record {
            kind,
            id: id.into(),
            version,
            parent: None,
            lookup: None,
            expires_at: None,
            body: "{}".into(),
        }
    }

    fn due_schedule(due: Timestamp) -> (Record, DeletionSchedule) {
        (
            record(RecordKind::DeletionSchedule, "acc_1", 1),
            DeletionSchedule {
                account_id: "acc_1".into(),
                due,
                requested_by: "acc_1".into(),
            },
        )
    }

    #[test]
    fn a_due_deletion_removes_everything_the_account_owns_and_voids_its_tokens() {
        let config = config();
        let full = || DueDeletion {
            schedule: Some(due_schedule(NOW)),
            account: Some(record(RecordKind::Account, "acc_1", 6)),
            credentials: Some(record(RecordKind::DbCredentials, "acc_1", 2)),
            sessions: vec![
                (
                    record(RecordKind::Session, "ses_1", 3),
                    vec![record(RecordKind::RefreshToken, "rt_1", 1)],
                ),
                (record(RecordKind::Session, "ses_2", 1), vec![]),
            ],
            owned: vec![
                record(RecordKind::ApiToken, "api_1", 1),
                record(RecordKind::ElevationRequest, "elr_1", 1),
            ],
            memberships: vec![
                (
                    record(RecordKind::MembershipByAccount, "m_1", 1),
                    Some(record(RecordKind::Membership, "org_1/acc_1", 5)),
                ),
                (record(RecordKind::MembershipByAccount, "m_2", 1), None),
            ],
        };
        let all = [
            "deletion_schedule acc_1 1",
            "account acc_1 6",
            "db_credentials acc_1 2",
            "refresh_token rt_1 1",
            "session ses_1 3",
            "session ses_2 1",
            "api_token api_1 1",
            "elevation_request elr_1 1",
            "membership org_1/acc_1 5",
            "membership_by_account m_1 1",
            "membership_by_account m_2 1",
        ];
        // (what was loaded, carried out, deletions, account voided)
        let cases: [(DueDeletion, bool, &[&str], bool); 5] = [
            (DueDeletion::default(), false, &[], false),
            (
                DueDeletion {
                    schedule: Some(due_schedule(NOW.plus(Duration::from_millis(1)))),
                    ..full()
                },
                false,
                &[],
                false,
            ),
            (
                DueDeletion {
                    schedule: Some(due_schedule(NOW)),
                    ..DueDeletion::default()
                },
                true,
                &all[..1],
                false,
            ),
            (full(), true, &all, true),
            (
                DueDeletion {
                    credentials: None,
                    sessions: vec![],
                    owned: vec![],
                    memberships: vec![],
                    ..full()
                },
                true,
                &all[..2],
                true,
            ),
        ];
        for (loaded, carried_out, deleted, voided) in cases {
            let plan = delete_due_account(loaded, NOW, &config);
            assert_eq!(plan.output, carried_out);
            let got: Vec<String> = plan
                .commit
                .writes
                .iter()
                .map(|w| match w {
                    Write::Delete {
                        kind,
                        id,
                        expected_version,
                    } => format!("{} {id} {expected_version}", kind.as_str()),
                    other => panic!("only deletions: {other:?}"),
                })
                .collect();
            assert_eq!(got, deleted);
            if !voided {
                assert!(plan.commit.revocations.is_empty());
                assert!(plan.commit.audit.is_empty());
                continue;
            }
            let outlives = config
                .longest_token_ttl()
                .max(config.api_token_max_ttl)
                .max(config.session_ttl);
            assert_eq!(
                plan.commit.revocations,
                vec![account_tokens_before(
                    "acc_1",
                    Timestamp::MAX,
                    NOW.plus(outlives)
                )]
            );
            let [event] = plan.commit.audit.as_slice() else {
                panic!("one audit event");
            };
            assert_eq!(event.kind, AuditKind::AccountDeleted);
            assert_eq!(event.account.as_deref(), Some("acc_1"));
            assert_eq!(event.actor, None);
        }
    }

    #[test]
    fn the_sweep_forgets_idle_throttles_and_audits_its_counts() {
        let cases = [
            (NOW, NOW.minus(THROTTLE_IDLE)),
            (Timestamp::MIN, Timestamp::MIN),
        ];
        for (now, since) in cases {
            assert_eq!(throttle_idle_since(now), since);
        }
        assert!(deletion_due(&due_schedule(NOW).1, NOW));
        assert!(!deletion_due(
            &due_schedule(NOW.plus(Duration::from_millis(1))).1,
            NOW
        ));

        let pruned = PruneReport {
            records: vec![(RecordKind::Session, 3), (RecordKind::ApiToken, 1)],
            throttles: 2,
            revocations: 5,
        };
        let plan = sweep_completed(vec!["acc_1".into(), "acc_2".into()], pruned.clone(), NOW);
        assert_eq!(plan.output.deleted_accounts, ["acc_1", "acc_2"]);
        assert_eq!(plan.output.pruned, pruned);
        assert!(plan.commit.writes.is_empty() && plan.commit.revocations.is_empty());
        let [event] = plan.commit.audit.as_slice() else {
            panic!("one audit event");
        };
        assert_eq!(event.kind, AuditKind::SweepCompleted);
        assert_eq!(event.at, NOW);
        let details: Vec<(&str, &str)> = event
            .detail
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            details,
            [
                ("api_token", "1"),
                ("deleted_accounts", "2"),
                ("revocations", "5"),
                ("session", "3"),
                ("throttles", "2"),
            ]
        );
    }
}
