//! [`SqliteDialect`]: where this store's SQL differs from the PostgreSQL store's, for the
//! statements the two share (iam-sql-common).

use iam_core::clock::Timestamp;
use iam_core::store::ThrottleState;
use iam_sql_common::{reads, AttemptError, Dialect};
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
