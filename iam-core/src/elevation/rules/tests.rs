//! Table tests of the elevation rules: every decision with its denials and the exact plan
//! (writes and versions, throttle updates, revocations, audit) it carries.

use super::*;
use crate::account::AccountKind;
use crate::authz::CredentialKind;
use crate::fixtures;
use crate::secret::MasterKey;
use crate::totp::TotpState;

const NOW: Timestamp = Timestamp::from_millis(10_000_000);
const MINUTE: Duration = Duration::from_secs(60);
/// The account and session versions every fixture is read at.
const ACCOUNT_V: u64 = 3;
const SESSION_V: u64 = 5;

fn at(offset_secs: i64) -> Timestamp {
    Timestamp::from_millis(10_000_000 + offset_secs * 1_000)
}

/// A human account `id` holding `elevatable` roles, without TOTP.
fn account(id: &str, elevatable: &[&str]) -> Loaded<StoredAccount> {
    let account = StoredAccount {
        username: format!("user-{id}"),
        created_at: at(-3_600),
        password_hash: Some("$argon2id$stub".to_owned()),
        elevatable_roles: fixtures::set(elevatable),
        ..fixtures::stored_account(id, AccountKind::Human, &[])
    };
    let mut record = account_record(&account).expect("account record");
    record.version = ACCOUNT_V;
    (record, account)
}

/// `account` with confirmed TOTP whose last accepted step is `last_step`.
fn with_totp(mut account: Loaded<StoredAccount>, last_step: Option<u64>) -> Loaded<StoredAccount> {
    account.1.totp = Some(TotpState {
        sealed_secret: "sealed".to_owned(),
        confirmed: true,
        last_step,
    });
    account
}

/// Session `ses_1` of `owner`, expiring `expires_in` seconds from now, with `elevations`.
fn session(owner: &str, expires_in: i64, elevations: &[(&str, i64)]) -> Loaded<Session> {
    let session = Session {
        elevations: elevations
            .iter()
            .map(|(role, until)| ActiveElevation {
                role: (*role).to_owned(),
                since: at(-60),
                until: at(*until),
            })
            .collect(),
        ..fixtures::session("ses_1", owner, at(-600), at(expires_in))
    };
    let mut record = session_record(&session).expect("session record");
    record.version = SESSION_V;
    (record, session)
}

fn revoked(mut loaded: Loaded<Session>) -> Loaded<Session> {
    loaded.1.revoked_at = Some(at(-1));
    loaded
}

/// A human session token of `account_id` carrying `roles`.
fn principal(account_id: &str, roles: &[&str], kind: AccountKind) -> Principal {
    let p = fixtures::principal(account_id, CredentialKind::Session, roles);
    Principal {
        session_id: "ses_9".to_owned(),
        token_id: "tok_9".to_owned(),
        kind,
        ..fixtures::issued(p, at(-10), at(600))
    }
}

/// One line per write: what it does, to which record, at which version.
fn writes(commit: &crate::store::Commit) -> Vec<String> {
    commit
        .writes
        .iter()
        .map(|w| match w {
            Write::Insert(r) => format!("insert {:?} {} @{}", r.kind, r.id, r.version),
            Write::Update {
                record,
                expected_version,
            } => format!("update {:?} {} @{expected_version}", record.kind, record.id),
            Write::Delete {
                kind,
                id,
                expected_version,
            } => format!("delete {kind:?} {id} @{expected_version}"),
            Write::Check {
                kind,
                id,
                expected_version,
            } => format!("check {kind:?} {id} @{expected_version}"),
        })
        .collect()
}

/// The body of the written record of `kind`.
fn written<T: serde::de::DeserializeOwned>(commit: &crate::store::Commit, kind: RecordKind) -> T {
    let body = commit
        .writes
        .iter()
        .find_map(|w| match w {
            Write::Update { record, .. } | Write::Insert(record) if record.kind == kind => {
                Some(&record.body)
            }
            _ => None,
        })
        .expect("a write of that kind");
    crate::record_body::from_body(body).expect("body")
}

fn audit_kinds(commit: &crate::store::Commit) -> Vec<AuditKind> {
    commit.audit.iter().map(|a| a.kind).collect()
}

fn reset(account_id: &str) -> ThrottleWrite {
    ThrottleWrite::Reset {
        key: format!("stepup:{account_id}"),
    }
}

