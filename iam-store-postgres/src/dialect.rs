//! [`PostgresDialect`]: where this store's SQL differs from the SQLite store's, for the
//! statements the two share (iam-sql-common).

use iam_core::clock::Timestamp;
use iam_core::store::ThrottleState;
use iam_sql_common::{rows, AttemptError, Dialect};
use sqlx::{PgConnection, Postgres};

use crate::error::{is_transient, sqlstate};

/// The PostgreSQL side of the shared statements.
pub(crate) struct PostgresDialect;

impl Dialect for PostgresDialect {
    type Db = Postgres;

    const NAME: &'static str = "postgres";

    // `FOR SHARE` locks the row until the transaction ends: a concurrent update waits for this
    // commit, and one that committed first is seen (read committed re-reads the row).
    const CHECK_LOCK: &'static str = " FOR SHARE";

    // SQLSTATE class `XX`: internal errors such as `data_corrupted` and `index_corrupted`.
    fn is_corruption(e: &sqlx::Error) -> bool {
        sqlstate(e).is_some_and(|code| code.starts_with("XX"))
    }

    // Locks the counter row, creating it with no failures when missing (`INSERT .. ON CONFLICT
    // DO UPDATE` always yields the row, locked, whatever runs concurrently). Concurrent
    // reservations on one key queue on the row lock until the transaction ends, and each
    // decides on the state its predecessor committed; a refused or failed one rolls back, its
    // placeholder row with it.
    async fn lock_throttle(
        conn: &mut PgConnection,
        key: &str,
        at: Timestamp,
    ) -> Result<Option<ThrottleState>, AttemptError> {
        let locked = sqlx::query(
            "INSERT INTO throttles AS t (key, failures, last_failure) VALUES ($1, 0, $2)
             ON CONFLICT (key) DO UPDATE SET failures = t.failures
             RETURNING failures, last_failure",
        )
        .bind(key)
        .bind(at.as_millis())
        .fetch_one(&mut *conn)
        .await?;
        let current = rows::throttle::<Self>(&locked)?;
        // A row with no failures is the placeholder just made: no counter yet.
        Ok(Some(current).filter(|c| c.failures > 0))
    }

    fn is_transient(e: &sqlx::Error) -> bool {
        is_transient(e)
    }
}
