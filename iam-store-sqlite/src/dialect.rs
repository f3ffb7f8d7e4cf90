//! [`SqliteDialect`]: where this store's SQL differs from the PostgreSQL store's, for the
//! statements the two share (iam-sql-common).

use iam_core::audit::{AuditDraft, AuditEvent, GENESIS};
use iam_core::clock::Timestamp;
use iam_core::store::ThrottleState;
use iam_sql_common::{reads, rows, AttemptError, Dialect};
use sqlx::{Row, Sqlite, SqliteConnection};

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

    // The transaction's write lock keeps the chain from forking.
    async fn append_audit(
        conn: &mut SqliteConnection,
        drafts: Vec<AuditDraft>,
    ) -> Result<(), AttemptError> {
        let head = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
        let (mut seq, mut prev) = match head {
            None => (0, GENESIS),
            Some(row) => {
                let seq: i64 = row.try_get(0)?;
                let hash: Vec<u8> = row.try_get(1)?;
                (
                    u64::try_from(seq).map_err(|_| Self::corrupt("negative audit sequence"))?,
                    rows::hash::<Self>(&hash)?,
                )
            }
        };
        let mut events = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let e = AuditEvent::chain(seq, prev, draft);
            (seq, prev) = (e.seq, e.hash);
            events.push(e);
        }
        for chunk in events.chunks(AUDIT_ROWS_PER_INSERT) {
            insert_audit(conn, chunk).await?;
        }
        Ok(())
    }
}

/// Audit rows per `INSERT`: 9 bound values each keeps a statement under 999 parameters, the
/// lowest limit any SQLite build has (`SQLITE_MAX_VARIABLE_NUMBER`).
const AUDIT_ROWS_PER_INSERT: usize = 110;

/// Inserts `events` with one multi-row `INSERT`.
async fn insert_audit(
    conn: &mut SqliteConnection,
    events: &[AuditEvent],
) -> Result<(), AttemptError> {
    let mut sql = String::from(
        "INSERT INTO audit (seq, prev_hash, hash, at, kind, actor, account, session, detail) VALUES ",
    );
    for i in 0..events.len() {
        sql.push_str(if i == 0 {
            "(?,?,?,?,?,?,?,?,?)"
        } else {
            ",(?,?,?,?,?,?,?,?,?)"
        });
    }
    let mut query = sqlx::query(&sql);
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
    query.execute(&mut *conn).await?;
    Ok(())
}
