//! Service accounts, API tokens, the credentials vault, elevation, lifecycle and membership.

mod common;

use iam_core::{Caller, Clock as _};
use std::time::Duration;

use iam_core::audit::{AuditKind, AuditQuery};
use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::store::{RecordKind, Store};
use iam_core::{
    DbCredentials, Denial, ElevationOutcome, Error, Iam, InvalidInput, LoginRequest, ManualClock,
    MemoryStore, NewAccount, Principal, SecretString, StepUpProof,
};

const PW: &str = "a long enough password";
const SVC: &str = "svc-billing";

type TestIam = Iam<MemoryStore, ManualClock>;

/// Creates a human account with `roles`, logs it in and returns its principal and tokens.
async fn user<S: Store>(
    iam: &Iam<S, ManualClock>,
    name: &str,
    roles: &[&str],
) -> (Principal, iam_core::LoginSuccess) {
    iam.create_account(
        NewAccount::human(name, PW).with_roles(roles.iter().copied()),
        Caller::System,
    )
    .await
    .expect("create account");
    let login = iam
        .login(&LoginRequest::password(name, PW))
        .await
        .expect("login");
    let principal = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify fresh token");
    (principal, login)
}

fn denial<T: std::fmt::Debug>(r: Result<T, Error>) -> Denial {
    match r {
        Err(Error::Denied(d)) => d,
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn creds(password: &str) -> DbCredentials {
    DbCredentials {
        host: "db.internal".into(),
        port: 5432,
        database: "billing".into(),
        user: "billing_app".into(),
        password: SecretString::new(password.to_owned()),
    }
}

fn password_proof() -> StepUpProof {
    StepUpProof {
        password: Some(SecretString::new(PW.to_owned())),
        totp_code: None,
        passkey: None,
    }
}

/// The actors of the permission table.
struct Cast {
    admin: Principal,
    role_holder: Principal,
    other: Principal,
    service: Principal,
    service_id: String,
}

async fn cast(iam: &TestIam) -> Cast {
    let (admin, _) = user(iam, "admin", &["admin"]).await;
    let (role_holder, _) = user(iam, "holder", &[SVC]).await;
    let (other, _) = user(iam, "other", &["staff"]).await;
    let sa = iam
        .create_account(NewAccount::system(SVC), Caller::System)
        .await
        .expect("create service account");
    let token = iam
        .issue_service_token(&admin, &sa.id)
        .await
        .expect("admin issues");
    let service = iam.verify(token.token.expose()).await.expect("verify");
    iam.store_db_credentials(&admin, &sa.id, &creds("s3cret-db-pass"))
        .await
        .expect("admin stores credentials");
    Cast {
        admin,
        role_holder,
        other,
        service,
        service_id: sa.id,
    }
}

#[tokio::test]
async fn permission_table() {
    let (iam, _) = common::iam().await;
    let c = cast(&iam).await;
    let sa = c.service_id.as_str();
    let not = Some(Denial::NotPermitted);

    // (rule, actor, expected denial or None for allowed)
    let issue: [(&str, &Principal, Option<Denial>); 4] = [
        ("admin issues a service token", &c.admin, None),
        ("holder of the same-named role issues", &c.role_holder, None),
        ("anyone else may not issue", &c.other, not.clone()),
        ("the service itself may not issue", &c.service, not.clone()),
    ];
    for (rule, actor, expected) in issue {
        assert_eq!(
            iam.issue_service_token(actor, sa)
                .await
                .err()
                .and_then(|e| e.denial().cloned()),
            expected,
            "{rule}"
        );
    }
    let revoke: [(&str, &Principal, Option<Denial>); 3] = [
        (
            "the role holder may not revoke",
            &c.role_holder,
            not.clone(),
        ),
        ("anyone else may not revoke", &c.other, not.clone()),
        ("admin revokes a service token", &c.admin, None),
    ];
    for (rule, actor, expected) in revoke {
        assert_eq!(
            iam.revoke_service_token(actor, sa)
                .await
                .err()
                .and_then(|e| e.denial().cloned()),
            expected,
            "{rule}"
        );
    }
    let store: [(&str, &Principal, Option<Denial>); 3] = [
        ("admin stores credentials", &c.admin, None),
        ("the role holder may not store", &c.role_holder, not.clone()),
        ("anyone else may not store", &c.other, not.clone()),
    ];
    for (rule, actor, expected) in store {
        assert_eq!(
            iam.store_db_credentials(actor, sa, &creds("s3cret-db-pass"))
                .await
                .err()
                .and_then(|e| e.denial().cloned()),
            expected,
            "{rule}"
        );
    }
    let fetch: [(&str, &Principal, Option<Denial>); 4] = [
        ("the service account fetches its own", &c.service, None),
        ("the role holder fetches", &c.role_holder, None),
        (
            "admin without the role may not fetch",
            &c.admin,
            not.clone(),
        ),
        ("anyone else may not fetch", &c.other, not.clone()),
    ];
    for (rule, actor, expected) in fetch {
        let got = iam.fetch_db_credentials(actor, sa).await;
        match expected {
            None => assert_eq!(
                got.expect(rule).password.expose(),
                "s3cret-db-pass",
                "{rule}"
            ),
            Some(d) => assert_eq!(denial(got), d, "{rule}"),
        }
    }
    let denied = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::CredentialsDenied),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    assert_eq!(denied.len(), 4, "every refused store and fetch is audited");

    // API tokens: the owner and admins may revoke; nobody else.
    let token = iam
        .create_api_token(
            &c.other,
            "ci",
            &["staff".into()],
            iam_now(&iam).plus(Duration::from_secs(3600)),
        )
        .await
        .expect("create API token");
    let revoke_pat: [(&str, &Principal, Option<Denial>); 2] = [
        (
            "a stranger may not revoke an API token",
            &c.role_holder,
            not.clone(),
        ),
        ("the owner revokes an API token", &c.other, None),
    ];
    for (rule, actor, expected) in revoke_pat {
        assert_eq!(
            iam.revoke_api_token(Caller::Principal(actor), &token.info.id)
                .await
                .err()
                .and_then(|e| e.denial().cloned()),
            expected,
            "{rule}"
        );
    }
    let token = iam
        .create_api_token(
            &c.other,
            "ci",
            &[],
            iam_now(&iam).plus(Duration::from_secs(3600)),
        )
        .await
        .expect("create API token");
    iam.revoke_api_token(Caller::Principal(&c.admin), &token.info.id)
        .await
        .expect("admin revokes an API token");

    // Deletion: the account itself and admins.
    let table: [(&str, &Principal, &str, Option<Denial>); 3] = [
        (
            "a stranger may not schedule deletion",
            &c.role_holder,
            &c.other.account_id,
            not.clone(),
        ),
        (
            "an account schedules its own deletion",
            &c.other,
            &c.other.account_id,
            None,
        ),
        (
            "admin schedules deletion",
            &c.admin,
            &c.role_holder.account_id,
            None,
        ),
    ];
    for (rule, actor, target, expected) in table {
        assert_eq!(
            iam.schedule_deletion(actor, target)
                .await
                .err()
                .and_then(|e| e.denial().cloned()),
            expected,
            "{rule}"
        );
    }
}

fn iam_now(iam: &TestIam) -> iam_core::Timestamp {
    use iam_core::clock::Clock as _;
    iam.clock().now()
}

#[tokio::test]
async fn service_tokens_one_at_a_time_renewable_and_expiring() {
    let (iam, clock) = common::iam().await;
    let (admin, _) = user(&iam, "admin", &["admin"]).await;
    let sa = iam
        .create_account(NewAccount::system(SVC), Caller::System)
        .await
        .expect("create");
    let first = iam
        .issue_service_token(&admin, &sa.id)
        .await
        .expect("issue");
    assert_eq!(
        first.expires_at,
        iam_now(&iam).plus(Duration::from_secs(30 * 24 * 3600)),
        "default lifetime is 30 days"
    );
    let holder = iam.verify(first.token.expose()).await.expect("verify");
    assert!(!holder.is_session_token());
    let second = iam
        .issue_service_token(&admin, &sa.id)
        .await
        .expect("issue again");
    assert_eq!(
        iam.verify(first.token.expose()).await,
        Err(Denial::SessionRevoked),
        "a new token revokes the previous one at once"
    );
    assert!(iam.verify(second.token.expose()).await.is_ok());
    assert_eq!(
        denial(iam.renew_service_token(&holder).await),
        Denial::TokenRevoked,
        "a replaced token cannot renew"
    );

    clock.advance(Duration::from_secs(29 * 24 * 3600));
    let holder = iam
        .verify(second.token.expose())
        .await
        .expect("still valid");
    let renewed = iam
        .renew_service_token(&holder)
        .await
        .expect("renew before expiry");
    assert_eq!(
        iam.verify(second.token.expose()).await,
        Err(Denial::SessionRevoked)
    );
    clock.advance(Duration::from_secs(29 * 24 * 3600));
    assert!(iam.verify(renewed.token.expose()).await.is_ok());
    clock.advance(Duration::from_secs(2 * 24 * 3600));
    assert_eq!(
        iam.verify(renewed.token.expose()).await,
        Err(Denial::TokenExpired)
    );

    // Human accounts get no service tokens; a logged-in human cannot "renew".
    let (human, _) = user(&iam, "hugo", &[]).await;
    assert!(matches!(
        iam.issue_service_token(&admin, &human.account_id).await,
        Err(Error::Invalid(InvalidInput::AccountKind(_)))
    ));
    assert_eq!(
        denial(iam.renew_service_token(&human).await),
        Denial::WrongTokenKind
    );
}

#[tokio::test]
async fn api_tokens_subset_of_roles_secret_once_revocable() {
    let (iam, clock) = common::iam().await;
    let (alice, _) = user(&iam, "alice", &["read", "write"]).await;
    let exp = iam_now(&iam).plus(Duration::from_secs(24 * 3600));
    assert_eq!(
        denial(
            iam.create_api_token(&alice, "x", &["admin".into()], exp)
                .await
        ),
        Denial::MissingRole("admin".into()),
        "scopes must be a subset of the owner's roles"
    );
    assert!(matches!(
        iam.create_api_token(&alice, "x", &[], iam_now(&iam)).await,
        Err(Error::Invalid(InvalidInput::ExpiryInPast))
    ));
    assert!(matches!(
        iam.create_api_token(
            &alice,
            "x",
            &[],
            iam_now(&iam).plus(Duration::from_secs(400 * 24 * 3600))
        )
        .await,
        Err(Error::Invalid(InvalidInput::DurationTooLong { .. }))
    ));
    let pat = iam
        .create_api_token(&alice, "deploy bot", &["read".into()], exp)
        .await
        .expect("create");
    assert!(pat.secret.expose().starts_with(iam_core::API_TOKEN_PREFIX));
    let p = iam
        .verify_api_token(pat.secret.expose())
        .await
        .expect("verify");
    assert_eq!(p.account_id, alice.account_id);
    assert_eq!(p.require_scope("read"), Ok(()));
    assert_eq!(
        p.require_scope("write"),
        Err(Denial::MissingScope("write".into()))
    );
    assert_eq!(
        denial(iam.create_api_token(&p, "chain", &[], exp).await),
        Denial::WrongTokenKind,
        "an API token cannot mint API tokens"
    );

    let listed = iam
        .list_api_tokens(Caller::System, &alice.account_id)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label, "deploy bot");
    let raw = iam
        .store()
        .list(RecordKind::ApiToken, &iam_core::store::ListQuery::default())
        .await
        .expect("raw");
    assert!(
        raw.iter()
            .all(|r| !r.body.contains(pat.secret.expose()) && r.id != pat.secret.expose()),
        "only a hash of the secret is stored"
    );

    iam.revoke_api_token(Caller::Principal(&alice), &pat.info.id)
        .await
        .expect("revoke");
    assert_eq!(
        iam.verify_api_token(pat.secret.expose()).await,
        Err(Denial::TokenRevoked),
        "revocation is immediate"
    );
    let other = iam
        .create_api_token(
            &alice,
            "short",
            &[],
            iam_now(&iam).plus(Duration::from_secs(60)),
        )
        .await
        .expect("create");
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        iam.verify_api_token(other.secret.expose()).await,
        Err(Denial::TokenExpired)
    );
    assert_eq!(
        iam.verify_api_token("iam_pat_nonsense").await,
        Err(Denial::ApiTokenInvalid)
    );
    assert_eq!(iam.verify_api_token("").await, Err(Denial::ApiTokenInvalid));
}

