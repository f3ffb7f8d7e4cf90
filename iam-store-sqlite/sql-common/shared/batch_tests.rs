//! Group-commit checks both SQL stores run (included by their `tests/batch.rs` with `#[path]`):
//! concurrent audited commits, failures inside a batch, and a full commit queue.

use std::collections::BTreeSet;
use std::sync::Arc;

use iam_core::audit::{verify_chain, AuditDraft, AuditKind, AuditQuery};
use iam_core::clock::Timestamp;
use iam_core::store::{Commit, ListQuery, Record, RecordKind, Store, StoreError, Write};

/// Committers at once.
const COMMITTERS: i64 = 200;

fn client() -> Record {
    Record {
        kind: RecordKind::OAuthClient,
        id: "client_batch".into(),
        version: 0,
        parent: None,
        lookup: None,
        expires_at: None,
        body: "{}".into(),
    }
}

fn event(n: i64) -> Vec<AuditDraft> {
    vec![AuditDraft::new(
        AuditKind::OAuthTokenIssued,
        Timestamp::from_millis(n),
    )]
}

/// A client-credentials-like commit: the client unchanged (`version` 1 passes, others conflict).
fn grant(n: i64, version: u64) -> Commit {
    Commit {
        writes: vec![Write::Check {
            kind: RecordKind::OAuthClient,
            id: "client_batch".into(),
            expected_version: version,
        }],
        audit: event(n),
        ..Commit::default()
    }
}

/// The `at` of every audit event, after checking that the chain verifies.
async fn event_times<S: Store>(store: &S) -> Vec<i64> {
    let events = store.audit(&AuditQuery::default()).await.expect("audit");
    assert_eq!(
        verify_chain(&events),
        Ok(events.len() as u64),
        "the chain verifies"
    );
    events.iter().map(|e| e.draft.at.as_millis()).collect()
}

/// Many concurrent audited commits, some failing (a stale check, a duplicate insert), land as
/// one verifying chain holding exactly one event per successful commit and none of the failed
/// ones; the failed commits' writes are undone and the others' kept.
pub async fn concurrent_commits_form_one_chain<S: Store>(store: Arc<S>) {
    store
        .commit(Commit {
            writes: vec![Write::Insert(client())],
            ..Commit::default()
        })
        .await
        .expect("insert the client");
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..COMMITTERS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let commit = match n % 5 {
                // A stale check: conflicts, changes nothing.
                3 => grant(n, 7),
                // A write that fails after an insert that would have landed.
                4 => Commit {
                    writes: vec![
                        Write::Insert(Record {
                            kind: RecordKind::Account,
                            id: format!("acc_{n}"),
                            ..client()
                        }),
                        Write::Insert(client()),
                    ],
                    audit: event(n),
                    ..Commit::default()
                },
                // An insert that lands.
                2 => Commit {
                    writes: vec![Write::Insert(Record {
                        kind: RecordKind::Account,
                        id: format!("acc_{n}"),
                        ..client()
                    })],
                    audit: event(n),
                    ..Commit::default()
                },
                _ => grant(n, 1),
            };
            (n, store.commit(commit).await)
        });
    }
    let mut landed = BTreeSet::new();
    while let Some(done) = tasks.join_next().await {
        let (n, outcome) = done.expect("committer");
        match n % 5 {
            3 => assert_eq!(outcome, Err(StoreError::Conflict), "commit {n}"),
            4 => assert_eq!(
                outcome,
                Err(StoreError::Duplicate {
                    kind: RecordKind::OAuthClient
                }),
                "commit {n}"
            ),
            _ => {
                assert_eq!(outcome, Ok(()), "commit {n}");
                landed.insert(n);
            }
        }
    }
    let times = event_times(&*store).await;
    let unique: BTreeSet<i64> = times.iter().copied().collect();
    assert_eq!(times.len(), unique.len(), "each event exactly once");
    assert_eq!(unique, landed, "exactly the successful commits' events");
    let accounts: BTreeSet<String> = store
        .list(RecordKind::Account, &ListQuery::default())
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    let expected: BTreeSet<String> = (0..COMMITTERS)
        .filter(|n| n % 5 == 2)
        .map(|n| format!("acc_{n}"))
        .collect();
    assert_eq!(accounts, expected, "failed commits' inserts are undone");
}

/// With a queue bound of one, a burst of commits gets some refused with `Overloaded`; nothing of
/// a refused commit lands (neither its record nor its event), every accepted one lands whole.
/// `store` must have been opened with `max_queued_commits` 1.
pub async fn a_full_queue_overloads<S: Store>(store: Arc<S>) {
    let mut refused = BTreeSet::new();
    let mut accepted = BTreeSet::new();
    for round in 0..20_i64 {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let n = round * 64 + i;
            let store = Arc::clone(&store);
            tasks.spawn(async move {
                let commit = Commit {
                    writes: vec![Write::Insert(Record {
                        kind: RecordKind::Account,
                        id: format!("acc_{n:05}"),
                        ..client()
                    })],
                    audit: event(n),
                    ..Commit::default()
                };
                (n, store.commit(commit).await)
            });
        }
        while let Some(done) = tasks.join_next().await {
            match done.expect("committer") {
                (n, Ok(())) => accepted.insert(n),
                (n, Err(StoreError::Overloaded { retry_after })) => {
                    assert!(retry_after > std::time::Duration::ZERO);
                    refused.insert(n)
                }
                (n, Err(e)) => panic!("commit {n} failed: {e}"),
            };
        }
        if !refused.is_empty() {
            break;
        }
    }
    assert!(!refused.is_empty(), "a burst overflows a queue of one");
    assert!(!accepted.is_empty(), "the queue still admits commits");
    let times: BTreeSet<i64> = event_times(&*store).await.into_iter().collect();
    assert_eq!(times, accepted, "only the accepted commits' events");
    let accounts: BTreeSet<String> = store
        .list(RecordKind::Account, &ListQuery::default())
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    let expected: BTreeSet<String> = accepted.iter().map(|n| format!("acc_{n:05}")).collect();
    assert_eq!(accounts, expected, "nothing of a refused commit lands");
}
