//! Group commit on SQLite: concurrent audited commits, failures inside a batch, a full queue.

use std::sync::Arc;

use iam_store_sqlite::{SqliteStore, SqliteStoreOptions};

#[path = "../sql-common/shared/batch_tests.rs"]
mod batch_tests;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_form_one_chain() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("iam.db"))
        .await
        .expect("open");
    batch_tests::concurrent_commits_form_one_chain(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_overloads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = SqliteStoreOptions::new(dir.path().join("iam.db"));
    options.max_queued_commits = 1;
    let store = SqliteStore::open_with(options).await.expect("open");
    batch_tests::a_full_queue_overloads(Arc::new(store)).await;
}
