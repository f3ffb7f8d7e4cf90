//! The store-conformance suite (feature `testing`): one function per contract of
//! [`crate::store::Store`], run by every adapter's tests against fresh stores.
//!
//! Each contract is a `pub async fn` that takes a fresh, empty store and panics with a message
//! naming the broken rule. The contracts are grouped by concern ([`records`], [`commit`],
//! [`throttle`], [`audit`], [`revocation`], [`races`], [`flows`]) and re-exported here.
//! [`store_contract_tests!`](crate::store_contract_tests) expands to one test per contract for a
//! store factory, so one broken contract never hides another. The race contracts spawn tokio
//! tasks; the macro runs every contract on a multi-thread runtime so the races are real.
//!
//! ```ignore
//! // tests/conformance.rs of an adapter crate (with tokio as a dev-dependency):
//! iam_core::store_contract_tests!(|| async { iam_core::MemoryStore::new() });
//! ```

pub mod audit;
pub mod commit;
pub mod flows;
pub mod races;
pub mod records;
pub mod revocation;
pub mod throttle;

pub use audit::{audit_chain_and_queries, audit_checkpoints};
pub use commit::{
    aborted_commit_leaves_nothing, check_conflicts_when_changed, check_conflicts_when_deleted,
    check_passes_when_unchanged, commit_uniqueness, commit_versions,
};
pub use flows::account_model_flows;
pub use races::{
    race_account_creation, race_audit_appends, race_check_and_update,
    race_elevation_and_role_revocation, race_record_writes, race_refresh_rotation,
    race_revocation_feed, race_throttle_failures, race_throttle_reservations,
    race_wrong_password_logins,
};
pub use records::{prune_expired, records_get_find_list};
pub use revocation::revocations_and_subscriptions;
pub use throttle::{throttle_counters, throttle_reservations};

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::audit::{verify_chain, AuditDraft, AuditEvent, AuditKind, AuditQuery, GENESIS};
use crate::authz::Caller;
use crate::clock::Timestamp;
use crate::config::Config;
use crate::error::{Denial, Error};
use crate::password::PasswordPolicy;
use crate::random::SecureRandom;
use crate::revocation::{Revocation, RevocationCache, RevocationChange, RevokedSubject};
use crate::secret::MasterKey;
use crate::store::{
    Commit, ListQuery, PruneReport, Record, RecordKind, Store, StoreError, ThrottleState,
    ThrottleWrite, Write,
};
use crate::throttle::ThrottlePolicy;
use crate::{Iam, LoginRequest, NewAccount};

/// How many tasks the race contracts start at once.
pub const RACERS: usize = 200;

/// What a store factory hands one contract test: the store, and whatever must outlive the
/// contract (a temporary directory, a throwaway schema), dropped after it even when it panics.
pub trait Fixture {
    /// The store the contract runs against.
    type Store: Store;
    /// Kept alive until the contract ends.
    type Guard;
    /// Splits the fixture.
    fn into_parts(self) -> (Self::Store, Self::Guard);
}

impl<S: Store> Fixture for S {
    type Store = S;
    type Guard = ();
    fn into_parts(self) -> (S, ()) {
        (self, ())
    }
}

impl<S: Store, G> Fixture for (S, G) {
    type Store = S;
    type Guard = G;
    fn into_parts(self) -> (S, G) {
        self
    }
}

/// Runs one contract, named `name`, on a fixture from `fresh`; first asks `available(name)`
/// whether the backend can be reached and returns quietly when it says no (the adapter decides
/// whether a missing backend skips or fails). What [`crate::store_contract_tests!`] expands to.
pub async fn run_contract<A, AFut, F, FFut, T, C, CFut>(
    name: &'static str,
    available: A,
    fresh: F,
    contract: C,
) where
    A: FnOnce(&'static str) -> AFut,
    AFut: Future<Output = bool>,
    F: FnOnce() -> FFut,
    FFut: Future<Output = T>,
    T: Fixture,
    C: FnOnce(T::Store) -> CFut,
    CFut: Future<Output = ()>,
{
    if !available(name).await {
        return;
    }
    let (store, guard) = fresh().await.into_parts();
    contract(store).await;
    drop(guard);
}

/// Expands to one `#[tokio::test]` (multi-thread runtime) per store contract of
/// [`crate::testing`], each on a fresh store from the factory: an expression callable with no
/// arguments that returns a future of a [`testing::Fixture`](crate::testing::Fixture) (a
/// store, or a `(store, guard)` pair). The calling crate needs tokio (with `macros` and
/// `rt-multi-thread`) as a dev-dependency.
///
/// With `skip_unless = f`, each test first awaits `f(test_name)` (`f: FnOnce(&'static str) ->
/// impl Future<Output = bool>`) and passes without running when it yields `false`.
///
/// ```ignore
/// iam_core::store_contract_tests!(|| async { iam_core::MemoryStore::new() });
/// iam_core::store_contract_tests!(fresh_store, skip_unless = server_available);
/// ```
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:expr $(,)?) => {
        $crate::store_contract_tests!($fresh, skip_unless = |_: &'static str| async { true });
    };
    ($fresh:expr, skip_unless = $available:expr $(,)?) => {
        $crate::__store_contract_tests! {
            ($fresh) ($available)
            records_get_find_list prune_expired
            commit_versions commit_uniqueness aborted_commit_leaves_nothing
            check_passes_when_unchanged check_conflicts_when_changed check_conflicts_when_deleted
            throttle_counters throttle_reservations
            audit_chain_and_queries audit_checkpoints
            revocations_and_subscriptions
            race_record_writes race_check_and_update race_throttle_failures
            race_throttle_reservations race_audit_appends race_revocation_feed
            race_refresh_rotation race_wrong_password_logins race_account_creation
            race_elevation_and_role_revocation
            account_model_flows
        }
    };
}

