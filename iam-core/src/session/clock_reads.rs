//! Every session operation reads the clock once, whatever path it takes (the rules get `now`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::authz::Caller;
use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Error};
use crate::{Config, Iam, LoginRequest, MasterKey, MemoryStore, NewAccount, PasswordPolicy};

/// A fixed clock that counts how often it is read.
#[derive(Clone, Default)]
struct CountingClock(Arc<AtomicUsize>);

impl Clock for CountingClock {
    fn now(&self) -> Timestamp {
        self.0.fetch_add(1, Ordering::SeqCst);
        Timestamp::from_secs(1_767_225_600)
    }
}

impl CountingClock {
    /// The reads since the last call.
    fn reads(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

#[tokio::test]
async fn each_session_operation_reads_the_clock_once() {
    let clock = CountingClock::default();
    let mut config = Config::new(MasterKey::from_bytes([3; 32]));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.throttle.free_failures = 1;
    let iam = Iam::builder(MemoryStore::new(), config)
        .clock(clock.clone())
        .open()
        .await
        .expect("open");
    iam.create_account(
        NewAccount::human("alice", "alice's long password"),
        Caller::System,
    )
    .await
    .expect("create");
    let right = LoginRequest::password("alice", "alice's long password");
    clock.reads();

    let login = iam.login(&right).await.expect("login");
    assert_eq!(clock.reads(), 1, "login");
    let wrong = LoginRequest::password("mallory", "a wrong password");
    for expect_throttled in [false, false, true] {
        let denial = iam.login(&wrong).await.expect_err("refused");
        let throttled = matches!(denial, Error::Denied(Denial::Throttled { .. }));
        assert_eq!(throttled, expect_throttled, "{denial:?}");
        assert_eq!(clock.reads(), 1, "refused login");
    }
    let old = login.tokens.refresh_token.expose().to_owned();
    let pair = iam.refresh(&old).await.expect("refresh");
    assert_eq!(clock.reads(), 1, "refresh");
    let reused = iam.refresh(&old).await;
    assert!(matches!(
        reused,
        Err(Error::Denied(Denial::RefreshTokenReused))
    ));
    assert_eq!(clock.reads(), 1, "reused refresh");
    assert!(iam.refresh(pair.refresh_token.expose()).await.is_err());
    assert_eq!(clock.reads(), 1, "refresh of a revoked session");

    let second = iam.login(&right).await.expect("login");
    let principal = iam
        .verify(second.tokens.access_token.expose())
        .await
        .expect("verify");
    clock.reads();
    iam.logout(&principal).await.expect("logout");
    assert_eq!(clock.reads(), 1, "logout");
    iam.revoke_session(Caller::System, &second.session.id)
        .await
        .expect("revoke again");
    assert_eq!(clock.reads(), 1, "revoke_session");
    let third = iam.login(&right).await.expect("login");
    clock.reads();
    let revoked = iam
        .revoke_all_sessions(Caller::System, &third.account.id)
        .await
        .expect("revoke all");
    assert_eq!((revoked, clock.reads()), (1, 1), "revoke_all_sessions");
}
