//! Behaviour of the Iam service over the in-memory store.

mod common;

use iam_core::Caller;
use std::time::Duration;

use iam_core::audit::ChainBreak;
use iam_core::error::UsernameRule;
use iam_core::{
    AccountKind, AuditKind, AuditQuery, Denial, Error, InvalidInput, LoginRequest, Missing,
    NewAccount, SecretString, Store, TotpStatus,
};

const PW: &str = "correct horse battery";

fn denial<T: std::fmt::Debug>(r: Result<T, Error>) -> Denial {
    match r {
        Err(Error::Denied(d)) => d,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn login_verify_refresh_logout_cycle() {
    let (iam, clock) = common::iam().await;
    let acc = iam
        .create_account(
            NewAccount::human("alice", PW).with_roles(["admin"]),
            Caller::System,
        )
        .await
        .expect("create");
    assert_eq!(acc.kind, AccountKind::Human);
    let login = iam
        .login(&LoginRequest::password("alice", PW))
        .await
        .expect("login");
    assert_eq!(login.tokens.expires_in, 15 * 60);
    let p = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    assert_eq!(p.account_id, acc.id);
    assert_eq!(p.session_id, login.session.id);
    assert_eq!(p.roles, vec!["admin".to_string()]);
    assert_eq!(p.amr, vec!["pwd".to_string()]);

    clock.advance(Duration::from_secs(60));
    let pair = iam
        .refresh(login.tokens.refresh_token.expose())
        .await
        .expect("refresh");
    assert_ne!(pair.refresh_token, login.tokens.refresh_token);
    let p2 = iam
        .verify(pair.access_token.expose())
        .await
        .expect("verify new");
    assert_eq!(p2.session_id, p.session_id);

    iam.logout(&p2).await.expect("logout");
    assert_eq!(
        iam.verify(pair.access_token.expose()).await,
        Err(Denial::SessionRevoked)
    );
    assert_eq!(
        iam.verify(login.tokens.access_token.expose()).await,
        Err(Denial::SessionRevoked)
    );
    assert_eq!(
        denial(iam.refresh(pair.refresh_token.expose()).await),
        Denial::SessionRevoked
    );
}

#[tokio::test]
async fn access_tokens_expire_and_sessions_end() {
    let (iam, clock) = common::iam_with(|c| c.session_ttl = Duration::from_secs(600)).await;
    iam.create_account(NewAccount::human("bob", PW), Caller::System)
        .await
        .expect("create");
    let login = iam
        .login(&LoginRequest::password("bob", PW))
        .await
        .expect("login");
    // The access token may not outlive the session.
    assert_eq!(login.tokens.expires_in, 600);
    clock.advance(Duration::from_secs(599));
    assert!(iam
        .verify_cached(login.tokens.access_token.expose())
        .is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        iam.verify_cached(login.tokens.access_token.expose()),
        Err(Denial::TokenExpired)
    );
    assert_eq!(
        denial(iam.refresh(login.tokens.refresh_token.expose()).await),
        Denial::SessionExpired
    );
}

#[tokio::test]
async fn refresh_reuse_revokes_the_session_and_is_audited() {
    let (iam, _) = common::iam().await;
    iam.create_account(NewAccount::human("carol", PW), Caller::System)
        .await
        .expect("create");
    let login = iam
        .login(&LoginRequest::password("carol", PW))
        .await
        .expect("login");
    let next = iam
        .refresh(login.tokens.refresh_token.expose())
        .await
        .expect("refresh");
    assert_eq!(
        denial(iam.refresh(login.tokens.refresh_token.expose()).await),
        Denial::RefreshTokenReused
    );
    // The whole family is dead, including the successor and its access token.
    assert_eq!(
        iam.verify_cached(next.access_token.expose()),
        Err(Denial::SessionRevoked)
    );
    assert_eq!(
        denial(iam.refresh(next.refresh_token.expose()).await),
        Denial::SessionRevoked
    );
    let s = iam.session(&login.session.id).await.expect("session");
    assert!(s.revoked_at.is_some());
    let q = AuditQuery {
        kind: Some(AuditKind::RefreshReuseDetected),
        ..AuditQuery::default()
    };
    assert_eq!(
        iam.audit_events(Caller::System, &q)
            .await
            .expect("audit")
            .len(),
        1
    );
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let (iam, _) = common::iam().await;
    iam.create_account(NewAccount::human("dave", PW), Caller::System)
        .await
        .expect("create");
    let unknown = iam.login(&LoginRequest::password("nobody", PW)).await;
    let wrong = iam
        .login(&LoginRequest::password("dave", "wrong password"))
        .await;
    assert_eq!(denial(unknown), Denial::BadCredentials);
    assert_eq!(denial(wrong), Denial::BadCredentials);
    let failed = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::LoginFailed),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    assert_eq!(failed.len(), 2);
    assert!(failed[0].draft.account.is_none());
    assert!(failed[1].draft.account.is_some());
}

#[tokio::test]
async fn throttle_backs_off_and_resets_on_success() {
    let (iam, clock) = common::iam().await;
    iam.create_account(NewAccount::human("erin", PW), Caller::System)
        .await
        .expect("create");
    for _ in 0..6 {
        assert_eq!(
            denial(
                iam.login(&LoginRequest::password("erin", "bad password"))
                    .await
            ),
            Denial::BadCredentials
        );
    }
    // Six failures: the sixth imposes a one-second wait, even for the right password.
    let t = denial(iam.login(&LoginRequest::password("erin", PW)).await);
    assert_eq!(
        t,
        Denial::Throttled {
            retry_after: Duration::from_secs(1)
        }
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        denial(
            iam.login(&LoginRequest::password("erin", "bad password"))
                .await
        ),
        Denial::BadCredentials
    );
    assert_eq!(
        denial(iam.login(&LoginRequest::password("erin", PW)).await),
        Denial::Throttled {
            retry_after: Duration::from_secs(2)
        }
    );
    clock.advance(Duration::from_secs(2));
    iam.login(&LoginRequest::password("erin", PW))
        .await
        .expect("login after wait");
    assert_eq!(
        iam.store().throttle("login:erin").await.expect("throttle"),
        None
    );
    // Unknown usernames are throttled the same way, so throttling does not reveal existence.
    for _ in 0..6 {
        let _ = iam
            .login(&LoginRequest::password("ghost", "bad password"))
            .await;
    }
    assert!(matches!(
        denial(iam.login(&LoginRequest::password("ghost", PW)).await),
        Denial::Throttled { .. }
    ));
    let q = AuditQuery {
        kind: Some(AuditKind::LoginThrottled),
        ..AuditQuery::default()
    };
    assert_eq!(
        iam.audit_events(Caller::System, &q)
            .await
            .expect("audit")
            .len(),
        3
    );
}

#[tokio::test]
async fn totp_enrolment_login_and_replay_guard() {
    let (iam, clock) = common::iam().await;
    let acc = iam
        .create_account(NewAccount::human("frank", PW), Caller::System)
        .await
        .expect("create");
    let enrol = iam
        .enrol_totp(Caller::System, &acc.id)
        .await
        .expect("enrol");
    // An authenticator app reads the URI.
    let app = totp_rs::TOTP::from_url(enrol.uri.expose()).expect("otpauth URI");
    let now = || u64::try_from(clock_secs(&clock)).expect("positive time");
    // Pending enrolment does not yet require a code.
    iam.login(&LoginRequest::password("frank", PW))
        .await
        .expect("login before confirm");
    assert_eq!(
        iam.account(Caller::System, &acc.id)
            .await
            .expect("acc")
            .totp,
        TotpStatus::Pending
    );
    assert!(matches!(
        iam.confirm_totp(Caller::System, &acc.id, "000000x").await,
        Err(Error::Invalid(InvalidInput::TotpCodeFormat))
    ));
    let first = app.generate(now());
    let wrong = if first == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        denial(iam.confirm_totp(Caller::System, &acc.id, wrong).await),
        Denial::BadCredentials
    );
    iam.confirm_totp(Caller::System, &acc.id, &first)
        .await
        .expect("confirm");
    assert_eq!(
        iam.account(Caller::System, &acc.id)
            .await
            .expect("acc")
            .totp,
        TotpStatus::On
    );

    assert_eq!(
        denial(iam.login(&LoginRequest::password("frank", PW)).await),
        Denial::TotpRequired
    );
    // The confirming code's step is used up.
    assert_eq!(
        denial(
            iam.login(&LoginRequest::password("frank", PW).with_totp(first.clone()))
                .await
        ),
        Denial::BadCredentials
    );
    clock.advance(Duration::from_secs(30));
    let code = app.generate(now());
    let ok = iam
        .login(&LoginRequest::password("frank", PW).with_totp(code.clone()))
        .await
        .expect("login with code");
    assert_eq!(ok.session.amr, vec!["pwd".to_string(), "otp".to_string()]);
    // The same code a second time is refused.
    assert_eq!(
        denial(
            iam.login(&LoginRequest::password("frank", PW).with_totp(code))
                .await
        ),
        Denial::BadCredentials
    );
    // A wrong password with a right code gives nothing away.
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        denial(
            iam.login(
                &LoginRequest::password("frank", "wrong password").with_totp(app.generate(now()))
            )
            .await
        ),
        Denial::BadCredentials
    );
    iam.remove_totp(Caller::System, &acc.id)
        .await
        .expect("remove");
    iam.login(&LoginRequest::password("frank", PW))
        .await
        .expect("login without TOTP");
    let kinds: Vec<AuditKind> = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                account: Some(acc.id.clone()),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit")
        .into_iter()
        .map(|e| e.draft.kind)
        .collect();
    for k in [
        AuditKind::TotpEnrolled,
        AuditKind::TotpConfirmed,
        AuditKind::TotpRemoved,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
}