#[tokio::test]
async fn vault_seals_with_fresh_nonces_and_never_leaks_plaintext() {
    let shared = std::sync::Arc::new(MemoryStore::new());
    let clock = ManualClock::new(common::START);
    let iam = common::open_shared(&shared, &clock, 1).await.expect("open");
    let (admin, _) = user(&iam, "admin", &["admin", SVC]).await;
    let sa = iam
        .create_account(NewAccount::system(SVC), Caller::System)
        .await
        .expect("sa");
    let secret = "vault-plaintext-XYZ";
    iam.store_db_credentials(&admin, &sa.id, &creds(secret))
        .await
        .expect("store");
    let first = shared
        .get(RecordKind::DbCredentials, &sa.id)
        .await
        .expect("get")
        .expect("record");
    iam.store_db_credentials(&admin, &sa.id, &creds(secret))
        .await
        .expect("store again");
    let second = shared
        .get(RecordKind::DbCredentials, &sa.id)
        .await
        .expect("get")
        .expect("record");
    assert_ne!(
        first.body, second.body,
        "each write seals with a fresh nonce"
    );
    assert!(
        !second.body.contains(secret),
        "the store holds ciphertext only"
    );

    let fetched = iam
        .fetch_db_credentials(&admin, &sa.id)
        .await
        .expect("fetch");
    assert_eq!(fetched.password.expose(), secret);
    assert!(
        !format!("{fetched:?}").contains(secret),
        "Debug redacts the password"
    );
    let events = iam
        .audit_events(Caller::System, &AuditQuery::default())
        .await
        .expect("audit");
    assert!(events
        .iter()
        .any(|e| e.draft.kind == AuditKind::CredentialsStored));
    assert!(events
        .iter()
        .any(|e| e.draft.kind == AuditKind::CredentialsFetched));
    assert!(
        !format!("{events:?}").contains(secret),
        "plaintext never reaches the audit log"
    );

    // Another master key cannot open what this one sealed: a clear error, already at open.
    match common::open_shared(&shared, &clock, 2).await {
        Err(Error::Crypto(msg)) => assert!(msg.contains("master key"), "{msg}"),
        other => panic!("expected a crypto error naming the master key, got {other:?}"),
    }
}

