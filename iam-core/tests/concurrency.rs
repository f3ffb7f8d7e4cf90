//! Races on the in-memory store.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use iam_core::revocation::{Revocation, RevocationCache};
use iam_core::store::{
    Commit, ListQuery, PruneReport, Record, RecordKind, StoreResult, ThrottleState,
};
use iam_core::{
    AuditEvent, AuditKind, AuditQuery, Caller, Denial, Error, Iam, LoginRequest, ManualClock,
    MemoryStore, NewAccount, SecretString, Store, ThrottlePolicy, Timestamp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_refreshes_of_one_token_give_one_success() {
    let (iam, _) = common::iam().await;
    iam.create_account(NewAccount::human("race", "race password"), Caller::System)
        .await
        .expect("create");
    let login = iam
        .login(&LoginRequest::password("race", "race password"))
        .await
        .expect("login");
    let token = login.tokens.refresh_token.expose().to_owned();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (iam, token, barrier) = (iam.clone(), token.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            iam.refresh(&token).await
        }));
    }
    let mut ok = 0;
    let mut reused = 0;
    let mut revoked = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => ok += 1,
            Err(Error::Denied(Denial::RefreshTokenReused)) => reused += 1,
            // A loser that read the token before the winner's rotation and the session after the
            // reuse detection sees the session already revoked.
            Err(Error::Denied(Denial::SessionRevoked)) => revoked += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(reused + revoked, 99);
    assert!(
        reused >= 1,
        "the first late presenter must trigger reuse detection"
    );
    let session = iam.session(&login.session.id).await.expect("session");
    assert!(session.revoked_at.is_some(), "reuse must end the session");
    assert!(iam
        .verify_cached(login.tokens.access_token.expose())
        .is_err());
    iam.verify_audit_chain(Caller::System)
        .await
        .expect("chain intact");
}

/// Parallel attempts the tests below start against one account at once.
const ATTEMPTS: usize = 200;

/// How many attempts the default back-off admits at one instant: every failure count whose wait
/// is zero (the free failures, then the one whose failure starts the back-off).
fn budget() -> usize {
    let policy = ThrottlePolicy::default();
    (0..=u32::MAX)
        .take_while(|n| policy.delay_after(*n).is_zero())
        .count()
}

