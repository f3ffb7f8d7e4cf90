//! The embedded, versioned schema and its migrations.

use iam_sql_common::schema::INDEXES_V1;
use sqlx::{Row, SqliteConnection};

/// The migrations in order, each as the scripts it runs; the schema version is the number of
/// migrations applied.
const MIGRATIONS: &[&[&str]] = &[
    // 1: records, throttle counters, revocations, audit chain.
    &[TABLES_V1, INDEXES_V1],
];

/// The tables of migration 1 (its indexes are [`INDEXES_V1`], shared with PostgreSQL).
const TABLES_V1: &str = r"
    CREATE TABLE records (
        kind       TEXT    NOT NULL,
        id         TEXT    NOT NULL,
        version    INTEGER NOT NULL CHECK (version >= 1),
        parent     TEXT,
        lookup     TEXT,
        expires_at INTEGER,
        body       TEXT    NOT NULL,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;

    CREATE TABLE throttles (
        key          TEXT    NOT NULL PRIMARY KEY,
        failures     INTEGER NOT NULL,
        last_failure INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE revocations (
        subject       TEXT    NOT NULL,
        id            TEXT    NOT NULL,
        issued_before INTEGER NOT NULL,
        until         INTEGER NOT NULL,
        PRIMARY KEY (subject, id)
    ) WITHOUT ROWID;

    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY CHECK (seq >= 1),
        prev_hash BLOB    NOT NULL,
        hash      BLOB    NOT NULL,
        at        INTEGER NOT NULL,
        kind      TEXT    NOT NULL,
        actor     TEXT,
        account   TEXT,
        session   TEXT,
        detail    TEXT    NOT NULL
    );
    ";

/// The newest schema version this build knows.
#[allow(clippy::cast_possible_wrap)] // a few migrations, nowhere near i64::MAX
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// What a database holds before any migration.
enum Found {
    /// No tables at all: a new (or empty) file.
    Empty,
    /// An iam database at this schema version.
    Iam(i64),
    /// A SQLite database that holds other tables and no iam schema.
    Foreign(Vec<String>),
}

/// Why the schema cannot be brought up to date.
pub(crate) enum MigrateError {
    /// The database records a schema version newer than [`SCHEMA_VERSION`].
    TooNew(i64),
    /// The recorded version makes no sense (negative).
    Corrupt(i64),
    /// The database belongs to another application (it holds these tables and no iam schema).
    Foreign(Vec<String>),
    /// SQLite refused a statement (the caller classifies it: read-only, corrupt, ...).
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for MigrateError {
    fn from(e: sqlx::Error) -> Self {
        MigrateError::Sql(e)
    }
}

/// Reads what the database holds, writing nothing.
async fn inspect(conn: &mut SqliteConnection) -> Result<Found, MigrateError> {
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<Result<_, _>>()?;
    if tables.iter().any(|t| t == "iam_schema_version") {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM iam_schema_version")
            .fetch_one(&mut *conn)
            .await?;
        Ok(Found::Iam(v.unwrap_or(0)))
    } else if tables.is_empty() {
        Ok(Found::Empty)
    } else {
        Ok(Found::Foreign(tables))
    }
}

/// The number of migrations already applied to a database holding `found`, if this build may
/// migrate it.
fn applied(found: Found) -> Result<usize, MigrateError> {
    match found {
        Found::Empty => Ok(0),
        Found::Foreign(tables) => Err(MigrateError::Foreign(tables)),
        Found::Iam(v) if v > SCHEMA_VERSION => Err(MigrateError::TooNew(v)),
        Found::Iam(v) => usize::try_from(v).map_err(|_| MigrateError::Corrupt(v)),
    }
}

/// Checks, writing nothing, that this build may open and migrate the database.
///
/// Run before anything changes the file (even its journal mode), so a file that is not ours is
/// left exactly as it was.
pub(crate) async fn check(conn: &mut SqliteConnection) -> Result<(), MigrateError> {
    applied(inspect(conn).await?).map(drop)
}

/// Brings the schema up to [`SCHEMA_VERSION`] inside the caller's write transaction.
pub(crate) async fn migrate(conn: &mut SqliteConnection) -> Result<(), MigrateError> {
    let found = inspect(conn).await?;
    if matches!(found, Found::Empty) {
        sqlx::query(
            "CREATE TABLE iam_schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .execute(&mut *conn)
        .await?;
    }
    let applied = applied(found)?;
    for (version, scripts) in (1..).zip(MIGRATIONS).skip(applied) {
        for sql in *scripts {
            sqlx::raw_sql(sql).execute(&mut *conn).await?;
        }
        sqlx::query(
            "INSERT INTO iam_schema_version (version, applied_at) VALUES (?, CAST(unixepoch('subsec') * 1000 AS INTEGER))",
        )
        .bind(version)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