fn elevation_config(config: &mut iam_core::Config) {
    config.elevation.insert(
        "open-only".into(),
        ElevationPolicy {
            step_up: StepUp::None,
            approver_role: None,
            max_duration: Duration::from_secs(600),
        },
    );
    config.elevation.insert(
        "dba".into(),
        ElevationPolicy {
            step_up: StepUp::Password,
            approver_role: Some("approver".into()),
            max_duration: Duration::from_secs(3600),
        },
    );
}

fn active(outcome: ElevationOutcome) -> (iam_core::session::ActiveElevation, SecretString) {
    match outcome {
        ElevationOutcome::Active {
            elevation,
            access_token,
        } => (elevation, access_token),
        ElevationOutcome::Pending { .. } => panic!("expected an active elevation"),
    }
}

#[tokio::test]
async fn elevation_opens_explicitly_expires_and_ends() {
    let (iam, clock) = common::iam_with(elevation_config).await;
    let (alice, login) = user(&iam, "alice", &["staff"]).await;
    assert_eq!(
        denial(iam.elevate(&alice, "ops", None, &password_proof()).await),
        Denial::ElevationNotAllowed,
        "only elevatable roles can be opened"
    );
    iam.grant_elevatable_role(Caller::System, &alice.account_id, "ops")
        .await
        .expect("grant");
    iam.grant_elevatable_role(Caller::System, &alice.account_id, "open-only")
        .await
        .expect("grant");
    assert!(
        !alice.has_role("ops"),
        "an elevatable role is off until opened"
    );

    // Default policy: password step-up, 30 minutes at most.
    assert_eq!(
        denial(
            iam.elevate(&alice, "ops", None, &StepUpProof::default())
                .await
        ),
        Denial::StepUpRequired
    );
    let wrong = StepUpProof {
        password: Some(SecretString::new("not the password".to_owned())),
        totp_code: None,
        passkey: None,
    };
    assert_eq!(
        denial(iam.elevate(&alice, "ops", None, &wrong).await),
        Denial::BadCredentials
    );
    assert!(matches!(
        iam.elevate(
            &alice,
            "ops",
            Some(Duration::from_secs(31 * 60)),
            &password_proof()
        )
        .await,
        Err(Error::Invalid(InvalidInput::DurationTooLong {
            max_secs: 1800
        }))
    ));
    let (elevation, token) = active(
        iam.elevate(
            &alice,
            "ops",
            Some(Duration::from_secs(600)),
            &password_proof(),
        )
        .await
        .expect("elevate"),
    );
    let now = iam_now(&iam);
    assert_eq!(elevation.until, now.plus(Duration::from_secs(600)));
    let p = iam.verify(token.expose()).await.expect("verify");
    assert!(p.has_role("ops") && p.has_role("staff"));
    assert_eq!(p.elevated_roles, ["ops"]);
    assert!(p.expires_at <= elevation.until);

    // A role without step-up still needs explicit, audited activation.
    let (_, open_token) = active(
        iam.elevate(&alice, "open-only", None, &StepUpProof::default())
            .await
            .expect("open"),
    );
    let p2 = iam.verify(open_token.expose()).await.expect("verify");
    assert!(p2.has_role("open-only") && p2.has_role("ops"));
    let activations = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::ElevationActivated),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    assert_eq!(activations.len(), 2);
    assert_eq!(
        activations[1].draft.detail.get("role").map(String::as_str),
        Some("open-only")
    );

    // Ending early voids the elevated tokens at once; a refresh gives standing roles only.
    clock.advance(Duration::from_millis(5));
    iam.end_elevation(&p2, "open-only").await.expect("end");
    assert_eq!(
        iam.verify(open_token.expose()).await,
        Err(Denial::TokenRevoked)
    );
    clock.advance(Duration::from_millis(5));
    let pair = iam
        .refresh(login.tokens.refresh_token.expose())
        .await
        .expect("refresh");
    let p3 = iam
        .verify(pair.access_token.expose())
        .await
        .expect("verify");
    assert!(!p3.has_role("open-only"));
    assert!(p3.has_role("ops"), "the other elevation is still open");

    // Expiry on time.
    clock.advance(Duration::from_secs(600));
    assert_eq!(
        iam.verify(pair.access_token.expose()).await,
        Err(Denial::TokenExpired)
    );
    let pair = iam
        .refresh(pair.refresh_token.expose())
        .await
        .expect("refresh");
    let p4 = iam
        .verify(pair.access_token.expose())
        .await
        .expect("verify");
    assert!(
        !p4.has_role("ops"),
        "no token carries a role after its elevation ended"
    );
    assert!(p4.elevated_roles.is_empty());
    let ended = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::ElevationEnded),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    assert_eq!(ended.len(), 1);
}

