//! Commits/s of client-credentials-like commits (one `Write::Check` and one audit event each) on
//! SQLite, for 1, 16 and 64 committers at once, with `Durability::Full` and `Durability::Normal`.
//!
//! Run with `cargo run --release -p iam-store-sqlite --example sqlite_commit_load [seconds per level]`.
//! The database is a file in a temporary directory. Figures depend on the disk and on whatever
//! else the machine runs: repeat and compare ranges.

use std::sync::Arc;

use iam_store_sqlite::{Durability, SqliteStore, SqliteStoreOptions};

#[path = "../sql-common/load/commit_load.rs"]
mod load;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = load::runtime();
    for (name, durability) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let mut options = SqliteStoreOptions::new(dir.path().join(format!("{name}.db")));
        options.durability = durability;
        rt.block_on(async {
            let store = Arc::new(SqliteStore::open_with(options).await.expect("open"));
            load::measure(&format!("sqlite {name}"), store).await;
        });
    }
}
