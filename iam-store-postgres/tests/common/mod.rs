//! Shared test plumbing: the server to use, and throwaway schemas that are dropped afterwards.

#![allow(dead_code)] // each test file uses part of it

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use iam_store_postgres::{PostgresStore, PostgresStoreOptions};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};

/// The server the tests use.
pub fn url() -> String {
    std::env::var("IAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The URL without its credentials, for messages.
fn shown(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, rest))) => format!("{scheme}://…@{rest}"),
        _ => url.to_owned(),
    }
}

/// Whether the server answers. In CI (`CI=true`) an unreachable server fails the test; elsewhere
/// the test is skipped with a printed reason.
pub async fn server_available(test: &str) -> bool {
    let url = url();
    let attempt = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await;
    let reason = match attempt {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            return true;
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 5 s".to_owned(),
    };
    let url = shown(&url);
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "CI=true but PostgreSQL is unreachable at {url} ({reason}); \
         start it or set IAM_TEST_POSTGRES_URL"
    );
    eprintln!(
        "SKIPPED {test}: PostgreSQL is unreachable at {url} ({reason}); \
         set IAM_TEST_POSTGRES_URL or start a server to run it"
    );
    false
}

/// A fresh, randomly named schema, dropped (with everything in it) when this guard drops, even
/// when the test panics.
pub struct TestSchema {
    /// The schema name.
    pub name: String,
}

impl TestSchema {
    /// A new name; the schema itself is created by the first store opened on it.
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        std::process::id().hash(&mut h);
        COUNTER.fetch_add(1, Ordering::Relaxed).hash(&mut h);
        std::time::SystemTime::now().hash(&mut h);
        TestSchema {
            name: format!("iam_test_{:016x}", h.finish()),
        }
    }

    /// Options for a store in this schema, with a pool sized for the race contracts.
    pub fn options(&self) -> PostgresStoreOptions {
        let mut o = PostgresStoreOptions::new(&url())
            .expect("test URL")
            .schema(self.name.clone())
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(60));
        o.feed_heartbeat = Duration::from_secs(1);
        o
    }

    /// Opens a store in this schema.
    pub async fn open(&self) -> PostgresStore {
        PostgresStore::open(self.options())
            .await
            .expect("open a store in a fresh schema")
    }

    /// Two iam instances on this schema (as two processes would run), sharing one master key,
    /// with fast password hashing.
    pub async fn two_instances(
        &self,
    ) -> (iam_core::Iam<PostgresStore>, iam_core::Iam<PostgresStore>) {
        use iam_core::{Config, Iam, MasterKey, PasswordPolicy, SecureRandom};
        let key = MasterKey::generate(&SecureRandom::from_entropy());
        let config = || {
            let mut c = Config::new(key.clone());
            c.passwords = PasswordPolicy::insecure_fast_for_tests();
            c
        };
        let a = Iam::builder(self.open().await, config())
            .open()
            .await
            .expect("open A");
        let b = Iam::builder(self.open().await, config())
            .open()
            .await
            .expect("open B");
        (a, b)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; do the cleanup on a thread with a runtime of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async move {
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(&url())
                    .await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {done:?}", self.name);
        }
    }
}