#[tokio::test]
async fn elevation_ends_on_logout_and_with_the_role() {
    let (iam, clock) = common::iam().await;
    let (alice, _) = user(&iam, "alice", &[]).await;
    iam.grant_elevatable_role(Caller::System, &alice.account_id, "ops")
        .await
        .expect("grant");
    let (_, token) = active(
        iam.elevate(&alice, "ops", None, &password_proof())
            .await
            .expect("elevate"),
    );
    let p = iam.verify(token.expose()).await.expect("verify");
    iam.logout(&p).await.expect("logout");
    assert_eq!(
        iam.verify(token.expose()).await,
        Err(Denial::SessionRevoked)
    );
    assert_eq!(
        denial(iam.elevate(&alice, "ops", None, &password_proof()).await),
        Denial::SessionRevoked,
        "a revoked session cannot elevate"
    );

    let login = iam
        .login(&LoginRequest::password("alice", PW))
        .await
        .expect("login");
    let alice = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    let (_, token) = active(
        iam.elevate(&alice, "ops", None, &password_proof())
            .await
            .expect("elevate"),
    );
    clock.advance(Duration::from_millis(5));
    iam.revoke_elevatable_role(Caller::System, &alice.account_id, "ops")
        .await
        .expect("revoke");
    assert_eq!(iam.verify(token.expose()).await, Err(Denial::TokenRevoked));
    clock.advance(Duration::from_millis(5));
    let pair = iam
        .refresh(login.tokens.refresh_token.expose())
        .await
        .expect("refresh");
    assert!(!iam
        .verify(pair.access_token.expose())
        .await
        .expect("verify")
        .has_role("ops"));
}