#[tokio::test]
async fn only_failed_guesses_count_towards_the_login_back_off() {
    let (iam, clock) = common::iam().await;
    let acc = iam
        .create_account(NewAccount::human("gail", PW), Caller::System)
        .await
        .expect("create");
    let enrol = iam
        .enrol_totp(Caller::System, &acc.id)
        .await
        .expect("enrol");
    let app = totp_rs::TOTP::from_url(enrol.uri.expose()).expect("otpauth URI");
    let now = || u64::try_from(clock_secs(&clock)).expect("positive time");
    iam.confirm_totp(Caller::System, &acc.id, &app.generate(now()))
        .await
        .expect("confirm");
    let counter = || async { iam.store().throttle("login:gail").await.expect("throttle") };
    // The right password without the code is no failed guess, however often it comes.
    for _ in 0..10 {
        assert_eq!(
            denial(iam.login(&LoginRequest::password("gail", PW)).await),
            Denial::TotpRequired
        );
    }
    assert_eq!(counter().await, None, "a missing code is taken back");
    // A wrong code is checked under the same reservation as the password, and counts.
    clock.advance(Duration::from_secs(30));
    let right = app.generate(now());
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        denial(
            iam.login(&LoginRequest::password("gail", PW).with_totp(wrong))
                .await
        ),
        Denial::BadCredentials
    );
    assert_eq!(counter().await.map(|c| c.failures), Some(1));
    // A disabled account with the right credentials is refused, and that is no guess either.
    iam.disable_account(Caller::System, &acc.id)
        .await
        .expect("disable");
    for _ in 0..10 {
        assert_eq!(
            denial(
                iam.login(&LoginRequest::password("gail", PW).with_totp(right.clone()))
                    .await
            ),
            Denial::AccountDisabled
        );
    }
    assert_eq!(counter().await.map(|c| c.failures), Some(1));
}