/// The error as the caller sees it (errors do not compare, their debug form does).
fn error<T: std::fmt::Debug>(result: Result<T>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => format!("{e:?}"),
    }
}

fn denied(denial: Denial) -> String {
    format!("{:?}", Error::from(denial))
}

#[test]
fn step_up_throttle_key_names_the_account() {
    assert_eq!(step_up_throttle_key("acc_1"), "stepup:acc_1");
    assert_ne!(step_up_throttle_key("acc_1"), step_up_throttle_key("acc_2"));
}

#[test]
fn step_up_policies_ask_for_their_proofs() {
    let cases = [
        (StepUp::None, (false, false)),
        (StepUp::Password, (true, false)),
        (StepUp::Totp, (false, true)),
        (StepUp::PasswordAndTotp, (true, true)),
    ];
    for (step_up, wanted) in cases {
        assert_eq!(wanted_proofs(step_up), wanted, "{step_up:?}");
    }
}

#[test]
fn reauthentication_asks_for_totp_only_when_it_is_on() {
    let mut pending = with_totp(account("acc_1", &[]), None).1;
    if let Some(t) = pending.totp.as_mut() {
        t.confirmed = false;
    }
    let cases = [
        (account("acc_1", &[]).1, StepUp::Password),
        (pending, StepUp::Password),
        (
            with_totp(account("acc_1", &[]), None).1,
            StepUp::PasswordAndTotp,
        ),
    ];
    for (account, step_up) in cases {
        assert_eq!(reauthentication_step_up(&account), step_up);
    }
}

#[test]
fn elevation_duration_defaults_to_and_is_capped_by_the_policy() {
    let policy = ElevationPolicy {
        max_duration: 30 * MINUTE,
        ..ElevationPolicy::default()
    };
    let too_long = format!(
        "{:?}",
        Error::from(InvalidInput::DurationTooLong { max_secs: 1_800 })
    );
    let zero = format!("{:?}", Error::from(InvalidInput::ExpiryInPast));
    let cases: [(Option<Duration>, Result<Duration, String>); 5] = [
        (None, Ok(30 * MINUTE)),
        (Some(MINUTE), Ok(MINUTE)),
        (Some(30 * MINUTE), Ok(30 * MINUTE)),
        (Some(30 * MINUTE + Duration::from_millis(1)), Err(too_long)),
        (Some(Duration::ZERO), Err(zero)),
    ];
    for (requested, expected) in cases {
        let got = elevation_duration(requested, &policy).map_err(|e| format!("{e:?}"));
        assert_eq!(got, expected, "{requested:?}");
    }
}

#[test]
fn only_elevatable_roles_may_be_elevated_to() {
    let (_, a) = account("acc_1", &["ops"]);
    assert_eq!(may_elevate(&a, "ops"), Ok(()));
    assert_eq!(may_elevate(&a, "dba"), Err(Denial::ElevationNotAllowed));
}

#[test]
fn failed_step_ups_are_audited_without_secrets() {
    let e = elevation_step_up_failed("acc_1", "ses_1", "ops", NOW);
    assert_eq!(
        (e.kind, e.at, e.actor.as_deref(), e.account.as_deref()),
        (
            AuditKind::ElevationDenied,
            NOW,
            Some("acc_1"),
            Some("acc_1")
        )
    );
    assert_eq!(e.session.as_deref(), Some("ses_1"));
    assert_eq!(e.detail.get("role").map(String::as_str), Some("ops"));
    assert_eq!(
        e.detail.get("reason").map(String::as_str),
        Some("step_up_failed")
    );
    let r = reauthentication_failed("acc_1", "ses_1", NOW);
    assert_eq!(r.kind, AuditKind::SessionReauthenticationDenied);
    assert_eq!(
        (r.actor.as_deref(), r.session.as_deref()),
        (Some("acc_1"), Some("ses_1"))
    );
    assert!(r.detail.is_empty());
}

fn ask(totp_step: Option<u64>, proved: bool, approval: bool) -> ElevationAsk<'static> {
    ElevationAsk {
        role: "ops",
        duration: 10 * MINUTE,
        proved,
        totp_step,
        approval: approval.then(|| ("elr_1".to_owned(), 15 * MINUTE)),
    }
}