#[tokio::test]
async fn elevation_approval_by_another_account() {
    let (iam, clock) = common::iam_with(elevation_config).await;
    let (alice, login) = user(&iam, "alice", &["approver"]).await;
    let (bob, _) = user(&iam, "bob", &["approver"]).await;
    let (carol, _) = user(&iam, "carol", &[]).await;
    iam.grant_elevatable_role(Caller::System, &alice.account_id, "dba")
        .await
        .expect("grant");

    let ElevationOutcome::Pending { request_id, .. } = iam
        .elevate(&alice, "dba", None, &password_proof())
        .await
        .expect("request")
    else {
        panic!("dba needs approval");
    };
    assert_eq!(
        iam.pending_elevations(&bob).await.expect("pending").len(),
        1,
        "approvers see the request"
    );
    assert!(iam
        .pending_elevations(&carol)
        .await
        .expect("pending")
        .is_empty());
    assert_eq!(
        denial(iam.approve_elevation(&alice, &request_id).await),
        Denial::SelfApproval,
        "the requester cannot approve their own request"
    );
    assert_eq!(
        denial(iam.approve_elevation(&carol, &request_id).await),
        Denial::MissingRole("approver".into())
    );
    let elevation = iam
        .approve_elevation(&bob, &request_id)
        .await
        .expect("approve");
    assert_eq!(elevation.role, "dba");
    assert_eq!(
        denial(iam.approve_elevation(&bob, &request_id).await),
        Denial::ElevationRequestClosed,
        "a request is answered once"
    );
    clock.advance(Duration::from_millis(5));
    let pair = iam
        .refresh(login.tokens.refresh_token.expose())
        .await
        .expect("refresh");
    let p = iam
        .verify(pair.access_token.expose())
        .await
        .expect("verify");
    assert!(p.has_role("dba"));

    // Denied and lapsed requests open nothing.
    let ElevationOutcome::Pending { request_id, .. } = iam
        .elevate(&p, "dba", None, &password_proof())
        .await
        .expect("request")
    else {
        panic!("dba needs approval");
    };
    iam.deny_elevation(&bob, &request_id).await.expect("deny");
    assert_eq!(
        denial(iam.approve_elevation(&bob, &request_id).await),
        Denial::ElevationRequestClosed
    );
    let ElevationOutcome::Pending { request_id, .. } = iam
        .elevate(&p, "dba", None, &password_proof())
        .await
        .expect("request")
    else {
        panic!("dba needs approval");
    };
    clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(
        denial(iam.approve_elevation(&bob, &request_id).await),
        Denial::ElevationRequestClosed
    );

    // A request whose role was taken away meanwhile opens nothing when approved.
    clock.advance(Duration::from_millis(5));
    let fresh = iam
        .refresh(pair.refresh_token.expose())
        .await
        .expect("refresh");
    let p = iam
        .verify(fresh.access_token.expose())
        .await
        .expect("verify");
    let ElevationOutcome::Pending { request_id, .. } = iam
        .elevate(&p, "dba", None, &password_proof())
        .await
        .expect("request")
    else {
        panic!("dba needs approval");
    };
    iam.revoke_elevatable_role(Caller::System, &alice.account_id, "dba")
        .await
        .expect("revoke");
    assert_eq!(
        denial(iam.approve_elevation(&bob, &request_id).await),
        Denial::ElevationNotAllowed
    );

    let kinds: Vec<AuditKind> = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                account: Some(alice.account_id.clone()),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.draft.kind)
        .collect();
    for kind in [
        AuditKind::ElevationRequested,
        AuditKind::ElevationApproved,
        AuditKind::ElevationActivated,
        AuditKind::ElevationDenied,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} is audited");
    }
}

