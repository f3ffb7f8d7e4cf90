//! The SQLite store against the store-conformance suite, one test per contract, each on a real
//! file in a temporary directory of its own.

use iam_store_sqlite::SqliteStore;

/// A fresh database in a temporary directory, removed when the test ends.
async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("store.db"))
        .await
        .expect("open a fresh database");
    (store, dir)
}

iam_core::store_contract_tests!(fresh);