/// Runs `ATTEMPTS` copies of `attempt` at once (released together by a barrier).
async fn race<T, F, Fut>(attempt: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(ATTEMPTS));
    let tasks: Vec<_> = (0..ATTEMPTS)
        .map(|i| {
            let (barrier, run) = (Arc::clone(&barrier), attempt(i));
            tokio::spawn(async move {
                barrier.wait().await;
                run.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(ATTEMPTS);
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

/// A [`MemoryStore`] whose every call first yields to the scheduler, as a call over a network
/// or to a database thread would, so that concurrent operations interleave between their
/// store calls the way they do on a real database.
#[derive(Default)]
struct YieldingStore(MemoryStore);

#[async_trait]
impl Store for YieldingStore {
    async fn get(&self, kind: RecordKind, id: &str) -> StoreResult<Option<Record>> {
        tokio::task::yield_now().await;
        self.0.get(kind, id).await
    }
    async fn find(&self, kind: RecordKind, lookup: &str) -> StoreResult<Option<Record>> {
        tokio::task::yield_now().await;
        self.0.find(kind, lookup).await
    }
    async fn list(&self, kind: RecordKind, query: &ListQuery) -> StoreResult<Vec<Record>> {
        tokio::task::yield_now().await;
        self.0.list(kind, query).await
    }
    async fn commit(&self, commit: Commit) -> StoreResult<()> {
        tokio::task::yield_now().await;
        self.0.commit(commit).await
    }
    async fn throttle(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
        tokio::task::yield_now().await;
        self.0.throttle(key).await
    }
    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        tokio::task::yield_now().await;
        self.0.audit(query).await
    }
    async fn revocations(&self) -> StoreResult<Vec<Revocation>> {
        tokio::task::yield_now().await;
        self.0.revocations().await
    }
    async fn subscribe(&self, cache: Arc<RevocationCache>) -> StoreResult<()> {
        tokio::task::yield_now().await;
        self.0.subscribe(cache).await
    }
    async fn prune(&self, now: Timestamp, idle_since: Timestamp) -> StoreResult<PruneReport> {
        tokio::task::yield_now().await;
        self.0.prune(now, idle_since).await
    }
}

type RacyIam = Iam<YieldingStore, ManualClock>;

/// An Iam over a fresh [`YieldingStore`], with the default back-off and the test configuration.
async fn racy_iam() -> RacyIam {
    Iam::builder(YieldingStore::default(), common::config(42))
        .clock(ManualClock::new(common::START))
        .open()
        .await
        .expect("open")
}

/// Audit events of `kind`.
async fn events(iam: &RacyIam, kind: AuditKind) -> Vec<AuditEvent> {
    iam.audit_events(
        Caller::System,
        &AuditQuery {
            kind: Some(kind),
            ..AuditQuery::default()
        },
    )
    .await
    .expect("audit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_logins_are_all_counted_and_only_the_budget_reaches_argon2() {
    let iam = racy_iam().await;
    iam.create_account(
        NewAccount::human("target", "right password"),
        Caller::System,
    )
    .await
    .expect("create");
    let results = race(|i| {
        let iam = iam.clone();
        async move {
            iam.login(&LoginRequest::password(
                "target",
                format!("wrong guess {i}"),
            ))
            .await
        }
    })
    .await;
    let mut refused = 0;
    let mut throttled = 0;
    for r in results {
        match r {
            Err(Error::Denied(Denial::BadCredentials)) => refused += 1,
            Err(Error::Denied(Denial::Throttled { .. })) => throttled += 1,
            other => panic!("a wrong password must be refused or throttled, got {other:?}"),
        }
    }
    // Each password check leaves one `login.failed` event with reason bad_credentials.
    let checked = events(&iam, AuditKind::LoginFailed)
        .await
        .iter()
        .filter(|e| e.draft.detail.get("reason").map(String::as_str) == Some("bad_credentials"))
        .count();
    assert_eq!(
        (refused, checked),
        (budget(), budget()),
        "only the back-off budget of parallel guesses may reach Argon2"
    );
    assert_eq!(
        throttled,
        ATTEMPTS - budget(),
        "every other guess is throttled"
    );
    assert_eq!(
        events(&iam, AuditKind::LoginThrottled).await.len(),
        throttled,
        "every throttled guess is audited"
    );
    let state = iam
        .store()
        .throttle("login:target")
        .await
        .expect("throttle")
        .expect("failures are counted");
    assert_eq!(
        state.failures as usize, refused,
        "every checked guess counts"
    );
    iam.verify_audit_chain(Caller::System)
        .await
        .expect("chain intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_step_ups_reach_argon2_only_within_the_budget() {
    let iam = racy_iam().await;
    iam.create_account(
        NewAccount::human("sudoer", "right password"),
        Caller::System,
    )
    .await
    .expect("create");
    let login = iam
        .login(&LoginRequest::password("sudoer", "right password"))
        .await
        .expect("login");
    let me = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    let results = race(|i| {
        let (iam, me) = (iam.clone(), me.clone());
        async move {
            iam.change_own_password(
                &me,
                &SecretString::from(format!("wrong guess {i}").as_str()),
                &SecretString::from("a new password"),
            )
            .await
        }
    })
    .await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Denied(Denial::BadCredentials))))
        .count();
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Denied(Denial::Throttled { .. }))))
        .count();
    assert_eq!(
        refused + throttled,
        ATTEMPTS,
        "every guess is refused or throttled"
    );
    assert_eq!(
        events(&iam, AuditKind::PasswordChangeDenied).await.len(),
        budget(),
        "only the back-off budget of parallel guesses may reach Argon2"
    );
    assert_eq!(refused, budget());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_user_code_guesses_look_up_only_within_the_budget() {
    let iam = racy_iam().await;
    iam.create_account(
        NewAccount::human("viewer", "right password"),
        Caller::System,
    )
    .await
    .expect("create");
    let login = iam
        .login(&LoginRequest::password("viewer", "right password"))
        .await
        .expect("login");
    let me = iam
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    let results = race(|_| {
        let (iam, me) = (iam.clone(), me.clone());
        async move { iam.device_prompt(&me, "BBBB-BBBB").await }
    })
    .await;
    let missed = results
        .iter()
        .filter(|r| matches!(r, Err(Error::NotFound(_))))
        .count();
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Denied(Denial::Throttled { .. }))))
        .count();
    assert_eq!(
        (missed, throttled),
        (budget(), ATTEMPTS - budget()),
        "only the back-off budget of parallel guesses may be looked up"
    );
}
