//! The SQLite store against the store-conformance suite, on real files in a temporary directory.

use std::sync::atomic::{AtomicUsize, Ordering};

use iam_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_meets_the_store_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let n = AtomicUsize::new(0);
    iam_core::testing::run_all(|| async {
        let path = dir
            .path()
            .join(format!("store-{}.db", n.fetch_add(1, Ordering::Relaxed)));
        SqliteStore::open(&path)
            .await
            .expect("open a fresh database")
    })
    .await;
}
