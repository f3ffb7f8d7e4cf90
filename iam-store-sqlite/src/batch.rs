//! One batch of commits as one SQLite transaction, in as few round trips as the batch allows.
//!
//! sqlx runs every statement on the connection's own thread, so each round trip wakes two
//! threads, which under load costs more than the statement does. So the transaction is opened,
//! the audit chain's head read and the leading run of commits that only check versions decided
//! in one round trip (`BEGIN IMMEDIATE; SELECT <head>; SELECT <versions>`), and the audit events
//! appended and the transaction committed in another (`INSERT ...; COMMIT`): a batch of token
//! grants (a version check and an audit event each) costs those two. Commits that change records
//! run in between, with [`apply_commits`] as on PostgreSQL. Batches run on a connection of their
//! own ([`BatchConnection`]).

use futures_util::TryStreamExt as _;
use iam_core::audit::{ChainHash, GENESIS};
use iam_core::store::{Commit, StoreError, StoreResult, Write};
use iam_sql_common::batch::{apply_commits, chain_after, modifies, succeeded_drafts};
use iam_sql_common::rows::{to_db_count, version_to_db};
use iam_sql_common::writes::{
    check_all, check_outcomes, checked_records, push_version_query, read_versions, StoredVersions,
    CHECKS_PER_STATEMENT,
};
use iam_sql_common::{rows, AttemptError, Dialect as _, ReadRow as _, Statement};
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{Connection as _, Either, Executor as _, Sqlite, SqliteConnection};

use crate::dialect::{
    audit_placeholders, bind_audit, insert_audit, SqliteDialect, AUDIT_ROWS_PER_INSERT,
};
use crate::error::backend;

/// Opens the batch's transaction and reads the audit chain's head; the leading checks follow.
const OPENING: &str = "BEGIN IMMEDIATE; SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";

/// The connection every batch runs on, opened on first use and again after a failure that may
/// have left it inside a transaction.
///
/// Its own, not one of the pool's: a connection's page cache stays valid only while no other
/// connection writes, so the one connection that writes never re-reads the pages it wrote.
pub(crate) struct BatchConnection {
    options: SqliteConnectOptions,
    slot: tokio::sync::Mutex<Slot>,
}

/// The batch connection's state.
enum Slot {
    /// No connection yet, or the last one was closed after a failure.
    Empty,
    /// The connection, between batches.
    Ready(Writing),
    /// [`BatchConnection::close`] was called: batches fail.
    Closed,
}

/// The batch connection, and the audit chain's head as its last batch left it.
struct Writing {
    conn: SqliteConnection,
    /// `None` until a batch has read the head.
    head: Option<Head>,
}

/// The audit chain's last event: its number and its hash (`0` and [`GENESIS`] for none).
type Head = (u64, ChainHash);

impl BatchConnection {
    /// A connection made with `options` when the first batch needs it.
    pub(crate) fn new(options: SqliteConnectOptions) -> Self {
        BatchConnection {
            options,
            slot: tokio::sync::Mutex::new(Slot::Empty),
        }
    }

    /// Closes the connection (waiting for a batch under way to end); later batches fail.
    pub(crate) async fn close(&self) {
        let mut slot = self.slot.lock().await;
        if let Slot::Ready(writing) = std::mem::replace(&mut *slot, Slot::Closed) {
            // Closing can only fail on a connection that is gone already.
            let _ = writing.conn.close().await;
        }
    }

