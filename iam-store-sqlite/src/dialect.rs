//! [`SqliteDialect`]: where this store's SQL differs from the PostgreSQL store's, for the
//! statements the two share (iam-sql-common).

use iam_core::audit::AuditEvent;
use iam_core::clock::Timestamp;
use iam_core::store::ThrottleState;
use iam_sql_common::{reads, rows, AttemptError, Dialect};
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection};

use crate::error::{primary_code, SQLITE_CORRUPT, SQLITE_NOTADB};

/// The SQLite side of the shared statements.
pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;

    const NAME: &'static str = "sqlite";

    // Every commit holds the database's write lock (`BEGIN IMMEDIATE`) from its start, so the
    // record cannot change between this read and the commit's end.
    const CHECK_LOCK: &'static str = "";

    // A column holding a value of a type this crate never writes counts too: SQLite lets any
    // column hold any type, so only something else can have put it there.
    fn is_corruption(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::ColumnDecode { .. })
            || matches!(primary_code(e), Some(SQLITE_CORRUPT | SQLITE_NOTADB))
    }

    // Every commit runs inside the group commit's `BEGIN IMMEDIATE` transaction, which holds
    // the database's write lock from its start, so no other writer (of this or any process)
    // can change the counter before the commit ends: a plain read will do.
    async fn lock_throttle(
        conn: &mut SqliteConnection,
        key: &str,
        _at: Timestamp,
    ) -> Result<Option<ThrottleState>, AttemptError> {
        Ok(reads::throttle_on::<Self>(conn, key).await?)
    }
}

/// Audit rows per `INSERT`: 9 bound values each keeps a statement under 999 parameters, the
/// lowest limit any SQLite build has (`SQLITE_MAX_VARIABLE_NUMBER`).
pub(crate) const AUDIT_ROWS_PER_INSERT: usize = 110;

/// A query of this store with its values bound.
pub(crate) type BoundQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// `(?,?,?,?,?,?,?,?,?)` for each of `n` audit events, comma-separated: the placeholders of
/// the values [`bind_audit`] binds, in the order of [`rows::AUDIT_COLUMNS`].
pub(crate) fn audit_placeholders(n: usize) -> String {
    vec!["(?,?,?,?,?,?,?,?,?)"; n].join(",")
}

/// Binds the values of `events` to the next placeholders of `query` (see [`audit_placeholders`]).
pub(crate) fn bind_audit<'q>(
    mut query: BoundQuery<'q>,
    events: &'q [AuditEvent],
) -> Result<BoundQuery<'q>, AttemptError> {
    for e in events {
        let seq =
            i64::try_from(e.seq).map_err(|_| SqliteDialect::corrupt("audit sequence overflow"))?;
        query = query
            .bind(seq)
            .bind(e.prev_hash.as_slice())
            .bind(e.hash.as_slice())
            .bind(e.draft.at.as_millis())
            .bind(e.draft.kind.as_str())
            .bind(e.draft.actor.as_deref())
            .bind(e.draft.account.as_deref())
            .bind(e.draft.session.as_deref())
            .bind(rows::detail_json::<SqliteDialect>(&e.draft.detail)?);
    }
    Ok(query)
}

/// Inserts `events` (at most [`AUDIT_ROWS_PER_INSERT`]) with one multi-row `INSERT`, followed in
/// the same round trip by the statements of `then` (such as `; COMMIT`), which run only when
/// the insert succeeded.
pub(crate) async fn insert_audit(
    conn: &mut SqliteConnection,
    events: &[AuditEvent],
    then: &str,
) -> Result<(), AttemptError> {
    let sql = format!(
        "INSERT INTO audit ({}) VALUES {}{then}",
        rows::AUDIT_COLUMNS,
        audit_placeholders(events.len())
    );
    bind_audit(sqlx::query(&sql), events)?
        .execute(&mut *conn)
        .await?;
    Ok(())
}
