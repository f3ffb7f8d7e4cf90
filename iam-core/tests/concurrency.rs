//! Races on the in-memory store.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use iam_core::revocation::{Revocation, RevocationCache};
use iam_core::store::{
    Commit, ListQuery, PruneReport, Record, RecordKind, StoreResult, ThrottleState, Write,
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
/// store calls the way they do on a real database. Its [`Gate`] can hold commits back.
#[derive(Default)]
struct YieldingStore(MemoryStore, Gate);

/// Holds back chosen commits until released, so another operation can run whole between a
/// commit's decision and its landing.
#[derive(Default)]
struct Gate(std::sync::Mutex<Vec<Armed>>);

/// A hold and the commits it picks.
type Armed = (fn(&Commit) -> bool, Arc<Hold>);

/// One commit held by a [`Gate`]: `reached` when it arrives, landing once `release`d.
#[derive(Default)]
struct Hold {
    reached: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

impl Gate {
    /// Holds the next commit that `holds` picks.
    fn arm(&self, holds: fn(&Commit) -> bool) -> Arc<Hold> {
        let hold = Arc::new(Hold::default());
        self.0
            .lock()
            .expect("gate")
            .push((holds, Arc::clone(&hold)));
        hold
    }

    /// Waits for release if an armed hold picks `commit` (the hold is then used up).
    async fn pass(&self, commit: &Commit) {
        let hold = {
            let mut armed = self.0.lock().expect("gate");
            let picked = armed.iter().position(|(holds, _)| holds(commit));
            picked.map(|i| armed.remove(i).1)
        };
        if let Some(hold) = hold {
            hold.reached.notify_one();
            hold.release.notified().await;
        }
    }
}

/// Whether `commit` opens a session.
fn opens_session(commit: &Commit) -> bool {
    commit
        .writes
        .iter()
        .any(|w| matches!(w, Write::Insert(r) if r.kind == RecordKind::Session))
}

/// Whether `commit` signs an account out everywhere.
fn signs_out_everywhere(commit: &Commit) -> bool {
    commit
        .audit
        .iter()
        .any(|a| a.kind == AuditKind::AllSessionsRevoked)
}

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
        self.1.pass(&commit).await;
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
    racy_iam_on(ManualClock::new(common::START)).await
}

/// An Iam over a fresh [`YieldingStore`] on `clock`, as [`racy_iam`].
async fn racy_iam_on(clock: ManualClock) -> RacyIam {
    Iam::builder(YieldingStore::default(), common::config(42))
        .clock(clock)
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

/// An Iam over a fresh [`YieldingStore`] on `clock`, with account `target` (password
/// [`common::PW`]).
async fn racy_iam_with_target(clock: &ManualClock) -> (RacyIam, String) {
    let iam = racy_iam_on(clock.clone()).await;
    let account = iam
        .create_account(NewAccount::human("target", common::PW), Caller::System)
        .await
        .expect("create");
    (iam, account.id)
}

/// Logs `target` in, as a task.
fn spawn_login(iam: &RacyIam) -> tokio::task::JoinHandle<Result<iam_core::LoginSuccess, Error>> {
    let iam = iam.clone();
    tokio::spawn(async move {
        iam.login(&LoginRequest::password("target", common::PW))
            .await
    })
}

/// Asserts that the session `login` opened refreshes, and that the new access token verifies.
async fn assert_stays_signed_in(iam: &RacyIam, login: &iam_core::LoginSuccess) {
    let pair = iam
        .refresh(login.tokens.refresh_token.expose())
        .await
        .expect("the session refreshes");
    iam.verify(pair.access_token.expose())
        .await
        .expect("and its tokens verify");
}

/// Asserts that `target` can log in now and stays signed in, and that the chain is intact.
async fn assert_a_later_login_stays(iam: &RacyIam) {
    let later = iam
        .login(&LoginRequest::password("target", common::PW))
        .await
        .expect("a later login");
    assert_stays_signed_in(iam, &later).await;
    iam.verify_audit_chain(Caller::System)
        .await
        .expect("chain intact");
}

/// A login that began before a sign-out everywhere and committed its session while the
/// sign-out ran, after the sign-out had listed the sessions: the session is not in that list
/// and still ends. Its access token is void, and its first refresh is refused and revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_committed_inside_a_sign_out_everywhere_ends_too() {
    let clock = ManualClock::new(common::START);
    let (iam, account_id) = racy_iam_with_target(&clock).await;
    let login_hold = iam.store().1.arm(opens_session);
    let sign_out_hold = iam.store().1.arm(signs_out_everywhere);
    let login = spawn_login(&iam);
    login_hold.reached.notified().await;
    clock.advance(std::time::Duration::from_secs(1));
    let sign_out = tokio::spawn({
        let (iam, account_id) = (iam.clone(), account_id.clone());
        async move { iam.revoke_all_sessions(Caller::System, &account_id).await }
    });
    sign_out_hold.reached.notified().await;
    login_hold.release.notify_one();
    let escaped = login.await.expect("task").expect("the login lands first");
    sign_out_hold.release.notify_one();
    let revoked = sign_out.await.expect("task").expect("sign out everywhere");
    assert_eq!(
        revoked, 0,
        "the session was not there when the sign-out listed them"
    );

    assert_eq!(
        iam.verify(escaped.tokens.access_token.expose()).await.err(),
        Some(Denial::TokenRevoked),
        "the access token was minted before the cut-off"
    );
    assert!(matches!(
        iam.refresh(escaped.tokens.refresh_token.expose()).await,
        Err(Error::Denied(Denial::SessionRevoked))
    ));
    let session = iam.session(&escaped.session.id).await.expect("session");
    assert!(
        session.revoked_at.is_some(),
        "the refusal revokes the session"
    );
    assert_eq!(events(&iam, AuditKind::SessionRevoked).await.len(), 1);
    assert!(matches!(
        iam.refresh(escaped.tokens.refresh_token.expose()).await,
        Err(Error::Denied(Denial::SessionRevoked))
    ));
    clock.advance(std::time::Duration::from_secs(1));
    assert_a_later_login_stays(&iam).await;
}

/// A login that began before a sign-out everywhere but reaches its commit after the sign-out
/// landed is decided again on the account as the sign-out left it, and comes after it: its
/// session and tokens live, and so does a login begun after the sign-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_landing_after_a_sign_out_everywhere_stays_signed_in() {
    let clock = ManualClock::new(common::START);
    let (iam, account_id) = racy_iam_with_target(&clock).await;
    let login_hold = iam.store().1.arm(opens_session);
    let login = spawn_login(&iam);
    login_hold.reached.notified().await;
    clock.advance(std::time::Duration::from_secs(1));
    iam.revoke_all_sessions(Caller::System, &account_id)
        .await
        .expect("sign out everywhere");
    login_hold.release.notify_one();
    let after = login.await.expect("task").expect("the login lands after");
    assert_stays_signed_in(&iam, &after).await;
    assert_a_later_login_stays(&iam).await;
}
