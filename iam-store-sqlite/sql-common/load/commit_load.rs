//! The load both stores' `*_commit_load` examples run: committers at once, each committing in a
//! loop what an OAuth client-credentials grant commits (one `Write::Check` of the client record,
//! unchanged, and one audit event), for a few seconds per concurrency level; prints commits/s.
//!
//! Included by `iam-store-sqlite/examples/sqlite_commit_load.rs` and
//! `iam-store-postgres/examples/postgres_commit_load.rs` (`#[path]`), so both measure the same thing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_core::audit::{AuditDraft, AuditKind};
use iam_core::clock::Timestamp;
use iam_core::store::{Commit, Record, RecordKind, Store, StoreError, Write};

/// The concurrency levels measured.
pub const LEVELS: [usize; 3] = [1, 16, 64];

/// The client every grant checks.
const CLIENT: &str = "client_load";

/// Seconds per level: the first argument, else 3.
pub fn seconds() -> Duration {
    let secs = std::env::args()
        .nth(1)
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

/// A runtime like a small server's: two worker threads.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// One grant's commit.
fn grant(n: u64) -> Commit {
    Commit {
        writes: vec![Write::Check {
            kind: RecordKind::OAuthClient,
            id: CLIENT.to_owned(),
            expected_version: 1,
        }],
        audit: vec![AuditDraft::new(
            AuditKind::OAuthTokenIssued,
            Timestamp::from_millis(i64::try_from(n).unwrap_or(i64::MAX)),
        )
        .detail("client_id", CLIENT)
        .detail("grant_type", "client_credentials")],
        ..Commit::default()
    }
}

/// Inserts the client record the grants check.
pub async fn prepare<S: Store>(store: &S) {
    store
        .commit(Commit {
            writes: vec![Write::Insert(Record {
                kind: RecordKind::OAuthClient,
                id: CLIENT.to_owned(),
                version: 0,
                parent: None,
                lookup: None,
                expires_at: None,
                body: "{}".to_owned(),
            })],
            ..Commit::default()
        })
        .await
        .expect("insert the client");
}

/// Runs `committers` at once for `span`; returns (commits/s, refused as overloaded).
pub async fn level<S: Store>(store: Arc<S>, committers: usize, span: Duration) -> (f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + span;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..committers {
        let (store, done, refused) = (Arc::clone(&store), Arc::clone(&done), Arc::clone(&refused));
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let n = done.load(Ordering::Relaxed);
                match store.commit(grant(n)).await {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(StoreError::Overloaded { retry_after }) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(retry_after).await;
                    }
                    Err(e) => panic!("commit failed: {e}"),
                }
            }
        });
    }
    while let Some(t) = tasks.join_next().await {
        t.expect("committer");
    }
    let elapsed = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = done.load(Ordering::Relaxed) as f64 / elapsed;
    (rate, refused.load(Ordering::Relaxed))
}

/// Measures every level on `store` and prints one line each, labelled `name`.
pub async fn measure<S: Store>(name: &str, store: Arc<S>) {
    let span = seconds();
    prepare(&*store).await;
    for committers in LEVELS {
        let (rate, refused) = level(Arc::clone(&store), committers, span).await;
        println!(
            "{name}: {committers:>3} committers: {rate:>9.0} commits/s ({refused} overloaded)"
        );
    }
}
