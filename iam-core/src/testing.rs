//! The store-conformance suite (feature `testing`): one function per contract of
//! [`crate::store::Store`], run by every adapter's tests against fresh stores.
//!
//! Each contract is a `pub async fn` that takes a fresh, empty store and panics with a message
//! naming the broken rule. [`run_all`] runs every contract, each on a new store from a factory.
//! The race contracts spawn tokio tasks: call them from a multi-thread runtime so the races are
//! real (`#[tokio::test(flavor = "multi_thread")]`).
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() {
//! iam_core::testing::run_all(|| async { iam_core::MemoryStore::new() }).await;
//! # }
//! ```

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
use crate::service::{Iam, LoginRequest, NewAccount};
use crate::store::{
    Commit, ListQuery, PruneReport, Record, RecordKind, Store, StoreError, ThrottleState,
    ThrottleWrite, Write,
};
use crate::throttle::ThrottlePolicy;

/// How many tasks the race contracts start at once.
pub const RACERS: usize = 200;

/// Runs every contract, each against a fresh store from `fresh`.
pub async fn run_all<S, F, Fut>(fresh: F)
where
    S: Store,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    records_get_find_list(fresh().await).await;
    commit_versions(fresh().await).await;
    commit_uniqueness(fresh().await).await;
    aborted_commit_leaves_nothing(fresh().await).await;
    throttle_counters(fresh().await).await;
    throttle_reservations(fresh().await).await;
    prune_expired(fresh().await).await;
    audit_chain_and_queries(fresh().await).await;
    revocations_and_subscriptions(fresh().await).await;
    race_record_writes(fresh().await).await;
    race_throttle_failures(fresh().await).await;
    race_throttle_reservations(fresh().await).await;
    race_audit_appends(fresh().await).await;
    race_revocation_feed(fresh().await).await;
    race_refresh_rotation(fresh().await).await;
    race_wrong_password_logins(fresh().await).await;
    race_account_creation(fresh().await).await;
    account_model_flows(fresh().await).await;
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

// ---- records ------------------------------------------------------------------------------

/// `get`, `find` and `list`: exact round trip of every field, kinds as namespaces, ordering by
/// id in byte order, the parent filter, `after` paging and `limit`.
pub async fn records_get_find_list<S: Store>(store: S) {
    assert_eq!(get(&store, RecordKind::Account, "nobody").await, None);
    assert_eq!(find(&store, RecordKind::Account, "nobody").await, None);
    assert!(list(&store, RecordKind::Account, ListQuery::default())
        .await
        .is_empty());

    // Ids whose byte order differs from most locales' collation order.
    let account_ids = [
        "m",
        "B",
        "a",
        "a-b",
        "a_b",
        "a.b",
        "Z",
        "\u{e9}t\u{e9}",
        "b",
        "a0",
        "aa",
        "A",
    ];
    let mut records = Vec::new();
    for (i, id) in account_ids.iter().enumerate() {
        let mut r = rec(
            RecordKind::Account,
            id,
            None,
            Some(&format!("user{i}")),
            &format!("{{\"n\": {i},  \"name\":\"\u{e9}\u{1f600}\\u0000\"}}"),
        );
        r.version = 7; // ignored on insert
        records.push(r);
    }
    records[0].expires_at = Some(Timestamp::from_millis(1_700_000_000_123));
    records[1].expires_at = Some(Timestamp::MAX);
    records[2].expires_at = Some(Timestamp::MIN);
    commit_ok(&store, inserts(records.clone()), "insert accounts").await;

    for r in &records {
        let got = get(&store, RecordKind::Account, &r.id).await;
        let want = Record {
            version: 1,
            ..r.clone()
        };
        assert_eq!(
            got.as_ref(),
            Some(&want),
            "get must return the record exactly as inserted, with version 1"
        );
        let lookup = r.lookup.as_deref().expect("test records have lookups");
        assert_eq!(
            find(&store, RecordKind::Account, lookup).await.as_ref(),
            Some(&want),
            "find by lookup"
        );
    }

    // Kinds are separate namespaces for ids and lookups.
    commit_ok(
        &store,
        inserts([
            rec(RecordKind::Session, "m", Some("p1"), Some("user0"), "{}"),
            rec(RecordKind::Session, "s3", Some("p1"), None, "{}"),
            rec(RecordKind::Session, "s1", Some("p1"), None, "{}"),
            rec(RecordKind::Session, "s2", Some("p2"), None, "{}"),
            rec(RecordKind::Session, "s0", None, None, "{}"),
            rec(RecordKind::Session, "S9", Some("p1"), None, "{}"),
        ]),
        "insert sessions",
    )
    .await;
    assert_eq!(
        get(&store, RecordKind::Account, "m").await.map(|r| r.body),
        Some(records[0].body.clone()),
        "an id reused in another kind must not shadow the account"
    );
    assert_eq!(
        find(&store, RecordKind::Session, "user0")
            .await
            .map(|r| r.id),
        Some("m".to_owned()),
        "lookups are per kind"
    );
    assert_eq!(get(&store, RecordKind::RefreshToken, "m").await, None);
    assert_eq!(find(&store, RecordKind::SigningKey, "user0").await, None);

    // Ordering by id, byte-wise.
    let mut sorted: Vec<String> = account_ids.iter().map(|s| (*s).to_owned()).collect();
    sorted.sort();
    let everything = list(&store, RecordKind::Account, ListQuery::default()).await;
    assert_eq!(
        ids(&everything),
        sorted,
        "list must order by id in byte order"
    );
    assert!(everything.iter().all(|r| r.version == 1));
    assert_eq!(
        ids(&list(&store, RecordKind::Account, query(None, None, Some(3))).await),
        sorted[..3].to_vec(),
        "limit"
    );
    assert!(
        list(&store, RecordKind::Account, query(None, None, Some(0)))
            .await
            .is_empty(),
        "limit 0"
    );
    assert_eq!(
        ids(&list(
            &store,
            RecordKind::Account,
            query(None, Some(&sorted[4]), None)
        )
        .await),
        sorted[5..].to_vec(),
        "after an existing id"
    );
    assert_eq!(
        ids(&list(&store, RecordKind::Account, query(None, Some("a1"), None)).await),
        sorted
            .iter()
            .filter(|s| s.as_str() > "a1")
            .cloned()
            .collect::<Vec<_>>(),
        "after a value that is no id"
    );
    // Paging two at a time gives everything once, in order.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(
            &store,
            RecordKind::Account,
            query(None, after.as_deref(), Some(2)),
        )
        .await;
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        paged.extend(ids(&page));
    }
    assert_eq!(paged, sorted, "paging with after + limit");

    // The parent filter.
    assert_eq!(
        ids(&list(&store, RecordKind::Session, query(Some("p1"), None, None)).await),
        vec!["S9", "m", "s1", "s3"],
        "parent filter"
    );
    assert_eq!(
        ids(&list(
            &store,
            RecordKind::Session,
            query(Some("p1"), Some("m"), Some(1))
        )
        .await),
        vec!["s1"],
        "parent filter with after and limit"
    );
    assert!(
        list(&store, RecordKind::Session, query(Some("p3"), None, None))
            .await
            .is_empty()
    );
    assert_eq!(
        ids(&list(&store, RecordKind::Session, ListQuery::default()).await),
        vec!["S9", "m", "s0", "s1", "s2", "s3"],
        "no filter lists records without parent too"
    );
    assert!(
        list(&store, RecordKind::SigningKey, ListQuery::default())
            .await
            .is_empty(),
        "an empty kind lists nothing"
    );
}

