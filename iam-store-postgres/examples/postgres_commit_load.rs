//! Commits/s of client-credentials-like commits (one `Write::Check` and one audit event each) on
//! PostgreSQL, for 1, 16 and 64 committers at once.
//!
//! Run with `cargo run --release -p iam-store-postgres --example postgres_commit_load [seconds per level]`.
//! The server is `postgres://postgres@127.0.0.1:5432/test` unless `IAM_TEST_POSTGRES_URL` says
//! otherwise; the load works in a fresh schema that it drops at the end. Figures depend on
//! whatever else the machine runs: repeat and compare ranges.

use std::sync::Arc;
use std::time::Duration;

use iam_store_postgres::{PostgresStore, PostgresStoreOptions};
use sqlx::Connection;

#[path = "../../iam-store-sqlite/sql-common/load/commit_load.rs"]
mod load;

fn main() {
    let url = std::env::var("IAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("iam_load_{}", std::process::id());
    let rt = load::runtime();
    rt.block_on(async {
        let options = PostgresStoreOptions::new(&url)
            .expect("url")
            .schema(schema.clone())
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30));
        let store = Arc::new(PostgresStore::open(options).await.expect("open"));
        load::measure("postgres", Arc::clone(&store)).await;
        store.close().await;
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .expect("drop the schema");
    });
}
