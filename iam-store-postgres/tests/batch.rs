//! Group commit on PostgreSQL: concurrent audited commits, failures inside a batch, a full
//! queue, and revocations committed in one batch reaching another instance's cache.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{server_available, TestSchema};
use iam_core::clock::Timestamp;
use iam_core::revocation::{Revocation, RevocationCache, RevocationChange, RevokedSubject};
use iam_core::store::{Commit, Store};
use iam_store_postgres::PostgresStore;

#[path = "../../iam-store-sqlite/sql-common/shared/batch_tests.rs"]
mod batch_tests;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_form_one_chain() {
    if !server_available("concurrent_commits_form_one_chain").await {
        return;
    }
    let schema = TestSchema::new();
    batch_tests::concurrent_commits_form_one_chain(Arc::new(schema.open().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_overloads() {
    if !server_available("a_full_queue_overloads").await {
        return;
    }
    let schema = TestSchema::new();
    let mut options = schema.options();
    options.max_queued_commits = 1;
    let store = PostgresStore::open(options).await.expect("open");
    batch_tests::a_full_queue_overloads(Arc::new(store)).await;
}

/// Revocations committed concurrently through instance A (so batched) all reach the cache
/// subscribed to instance B, and A's own cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_revocations_reach_another_instance() {
    if !server_available("batched_revocations_reach_another_instance").await {
        return;
    }
    let schema = TestSchema::new();
    let a = Arc::new(schema.open().await);
    let b = schema.open().await;
    let (a_cache, b_cache) = (
        Arc::new(RevocationCache::new()),
        Arc::new(RevocationCache::new()),
    );
    a.subscribe(Arc::clone(&a_cache))
        .await
        .expect("subscribe A");
    b.subscribe(Arc::clone(&b_cache))
        .await
        .expect("subscribe B");
    let ids: Vec<String> = (0..64).map(|i| format!("ses_{i}")).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for id in &ids {
        let (a, id) = (Arc::clone(&a), id.clone());
        tasks.spawn(async move {
            a.commit(Commit {
                revocations: vec![RevocationChange::Put(Revocation {
                    subject: RevokedSubject::Grant,
                    id,
                    issued_before: Timestamp::MAX,
                    until: Timestamp::MAX,
                })],
                ..Commit::default()
            })
            .await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("committer").expect("commit");
    }
    let t = Timestamp::from_secs(1);
    for id in &ids {
        assert!(a_cache.check("acc", id, t).is_err(), "{id} in force on A");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for id in &ids {
        while b_cache.check("acc", id, t).is_ok() {
            assert!(Instant::now() < deadline, "{id} never reached B");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert_eq!(a.revocations().await.expect("list").len(), ids.len());
}