fn clock_secs(clock: &iam_core::ManualClock) -> i64 {
    use iam_core::Clock;
    clock.now().as_secs()
}

#[tokio::test]
async fn disable_and_role_revocation_take_effect_at_once() {
    let (iam, clock) = common::iam().await;
    let acc = iam
        .create_account(
            NewAccount::human("gina", PW).with_roles(["admin", "ops"]),
            Caller::System,
        )
        .await
        .expect("create");
    let login = iam
        .login(&LoginRequest::password("gina", PW))
        .await
        .expect("login");
    let token = login.tokens.access_token.expose().to_owned();
    iam.revoke_role(Caller::System, &acc.id, "admin")
        .await
        .expect("revoke role");
    assert_eq!(iam.verify_cached(&token), Err(Denial::TokenRevoked));
    clock.advance(Duration::from_millis(1));
    let fresh = iam
        .refresh(login.tokens.refresh_token.expose())
        .await
        .expect("refresh");
    assert_eq!(
        iam.verify_cached(fresh.access_token.expose())
            .expect("verify")
            .roles,
        vec!["ops".to_string()]
    );

    iam.disable_account(Caller::System, &acc.id)
        .await
        .expect("disable");
    assert_eq!(
        iam.verify_cached(fresh.access_token.expose()),
        Err(Denial::AccountDisabled)
    );
    assert_eq!(
        denial(iam.refresh(fresh.refresh_token.expose()).await),
        Denial::AccountDisabled
    );
    assert_eq!(
        denial(iam.login(&LoginRequest::password("gina", PW)).await),
        Denial::AccountDisabled
    );
    // A wrong password on a disabled account says only "bad credentials".
    assert_eq!(
        denial(
            iam.login(&LoginRequest::password("gina", "not the password"))
                .await
        ),
        Denial::BadCredentials
    );

    clock.advance(Duration::from_millis(1));
    iam.enable_account(Caller::System, &acc.id)
        .await
        .expect("enable");
    // Tokens from before the disable stay dead.
    assert_eq!(
        iam.verify_cached(fresh.access_token.expose()),
        Err(Denial::TokenRevoked)
    );
    clock.advance(Duration::from_millis(1));
    let again = iam
        .login(&LoginRequest::password("gina", PW))
        .await
        .expect("login after enable");
    assert!(iam
        .verify_cached(again.tokens.access_token.expose())
        .is_ok());
}