#[test]
fn elevation_is_denied_without_the_role_or_a_live_own_session_or_with_a_replayed_code() {
    // (case, account, session, TOTP step used, denial)
    type Case = (
        &'static str,
        Loaded<StoredAccount>,
        Option<Loaded<Session>>,
        Option<u64>,
        Denial,
    );
    let holder = with_totp(account("acc_1", &["ops"]), Some(40));
    let live = session("acc_1", 3_600, &[]);
    let cases: [Case; 6] = [
        (
            "role not held",
            account("acc_1", &["dba"]),
            Some(live.clone()),
            None,
            Denial::ElevationNotAllowed,
        ),
        (
            "no session",
            holder.clone(),
            None,
            None,
            Denial::SessionRevoked,
        ),
        (
            "another account's session",
            holder.clone(),
            Some(session("acc_2", 3_600, &[])),
            None,
            Denial::NotPermitted,
        ),
        (
            "revoked session",
            holder.clone(),
            Some(revoked(live.clone())),
            None,
            Denial::SessionRevoked,
        ),
        (
            "expired session",
            holder.clone(),
            Some(session("acc_1", 0, &[])),
            None,
            Denial::SessionExpired,
        ),
        (
            "replayed TOTP step",
            holder,
            Some(live),
            Some(40),
            Denial::BadCredentials,
        ),
    ];
    for (name, account, session, step, denial) in cases {
        for approval in [false, true] {
            let got = elevate(&account, session.as_ref(), &ask(step, true, approval), NOW);
            assert_eq!(error(got), denied(denial.clone()), "{name}");
        }
    }
}