#[tokio::test]
async fn failed_step_up_counts_towards_back_off() {
    let (iam, _) = common::iam().await;
    let (alice, _) = user(&iam, "alice", &[]).await;
    iam.grant_elevatable_role(Caller::System, &alice.account_id, "ops")
        .await
        .expect("grant");
    let wrong = StepUpProof {
        password: Some(SecretString::new("wrong password!".to_owned())),
        totp_code: None,
        passkey: None,
    };
    let mut throttled = false;
    for _ in 0..10 {
        if let Err(Error::Denied(Denial::Throttled { .. })) =
            iam.elevate(&alice, "ops", None, &wrong).await
        {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "repeated wrong step-up proofs are throttled");
}

#[tokio::test]
async fn deletion_grace_cancel_and_sweep() {
    let (iam, clock) = common::iam().await;
    let (admin, _) = user(&iam, "admin", &["admin"]).await;
    let (dora, login) = user(&iam, "dora", &["staff"]).await;
    let pat = iam
        .create_api_token(
            &dora,
            "cli",
            &[],
            iam_now(&iam).plus(Duration::from_secs(90 * 24 * 3600)),
        )
        .await
        .expect("pat");
    let org = iam
        .create_organization(&dora, "dora-co")
        .await
        .expect("org");

    let due = iam
        .schedule_deletion(&dora, &dora.account_id)
        .await
        .expect("schedule");
    assert_eq!(due, iam_now(&iam).plus(Duration::from_secs(7 * 24 * 3600)));
    assert_eq!(
        iam.account(Caller::System, &dora.account_id)
            .await
            .expect("account")
            .deletion_due,
        Some(due)
    );
    iam.cancel_deletion(&admin, &dora.account_id)
        .await
        .expect("cancel");
    assert_eq!(
        iam.account(Caller::System, &dora.account_id)
            .await
            .expect("account")
            .deletion_due,
        None
    );
    let due = iam
        .schedule_deletion(&admin, &dora.account_id)
        .await
        .expect("schedule");

    clock.advance(Duration::from_secs(6 * 24 * 3600));
    let report = iam.sweep().await.expect("sweep");
    assert!(
        report.deleted_accounts.is_empty(),
        "nothing before the grace period ends"
    );
    assert!(
        iam.verify(login.tokens.access_token.expose())
            .await
            .is_err(),
        "expired by now anyway"
    );
    clock.set(due.minus(Duration::from_secs(60)));
    let fresh = iam
        .refresh(login.tokens.refresh_token.expose())
        .await
        .expect("still usable");

    clock.set(due);
    let report = iam.sweep().await.expect("sweep");
    assert_eq!(
        report.deleted_accounts,
        std::slice::from_ref(&dora.account_id)
    );
    assert!(matches!(
        iam.account(Caller::System, &dora.account_id).await,
        Err(Error::NotFound(_))
    ));
    assert!(
        iam.account_by_username(Caller::System, "dora")
            .await
            .expect("lookup")
            .is_none(),
        "the username is free"
    );
    assert_eq!(
        iam.verify(fresh.access_token.expose()).await,
        Err(Denial::AccountDisabled)
    );
    assert!(iam.refresh(fresh.refresh_token.expose()).await.is_err());
    assert!(iam.verify_api_token(pat.secret.expose()).await.is_err());
    assert!(iam
        .members_of(Caller::System, &org.id)
        .await
        .expect("members")
        .is_empty());
    assert!(iam
        .list_sessions(Caller::System, &dora.account_id)
        .await
        .expect("sessions")
        .is_empty());
    let events = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                account: Some(dora.account_id.clone()),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    assert!(
        events
            .iter()
            .any(|e| e.draft.kind == AuditKind::AccountCreated),
        "history stays"
    );
    assert!(events
        .iter()
        .any(|e| e.draft.kind == AuditKind::AccountDeleted));
    assert!(
        iam.sweep()
            .await
            .expect("sweep")
            .deleted_accounts
            .is_empty(),
        "idempotent"
    );

    // Pruning: the admin's session and its refresh token expire after 30 days.
    clock.advance(Duration::from_secs(31 * 24 * 3600));
    let report = iam.sweep().await.expect("sweep");
    assert_eq!(report.pruned.records_of(RecordKind::Session), 1);
    assert_eq!(report.pruned.records_of(RecordKind::RefreshToken), 1);
    assert!(iam
        .list_sessions(Caller::System, &admin.account_id)
        .await
        .expect("sessions")
        .is_empty());
    iam.verify_audit_chain(Caller::System)
        .await
        .expect("chain intact");
}

#[tokio::test]
async fn organizations_members_and_scoped_tokens() {
    let (iam, clock) = common::iam().await;
    let (owner, _) = user(&iam, "olga", &[]).await;
    let (member, member_login) = user(&iam, "mike", &[]).await;
    let (outsider, _) = user(&iam, "otto", &[]).await;
    let org = iam
        .create_organization(&owner, "acme")
        .await
        .expect("create");
    assert!(matches!(
        iam.create_organization(&outsider, "acme").await,
        Err(Error::State(iam_core::Conflict::OrganizationNameTaken))
    ));
    iam.set_membership(&owner, &org.id, &member.account_id, "editor")
        .await
        .expect("add");
    // An owner's addition is an invitation: no organization token until it is accepted.
    assert_eq!(
        denial(iam.org_token(&member, &org.id).await),
        Denial::NotPermitted
    );
    assert!(matches!(
        iam.answer_invitation(&outsider, &org.id, true).await,
        Err(Error::NotFound(iam_core::Missing::Invitation))
    ));
    iam.answer_invitation(&member, &org.id, true)
        .await
        .expect("accept");
    assert_eq!(
        denial(
            iam.set_membership(&member, &org.id, &outsider.account_id, "editor")
                .await
        ),
        Denial::NotPermitted,
        "only owners and admins manage members"
    );
    let members: Vec<(String, String)> = iam
        .members_of(Caller::System, &org.id)
        .await
        .expect("members")
        .into_iter()
        .map(|m| (m.account_id, m.role))
        .collect();
    assert_eq!(members.len(), 2);
    assert!(members.contains(&(member.account_id.clone(), "editor".into())));
    assert!(members.contains(&(owner.account_id.clone(), iam_core::OWNER_ROLE.into())));
    let mine = iam
        .memberships_of(Caller::System, &member.account_id)
        .await
        .expect("memberships");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].org_id, org.id);

    let token = iam.org_token(&member, &org.id).await.expect("org token");
    let p = iam.verify(token.expose()).await.expect("verify");
    assert_eq!(p.require_org_role(&org.id, "editor"), Ok(()));
    assert_eq!(
        p.require_org_role(&org.id, "owner"),
        Err(Denial::MissingOrgRole {
            org: org.id.clone(),
            role: "owner".into()
        })
    );
    assert_eq!(
        denial(iam.org_token(&outsider, &org.id).await),
        Denial::NotPermitted
    );

    clock.advance(Duration::from_millis(5));
    iam.remove_member(&owner, &org.id, &member.account_id)
        .await
        .expect("remove");
    assert_eq!(iam.verify(token.expose()).await, Err(Denial::TokenRevoked));
    // Only that organization's tokens die: the member's session token lives on.
    assert!(iam
        .verify(member_login.tokens.access_token.expose())
        .await
        .is_ok());
    assert!(iam
        .memberships_of(Caller::System, &member.account_id)
        .await
        .expect("memberships")
        .is_empty());
}