#[tokio::test]
async fn revoke_all_sessions_and_listing() {
    let (iam, clock) = common::iam().await;
    let acc = iam
        .create_account(NewAccount::human("hank", PW), Caller::System)
        .await
        .expect("create");
    let a = iam
        .login(&LoginRequest::password("hank", PW))
        .await
        .expect("login a");
    clock.advance(Duration::from_secs(1));
    let b = iam
        .login(&LoginRequest::password("hank", PW))
        .await
        .expect("login b");
    let listed = iam
        .list_sessions(Caller::System, &acc.id)
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![b.session.id.clone(), a.session.id.clone()]
    );
    iam.revoke_session(Caller::System, &a.session.id)
        .await
        .expect("revoke one");
    assert!(iam.verify_cached(b.tokens.access_token.expose()).is_ok());
    assert_eq!(
        iam.revoke_all_sessions(Caller::System, &acc.id)
            .await
            .expect("revoke all"),
        1
    );
    assert!(iam.verify_cached(b.tokens.access_token.expose()).is_err());
    assert!(iam
        .list_sessions(Caller::System, &acc.id)
        .await
        .expect("list")
        .iter()
        .all(|s| s.revoked_at.is_some()));
    assert!(matches!(
        iam.revoke_session(Caller::System, "ses_nope").await,
        Err(Error::NotFound(Missing::Session))
    ));
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_until_expiry() {
    let (iam, clock) = common::iam().await;
    iam.create_account(NewAccount::human("ivy", PW), Caller::System)
        .await
        .expect("create");
    let before = iam
        .login(&LoginRequest::password("ivy", PW))
        .await
        .expect("login");
    let old_kid = iam.active_key_id();
    let new_kid = iam
        .rotate_signing_key(Caller::System)
        .await
        .expect("rotate");
    assert_ne!(old_kid, new_kid);
    assert!(new_kid.starts_with("k4.pid."));
    let keys = iam.public_keys();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].kid, new_kid);
    assert_eq!(keys[0].jwk["kty"], "OKP");
    assert!(iam
        .verify_cached(before.tokens.access_token.expose())
        .is_ok());
    let after = iam
        .login(&LoginRequest::password("ivy", PW))
        .await
        .expect("login");
    assert!(iam
        .verify_cached(after.tokens.access_token.expose())
        .is_ok());
    // Service tokens live longest (30 days by default), so the old key stays until they could
    // have expired, and is dropped on the next reload after that.
    clock.advance(Duration::from_secs(15 * 60));
    iam.reload_keys().await.expect("reload");
    assert_eq!(iam.public_keys().len(), 2);
    clock.advance(Duration::from_secs(30 * 24 * 3600));
    iam.reload_keys().await.expect("reload");
    assert_eq!(iam.public_keys().len(), 1);
    assert_eq!(
        iam.verify_cached(before.tokens.access_token.expose()),
        Err(Denial::TokenUnknownKey)
    );
}