#[test]
fn elevation_opens_the_role_on_the_session_and_pins_the_account() {
    // (TOTP step, proved, the writes, throttle updates)
    type Case<'a> = (Option<u64>, bool, &'a [&'a str], Vec<ThrottleWrite>);
    let cases: [Case<'_>; 3] = [
        (
            None,
            false,
            &["check Account acc_1 @3", "update Session ses_1 @5"],
            vec![],
        ),
        (
            None,
            true,
            &["check Account acc_1 @3", "update Session ses_1 @5"],
            vec![reset("acc_1")],
        ),
        (
            Some(41),
            true,
            &["update Account acc_1 @3", "update Session ses_1 @5"],
            vec![reset("acc_1")],
        ),
    ];
    let holder = with_totp(account("acc_1", &["ops"]), Some(40));
    let live = session("acc_1", 3_600, &[("dba", 60), ("old", -1)]);
    for (step, proved, expected_writes, throttle) in cases {
        let plan = elevate(&holder, Some(&live), &ask(step, proved, false), NOW).expect("plan");
        assert_eq!(writes(&plan.commit), expected_writes, "{step:?} {proved}");
        assert_eq!(plan.commit.throttle, throttle);
        assert!(plan.commit.revocations.is_empty());
        assert_eq!(audit_kinds(&plan.commit), [AuditKind::ElevationActivated]);
        let opened = ActiveElevation {
            role: "ops".to_owned(),
            since: NOW,
            until: NOW.plus(10 * MINUTE),
        };
        let audit = &plan.commit.audit[0];
        assert_eq!(audit.detail.get("until"), Some(&opened.until.to_rfc3339()));
        let stored: Session = written(&plan.commit, RecordKind::Session);
        let Elevated::Open { elevation, session } = plan.output else {
            panic!("the role opens");
        };
        assert_eq!(elevation, opened);
        assert_eq!(stored, session);
        let roles: Vec<&str> = session.elevations.iter().map(|e| e.role.as_str()).collect();
        assert_eq!(roles, ["dba", "ops"], "the lapsed opening is dropped");
        if step.is_some() {
            let a: StoredAccount = written(&plan.commit, RecordKind::Account);
            assert_eq!(a.totp.and_then(|t| t.last_step), Some(41));
        }
    }
}

#[test]
fn elevation_needing_approval_files_a_request_against_the_session_as_read() {
    let holder = with_totp(account("acc_1", &["ops"]), Some(40));
    let live = session("acc_1", 3_600, &[]);
    for (step, account_write) in [
        (None, "check Account acc_1 @3"),
        (Some(41), "update Account acc_1 @3"),
    ] {
        let plan = elevate(&holder, Some(&live), &ask(step, true, true), NOW).expect("plan");
        assert_eq!(
            writes(&plan.commit),
            [
                account_write,
                "check Session ses_1 @5",
                "insert ElevationRequest elr_1 @0"
            ]
        );
        assert_eq!(plan.commit.throttle, [reset("acc_1")]);
        assert_eq!(audit_kinds(&plan.commit), [AuditKind::ElevationRequested]);
        assert_eq!(
            plan.commit.audit[0]
                .detail
                .get("request")
                .map(String::as_str),
            Some("elr_1")
        );
        let expires_at = NOW.plus(15 * MINUTE);
        assert_eq!(
            plan.output,
            Elevated::Pending {
                request_id: "elr_1".to_owned(),
                expires_at,
            }
        );
        let request: ElevationRequest = written(&plan.commit, RecordKind::ElevationRequest);
        assert_eq!(
            request,
            ElevationRequest {
                id: "elr_1".to_owned(),
                account_id: "acc_1".to_owned(),
                session_id: "ses_1".to_owned(),
                role: "ops".to_owned(),
                duration_ms: 600_000,
                created_at: NOW,
                expires_at,
            }
        );
    }
}

#[test]
fn opening_a_role_never_shortens_it_nor_outlives_the_session() {
    // (session ends in, the role's current opening ends in, asked until, expected until)
    let cases: [(i64, Option<i64>, i64, i64); 4] = [
        (3_600, None, 600, 600),
        (300, None, 600, 300),
        (3_600, Some(900), 600, 900),
        (3_600, Some(300), 600, 600),
    ];
    for (session_end, current, asked, expected) in cases {
        let open: Vec<(&str, i64)> = current.map(|c| ("ops", c)).into_iter().collect();
        let (_, mut s) = session("acc_1", session_end, &open);
        let e = open_elevation(&mut s, "ops", NOW, at(asked));
        assert_eq!(e.until, at(expected), "{session_end} {current:?} {asked}");
        assert_eq!(s.elevations, [e]);
    }
}

#[test]
fn reauthentication_is_denied_without_a_live_own_session_or_with_a_replayed_code() {
    let holder = with_totp(account("acc_1", &[]), Some(40));
    let cases: [(Option<Loaded<Session>>, Option<u64>, Denial); 5] = [
        (None, None, Denial::SessionRevoked),
        (
            Some(session("acc_2", 3_600, &[])),
            None,
            Denial::NotPermitted,
        ),
        (
            Some(revoked(session("acc_1", 3_600, &[]))),
            None,
            Denial::SessionRevoked,
        ),
        (
            Some(session("acc_1", -5, &[])),
            None,
            Denial::SessionExpired,
        ),
        (
            Some(session("acc_1", 3_600, &[])),
            Some(39),
            Denial::BadCredentials,
        ),
    ];
    for (session, step, denial) in cases {
        let checked = StepUpChecked {
            totp_step: step,
            passkey_amr: None,
        };
        let got = reauthenticate(&holder, session.as_ref(), &checked, NOW);
        assert_eq!(error(got), denied(denial.clone()), "{denial:?}");
    }
}

#[test]
fn reauthentication_renews_the_sign_in_and_clears_the_back_off() {
    // (TOTP on, step used, passkey amr, account write, amr)
    type Case<'a> = (
        bool,
        Option<u64>,
        Option<&'a [&'a str]>,
        &'a str,
        &'a [&'a str],
    );
    let cases: [Case<'_>; 4] = [
        (false, None, None, "check Account acc_1 @3", &["pwd"]),
        (
            true,
            Some(7),
            None,
            "update Account acc_1 @3",
            &["pwd", "otp"],
        ),
        // TOTP removed since the proof: nothing to spend.
        (false, Some(7), None, "check Account acc_1 @3", &["pwd"]),
        // A passkey answered: its methods replace the password's.
        (
            true,
            None,
            Some(&["hwk", "user"]),
            "check Account acc_1 @3",
            &["hwk", "user"],
        ),
    ];
    let live = session("acc_1", 3_600, &[("ops", 60)]);
    for (totp, step, passkey_amr, account_write, amr) in cases {
        let holder = if totp {
            with_totp(account("acc_1", &[]), None)
        } else {
            account("acc_1", &[])
        };
        let checked = StepUpChecked {
            totp_step: step,
            passkey_amr: passkey_amr.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        };
        let plan = reauthenticate(&holder, Some(&live), &checked, NOW).expect("plan");
        assert_eq!(
            writes(&plan.commit),
            [account_write, "update Session ses_1 @5"]
        );
        assert_eq!(plan.commit.throttle, [reset("acc_1")]);
        assert!(plan.commit.revocations.is_empty());
        assert_eq!(
            audit_kinds(&plan.commit),
            [AuditKind::SessionReauthenticated]
        );
        let stored: Session = written(&plan.commit, RecordKind::Session);
        assert_eq!(stored, plan.output);
        assert_eq!(plan.output.auth_time, NOW);
        assert_eq!(plan.output.amr, amr);
        assert_eq!(plan.output.elevations, live.1.elevations);
    }
}