    /// Runs `commits` in one transaction; returns each commit's outcome (every one failed when
    /// the transaction as a whole failed: then nothing of the batch landed).
    pub(crate) async fn apply(&self, commits: &[Commit]) -> StoreResult<Vec<StoreResult<()>>> {
        let mut slot = self.slot.lock().await;
        // Out of its slot while its transaction may be open: should this future be dropped
        // before the transaction ends, the connection is closed (and SQLite rolls back), never
        // used again inside that transaction.
        let mut writing = match std::mem::replace(&mut *slot, Slot::Empty) {
            Slot::Ready(writing) => writing,
            Slot::Empty => Writing {
                conn: SqliteConnection::connect_with(&self.options)
                    .await
                    .map_err(|e| backend(&e))?,
                head: None,
            },
            Slot::Closed => {
                *slot = Slot::Closed;
                return Err(StoreError::Backend("sqlite: the store is closed".into()));
            }
        };
        let quick = match writing.head {
            Some(head) => run_checks_only(&mut writing.conn, commits, head).await,
            None => Ok(None),
        };
        let ran = match quick {
            Ok(Some(done)) => Ok(done),
            Ok(None) => run(&mut writing.conn, commits).await,
            Err(e) => Err(e),
        };
        match ran {
            Ok((outcomes, head)) => {
                writing.head = Some(head);
                *slot = Slot::Ready(writing);
                Ok(outcomes)
            }
            Err(e) => {
                // The transaction may still be open. A connection that cannot roll back (one
                // whose `BEGIN` failed, too) is closed; the next batch opens another.
                if writing.conn.execute("ROLLBACK").await.is_ok() {
                    writing.head = None;
                    *slot = Slot::Ready(writing);
                }
                Err(e.classify::<SqliteDialect>())
            }
        }
    }
}

/// Most values one statement binds: `SQLITE_MAX_VARIABLE_NUMBER` of the oldest SQLite builds.
const MAX_BOUND_VALUES: usize = 999;

/// Runs a batch of commits that change nothing (version checks and audit events: OAuth
/// client-credentials grants) in one round trip, given the chain's `head` as the last batch
/// left it: `BEGIN IMMEDIATE; INSERT INTO audit .. SELECT .. WHERE <every check holds and the
/// head is still head>; COMMIT`, every commit's events chained in advance.
///
/// `None`, with nothing written, when the batch does not qualify (a commit changes something,
/// the values are too many for one statement), a check fails or the head moved (another
/// process appended): the caller then runs the batch in full, which decides each commit.
async fn run_checks_only(
    conn: &mut SqliteConnection,
    commits: &[Commit],
    head: Head,
) -> Result<Option<(Vec<StoreResult<()>>, Head)>, AttemptError> {
    if head.0 == 0 || commits.iter().any(modifies) {
        return Ok(None);
    }
    let mut checks = Vec::new();
    for w in commits.iter().flat_map(|c| &c.writes) {
        if let Write::Check {
            kind,
            id,
            expected_version,
        } = w
        {
            let Some(version) = version_to_db(*expected_version) else {
                return Ok(None);
            };
            checks.push((kind.as_str(), id.as_str(), version));
        }
    }
    checks.sort_unstable();
    checks.dedup();
    if checks
        .windows(2)
        .any(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1))
    {
        // One record expected at two versions: some commit fails.
        return Ok(None);
    }
    let drafts = commits.iter().flat_map(|c| c.audit.iter().cloned());
    let events = chain_after(head.0, head.1, drafts.collect());
    let Some(last) = events.last().map(|e| (e.seq, e.hash)) else {
        return Ok(None);
    };
    if 9 * events.len() + 3 * checks.len() + 3 > MAX_BOUND_VALUES {
        return Ok(None);
    }
    let mut sql = format!(
        "BEGIN IMMEDIATE; INSERT INTO audit ({}) SELECT * FROM (VALUES {}) WHERE EXISTS (
             SELECT 1 FROM (SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1)
             WHERE seq = ? AND hash = ?)",
        rows::AUDIT_COLUMNS,
        audit_placeholders(events.len())
    );
    if !checks.is_empty() {
        sql.push_str(" AND (SELECT COUNT(*) FROM records WHERE (kind, id, version) IN (VALUES ");
        sql.push_str(&vec!["(?,?,?)"; checks.len()].join(","));
        sql.push_str(")) = ?");
    }
    sql.push_str("; COMMIT");
    let head_seq =
        i64::try_from(head.0).map_err(|_| SqliteDialect::corrupt("audit sequence overflow"))?;
    let mut query = bind_audit(sqlx::query(&sql), &events)?
        .bind(head_seq)
        .bind(head.1.as_slice());
    for (kind, id, version) in &checks {
        query = query.bind(*kind).bind(*id).bind(*version);
    }
    if !checks.is_empty() {
        query = query.bind(to_db_count(checks.len()));
    }
    let results = per_statement(conn, query).await?;
    let inserted = results.get(1).map_or(0, |(_, changed)| *changed);
    if inserted == 0 {
        return Ok(None);
    }
    if usize::try_from(inserted).ok() != Some(events.len()) {
        return Err(
            SqliteDialect::corrupt("the audit append inserted a part of its events").into(),
        );
    }
    Ok(Some((vec![Ok(()); commits.len()], last)))
}