#[tokio::test]
async fn an_account_cut_off_outlasts_every_token_it_kills() {
    // A service token lives 30 days; the cut-off made when its role is revoked (or its account
    // re-enabled) must last as long, or pruning would bring the token back for every instance
    // that loads the revocation list afresh.
    let store = std::sync::Arc::new(MemoryStore::new());
    let clock = ManualClock::new(common::START);
    let iam = common::open_shared(&store, &clock, 42).await.expect("open");
    let (admin, _) = user(&iam, "admin", &["admin"]).await;
    let mut tokens = Vec::new();
    for name in ["svc-reports", "svc-backup"] {
        let sa = iam
            .create_account(
                NewAccount::system(name).with_roles(["reports"]),
                Caller::System,
            )
            .await
            .expect("create");
        let token = iam
            .issue_service_token(&admin, &sa.id)
            .await
            .expect("issue");
        tokens.push((sa.id, token));
    }
    let (role_changed, role_token) = &tokens[0];
    let (re_enabled, disable_token) = &tokens[1];
    clock.advance(Duration::from_secs(1));
    iam.revoke_role(Caller::System, role_changed, "reports")
        .await
        .expect("revoke role");
    iam.disable_account(Caller::System, re_enabled)
        .await
        .expect("disable");
    iam.enable_account(Caller::System, re_enabled)
        .await
        .expect("enable");
    for (_, token) in &tokens {
        assert_eq!(
            iam.verify(token.token.expose()).await,
            Err(Denial::TokenRevoked)
        );
    }

    clock.advance(Duration::from_secs(24 * 3600));
    iam.sweep().await.expect("sweep");
    let fresh = common::open_shared(&store, &clock, 42)
        .await
        .expect("reopen");
    assert_eq!(
        fresh.verify(role_token.token.expose()).await,
        Err(Denial::TokenRevoked),
        "a token that still carries the revoked role stays dead after pruning"
    );
    assert_eq!(
        fresh.verify(disable_token.token.expose()).await,
        Err(Denial::TokenRevoked),
        "a token issued before a disable stays dead after the re-enable and pruning"
    );
}