/// The body of [`store_contract_tests!`]: one test per contract name.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract_tests {
    (($fresh:expr) ($available:expr) $($name:ident)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::testing::run_contract(
                    ::core::stringify!($name),
                    $available,
                    $fresh,
                    |store| $crate::testing::$name(store),
                )
                .await;
            }
        )*
    };
}

// ---- helpers ------------------------------------------------------------------------------

/// A record with version 0 (the store sets it) and no expiry.
fn rec(
    kind: RecordKind,
    id: &str,
    parent: Option<&str>,
    lookup: Option<&str>,
    body: &str,
) -> Record {
    Record {
        kind,
        id: id.to_owned(),
        version: 0,
        parent: parent.map(str::to_owned),
        lookup: lookup.map(str::to_owned),
        expires_at: None,
        body: body.to_owned(),
    }
}

fn inserts(records: impl IntoIterator<Item = Record>) -> Commit {
    Commit {
        writes: records.into_iter().map(Write::Insert).collect(),
        ..Commit::default()
    }
}

fn update(record: Record, expected_version: u64) -> Write {
    Write::Update {
        record,
        expected_version,
    }
}

fn delete(kind: RecordKind, id: &str, expected_version: u64) -> Write {
    Write::Delete {
        kind,
        id: id.to_owned(),
        expected_version,
    }
}

async fn commit_ok<S: Store>(store: &S, commit: Commit, what: &str) {
    if let Err(e) = store.commit(commit).await {
        panic!("{what}: commit failed: {e}");
    }
}

async fn get<S: Store>(store: &S, kind: RecordKind, id: &str) -> Option<Record> {
    store.get(kind, id).await.expect("get failed")
}

async fn find<S: Store>(store: &S, kind: RecordKind, lookup: &str) -> Option<Record> {
    store.find(kind, lookup).await.expect("find failed")
}

async fn list<S: Store>(store: &S, kind: RecordKind, query: ListQuery) -> Vec<Record> {
    store.list(kind, &query).await.expect("list failed")
}

fn ids(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.id.clone()).collect()
}

fn query(parent: Option<&str>, after: Option<&str>, limit: Option<usize>) -> ListQuery {
    ListQuery {
        parent: parent.map(str::to_owned),
        after: after.map(str::to_owned),
        limit,
    }
}

async fn all_audit<S: Store>(store: &S) -> Vec<AuditEvent> {
    store
        .audit(&AuditQuery::default())
        .await
        .expect("audit read failed")
}

async fn sorted_revocations<S: Store>(store: &S) -> Vec<Revocation> {
    let mut all = store.revocations().await.expect("revocations read failed");
    all.sort_by(|a, b| (a.subject.as_str(), &a.id).cmp(&(b.subject.as_str(), &b.id)));
    all
}

fn grant(id: &str, until: Timestamp) -> Revocation {
    Revocation {
        subject: RevokedSubject::Grant,
        id: id.to_owned(),
        issued_before: Timestamp::MAX,
        until,
    }
}

fn account_revocation(id: &str, issued_before: Timestamp, until: Timestamp) -> Revocation {
    Revocation {
        subject: RevokedSubject::Account,
        id: id.to_owned(),
        issued_before,
        until,
    }
}

fn draft(kind: AuditKind, at_ms: i64, account: Option<&str>) -> AuditDraft {
    let mut d = AuditDraft::new(kind, Timestamp::from_millis(at_ms));
    d.account = account.map(str::to_owned);
    d
}

async fn join_all<T: Send + 'static>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("a racing task panicked"));
    }
    out
}

/// A configuration for the service-level races: cheap Argon2 and no back-off.
fn race_config() -> Config {
    let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.throttle = ThrottlePolicy {
        free_failures: 1_000_000,
        ..ThrottlePolicy::default()
    };
    config
}

async fn open_iam<S: Store>(store: S) -> Iam<S> {
    Iam::builder(store, race_config())
        .open()
        .await
        .expect("Iam::open over the store failed")
}

/// The back-off the reservation contracts apply: two free failures, then 10 s doubling to 40 s.
fn reservation_policy() -> ThrottlePolicy {
    ThrottlePolicy {
        free_failures: 2,
        base_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(40),
    }
}

fn reserve(key: &str, at: Timestamp, policy: &ThrottlePolicy) -> ThrottleWrite {
    ThrottleWrite::Reserve {
        key: key.to_owned(),
        at,
        policy: policy.clone(),
    }
}