/// Insert sets version 1, Update bumps it under a matching expectation and otherwise fails with
/// `Conflict`, Delete removes, writes in one commit apply in order.
pub async fn commit_versions<S: Store>(store: S) {
    let k = RecordKind::Account;
    let mut original = rec(k, "acc", Some("p"), Some("alice"), "{\"v\":1}");
    original.version = 42;
    commit_ok(&store, inserts([original.clone()]), "insert").await;
    assert_eq!(get(&store, k, "acc").await.map(|r| r.version), Some(1));

    let mut changed = rec(k, "acc", Some("q"), Some("alice"), "{\"v\":2}");
    changed.expires_at = Some(Timestamp::from_secs(99));
    changed.version = 1000;
    commit_ok(
        &store,
        Commit {
            writes: vec![update(changed.clone(), 1)],
            ..Commit::default()
        },
        "update at version 1",
    )
    .await;
    let v2 = Record {
        version: 2,
        ..changed.clone()
    };
    assert_eq!(
        get(&store, k, "acc").await.as_ref(),
        Some(&v2),
        "update replaces every field and bumps the version"
    );

    let stale = rec(k, "acc", None, Some("alice"), "{\"v\":\"stale\"}");
    assert_eq!(
        store
            .commit(Commit {
                writes: vec![update(stale.clone(), 1)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Conflict),
        "update with a stale version"
    );
    assert_eq!(get(&store, k, "acc").await.as_ref(), Some(&v2));
    assert_eq!(
        store
            .commit(Commit {
                writes: vec![update(rec(k, "missing", None, None, "{}"), 1)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Conflict),
        "update of a missing record"
    );
    assert_eq!(get(&store, k, "missing").await, None);

    assert_eq!(
        store
            .commit(Commit {
                writes: vec![delete(k, "acc", 1)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Conflict),
        "delete with a stale version"
    );
    assert_eq!(get(&store, k, "acc").await.as_ref(), Some(&v2));
    assert_eq!(
        store
            .commit(Commit {
                writes: vec![delete(k, "missing", 1)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Conflict),
        "delete of a missing record"
    );
    commit_ok(
        &store,
        Commit {
            writes: vec![delete(k, "acc", 2)],
            ..Commit::default()
        },
        "delete at version 2",
    )
    .await;
    assert_eq!(get(&store, k, "acc").await, None);
    assert_eq!(
        find(&store, k, "alice").await,
        None,
        "delete frees the lookup"
    );
    assert!(list(&store, k, ListQuery::default()).await.is_empty());
    assert!(list(&store, k, query(Some("q"), None, None))
        .await
        .is_empty());

    // A deleted id can be inserted again and starts over at version 1.
    commit_ok(&store, inserts([original.clone()]), "re-insert").await;
    assert_eq!(get(&store, k, "acc").await.map(|r| r.version), Some(1));

    // Writes inside one commit apply in order.
    commit_ok(
        &store,
        Commit {
            writes: vec![
                Write::Insert(rec(k, "seq", None, None, "{\"step\":1}")),
                update(rec(k, "seq", None, None, "{\"step\":2}"), 1),
                update(rec(k, "seq", None, None, "{\"step\":3}"), 2),
            ],
            ..Commit::default()
        },
        "insert then two updates in one commit",
    )
    .await;
    let seq = get(&store, k, "seq")
        .await
        .expect("record written in one commit");
    assert_eq!((seq.version, seq.body.as_str()), (3, "{\"step\":3}"));
    commit_ok(
        &store,
        Commit {
            writes: vec![
                delete(k, "seq", 3),
                Write::Insert(rec(k, "seq", None, None, "{\"step\":4}")),
            ],
            ..Commit::default()
        },
        "delete then insert in one commit",
    )
    .await;
    assert_eq!(get(&store, k, "seq").await.map(|r| r.version), Some(1));

    // An empty commit is fine and changes nothing.
    commit_ok(&store, Commit::default(), "empty commit").await;
    assert!(all_audit(&store).await.is_empty());
}

/// Ids and lookups are unique per kind: inserts and lookup-changing updates that collide fail
/// with `Duplicate { kind }`; changing or clearing a lookup frees the old one.
pub async fn commit_uniqueness<S: Store>(store: S) {
    let a = RecordKind::Account;
    commit_ok(
        &store,
        inserts([
            rec(a, "acc1", None, Some("alice"), "{}"),
            rec(a, "acc2", None, Some("bob"), "{}"),
            rec(a, "nolookup1", None, None, "{}"),
            rec(a, "nolookup2", None, None, "{}"),
        ]),
        "setup",
    )
    .await;
    let dup = |r: Record| async { store.commit(inserts([r])).await };
    assert_eq!(
        dup(rec(a, "acc1", None, Some("carol"), "{}")).await,
        Err(StoreError::Duplicate { kind: a }),
        "insert with a taken id"
    );
    assert_eq!(find(&store, a, "carol").await, None);
    assert_eq!(
        dup(rec(a, "acc3", None, Some("alice"), "{}")).await,
        Err(StoreError::Duplicate { kind: a }),
        "insert with a taken lookup"
    );
    assert_eq!(get(&store, a, "acc3").await, None);
    commit_ok(
        &store,
        inserts([
            rec(RecordKind::Session, "acc1", None, Some("alice"), "{}"),
            rec(RecordKind::SigningKey, "k1", None, None, "{}"),
        ]),
        "the same id and lookup in another kind",
    )
    .await;
    assert_eq!(
        store
            .commit(inserts([rec(
                RecordKind::Session,
                "acc1",
                None,
                None,
                "{}"
            )]))
            .await,
        Err(StoreError::Duplicate {
            kind: RecordKind::Session
        }),
        "the duplicate names its kind"
    );

    // Two inserts with one lookup in one commit: neither lands.
    assert_eq!(
        store
            .commit(inserts([
                rec(a, "x1", None, Some("xavier"), "{}"),
                rec(a, "x2", None, Some("xavier"), "{}"),
            ]))
            .await,
        Err(StoreError::Duplicate { kind: a })
    );
    assert_eq!(get(&store, a, "x1").await, None);
    assert_eq!(find(&store, a, "xavier").await, None);

    // Changing a lookup.
    let keep = rec(a, "acc1", None, Some("alice"), "{\"same\":true}");
    commit_ok(
        &store,
        Commit {
            writes: vec![update(keep, 1)],
            ..Commit::default()
        },
        "update keeping its own lookup",
    )
    .await;
    assert_eq!(
        store
            .commit(Commit {
                writes: vec![update(rec(a, "acc1", None, Some("bob"), "{}"), 2)],
                ..Commit::default()
            })
            .await,
        Err(StoreError::Duplicate { kind: a }),
        "update to a lookup held by another record"
    );
    assert_eq!(find(&store, a, "alice").await.map(|r| r.version), Some(2));
    assert_eq!(
        find(&store, a, "bob").await.map(|r| r.id),
        Some("acc2".to_owned())
    );
    commit_ok(
        &store,
        Commit {
            writes: vec![update(rec(a, "acc1", None, Some("alicia"), "{}"), 2)],
            ..Commit::default()
        },
        "rename",
    )
    .await;
    assert_eq!(
        find(&store, a, "alice").await,
        None,
        "the old lookup is freed"
    );
    assert_eq!(
        find(&store, a, "alicia").await.map(|r| r.id),
        Some("acc1".to_owned())
    );
    commit_ok(
        &store,
        inserts([rec(a, "acc4", None, Some("alice"), "{}")]),
        "a freed lookup can be taken",
    )
    .await;
    commit_ok(
        &store,
        Commit {
            writes: vec![update(rec(a, "acc2", None, None, "{}"), 1)],
            ..Commit::default()
        },
        "clearing a lookup",
    )
    .await;
    assert_eq!(find(&store, a, "bob").await, None);
    commit_ok(
        &store,
        inserts([rec(a, "acc5", None, Some("bob"), "{}")]),
        "a cleared lookup can be taken",
    )
    .await;
    assert_eq!(
        find(&store, a, "bob").await.map(|r| r.id),
        Some("acc5".to_owned())
    );
}

/// A commit that fails leaves nothing behind: no record change, no throttle change, no
/// revocation (in the list or in a subscribed cache), no audit event, no gap in the chain.
pub async fn aborted_commit_leaves_nothing<S: Store>(store: S) {
    let a = RecordKind::Account;
    let cache = Arc::new(RevocationCache::new());
    store
        .subscribe(Arc::clone(&cache))
        .await
        .expect("subscribe");
    let until = Timestamp::from_secs(4_000_000_000);
    let r0 = grant("ses_kept", until);
    commit_ok(
        &store,
        Commit {
            writes: vec![
                Write::Insert(rec(a, "A", None, Some("alice"), "{\"a\":1}")),
                Write::Insert(rec(a, "B", None, Some("bob"), "{\"b\":1}")),
                Write::Insert(rec(a, "E", None, Some("eve"), "{}")),
            ],
            throttle: vec![
                ThrottleWrite::Failure {
                    key: "k".into(),
                    at: Timestamp::from_secs(10),
                },
                ThrottleWrite::Failure {
                    key: "k2".into(),
                    at: Timestamp::from_secs(10),
                },
            ],
            revocations: vec![RevocationChange::Put(r0.clone())],
            audit: vec![draft(AuditKind::AccountCreated, 1, Some("A"))],
        },
        "setup",
    )
    .await;
    let a_before = get(&store, a, "A").await;
    let b_before = get(&store, a, "B").await;
    let throttle_before = store.throttle("k").await.expect("throttle");
    let now = Timestamp::from_secs(20);

    let failing: [(Write, StoreError, &str); 4] = [
        (
            Write::Insert(rec(a, "D", None, Some("eve"), "{}")),
            StoreError::Duplicate { kind: a },
            "duplicate lookup last",
        ),
        (
            update(rec(a, "E", None, Some("eve"), "{}"), 9),
            StoreError::Conflict,
            "stale update last",
        ),
        (
            delete(a, "nope", 1),
            StoreError::Conflict,
            "delete of a missing record last",
        ),
        (
            Write::Insert(rec(a, "A", None, None, "{}")),
            StoreError::Duplicate { kind: a },
            "duplicate id last",
        ),
    ];
    for (bad, expected, what) in failing {
        let commit = Commit {
            writes: vec![
                Write::Insert(rec(a, "C", Some("A"), Some("carol"), "{}")),
                update(rec(a, "A", None, Some("alice2"), "{\"a\":2}"), 1),
                delete(a, "B", 1),
                bad,
            ],
            throttle: vec![
                ThrottleWrite::Failure {
                    key: "k".into(),
                    at: now,
                },
                ThrottleWrite::Failure {
                    key: "k3".into(),
                    at: now,
                },
                ThrottleWrite::Reset { key: "k2".into() },
            ],
            revocations: vec![
                RevocationChange::Put(grant("ses_new", until)),
                RevocationChange::Lift {
                    subject: RevokedSubject::Grant,
                    id: "ses_kept".into(),
                },
            ],
            audit: vec![
                draft(AuditKind::LoginFailed, 2, Some("A")),
                draft(AuditKind::LoginFailed, 3, Some("A")),
            ],
        };
        assert_eq!(store.commit(commit).await, Err(expected), "{what}");
        assert_eq!(
            get(&store, a, "C").await,
            None,
            "{what}: inserted record left behind"
        );
        assert_eq!(
            find(&store, a, "carol").await,
            None,
            "{what}: lookup left behind"
        );
        assert!(
            list(&store, a, query(Some("A"), None, None))
                .await
                .is_empty(),
            "{what}: listed record left behind"
        );
        assert_eq!(
            get(&store, a, "A").await,
            a_before,
            "{what}: update left behind"
        );
        assert_eq!(
            find(&store, a, "alice2").await,
            None,
            "{what}: lookup change left behind"
        );
        assert_eq!(
            get(&store, a, "B").await,
            b_before,
            "{what}: delete left behind"
        );
        assert_eq!(
            store.throttle("k").await.expect("throttle"),
            throttle_before,
            "{what}: throttle failure left behind"
        );
        assert_eq!(
            store.throttle("k3").await.expect("throttle"),
            None,
            "{what}: throttle key left behind"
        );
        assert!(
            store.throttle("k2").await.expect("throttle").is_some(),
            "{what}: throttle reset left behind"
        );
        assert_eq!(
            sorted_revocations(&store).await,
            vec![r0.clone()],
            "{what}: revocation change left behind"
        );
        assert_eq!(
            cache.check("acc", "ses_new", Timestamp::from_secs(1)),
            Ok(()),
            "{what}: an aborted revocation reached the cache"
        );
        assert_eq!(
            cache.check("acc", "ses_kept", Timestamp::from_secs(1)),
            Err(Denial::SessionRevoked),
            "{what}: an aborted lift reached the cache"
        );
        assert_eq!(
            all_audit(&store).await.len(),
            1,
            "{what}: audit event left behind"
        );
    }

    // The chain goes on without a gap after the aborted appends.
    commit_ok(
        &store,
        Commit {
            audit: vec![draft(AuditKind::LoginSucceeded, 4, Some("A"))],
            ..Commit::default()
        },
        "append after aborts",
    )
    .await;
    let events = all_audit(&store).await;
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(verify_chain(&events), Ok(2));
}

/// Throttle counters: `Failure` counts up and keeps the latest time, `Reset` clears, keys are
/// independent.
pub async fn throttle_counters<S: Store>(store: S) {
    let fail = |key: &str, secs: i64| ThrottleWrite::Failure {
        key: key.to_owned(),
        at: Timestamp::from_secs(secs),
    };
    let state = |failures, secs| ThrottleState {
        failures,
        last_failure: Timestamp::from_secs(secs),
    };
    let throttle = |key: &'static str| {
        let store = &store;
        async move { store.throttle(key).await.expect("throttle read failed") }
    };
    let one = |t: ThrottleWrite| Commit {
        throttle: vec![t],
        ..Commit::default()
    };

    assert_eq!(throttle("login:alice").await, None);
    commit_ok(&store, one(fail("login:alice", 10)), "failure 1").await;
    assert_eq!(throttle("login:alice").await, Some(state(1, 10)));
    commit_ok(&store, one(fail("login:alice", 20)), "failure 2").await;
    assert_eq!(throttle("login:alice").await, Some(state(2, 20)));
    commit_ok(&store, one(fail("login:alice", 15)), "an earlier failure").await;
    assert_eq!(
        throttle("login:alice").await,
        Some(state(3, 20)),
        "a failure that happened earlier counts but does not move last_failure back"
    );
    assert_eq!(throttle("login:bob").await, None, "keys are independent");

    commit_ok(
        &store,
        Commit {
            throttle: vec![fail("login:bob", 5), fail("login:carol", 6)],
            ..Commit::default()
        },
        "two keys in one commit",
    )
    .await;
    assert_eq!(throttle("login:bob").await, Some(state(1, 5)));
    assert_eq!(throttle("login:carol").await, Some(state(1, 6)));

    commit_ok(
        &store,
        one(ThrottleWrite::Reset {
            key: "login:alice".into(),
        }),
        "reset",
    )
    .await;
    assert_eq!(throttle("login:alice").await, None);
    assert_eq!(
        throttle("login:bob").await,
        Some(state(1, 5)),
        "reset touches one key"
    );
    commit_ok(
        &store,
        one(ThrottleWrite::Reset {
            key: "login:nobody".into(),
        }),
        "reset of an absent key",
    )
    .await;
    commit_ok(&store, one(fail("login:alice", 30)), "failure after reset").await;
    assert_eq!(
        throttle("login:alice").await,
        Some(state(1, 30)),
        "counting restarts after a reset"
    );
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

/// Reservations: `Reserve` counts an attempt up front while the policy imposes no wait and
/// otherwise fails the whole commit with [`StoreError::Throttled`] (how long to wait), changing
/// nothing; several in one commit apply in order; `Refund` takes one failure back (the counter
/// goes at zero), `Reset` clears.
pub async fn throttle_reservations<S: Store>(store: S) {
    let policy = reservation_policy();
    let t0 = Timestamp::from_secs(1_000);
    let secs = |s| Duration::from_secs(s);
    let state = |failures, at: Timestamp| {
        Some(ThrottleState {
            failures,
            last_failure: at,
        })
    };
    let throttle = |key: &'static str| {
        let store = &store;
        async move { store.throttle(key).await.expect("throttle read failed") }
    };
    let run = |writes: Vec<ThrottleWrite>| {
        let store = &store;
        async move {
            store
                .commit(Commit {
                    throttle: writes,
                    ..Commit::default()
                })
                .await
        }
    };
    let throttled = |s| {
        Err(StoreError::Throttled {
            retry_after: Duration::from_secs(s),
        })
    };

    for n in 1..=3 {
        assert_eq!(
            run(vec![reserve("login:ann", t0, &policy)]).await,
            Ok(()),
            "free failures and the first paid one are admitted at once"
        );
        assert_eq!(
            throttle("login:ann").await,
            state(n, t0),
            "reservation {n} counts"
        );
    }
    assert_eq!(
        run(vec![reserve("login:ann", t0, &policy)]).await,
        throttled(10),
        "the third failure imposes the base delay"
    );
    assert_eq!(
        run(vec![reserve("login:ann", t0.plus(secs(4)), &policy)]).await,
        throttled(6),
        "the wait counts down from the last failure"
    );
    assert_eq!(
        throttle("login:ann").await,
        state(3, t0),
        "a refused reservation counts nothing"
    );
    let t1 = t0.plus(secs(10));
    assert_eq!(run(vec![reserve("login:ann", t1, &policy)]).await, Ok(()));
    assert_eq!(throttle("login:ann").await, state(4, t1));
    assert_eq!(
        run(vec![reserve("login:ann", t1.plus(secs(19)), &policy)]).await,
        throttled(1),
        "the delay doubles"
    );
    assert_eq!(throttle("login:bob").await, None, "keys are independent");

    assert_eq!(
        run(vec![ThrottleWrite::Refund {
            key: "login:ann".into()
        }])
        .await,
        Ok(())
    );
    assert_eq!(
        throttle("login:ann").await,
        state(3, t1),
        "a refund takes one failure back and keeps the time"
    );
    assert_eq!(
        run(vec![reserve("login:ann", t1, &policy)]).await,
        throttled(10),
        "the back-off follows the refunded count"
    );
    assert_eq!(run(vec![reserve("login:bob", t0, &policy)]).await, Ok(()));
    let refund_bob = ThrottleWrite::Refund {
        key: "login:bob".into(),
    };
    assert_eq!(run(vec![refund_bob.clone()]).await, Ok(()));
    assert_eq!(
        throttle("login:bob").await,
        None,
        "refunding the last failure removes the counter"
    );
    assert_eq!(
        run(vec![refund_bob]).await,
        Ok(()),
        "a refund without a counter changes nothing"
    );
    assert_eq!(throttle("login:bob").await, None);

    assert_eq!(
        run(vec![
            reserve("login:pair", t0, &policy),
            reserve("login:pair", t0, &policy),
        ])
        .await,
        Ok(()),
        "two reservations in one commit"
    );
    assert_eq!(throttle("login:pair").await, state(2, t0));
    assert_eq!(
        run(vec![
            reserve("login:pair", t0, &policy),
            reserve("login:pair", t0, &policy),
        ])
        .await,
        throttled(10),
        "the second reservation sees the first one's count"
    );
    assert_eq!(
        throttle("login:pair").await,
        state(2, t0),
        "the refused commit undid its first reservation too"
    );

    // A refused reservation aborts everything else in its commit.
    assert_eq!(run(vec![reserve("login:cy", t0, &policy)]).await, Ok(()));
    let a = RecordKind::Account;
    let refused = Commit {
        writes: vec![Write::Insert(rec(a, "X", None, Some("xavier"), "{}"))],
        throttle: vec![
            ThrottleWrite::Failure {
                key: "login:other".into(),
                at: t0,
            },
            ThrottleWrite::Refund {
                key: "login:pair".into(),
            },
            ThrottleWrite::Reset {
                key: "login:cy".into(),
            },
            reserve("login:fresh", t0, &policy),
            reserve("login:ann", t1, &policy),
        ],
        revocations: vec![RevocationChange::Put(grant(
            "ses_x",
            Timestamp::from_secs(4_000_000_000),
        ))],
        audit: vec![draft(AuditKind::LoginFailed, 1, Some("X"))],
    };
    assert_eq!(store.commit(refused).await, throttled(10));
    assert_eq!(get(&store, a, "X").await, None, "record write left behind");
    assert_eq!(find(&store, a, "xavier").await, None, "lookup left behind");
    assert_eq!(throttle("login:other").await, None, "failure left behind");
    assert_eq!(
        throttle("login:fresh").await,
        None,
        "reservation left behind"
    );
    assert_eq!(
        throttle("login:pair").await,
        state(2, t0),
        "refund left behind"
    );
    assert_eq!(
        throttle("login:cy").await,
        state(1, t0),
        "reset left behind"
    );
    assert_eq!(
        throttle("login:ann").await,
        state(3, t1),
        "refused reservation counted"
    );
    assert!(
        sorted_revocations(&store).await.is_empty(),
        "revocation left behind"
    );
    assert!(
        all_audit(&store).await.is_empty(),
        "audit event left behind"
    );

    assert_eq!(
        run(vec![ThrottleWrite::Reset {
            key: "login:ann".into()
        }])
        .await,
        Ok(())
    );
    assert_eq!(throttle("login:ann").await, None);
    assert_eq!(run(vec![reserve("login:ann", t1, &policy)]).await, Ok(()));
    assert_eq!(
        throttle("login:ann").await,
        state(1, t1),
        "counting restarts after a reset"
    );
}

/// `prune`: removes exactly the records whose `expires_at` is at or before `now` (any kind, any
/// version, lookups freed), revocations whose `until` has passed and idle throttle counters;
/// keeps everything else and every audit event; reports the counts.
pub async fn prune_expired<S: Store>(store: S) {
    let at = |secs| Some(Timestamp::from_secs(secs));
    let expiring = |kind, id: &str, lookup: Option<&str>, secs| Record {
        expires_at: at(secs),
        ..rec(kind, id, Some("acc_a"), lookup, "{}")
    };
    commit_ok(
        &store,
        Commit {
            writes: vec![
                Write::Insert(expiring(RecordKind::Session, "ses_old", None, 100)),
                Write::Insert(expiring(RecordKind::Session, "ses_edge", None, 200)),
                Write::Insert(expiring(RecordKind::Session, "ses_new", None, 201)),
                Write::Insert(expiring(RecordKind::ApiToken, "tok_old", Some("pub_1"), 50)),
                Write::Insert(rec(RecordKind::Account, "acc_a", None, Some("alice"), "{}")),
            ],
            throttle: vec![
                ThrottleWrite::Failure {
                    key: "login:idle".into(),
                    at: Timestamp::from_secs(10),
                },
                ThrottleWrite::Failure {
                    key: "login:busy".into(),
                    at: Timestamp::from_secs(190),
                },
            ],
            revocations: vec![
                RevocationChange::Put(grant("ses_gone", Timestamp::from_secs(150))),
                RevocationChange::Put(grant("ses_kept", Timestamp::from_secs(300))),
            ],
            audit: vec![draft(AuditKind::SessionRevoked, 1_000, Some("acc_a"))],
        },
        "setup",
    )
    .await;
    let old = get(&store, RecordKind::Session, "ses_old")
        .await
        .expect("ses_old");
    commit_ok(
        &store,
        Commit {
            writes: vec![update(old.clone(), old.version)],
            ..Commit::default()
        },
        "bump a version",
    )
    .await;

    let report = store
        .prune(Timestamp::from_secs(200), Timestamp::from_secs(100))
        .await
        .expect("prune failed");
    assert_eq!(
        report,
        PruneReport {
            records: vec![(RecordKind::Session, 2), (RecordKind::ApiToken, 1)],
            throttles: 1,
            revocations: 1,
        },
        "prune reports what it removed, in RecordKind::ALL order"
    );
    assert_eq!(report.records_of(RecordKind::Session), 2);
    assert_eq!(report.records_of(RecordKind::Account), 0);
    assert_eq!(
        ids(&list(&store, RecordKind::Session, ListQuery::default()).await),
        ["ses_new"],
        "records expiring at or before now go, later ones stay"
    );
    assert!(get(&store, RecordKind::Account, "acc_a").await.is_some());
    assert!(
        find(&store, RecordKind::ApiToken, "pub_1").await.is_none(),
        "a pruned record's lookup is gone"
    );
    commit_ok(
        &store,
        inserts([expiring(RecordKind::ApiToken, "tok_2", Some("pub_1"), 900)]),
        "a pruned lookup can be reused",
    )
    .await;
    assert_eq!(store.throttle("login:idle").await.expect("throttle"), None);
    assert!(store
        .throttle("login:busy")
        .await
        .expect("throttle")
        .is_some());
    let left: Vec<String> = sorted_revocations(&store)
        .await
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, ["ses_kept"]);
    assert_eq!(
        all_audit(&store).await.len(),
        1,
        "audit events are never pruned"
    );

    let again = store
        .prune(Timestamp::from_secs(200), Timestamp::from_secs(100))
        .await
        .expect("prune failed");
    assert_eq!(
        again,
        PruneReport::default(),
        "a second prune finds nothing"
    );
}

/// The audit chain: sequence from 1 without gaps, each event linked to the one before, drafts
/// returned exactly, and every [`AuditQuery`] filter (account, kind, from, to, after_seq, limit).
pub async fn audit_chain_and_queries<S: Store>(store: S) {
    assert!(all_audit(&store).await.is_empty());
    let mut d1 = draft(AuditKind::AccountCreated, 1_000, Some("acc_a"))
        .actor(Some("acc_admin"))
        .detail("username", "alice")
        .detail("roles", "");
    d1.detail
        .insert("unicode".into(), "\u{e9}\u{1f600}\"\\".into());
    let batches: Vec<Vec<AuditDraft>> = vec![
        vec![d1],
        vec![
            draft(AuditKind::LoginFailed, 2_000, Some("acc_a")).detail("reason", "bad_credentials"),
            draft(AuditKind::LoginFailed, 2_000, None).detail("username", "ghost"),
            draft(AuditKind::LoginSucceeded, 3_000, Some("acc_a"))
                .actor(Some("acc_a"))
                .session("ses_1"),
        ],
        vec![draft(AuditKind::AccountCreated, 4_000, Some("acc_b"))],
        vec![
            // Earlier than the event before it: the chain orders by seq, not by time.
            draft(AuditKind::TokenRefreshed, 3_500, Some("acc_a")).session("ses_1"),
            draft(AuditKind::LoginSucceeded, 5_000, Some("acc_b")).session("ses_2"),
        ],
        vec![draft(AuditKind::SessionRevoked, 6_000, Some("acc_a")).session("ses_1")],
        vec![
            draft(AuditKind::SigningKeyRotated, 7_000, None).detail("kid", "k4.pid.x"),
            draft(AuditKind::LoginFailed, 8_000, Some("acc_b")),
        ],
    ];
    let drafts: Vec<AuditDraft> = batches.iter().flatten().cloned().collect();
    for batch in batches {
        commit_ok(
            &store,
            Commit {
                audit: batch,
                ..Commit::default()
            },
            "audit append",
        )
        .await;
    }
    let events = all_audit(&store).await;
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<u64>>(),
        "sequence numbers run from 1 without gaps"
    );
    assert_eq!(
        events.iter().map(|e| e.draft.clone()).collect::<Vec<_>>(),
        drafts,
        "events hold their drafts exactly, in commit order"
    );
    assert_eq!(events[0].prev_hash, GENESIS);
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "each event links to the one before"
        );
    }
    assert_eq!(verify_chain(&events), Ok(10), "the chain verifies");

    let at = Timestamp::from_millis;
    let queries = [
        AuditQuery {
            account: Some("acc_a".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            account: Some("nobody".into()),
            ..AuditQuery::default()
        },
        AuditQuery {
            kind: Some(AuditKind::LoginFailed),
            ..AuditQuery::default()
        },
        AuditQuery {
            kind: Some(AuditKind::TotpRemoved),
            ..AuditQuery::default()
        },
        AuditQuery {
            from: Some(at(3_000)),
            ..AuditQuery::default()
        },
        AuditQuery {
            to: Some(at(3_000)),
            ..AuditQuery::default()
        },
        AuditQuery {
            from: Some(at(2_000)),
            to: Some(at(5_000)),
            ..AuditQuery::default()
        },
        AuditQuery {
            after_seq: Some(4),
            ..AuditQuery::default()
        },
        AuditQuery {
            after_seq: Some(10),
            ..AuditQuery::default()
        },
        AuditQuery {
            limit: Some(3),
            ..AuditQuery::default()
        },
        AuditQuery {
            limit: Some(0),
            ..AuditQuery::default()
        },
        AuditQuery {
            account: Some("acc_a".into()),
            limit: Some(2),
            ..AuditQuery::default()
        },
        AuditQuery {
            account: Some("acc_a".into()),
            kind: Some(AuditKind::LoginSucceeded),
            ..AuditQuery::default()
        },
        AuditQuery {
            kind: Some(AuditKind::LoginFailed),
            after_seq: Some(2),
            limit: Some(1),
            ..AuditQuery::default()
        },
        AuditQuery {
            account: Some("acc_b".into()),
            from: Some(at(4_000)),
            to: Some(at(8_000)),
            after_seq: Some(5),
            limit: Some(5),
            kind: None,
        },
    ];
    for q in &queries {
        let want: Vec<AuditEvent> = events
            .iter()
            .filter(|e| q.matches(e))
            .take(q.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        let got = store.audit(q).await.expect("audit query failed");
        assert_eq!(got, want, "audit query {q:?}");
    }
    // Spot checks that do not lean on `AuditQuery::matches`.
    let seqs = |q: AuditQuery| {
        let store = &store;
        async move {
            store
                .audit(&q)
                .await
                .expect("audit query failed")
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        seqs(AuditQuery {
            account: Some("acc_a".into()),
            ..AuditQuery::default()
        })
        .await,
        vec![1, 2, 4, 6, 8]
    );
    assert_eq!(
        seqs(AuditQuery {
            from: Some(at(3_000)),
            to: Some(at(6_000)),
            ..AuditQuery::default()
        })
        .await,
        vec![4, 5, 6, 7],
        "from is inclusive, to exclusive"
    );
    assert_eq!(
        seqs(AuditQuery {
            kind: Some(AuditKind::LoginFailed),
            after_seq: Some(2),
            ..AuditQuery::default()
        })
        .await,
        vec![3, 10]
    );
}

/// The revocation list (put, replace, lift; subjects as namespaces) and subscribed caches: filled
/// and current on subscribe, fed every later committed change.
pub async fn revocations_and_subscriptions<S: Store>(store: S) {
    assert!(sorted_revocations(&store).await.is_empty());
    let stale = Arc::new(RevocationCache::new());
    stale.load(vec![grant("ghost", Timestamp::MAX)]);
    stale.mark_stale();
    store
        .subscribe(Arc::clone(&stale))
        .await
        .expect("subscribe");
    assert!(stale.is_current(), "subscribe marks the cache current");
    assert_eq!(
        stale.check("acc", "ghost", Timestamp::from_secs(1)),
        Ok(()),
        "subscribe replaces what the cache held"
    );

    let t = Timestamp::from_secs;
    let far = Timestamp::from_secs(4_000_000_000);
    let g1 = grant("ses_1", far);
    let a1 = account_revocation("acc_1", t(5), far);
    commit_ok(
        &store,
        Commit {
            revocations: vec![
                RevocationChange::Put(g1.clone()),
                RevocationChange::Put(a1.clone()),
            ],
            ..Commit::default()
        },
        "put two",
    )
    .await;
    assert_eq!(
        sorted_revocations(&store).await,
        vec![a1.clone(), g1.clone()]
    );
    assert_eq!(
        stale.check("acc_9", "ses_1", t(1)),
        Err(Denial::SessionRevoked),
        "a subscribed cache receives later changes"
    );
    assert_eq!(
        stale.check("acc_1", "ses_9", t(5)),
        Err(Denial::TokenRevoked)
    );
    assert_eq!(
        stale.check("acc_1", "ses_9", Timestamp::from_millis(5_001)),
        Ok(())
    );

    let late = Arc::new(RevocationCache::new());
    store.subscribe(Arc::clone(&late)).await.expect("subscribe");
    assert!(late.is_current());
    assert_eq!(
        late.check("acc_9", "ses_1", t(1)),
        Err(Denial::SessionRevoked),
        "a cache subscribed later is loaded with the list"
    );
    assert_eq!(
        late.check("acc_1", "ses_9", t(5)),
        Err(Denial::TokenRevoked)
    );

    // Put replaces the entry for (subject, id).
    let a1_disabled = account_revocation("acc_1", Timestamp::MAX, Timestamp::MAX);
    commit_ok(
        &store,
        Commit {
            revocations: vec![RevocationChange::Put(a1_disabled.clone())],
            ..Commit::default()
        },
        "replace",
    )
    .await;
    assert_eq!(
        sorted_revocations(&store).await,
        vec![a1_disabled.clone(), g1.clone()]
    );
    for cache in [&stale, &late] {
        assert_eq!(
            cache.check("acc_1", "ses_9", t(99)),
            Err(Denial::AccountDisabled)
        );
    }

    // Subjects are separate namespaces.
    let same_id_grant = grant("acc_1", far);
    commit_ok(
        &store,
        Commit {
            revocations: vec![RevocationChange::Put(same_id_grant.clone())],
            ..Commit::default()
        },
        "a grant with an account's id",
    )
    .await;
    commit_ok(
        &store,
        Commit {
            revocations: vec![
                RevocationChange::Lift {
                    subject: RevokedSubject::Account,
                    id: "acc_1".into(),
                },
                RevocationChange::Lift {
                    subject: RevokedSubject::Grant,
                    id: "never-revoked".into(),
                },
            ],
            ..Commit::default()
        },
        "lift (one present, one absent)",
    )
    .await;
    assert_eq!(
        sorted_revocations(&store).await,
        vec![same_id_grant.clone(), g1.clone()],
        "lift removes only its (subject, id)"
    );
    for cache in [&stale, &late] {
        assert_eq!(
            cache.check("acc_1", "ses_9", t(99)),
            Ok(()),
            "the lift reached the cache"
        );
        assert_eq!(
            cache.check("acc_2", "acc_1", t(99)),
            Err(Denial::SessionRevoked)
        );
    }

    // A dropped cache does not disturb later commits; the others still receive changes.
    drop(late);
    let g2 = grant("ses_2", Timestamp::MIN);
    commit_ok(
        &store,
        Commit {
            revocations: vec![RevocationChange::Put(g2.clone())],
            ..Commit::default()
        },
        "commit after a subscriber was dropped",
    )
    .await;
    assert_eq!(
        stale.check("acc_2", "ses_2", t(1)),
        Err(Denial::SessionRevoked)
    );
    assert_eq!(
        sorted_revocations(&store).await,
        vec![same_id_grant, g1, g2],
        "extreme timestamps round-trip"
    );
}

// ---- races --------------------------------------------------------------------------------

/// Concurrent compare-and-swap writes: of [`RACERS`] updates at one version exactly one wins; of
/// [`RACERS`] inserts of one id, or of one lookup, exactly one lands.
pub async fn race_record_writes<S: Store>(store: S) {
    let store = Arc::new(store);
    let a = RecordKind::Account;
    commit_ok(
        &*store,
        inserts([rec(a, "hot", None, Some("hot"), "{}")]),
        "setup",
    )
    .await;

    let spawn_commits = |make: &dyn Fn(usize) -> Commit| {
        (0..RACERS)
            .map(|i| {
                let store = Arc::clone(&store);
                let commit = make(i);
                tokio::spawn(async move { store.commit(commit).await })
            })
            .collect::<Vec<_>>()
    };

    let results = join_all(spawn_commits(&|i| Commit {
        writes: vec![update(
            rec(a, "hot", None, Some("hot"), &format!("{{\"winner\":{i}}}")),
            1,
        )],
        ..Commit::default()
    }))
    .await;
    let winners: Vec<usize> = (0..RACERS).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one update at version 1 may win: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(StoreError::Conflict)),
        "losers get Conflict: {results:?}"
    );
    let hot = get(&*store, a, "hot").await.expect("record");
    assert_eq!(hot.version, 2);
    assert_eq!(hot.body, format!("{{\"winner\":{}}}", winners[0]));

    let results = join_all(spawn_commits(&|i| {
        inserts([rec(a, "same-id", None, Some(&format!("name{i}")), "{}")])
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "one insert per id: {results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.is_ok() || *r == Err(StoreError::Duplicate { kind: a })));

    let results = join_all(spawn_commits(&|i| {
        inserts([rec(a, &format!("id{i}"), None, Some("same-name"), "{}")])
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "one insert per lookup: {results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.is_ok() || *r == Err(StoreError::Duplicate { kind: a })));
    assert_eq!(
        list(&*store, a, ListQuery::default()).await.len(),
        3,
        "hot, same-id and one id*"
    );
}

/// [`RACERS`] concurrent failures on one throttle key all count.
pub async fn race_throttle_failures<S: Store>(store: S) {
    let store = Arc::new(store);
    let handles = (0..RACERS)
        .map(|i| {
            let store = Arc::clone(&store);
            let at = Timestamp::from_millis(1_000 + i64::try_from(i).unwrap_or(0));
            tokio::spawn(async move {
                store
                    .commit(Commit {
                        throttle: vec![ThrottleWrite::Failure {
                            key: "login:racer".into(),
                            at,
                        }],
                        ..Commit::default()
                    })
                    .await
            })
        })
        .collect();
    for r in join_all(handles).await {
        r.expect("throttle commit failed");
    }
    let state = store
        .throttle("login:racer")
        .await
        .expect("throttle")
        .expect("a counter after failures");
    assert_eq!(
        state.failures as usize, RACERS,
        "every concurrent failure must count"
    );
    assert_eq!(
        state.last_failure,
        Timestamp::from_millis(1_000 + i64::try_from(RACERS - 1).unwrap_or(0)),
        "last_failure is the latest failure"
    );
}

/// [`RACERS`] concurrent reservations on one key at one instant, each committed with an audit
/// event: the back-off admits exactly the attempts it has no wait for (the free failures and the
/// one whose failure starts the wait), refuses every other with the wait that failure imposes,
/// and the counter and the audit log record exactly the admitted ones.
pub async fn race_throttle_reservations<S: Store>(store: S) {
    let store = Arc::new(store);
    let policy = ThrottlePolicy {
        free_failures: 5,
        ..reservation_policy()
    };
    let budget = (0..=u32::MAX)
        .take_while(|n| policy.delay_after(*n).is_zero())
        .count();
    let wait = policy.delay_after(u32::try_from(budget).unwrap_or(u32::MAX));
    let at = Timestamp::from_secs(1_000);
    let handles = (0..RACERS)
        .map(|_| {
            let store = Arc::clone(&store);
            let reservation = reserve("login:racer", at, &policy);
            tokio::spawn(async move {
                store
                    .commit(Commit {
                        throttle: vec![reservation],
                        audit: vec![draft(AuditKind::LoginFailed, 1_000_000, None)],
                        ..Commit::default()
                    })
                    .await
            })
        })
        .collect();
    let results = join_all(handles).await;
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        admitted, budget,
        "concurrent reservations admit exactly what the back-off allows"
    );
    for r in &results {
        assert!(
            r.is_ok() || *r == Err(StoreError::Throttled { retry_after: wait }),
            "a refused reservation reports the wait, got {r:?}"
        );
    }
    let state = store
        .throttle("login:racer")
        .await
        .expect("throttle")
        .expect("a counter after reservations");
    assert_eq!(
        state,
        ThrottleState {
            failures: u32::try_from(budget).unwrap_or(u32::MAX),
            last_failure: at
        },
        "the counter holds exactly the admitted attempts"
    );
    let events = all_audit(&*store).await;
    assert_eq!(
        events.len(),
        budget,
        "only admitted reservations commit their audit event"
    );
    assert_eq!(verify_chain(&events), Ok(budget as u64));
}

/// [`RACERS`] concurrent commits of one to three audit events each make one unbroken chain in
/// which every commit's events stand together and in order.
pub async fn race_audit_appends<S: Store>(store: S) {
    let store = Arc::new(store);
    let handles = (0..RACERS)
        .map(|i| {
            let store = Arc::clone(&store);
            let batch: Vec<AuditDraft> = (0..=i % 3)
                .map(|j| {
                    draft(AuditKind::LoginFailed, 1_000, Some(&format!("acc_{i}")))
                        .detail("part", j.to_string())
                })
                .collect();
            tokio::spawn(async move {
                store
                    .commit(Commit {
                        audit: batch,
                        ..Commit::default()
                    })
                    .await
            })
        })
        .collect();
    for r in join_all(handles).await {
        r.expect("audit commit failed");
    }
    let events = all_audit(&*store).await;
    let expected: usize = (0..RACERS).map(|i| i % 3 + 1).sum();
    assert_eq!(events.len(), expected, "every appended event is kept");
    assert_eq!(
        verify_chain(&events),
        Ok(expected as u64),
        "concurrent appends must keep one unbroken chain"
    );
    let mut seen = BTreeSet::new();
    let mut i = 0;
    while i < events.len() {
        let account = events[i]
            .draft
            .account
            .clone()
            .expect("racer events name an account");
        let n: usize = account
            .strip_prefix("acc_")
            .and_then(|n| n.parse().ok())
            .expect("racer account id");
        assert!(seen.insert(n), "commit {n} appears twice or is split");
        for j in 0..=n % 3 {
            let e = events.get(i + j).expect("a commit's events stand together");
            assert_eq!(
                e.draft.account.as_deref(),
                Some(account.as_str()),
                "commit {n} is interleaved"
            );
            assert_eq!(
                e.draft.detail.get("part").map(String::as_str),
                Some(j.to_string().as_str()),
                "commit {n}'s events are out of order"
            );
        }
        i += n % 3 + 1;
    }
    assert_eq!(seen.len(), RACERS);
}

/// Revocations committed concurrently all reach a subscribed cache.
pub async fn race_revocation_feed<S: Store>(store: S) {
    let store = Arc::new(store);
    let cache = Arc::new(RevocationCache::new());
    store
        .subscribe(Arc::clone(&cache))
        .await
        .expect("subscribe");
    let far = Timestamp::from_secs(4_000_000_000);
    let handles = (0..RACERS)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .commit(Commit {
                        revocations: vec![RevocationChange::Put(grant(&format!("ses_{i}"), far))],
                        ..Commit::default()
                    })
                    .await
            })
        })
        .collect();
    for r in join_all(handles).await {
        r.expect("revocation commit failed");
    }
    assert_eq!(
        store.revocations().await.expect("revocations").len(),
        RACERS
    );
    for i in 0..RACERS {
        assert_eq!(
            cache.check("acc", &format!("ses_{i}"), Timestamp::from_secs(1)),
            Err(Denial::SessionRevoked),
            "revocation {i} did not reach the subscribed cache"
        );
    }
}

/// [`RACERS`] concurrent rotations of one refresh token through [`Iam`]: exactly one succeeds,
/// the others are refused (reuse detected), exactly one successor token exists, and the
/// session ends revoked.
pub async fn race_refresh_rotation<S: Store>(store: S) {
    let iam = open_iam(store).await;
    iam.create_account(
        NewAccount::human("rotor", "correct horse battery"),
        Caller::System,
    )
    .await
    .expect("create account");
    let login = iam
        .login(&LoginRequest::password("rotor", "correct horse battery"))
        .await
        .expect("login");
    let token = login.tokens.refresh_token.expose().to_owned();
    let handles = (0..RACERS)
        .map(|_| {
            let iam = iam.clone();
            let token = token.clone();
            tokio::spawn(async move { iam.refresh(&token).await })
        })
        .collect();
    let results = join_all(handles).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {RACERS} concurrent rotations may succeed"
    );
    let mut reused = 0;
    for r in &results {
        match r {
            Err(Error::Denied(Denial::RefreshTokenReused)) => reused += 1,
            // A racer that read the token before the rotation and the session after another
            // racer revoked it is refused as revoked: also a refusal, never a second family.
            Ok(_) | Err(Error::Denied(Denial::SessionRevoked)) => {}
            Err(e) => panic!("a losing rotation must be refused as reuse, got {e}"),
        }
    }
    assert!(reused >= 1, "reuse must be detected");
    let session = iam.session(&login.session.id).await.expect("session");
    assert!(
        session.revoked_at.is_some(),
        "reuse must revoke the session"
    );
    let refresh_records = iam
        .store()
        .list(
            RecordKind::RefreshToken,
            &ListQuery {
                parent: Some(login.session.id.clone()),
                ..ListQuery::default()
            },
        )
        .await
        .expect("list refresh tokens");
    assert_eq!(
        refresh_records.len(),
        2,
        "the original token and exactly one successor"
    );
    let successor = winners[0];
    assert_eq!(
        iam.verify_cached(successor.access_token.expose()).err(),
        Some(Denial::SessionRevoked),
        "the winner's access token dies with the session"
    );
    assert!(
        matches!(
            iam.refresh(successor.refresh_token.expose()).await,
            Err(Error::Denied(Denial::SessionRevoked))
        ),
        "the winner's refresh token dies with the session"
    );
}

/// Concurrent logins with a wrong password are each refused and each counted by the throttle.
pub async fn race_wrong_password_logins<S: Store>(store: S) {
    let iam = open_iam(store).await;
    iam.create_account(
        NewAccount::human("target", "correct horse battery"),
        Caller::System,
    )
    .await
    .expect("create account");
    let attempts = RACERS / 2;
    let handles = (0..attempts)
        .map(|i| {
            let iam = iam.clone();
            tokio::spawn(async move {
                iam.login(&LoginRequest::password(
                    "target",
                    format!("wrong password {i}"),
                ))
                .await
            })
        })
        .collect();
    for r in join_all(handles).await {
        assert!(
            matches!(r, Err(Error::Denied(Denial::BadCredentials))),
            "a wrong password is refused as bad credentials, got {r:?}"
        );
    }
    let state = iam
        .store()
        .throttle("login:target")
        .await
        .expect("throttle")
        .expect("failures are counted under login:<username>");
    assert_eq!(
        state.failures as usize, attempts,
        "every concurrent failure must count"
    );
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
    assert_eq!(failed.len(), attempts, "every failure is audited");
    assert!(iam.verify_audit_chain(Caller::System).await.is_ok());
}

/// Concurrent creation of accounts with one username: exactly one account, the rest
/// [`Error::UsernameTaken`].
pub async fn race_account_creation<S: Store>(store: S) {
    let iam = open_iam(store).await;
    let handles = (0..RACERS / 2)
        .map(|i| {
            let iam = iam.clone();
            tokio::spawn(async move {
                iam.create_account(
                    NewAccount::human("contested", format!("password number {i}")),
                    Caller::System,
                )
                .await
            })
        })
        .collect();
    let results = join_all(handles).await;
    let created: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(created.len(), 1, "exactly one account per username");
    for r in &results {
        assert!(
            matches!(r, Ok(_) | Err(Error::UsernameTaken)),
            "the others get UsernameTaken, got {r:?}"
        );
    }
    let accounts = iam
        .list_accounts(Caller::System, None, 1_000)
        .await
        .expect("list accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].id, created[0].id);
    assert_eq!(
        iam.account_by_username(Caller::System, "contested")
            .await
            .expect("lookup")
            .map(|a| a.id),
        Some(created[0].id.clone())
    );
    let audited = iam
        .audit_events(
            Caller::System,
            &AuditQuery {
                kind: Some(AuditKind::AccountCreated),
                ..AuditQuery::default()
            },
        )
        .await
        .expect("audit");
    assert_eq!(audited.len(), 1, "only the created account is audited");
}

// ---- the account model over the store -----------------------------------------------------

/// The account model end to end over the store: service tokens replace each other, the vault
/// round-trips, API tokens revoke at once, elevation opens and ends, memberships index both
/// ways, and a due deletion sweeps the account's records (parent listings, lookups, deletes in
/// one commit) while the audit chain stays intact.
pub async fn account_model_flows<S: Store>(store: S) {
    use crate::clock::{Clock as _, ManualClock};
    use crate::secret::SecretString;
    use crate::service::{DbCredentials, ElevationOutcome, StepUpProof};
    use std::time::Duration;

    let clock = ManualClock::new(Timestamp::from_secs(1_767_225_600));
    let iam = Iam::builder(store, race_config())
        .clock(clock.clone())
        .open()
        .await
        .expect("Iam::open over the store failed");
    let pw = "account model password";
    let login = |name: &'static str| {
        let iam = iam.clone();
        async move {
            let l = iam
                .login(&LoginRequest::password(name, pw))
                .await
                .expect("login");
            let p = iam
                .verify(l.tokens.access_token.expose())
                .await
                .expect("verify");
            (p, l)
        }
    };
    iam.create_account(
        NewAccount::human("admin", pw).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("create admin");
    let dora = iam
        .create_account(NewAccount::human("dora", pw), Caller::System)
        .await
        .expect("create dora");
    let (admin, _) = login("admin").await;
    let (dora_p, dora_login) = login("dora").await;

    let svc = iam
        .create_account(NewAccount::system("svc-app"), Caller::System)
        .await
        .expect("create service account");
    let first = iam
        .issue_service_token(&admin, &svc.id)
        .await
        .expect("issue");
    let second = iam
        .issue_service_token(&admin, &svc.id)
        .await
        .expect("reissue");
    assert_eq!(
        iam.verify(first.token.expose()).await,
        Err(Denial::SessionRevoked),
        "a new service token revokes the previous one"
    );
    let svc_p = iam
        .verify(second.token.expose())
        .await
        .expect("verify service token");
    let creds = DbCredentials {
        host: "db".into(),
        port: 5432,
        database: "app".into(),
        user: "app".into(),
        password: SecretString::new("vault secret".to_owned()),
    };
    iam.store_db_credentials(&admin, &svc.id, &creds)
        .await
        .expect("store credentials");
    assert_eq!(
        iam.fetch_db_credentials(&svc_p, &svc.id)
            .await
            .expect("fetch credentials"),
        creds
    );

    let pat = iam
        .create_api_token(
            &dora_p,
            "cli",
            &[],
            clock.now().plus(Duration::from_secs(86_400)),
        )
        .await
        .expect("create API token");
    assert!(iam.verify_api_token(pat.secret.expose()).await.is_ok());
    assert_eq!(
        iam.list_api_tokens(Caller::System, &dora.id)
            .await
            .expect("list")
            .len(),
        1
    );
    iam.revoke_api_token(Caller::Principal(&dora_p), &pat.info.id)
        .await
        .expect("revoke API token");
    assert_eq!(
        iam.verify_api_token(pat.secret.expose()).await,
        Err(Denial::TokenRevoked)
    );

    iam.grant_elevatable_role(Caller::System, &dora.id, "ops")
        .await
        .expect("grant elevatable");
    let proof = StepUpProof {
        password: Some(SecretString::new(pw.to_owned())),
        totp_code: None,
    };
    let Ok(ElevationOutcome::Active { access_token, .. }) =
        iam.elevate(&dora_p, "ops", None, &proof).await
    else {
        panic!("elevation did not open");
    };
    let elevated = iam.verify(access_token.expose()).await.expect("verify");
    assert!(elevated.has_role("ops"));
    clock.advance(Duration::from_millis(5));
    iam.end_elevation(&elevated, "ops").await.expect("end");
    assert_eq!(
        iam.verify(access_token.expose()).await,
        Err(Denial::TokenRevoked)
    );

    let org = iam.create_organization(&admin, "acme").await.expect("org");
    iam.set_membership(&admin, &org.id, &dora.id, "editor")
        .await
        .expect("add member");
    assert_eq!(
        iam.members_of(Caller::System, &org.id)
            .await
            .expect("members")
            .len(),
        2
    );
    assert_eq!(
        iam.memberships_of(Caller::System, &dora.id)
            .await
            .expect("memberships")
            .len(),
        1
    );

    iam.schedule_deletion(&dora_p, &dora.id)
        .await
        .expect("schedule deletion");
    clock.advance(iam.config().deletion_grace);
    let report = iam.sweep().await.expect("sweep");
    assert_eq!(report.deleted_accounts, vec![dora.id.clone()]);
    assert!(iam
        .account_by_username(Caller::System, "dora")
        .await
        .expect("lookup")
        .is_none());
    assert_eq!(
        iam.members_of(Caller::System, &org.id)
            .await
            .expect("members")
            .len(),
        1
    );
    assert!(iam
        .memberships_of(Caller::System, &dora.id)
        .await
        .expect("memberships")
        .is_empty());
    assert!(iam
        .list_sessions(Caller::System, &dora.id)
        .await
        .expect("sessions")
        .is_empty());
    assert!(iam
        .refresh(dora_login.tokens.refresh_token.expose())
        .await
        .is_err());
    iam.create_account(NewAccount::human("dora", pw), Caller::System)
        .await
        .expect("the username is free again");
    iam.verify_audit_chain(Caller::System)
        .await
        .expect("audit chain intact");
}