#[tokio::test]
async fn a_token_minted_in_the_millisecond_of_a_cut_off_lives_and_dies_in_order() {
    // The manual clock stands still: every step below falls in one millisecond.
    let (iam, _clock) = common::iam().await;
    let (_admin, _) = user(&iam, "admin", &["admin"]).await;
    let (dora, _) = user(&iam, "dora", &["staff"]).await;

    iam.disable_account(Caller::System, &dora.account_id)
        .await
        .expect("disable");
    iam.enable_account(Caller::System, &dora.account_id)
        .await
        .expect("enable");
    let after_enable = iam
        .login(&LoginRequest::password("dora", PW))
        .await
        .expect("login");
    let p = iam
        .verify(after_enable.tokens.access_token.expose())
        .await
        .expect("a token minted after the re-enable lives");

    iam.revoke_role(Caller::System, &dora.account_id, "staff")
        .await
        .expect("revoke role");
    assert_eq!(
        iam.verify(after_enable.tokens.access_token.expose()).await,
        Err(Denial::TokenRevoked),
        "a later cut-off in the same millisecond still kills it"
    );
    let pair = iam
        .refresh(after_enable.tokens.refresh_token.expose())
        .await
        .expect("refresh");
    let q = iam
        .verify(pair.access_token.expose())
        .await
        .expect("the refreshed token, minted after the role change, lives");
    assert!(!q.has_role("staff"));
    assert!(q.issued_at > p.issued_at);

    iam.revoke_all_sessions(Caller::System, &dora.account_id)
        .await
        .expect("revoke all");
    assert!(iam.verify(pair.access_token.expose()).await.is_err());
    let again = iam
        .login(&LoginRequest::password("dora", PW))
        .await
        .expect("login again");
    assert!(
        iam.verify(again.tokens.access_token.expose()).await.is_ok(),
        "a login after revoke-all in the same millisecond lives"
    );
}

#[tokio::test]
async fn sensitive_self_service_needs_a_recent_sign_in_and_reauthentication_renews_it() {
    let (iam, clock) = common::iam().await;
    let (me, _) = user(&iam, "rita", &["reports"]).await;
    let expires = clock.now().plus(Duration::from_secs(3600));
    // Fresh: minting a token that carries a role works.
    iam.create_api_token(&me, "fresh", &["reports".into()], expires)
        .await
        .expect("recent sign-in");
    // Six minutes later the sign-in is no longer recent (the access token itself still lives).
    clock.advance(Duration::from_secs(6 * 60));
    let window = iam.config().recent_authentication;
    let want = Denial::RecentAuthenticationRequired { max_age: window };
    let expires = clock.now().plus(Duration::from_secs(3600));
    assert_eq!(
        denial(
            iam.create_api_token(&me, "stale", &["reports".into()], expires)
                .await
        ),
        want
    );
    assert_eq!(
        denial(iam.schedule_deletion(&me, &me.account_id).await),
        want
    );
    assert_eq!(
        denial(
            iam.remove_totp(Caller::Principal(&me), &me.account_id)
                .await
        ),
        want
    );
    // Enrolling a second factor on a session left open would lock its owner out.
    assert_eq!(
        denial(iam.enrol_totp(Caller::Principal(&me), &me.account_id).await),
        want
    );
    // Sign-out-everywhere is protective and needs no recent sign-in.
    // A token without roles needs none either.
    iam.create_api_token(&me, "no roles", &[], expires)
        .await
        .expect("no roles, no recent sign-in needed");

    let wrong = StepUpProof {
        password: Some("not the password".into()),
        totp_code: None,
        passkey: None,
    };
    assert_eq!(
        denial(iam.reauthenticate(&me, &wrong).await),
        Denial::BadCredentials
    );
    let right = StepUpProof {
        password: Some(PW.into()),
        totp_code: None,
        passkey: None,
    };
    let token = iam
        .reauthenticate(&me, &right)
        .await
        .expect("reauthenticate");
    let renewed = iam.verify(token.expose()).await.expect("verify");
    assert_eq!(renewed.session_id, me.session_id, "the same session");
    assert_eq!(renewed.auth_time, clock.now());
    iam.create_api_token(&renewed, "renewed", &["reports".into()], expires)
        .await
        .expect("renewed sign-in");
    iam.enrol_totp(Caller::Principal(&renewed), &renewed.account_id)
        .await
        .expect("enrol TOTP after the renewed sign-in");
    iam.schedule_deletion(&renewed, &renewed.account_id)
        .await
        .expect("schedule own deletion");
}