#[test]
fn ending_an_elevation_revokes_the_session_tokens_only_when_the_role_was_open() {
    // (elevations, elevations left when the role was open and ends)
    type Case<'a> = (&'a [(&'a str, i64)], Option<&'a [&'a str]>);
    let ttl = 15 * MINUTE;
    let cutoff = NOW.plus(Duration::from_millis(1));
    let cases: [Case<'_>; 4] = [
        (&[], None),
        (&[("ops", 0)], None),
        (&[("dba", 60)], None),
        (&[("ops", 60), ("dba", 60), ("old", -1)], Some(&["dba"])),
    ];
    for (open, left) in cases {
        let live = session("acc_1", 3_600, open);
        let plan = end_elevation("acc_1", Some(&live), "ops", cutoff, ttl, NOW).expect("decided");
        let Some(expected) = left else {
            assert!(plan.is_none(), "{open:?}: nothing to end");
            continue;
        };
        let plan = plan.expect("a plan");
        assert_eq!(writes(&plan.commit), ["update Session ses_1 @5"]);
        let stored: Session = written(&plan.commit, RecordKind::Session);
        let roles: Vec<&str> = stored.elevations.iter().map(|e| e.role.as_str()).collect();
        assert_eq!(roles, expected);
        assert_eq!(
            plan.commit.revocations,
            [RevocationChange::Put(Revocation {
                subject: RevokedSubject::Grant,
                id: "ses_1".to_owned(),
                issued_before: cutoff,
                until: NOW.plus(ttl),
            })]
        );
        assert!(plan.commit.throttle.is_empty());
        assert_eq!(audit_kinds(&plan.commit), [AuditKind::ElevationEnded]);
        assert_eq!(
            plan.commit.audit[0].detail.get("role").map(String::as_str),
            Some("ops")
        );
    }
}

#[test]
fn ending_an_elevation_needs_a_live_own_session() {
    let cases: [(Option<Loaded<Session>>, Denial); 3] = [
        (None, Denial::SessionRevoked),
        (
            Some(session("acc_2", 3_600, &[("ops", 60)])),
            Denial::NotPermitted,
        ),
        (
            Some(revoked(session("acc_1", 3_600, &[("ops", 60)]))),
            Denial::SessionRevoked,
        ),
    ];
    for (session, denial) in cases {
        let got = end_elevation("acc_1", session.as_ref(), "ops", NOW, MINUTE, NOW);
        assert_eq!(error(got), denied(denial.clone()), "{denial:?}");
    }
}

/// A configuration where `ops` needs approval by `sec` (at most 20 minutes) and `dba` none.
fn approval_config() -> Config {
    let mut config = Config::new(MasterKey::from_bytes([7; 32]));
    config.elevation.insert(
        "ops".to_owned(),
        ElevationPolicy {
            approver_role: Some("sec".to_owned()),
            max_duration: 20 * MINUTE,
            ..ElevationPolicy::default()
        },
    );
    config
}

/// A request `elr_1` (read at version 2) of `acc_1` for `role`, lasting `minutes`, open for
/// `expires_in` seconds more.
fn request(role: &str, minutes: u64, expires_in: i64) -> Loaded<ElevationRequest> {
    let request = ElevationRequest {
        id: "elr_1".to_owned(),
        account_id: "acc_1".to_owned(),
        session_id: "ses_1".to_owned(),
        role: role.to_owned(),
        duration_ms: minutes * 60_000,
        created_at: at(-60),
        expires_at: at(expires_in),
    };
    let mut record = request_record(&request).expect("request record");
    record.version = 2;
    (record, request)
}

/// The approver's account `acc_9`, holding `sec` as a standing role.
fn approver_account() -> Loaded<StoredAccount> {
    let mut loaded = account("acc_9", &[]);
    loaded.1.roles.insert("sec".to_owned());
    loaded.0.version = 7;
    loaded
}

#[test]
fn requests_await_only_approvers_of_their_role() {
    let config = approval_config();
    let approver = principal("acc_9", &["sec"], AccountKind::Human);
    let cases = [
        ("open", request("ops", 5, 60).1, &approver, true),
        ("lapsed", request("ops", 5, 0).1, &approver, false),
        (
            "needs no approval",
            request("dba", 5, 60).1,
            &approver,
            false,
        ),
        (
            "own request",
            request("ops", 5, 60).1,
            &principal("acc_1", &["sec"], AccountKind::Human),
            false,
        ),
        (
            "approver role not carried",
            request("ops", 5, 60).1,
            &principal("acc_9", &["ops"], AccountKind::Human),
            false,
        ),
    ];
    for (name, request, approver, shown) in cases {
        assert_eq!(
            awaits_approver(&request, approver, &config, NOW),
            shown,
            "{name}"
        );
    }
}

/// What an answer reads in the usual case: everything present and in order.
struct Reads {
    request: Option<Loaded<ElevationRequest>>,
    approver_account: Option<Loaded<StoredAccount>>,
    requester_account: Option<Loaded<StoredAccount>>,
    requester_session: Option<Loaded<Session>>,
}

impl Reads {
    fn usual() -> Self {
        Reads {
            request: Some(request("ops", 10, 60)),
            approver_account: Some(approver_account()),
            requester_account: Some(account("acc_1", &["ops"])),
            requester_session: Some(session("acc_1", 3_600, &[])),
        }
    }

    fn answer(&self, approver: &Principal, approve: bool) -> Result<Plan<Option<ActiveElevation>>> {
        let state = AnswerState {
            request: self.request.as_ref(),
            approver_account: self.approver_account.as_ref(),
            requester_account: self.requester_account.as_ref(),
            requester_session: self.requester_session.as_ref(),
        };
        answer_elevation(approver, state, approve, &approval_config(), NOW)
    }
}

#[test]
fn answers_need_an_open_request_and_an_approver_still_holding_the_role() {
    let approver = principal("acc_9", &["sec"], AccountKind::Human);
    let mut disabled = approver_account();
    disabled.1.disabled = true;
    let mut role_lost = approver_account();
    role_lost.1.roles.clear();
    let missing_role = denied(Denial::MissingRole("sec".to_owned()));
    let cases: Vec<(&str, Reads, Principal, String)> = vec![
        (
            "no request",
            Reads {
                request: None,
                ..Reads::usual()
            },
            approver.clone(),
            denied(Denial::ElevationRequestClosed),
        ),
        (
            "lapsed request",
            Reads {
                request: Some(request("ops", 10, 0)),
                ..Reads::usual()
            },
            approver.clone(),
            denied(Denial::ElevationRequestClosed),
        ),
        (
            "role needs no approval",
            Reads {
                request: Some(request("dba", 10, 60)),
                ..Reads::usual()
            },
            approver.clone(),
            format!("{:?}", Error::State(Conflict::RoleNeedsNoApproval)),
        ),
        (
            "own request",
            Reads::usual(),
            principal("acc_1", &["sec"], AccountKind::Human),
            denied(Denial::SelfApproval),
        ),
        (
            "token without the approver role",
            Reads::usual(),
            principal("acc_9", &["ops"], AccountKind::Human),
            missing_role.clone(),
        ),
        (
            "system account",
            Reads::usual(),
            principal("acc_9", &["sec"], AccountKind::System),
            denied(Denial::WrongTokenKind),
        ),
        (
            "approver account gone",
            Reads {
                approver_account: None,
                ..Reads::usual()
            },
            approver.clone(),
            denied(Denial::NotPermitted),
        ),
        (
            "approver disabled",
            Reads {
                approver_account: Some(disabled),
                ..Reads::usual()
            },
            approver.clone(),
            denied(Denial::AccountDisabled),
        ),
        (
            "approver lost the role",
            Reads {
                approver_account: Some(role_lost),
                ..Reads::usual()
            },
            approver.clone(),
            missing_role,
        ),
    ];
    for (name, reads, approver, expected) in cases {
        for approve in [false, true] {
            assert_eq!(error(reads.answer(&approver, approve)), expected, "{name}");
        }
    }
}

#[test]
fn approval_needs_the_requesters_live_session_and_role() {
    let approver = principal("acc_9", &["sec"], AccountKind::Human);
    let mut disabled = account("acc_1", &["ops"]);
    disabled.1.disabled = true;
    let cases: [(&str, Reads, String); 5] = [
        (
            "session gone",
            Reads {
                requester_session: None,
                ..Reads::usual()
            },
            denied(Denial::ElevationRequestClosed),
        ),
        (
            "session revoked",
            Reads {
                requester_session: Some(revoked(session("acc_1", 3_600, &[]))),
                ..Reads::usual()
            },
            denied(Denial::ElevationRequestClosed),
        ),
        (
            "account gone",
            Reads {
                requester_account: None,
                ..Reads::usual()
            },
            format!("{:?}", Error::NotFound(Missing::Account)),
        ),
        (
            "account disabled",
            Reads {
                requester_account: Some(disabled),
                ..Reads::usual()
            },
            denied(Denial::ElevationNotAllowed),
        ),
        (
            "role revoked since asking",
            Reads {
                requester_account: Some(account("acc_1", &[])),
                ..Reads::usual()
            },
            denied(Denial::ElevationNotAllowed),
        ),
    ];
    for (name, reads, expected) in cases {
        assert_eq!(error(reads.answer(&approver, true)), expected, "{name}");
        // Denying rests on none of these.
        assert!(reads.answer(&approver, false).is_ok(), "{name}: deny");
    }
}

#[test]
fn denial_consumes_the_request_against_the_approvers_standing() {
    let approver = principal("acc_9", &["sec"], AccountKind::Human);
    let plan = Reads::usual().answer(&approver, false).expect("plan");
    assert_eq!(plan.output, None);
    assert_eq!(
        writes(&plan.commit),
        ["delete ElevationRequest elr_1 @2", "check Account acc_9 @7"]
    );
    assert_eq!(audit_kinds(&plan.commit), [AuditKind::ElevationDenied]);
    let audit = &plan.commit.audit[0];
    assert_eq!(
        (
            audit.actor.as_deref(),
            audit.account.as_deref(),
            audit.session.as_deref()
        ),
        (Some("acc_9"), Some("acc_1"), Some("ses_1"))
    );
    assert_eq!(
        audit.detail.get("request").map(String::as_str),
        Some("elr_1")
    );
    assert!(plan.commit.throttle.is_empty() && plan.commit.revocations.is_empty());
}

#[test]
fn approval_opens_the_role_for_the_requested_time_capped_by_the_policy() {
    // (requested minutes, approver's account, opened for minutes); the policy allows 20.
    let mut elevating_approver = account("acc_9", &["sec"]);
    elevating_approver.0.version = 7;
    let cases = [
        (10, approver_account(), 10),
        (45, approver_account(), 20),
        (10, elevating_approver, 10),
    ];
    let approver = principal("acc_9", &["sec"], AccountKind::Human);
    for (minutes, approver_account, opened) in cases {
        let reads = Reads {
            request: Some(request("ops", minutes, 60)),
            approver_account: Some(approver_account),
            ..Reads::usual()
        };
        let plan = reads.answer(&approver, true).expect("plan");
        assert_eq!(
            writes(&plan.commit),
            [
                "delete ElevationRequest elr_1 @2",
                "check Account acc_9 @7",
                "check Account acc_1 @3",
                "update Session ses_1 @5",
            ]
        );
        assert_eq!(
            audit_kinds(&plan.commit),
            [AuditKind::ElevationApproved, AuditKind::ElevationActivated]
        );
        let expected = ActiveElevation {
            role: "ops".to_owned(),
            since: NOW,
            until: NOW.plus(opened * MINUTE),
        };
        let stored: Session = written(&plan.commit, RecordKind::Session);
        assert_eq!(stored.elevations, std::slice::from_ref(&expected));
        assert_eq!(plan.output, Some(expected));
        assert_eq!(plan.commit.audit[1].actor.as_deref(), Some("acc_1"));
    }
}