#[tokio::test]
async fn a_restarted_instance_keeps_retired_keys_as_long_as_their_tokens_live() {
    let clock = iam_core::ManualClock::new(common::START);
    let shared = std::sync::Arc::new(iam_core::MemoryStore::new());
    let iam = common::open_shared(&shared, &clock, 42)
        .await
        .expect("open");
    iam.create_account(
        NewAccount::human("root", PW).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("create admin");
    let login = iam
        .login(&LoginRequest::password("root", PW))
        .await
        .expect("login");
    let admin = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    let svc = iam
        .create_account(NewAccount::system("svc-batch"), Caller::System)
        .await
        .expect("create service account");
    let token = iam
        .issue_service_token(&admin, &svc.id)
        .await
        .expect("issue");
    iam.rotate_signing_key(Caller::System)
        .await
        .expect("rotate");
    clock.advance(Duration::from_secs(3600));
    // A restart an hour later: the 30-day service token signed by the retired key still
    // verifies, with no reload needed.
    let restarted = common::open_shared(&shared, &clock, 42)
        .await
        .expect("reopen");
    assert!(restarted.verify_cached(token.token.expose()).is_ok());
}

#[tokio::test]
async fn another_instance_sees_rotated_keys_and_revocations() {
    let clock = iam_core::ManualClock::new(common::START);
    // Two services over one store.
    let shared = std::sync::Arc::new(iam_core::MemoryStore::new());
    let one = common::open_shared(&shared, &clock, 42).await.expect("one");
    let two = common::open_shared(&shared, &clock, 42).await.expect("two");
    one.create_account(NewAccount::human("jack", PW), Caller::System)
        .await
        .expect("create");
    one.rotate_signing_key(Caller::System)
        .await
        .expect("rotate on one");
    let login = one
        .login(&LoginRequest::password("jack", PW))
        .await
        .expect("login on one");
    let token = login.tokens.access_token.expose();
    assert_eq!(two.verify_cached(token), Err(Denial::TokenUnknownKey));
    clock.advance(Duration::from_secs(2));
    assert!(
        two.verify(token).await.is_ok(),
        "two reloads the ring on an unknown key"
    );
    one.revoke_session(Caller::System, &login.session.id)
        .await
        .expect("revoke on one");
    assert_eq!(two.verify_cached(token), Err(Denial::SessionRevoked));
}

#[tokio::test]
async fn account_rules_and_conflicts() {
    let (iam, _) = common::iam().await;
    assert!(matches!(
        iam.create_account(NewAccount::human("A", PW), Caller::System)
            .await,
        Err(Error::Invalid(InvalidInput::Username(
            UsernameRule::TooShort { min: 2 }
        )))
    ));
    assert!(matches!(
        iam.create_account(NewAccount::human("ok-name", "short"), Caller::System)
            .await,
        Err(Error::Invalid(InvalidInput::PasswordTooShort { min: 8 }))
    ));
    let mut sys = NewAccount::system("backup-bot");
    sys.password = Some("a password here".into());
    assert!(matches!(
        iam.create_account(sys, Caller::System).await,
        Err(Error::Invalid(InvalidInput::AccountKind(_)))
    ));
    let bot = iam
        .create_account(NewAccount::system("backup-bot"), Caller::System)
        .await
        .expect("system account");
    assert!(!bot.has_password);
    assert!(matches!(
        iam.create_account(NewAccount::system("backup-bot"), Caller::System)
            .await,
        Err(Error::UsernameTaken)
    ));
    // A system account cannot log in with any password.
    assert_eq!(
        denial(iam.login(&LoginRequest::password("backup-bot", PW)).await),
        Denial::BadCredentials
    );
    assert!(matches!(
        iam.set_password(Caller::System, &bot.id, &PW.into()).await,
        Err(Error::Invalid(InvalidInput::AccountKind(_)))
    ));
    assert!(matches!(
        iam.enrol_totp(Caller::System, &bot.id).await,
        Err(Error::Invalid(InvalidInput::AccountKind(_)))
    ));
    assert!(matches!(
        iam.grant_role(Caller::System, &bot.id, "Bad Role").await,
        Err(Error::Invalid(InvalidInput::RoleName(_)))
    ));
    assert!(matches!(
        iam.account(Caller::System, "acc_missing").await,
        Err(Error::NotFound(Missing::Account))
    ));
    let listed = iam
        .list_accounts(Caller::System, None, 10)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        iam.list_accounts(Caller::System, Some(&bot.id), 10)
            .await
            .expect("list")
            .len(),
        0
    );
}

