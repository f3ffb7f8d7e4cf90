//! Opening, migrating and refusing databases.

mod common;

use common::TestSchema;
use iam_core::store::{RecordKind, Store, StoreError};
use iam_store_postgres::{PostgresStore, PostgresStoreError, PostgresStoreOptions, SCHEMA_VERSION};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_creates_and_reopens_the_schema() {
    if !common::server_available("open_creates_and_reopens_the_schema").await {
        return;
    }
    let schema = TestSchema::new();
    let store = schema.open().await;
    assert_eq!(store.schema(), schema.name);
    assert_eq!(
        store.schema_version().await.expect("version"),
        SCHEMA_VERSION
    );
    assert_eq!(store.get(RecordKind::Account, "x").await, Ok(None));
    drop(store);
    // Opening again (twice at once) finds the schema current and changes nothing.
    let (a, b) = tokio::join!(schema.open(), schema.open());
    assert_eq!(a.schema_version().await.expect("version"), SCHEMA_VERSION);
    assert_eq!(b.schema_version().await.expect("version"), SCHEMA_VERSION);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    if !common::server_available("a_newer_schema_is_refused").await {
        return;
    }
    let schema = TestSchema::new();
    let store = schema.open().await;
    sqlx::query("INSERT INTO iam_schema_version (version) VALUES ($1)")
        .bind(SCHEMA_VERSION + 1)
        .execute(store.pool())
        .await
        .expect("pretend a newer build migrated the schema");
    drop(store);
    match PostgresStore::open(schema.options()).await {
        Err(PostgresStoreError::Store(StoreError::SchemaTooNew { found, supported })) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_are_refused_before_connecting() {
    let options = PostgresStoreOptions::new("postgres://u:pw@127.0.0.1:1/db")
        .expect("url")
        .schema("Robert'); DROP TABLE students;--");
    assert!(matches!(
        PostgresStore::open(options).await,
        Err(PostgresStoreError::InvalidSchemaName { .. })
    ));
    let unreachable = PostgresStoreOptions::new("postgres://u:secret-pw@127.0.0.1:1/db")
        .expect("url")
        .acquire_timeout(std::time::Duration::from_secs(2));
    match PostgresStore::open(unreachable).await {
        Err(e @ PostgresStoreError::CannotConnect { .. }) => {
            assert!(!e.to_string().contains("secret-pw"), "{e}");
        }
        other => panic!("expected CannotConnect, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_can_require_tls() {
    if !common::server_available("connections_can_require_tls").await {
        return;
    }
    let plain = PostgresStore::connect(&common::url())
        .await
        .expect("plain connection");
    let offered: String = sqlx::query_scalar("SHOW ssl")
        .fetch_one(plain.pool())
        .await
        .expect("SHOW ssl");
    plain.close().await;
    if offered != "on" {
        eprintln!(
            "SKIPPED connections_can_require_tls: this server does not offer TLS (ssl = {offered})"
        );
        return;
    }
    let url = common::url();
    let sep = if url.contains('?') { '&' } else { '?' };
    let schema = TestSchema::new();
    let options = PostgresStoreOptions::new(&format!("{url}{sep}sslmode=require"))
        .expect("URL with sslmode")
        .schema(schema.name.clone());
    let store = PostgresStore::open(options)
        .await
        .expect("a TLS connection (sslmode=require)");
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .expect("pg_stat_ssl");
    assert!(encrypted, "the store's connection is encrypted");
    store.close().await;
}