/// Runs the batch on `conn`, outside any transaction: opens the transaction, applies the
/// commits, appends the audit events of those that succeeded and commits (or rolls back when
/// none did). `Err` leaves the transaction to the caller to roll back.
async fn run(
    conn: &mut SqliteConnection,
    commits: &[Commit],
) -> Result<(Vec<StoreResult<()>>, Head), AttemptError> {
    let lead = commits.iter().position(modifies).unwrap_or(commits.len());
    let (leading, rest) = commits.split_at(lead);
    let keys = checked_records(leading);
    let fold_checks = keys.len() <= CHECKS_PER_STATEMENT;
    let mut opening = Statement::new(OPENING);
    if fold_checks && !keys.is_empty() {
        opening.push("; ");
        push_version_query::<SqliteDialect>(&mut opening, &keys);
    }
    let results = per_statement(conn, iam_sql_common::query(&opening)).await?;
    let (seq, prev) = match results.get(1).and_then(|(rows, _)| rows.first()) {
        None => (0, GENESIS),
        Some(row) => (
            u64::try_from(row.integer(0)?)
                .map_err(|_| SqliteDialect::corrupt("negative audit sequence"))?,
            rows::hash::<SqliteDialect>(&row.bytes(1)?)?,
        ),
    };
    let mut outcomes = if fold_checks {
        let mut stored = StoredVersions::with_capacity(keys.len());
        if let Some((rows, _)) = results.get(2) {
            read_versions(rows, &mut stored)?;
        }
        check_outcomes(leading, &stored)
    } else {
        check_all::<SqliteDialect>(conn, leading).await?
    };
    outcomes.extend(apply_commits::<SqliteDialect>(conn, rest, commits.len() > 1).await?);
    if !outcomes.iter().any(Result::is_ok) {
        // A lone failed commit has no savepoint: undo what it did.
        conn.execute("ROLLBACK").await?;
        return Ok((outcomes, (seq, prev)));
    }
    let events = chain_after(seq, prev, succeeded_drafts(commits, &outcomes));
    let head = events.last().map_or((seq, prev), |e| (e.seq, e.hash));
    let mut chunks = events.chunks(AUDIT_ROWS_PER_INSERT).peekable();
    if chunks.peek().is_none() {
        conn.execute("COMMIT").await?;
    }
    while let Some(chunk) = chunks.next() {
        let then = if chunks.peek().is_none() {
            "; COMMIT"
        } else {
            ""
        };
        insert_audit(conn, chunk, then).await?;
    }
    Ok((outcomes, head))
}

/// Runs `query`, a script of statements separated by `;`, and returns the rows of each
/// statement and how many rows it changed, in order (stopping at the first that fails).
async fn per_statement<'q, Q>(
    conn: &mut SqliteConnection,
    query: Q,
) -> Result<Vec<(Vec<SqliteRow>, u64)>, sqlx::Error>
where
    Q: sqlx::Execute<'q, Sqlite> + 'q,
{
    let mut results = Vec::new();
    let mut rows = Vec::new();
    let mut stream = conn.fetch_many(query);
    while let Some(item) = stream.try_next().await? {
        match item {
            Either::Left(done) => results.push((std::mem::take(&mut rows), done.rows_affected())),
            Either::Right(row) => rows.push(row),
        }
    }
    Ok(results)
}