#[tokio::test]
async fn password_change_and_rehash_on_cost_change() {
    let (iam, _) = common::iam().await;
    let acc = iam
        .create_account(NewAccount::human("kate", PW), Caller::System)
        .await
        .expect("create");
    iam.set_password(Caller::System, &acc.id, &"a brand new password".into())
        .await
        .expect("set");
    assert_eq!(
        denial(iam.login(&LoginRequest::password("kate", PW)).await),
        Denial::BadCredentials
    );
    iam.login(&LoginRequest::password("kate", "a brand new password"))
        .await
        .expect("login");

    let events = iam
        .audit_events(Caller::System, &AuditQuery::default())
        .await
        .expect("audit");
    assert!(events
        .iter()
        .all(|e| e.draft.kind != AuditKind::PasswordRehashed));
}

#[tokio::test]
async fn login_rehashes_when_the_configured_cost_changed() {
    let shared = std::sync::Arc::new(iam_core::MemoryStore::new());
    let open = |memory_kib: u32| {
        let mut config = iam_core::Config::new(iam_core::MasterKey::from_bytes([42; 32]));
        config.passwords = iam_core::PasswordPolicy {
            memory_kib,
            ..iam_core::PasswordPolicy::insecure_fast_for_tests()
        };
        iam_core::Iam::builder(shared.clone(), config).open()
    };
    let cheap = open(64).await.expect("cheap");
    cheap
        .create_account(NewAccount::human("kim", PW), Caller::System)
        .await
        .expect("create");
    let stronger = open(256).await.expect("stronger");
    stronger
        .login(&LoginRequest::password("kim", PW))
        .await
        .expect("login");
    stronger
        .login(&LoginRequest::password("kim", PW))
        .await
        .expect("login again");
    let q = AuditQuery {
        kind: Some(AuditKind::PasswordRehashed),
        ..AuditQuery::default()
    };
    assert_eq!(
        stronger
            .audit_events(Caller::System, &q)
            .await
            .expect("audit")
            .len(),
        1,
        "rehashed exactly once"
    );
    let record = shared
        .find(iam_core::store::RecordKind::Account, "kim")
        .await
        .expect("find")
        .expect("kim");
    assert!(record.body.contains("m=256,t=1,p=1"), "{}", record.body);
}

#[tokio::test]
async fn audit_chain_verifies_and_detects_tampering() {
    let (iam, _) = common::iam().await;
    let acc = iam
        .create_account(NewAccount::human("liam", PW), Caller::System)
        .await
        .expect("create");
    let _ = iam
        .login(&LoginRequest::password("liam", PW))
        .await
        .expect("login");
    let _ = iam
        .login(&LoginRequest::password("liam", "wrong password"))
        .await;
    iam.grant_role(Caller::System, &acc.id, "ops")
        .await
        .expect("grant");
    let n = iam
        .verify_audit_chain(Caller::System)
        .await
        .expect("intact");
    assert!(n >= 5, "{n}");
    let by_account = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                account: Some(acc.id.clone()),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("q");
    assert!(by_account
        .iter()
        .any(|e| e.draft.kind == AuditKind::RoleGranted));

    iam.store().tamper_audit(|events| {
        events[2]
            .draft
            .detail
            .insert("reason".into(), "edited".into());
    });
    assert!(matches!(
        iam.verify_audit_chain(Caller::System).await,
        Err(Error::AuditChain(ChainBreak::Altered { seq: 3 }))
    ));
}

