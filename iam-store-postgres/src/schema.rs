//! The embedded, versioned schema and its migrations.

use iam_core::store::StoreError;
use iam_sql_common::schema::INDEXES_V1;
use sqlx::{PgConnection, Row};

use crate::error::backend;

/// The migrations in order, each as the scripts it runs; the schema version is the number of
/// migrations applied.
const MIGRATIONS: &[&[&str]] = &[
    // 1: records, throttle counters, revocations (with their revision), audit chain (with its head).
    &[TABLES_V1, INDEXES_V1],
];

/// The tables of migration 1 (its shared indexes are [`INDEXES_V1`]).
///
/// Ids, parents and lookups use the "C" collation so that ordering is by bytes, as the store
/// contract requires, whatever the database's default collation.
const TABLES_V1: &str = r#"
    CREATE TABLE records (
        kind       TEXT             NOT NULL,
        id         TEXT COLLATE "C" NOT NULL,
        version    BIGINT           NOT NULL CHECK (version >= 1),
        parent     TEXT COLLATE "C",
        lookup     TEXT COLLATE "C",
        expires_at BIGINT,
        body       TEXT             NOT NULL,
        PRIMARY KEY (kind, id)
    );

    CREATE TABLE throttles (
        key          TEXT   NOT NULL PRIMARY KEY,
        failures     BIGINT NOT NULL,
        last_failure BIGINT NOT NULL
    );
    CREATE INDEX throttles_last_failure ON throttles (last_failure);

    CREATE TABLE revocations (
        subject       TEXT   NOT NULL,
        id            TEXT   NOT NULL,
        issued_before BIGINT NOT NULL,
        until         BIGINT NOT NULL,
        PRIMARY KEY (subject, id)
    );
    CREATE INDEX revocations_until ON revocations (until);

    -- One row: the number of committed revocation changes so far. Every commit that changes the
    -- list takes the row lock and bumps it, so revisions follow commit order; notices carry it.
    CREATE TABLE revocation_head (
        singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
        rev       BIGINT  NOT NULL
    );
    INSERT INTO revocation_head (rev) VALUES (0);

    CREATE TABLE audit (
        seq       BIGINT PRIMARY KEY CHECK (seq >= 1),
        prev_hash BYTEA  NOT NULL,
        hash      BYTEA  NOT NULL,
        at        BIGINT NOT NULL,
        kind      TEXT   NOT NULL,
        actor     TEXT,
        account   TEXT,
        session   TEXT,
        detail    TEXT   NOT NULL
    );

    -- One row: the last event of the chain. Appenders lock it FOR UPDATE, so concurrent commits
    -- append one after another and the chain never forks.
    CREATE TABLE audit_head (
        singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
        seq       BIGINT  NOT NULL,
        hash      BYTEA   NOT NULL
    );
    INSERT INTO audit_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));
    "#;

/// The newest schema version this build knows.
#[allow(clippy::cast_possible_wrap)] // a handful of migrations, far below i64::MAX
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Creates `schema` if needed and brings it up to [`SCHEMA_VERSION`], inside the caller's
/// transaction. `schema` must already be validated (it is spliced into SQL).
pub(crate) async fn migrate(conn: &mut PgConnection, schema: &str) -> Result<(), StoreError> {
    // Two processes opening one fresh schema at once take turns.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('iam-store-postgres:' || $1, 0))")
        .bind(schema)
        .execute(&mut *conn)
        .await
        .map_err(|e| backend(&e))?;
    let exists = sqlx::query("SELECT 1 FROM pg_namespace WHERE nspname = $1")
        .bind(schema)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| backend(&e))?
        .is_some();
    if !exists {
        sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut *conn)
            .await
            .map_err(|e| backend(&e))?;
    }
    sqlx::raw_sql(&format!(
        "SET LOCAL search_path TO {schema};
         CREATE TABLE IF NOT EXISTS iam_schema_version (
             version    BIGINT      PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         );"
    ))
    .execute(&mut *conn)
    .await
    .map_err(|e| backend(&e))?;
    let found = current_version(conn).await?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, scripts) in (1_i64..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(found).unwrap_or(0))
    {
        for sql in *scripts {
            sqlx::raw_sql(sql)
                .execute(&mut *conn)
                .await
                .map_err(|e| backend(&e))?;
        }
        sqlx::query("INSERT INTO iam_schema_version (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *conn)
            .await
            .map_err(|e| backend(&e))?;
    }
    Ok(())
}

/// The schema version recorded in the database (0 when none).
pub(crate) async fn current_version(conn: &mut PgConnection) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM iam_schema_version")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| backend(&e))?;
    row.try_get(0).map_err(|e| backend(&e))
}