#[tokio::test]
async fn bad_input_gives_typed_errors_never_panics() {
    let (iam, _) = common::iam().await;
    iam.create_account(NewAccount::human("mia", PW), Caller::System)
        .await
        .expect("create");
    let huge = "a".repeat(1 << 20);
    let odd = String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x41]).into_owned();
    for username in ["", huge.as_str(), odd.as_str(), "mia\0"] {
        assert_eq!(
            denial(iam.login(&LoginRequest::password(username, PW)).await),
            Denial::BadCredentials
        );
        assert!(matches!(
            iam.create_account(NewAccount::human(username, PW), Caller::System)
                .await,
            Err(Error::Invalid(_))
        ));
    }
    for password in ["", huge.as_str(), odd.as_str()] {
        assert_eq!(
            denial(iam.login(&LoginRequest::password("mia", password)).await),
            Denial::BadCredentials
        );
    }
    // Without TOTP on, a code is ignored, however odd.
    assert!(iam
        .login(&LoginRequest::password("mia", PW).with_totp(huge.clone()))
        .await
        .is_ok());
    for token in [
        "",
        huge.as_str(),
        odd.as_str(),
        "v4.public.",
        "v4.public.!!!!",
        "v4.public.AAAA.BBBB.CCCC",
    ] {
        assert!(iam.verify_cached(token).is_err());
        assert_eq!(
            denial(iam.refresh(token).await),
            Denial::RefreshTokenInvalid
        );
    }
    // A token signed by a stranger's key with our footer shape is refused.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let kid = iam.active_key_id();
    let forged = iam_core::token::paseto::sign(
        &stranger,
        b"{}",
        format!("{{\"kid\":\"{kid}\"}}").as_bytes(),
        b"",
    );
    assert_eq!(iam.verify_cached(&forged), Err(Denial::TokenBadSignature));
    // A validly signed token with garbage claims is malformed, not a panic.
    let unknown_kid =
        iam_core::token::paseto::sign(&stranger, b"not json", b"{\"kid\":\"k4.pid.x\"}", b"");
    assert_eq!(
        iam.verify_cached(&unknown_kid),
        Err(Denial::TokenUnknownKey)
    );
}

#[tokio::test]
async fn a_user_changes_their_own_password_with_the_current_one() {
    let (iam, _) = common::iam().await;
    iam.create_account(NewAccount::human("pat", PW), Caller::System)
        .await
        .expect("create");
    let login = iam
        .login(&LoginRequest::password("pat", PW))
        .await
        .expect("login");
    let me = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    let new = SecretString::from("a brand new passphrase");

    let wrong = iam
        .change_own_password(&me, &SecretString::from("not the password"), &new)
        .await;
    assert!(matches!(wrong, Err(Error::Denied(Denial::BadCredentials))));
    let denied = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::PasswordChangeDenied),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    assert_eq!(denied.len(), 1, "a refused change is audited");
    assert!(matches!(
        iam.change_own_password(&me, &SecretString::from(PW), &SecretString::from("short"))
            .await,
        Err(Error::Invalid(_))
    ));

    iam.change_own_password(&me, &SecretString::from(PW), &new)
        .await
        .expect("change");
    assert!(iam.login(&LoginRequest::password("pat", PW)).await.is_err());
    assert!(iam
        .login(&LoginRequest::password("pat", new.expose()))
        .await
        .is_ok());

    // A right current password clears the back-off that wrong ones built up.
    for _ in 0..3 {
        let _ = iam
            .change_own_password(&me, &SecretString::from("guess guess"), &new)
            .await;
    }
    let step_ups = || async {
        iam.store()
            .throttle(&format!("stepup:{}", me.account_id))
            .await
            .expect("throttle")
    };
    assert_eq!(step_ups().await.map(|c| c.failures), Some(3));
    iam.change_own_password(&me, &new, &new)
        .await
        .expect("change with the right password");
    assert_eq!(step_ups().await, None);

    // Repeated wrong guesses are throttled like failed step-ups.
    let mut throttled = false;
    for _ in 0..10 {
        if let Err(Error::Denied(Denial::Throttled { .. })) = iam
            .change_own_password(&me, &SecretString::from("guess guess"), &new)
            .await
        {
            throttled = true;
            break;
        }
    }
    assert!(throttled);
}

#[tokio::test]
async fn profiles_are_set_by_admins_and_named_by_their_owners() {
    use iam_core::{ProfileRule, ProfileUpdate};

    let (iam, clock) = common::iam().await;
    let kim = iam
        .create_account(NewAccount::human("kim", PW), Caller::System)
        .await
        .expect("create");
    assert_eq!(kim.profile, iam_core::Profile::default());
    let login = iam
        .login(&LoginRequest::password("kim", PW))
        .await
        .expect("login");
    let me = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    let profile_events = || async {
        iam.audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::AccountProfileUpdated),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit")
    };

    // The embedding application (as an admin would) sets every field.
    clock.advance(Duration::from_secs(10));
    let set_at = common::START.plus(Duration::from_secs(10));
    let update = ProfileUpdate::default()
        .with_name(" Kim Possible ")
        .with_email("kim@example.org")
        .with_email_verified(true);
    let a = iam
        .update_profile(Caller::System, &kim.id, &update)
        .await
        .expect("update");
    assert_eq!(a.profile.name.as_deref(), Some("Kim Possible"));
    assert_eq!(a.profile.email.as_deref(), Some("kim@example.org"));
    assert!(a.profile.email_verified);
    assert_eq!(a.profile.updated_at, Some(set_at));
    // Stored: a fresh read sees it.
    let read = iam.account(Caller::System, &kim.id).await.expect("read");
    assert_eq!(read.profile, a.profile);

    // The same values again change nothing: no event, the time stays.
    clock.advance(Duration::from_secs(10));
    let again = iam
        .update_profile(Caller::System, &kim.id, &update)
        .await
        .expect("no-op");
    assert_eq!(again.profile.updated_at, Some(set_at));
    assert_eq!(profile_events().await.len(), 1);

    // Kim names herself with her session; the time moves.
    let named = iam
        .set_own_name(&me, Some("K. P."))
        .await
        .expect("own name");
    assert_eq!(named.profile.name.as_deref(), Some("K. P."));
    assert_eq!(named.profile.email.as_deref(), Some("kim@example.org"));
    assert!(named.profile.updated_at > Some(set_at));
    let events = profile_events().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].draft.actor.as_deref(), Some(kim.id.as_str()));
    assert_eq!(events[1].draft.detail["fields"], "name");
    assert!(matches!(
        iam.set_own_name(&me, Some("\u{1b}[31m")).await,
        Err(Error::Invalid(InvalidInput::Profile(
            ProfileRule::NameControlCharacter
        )))
    ));
    let cleared = iam.set_own_name(&me, None).await.expect("clear");
    assert_eq!(cleared.profile.name, None);

    // Kim is no admin: she cannot set her email, nor anyone's profile.
    let mine = ProfileUpdate::default().with_email("other@example.org");
    assert_eq!(
        denial(
            iam.update_profile(Caller::Principal(&me), &kim.id, &mine)
                .await
        ),
        Denial::MissingRole("admin".into())
    );
    assert!(matches!(
        iam.update_profile(Caller::System, "acc_missing", &mine)
            .await,
        Err(Error::NotFound(Missing::Account))
    ));
    assert!(matches!(
        iam.update_profile(
            Caller::System,
            &kim.id,
            &ProfileUpdate::default().with_email("kim@localhost")
        )
        .await,
        Err(Error::Invalid(InvalidInput::Profile(
            ProfileRule::EmailFormat
        )))
    ));
    assert_eq!(profile_events().await.len(), 3, "refusals write nothing");
}
