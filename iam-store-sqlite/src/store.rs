//! [`SqliteStore`]: the [`Store`] on one SQLite file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use iam_core::audit::{AuditEvent, AuditQuery, GENESIS};
use iam_core::clock::Timestamp;
use iam_core::revocation::{Revocation, RevocationCache, RevocationChange};
use iam_core::store::{
    Commit, ListQuery, PruneReport, Record, RecordKind, Store, StoreError, StoreResult,
    ThrottleState,
};
use iam_sql_common::writes::{apply_revocation, apply_throttle, apply_write};
use iam_sql_common::{reads, rows, AttemptError, Dialect};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection};

use crate::dialect::SqliteDialect;
use crate::error::{backend, open_error, SqliteStoreError};
use crate::schema::{self, MigrateError, SCHEMA_VERSION};

/// How hard a commit insists on reaching the disk before it returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is synced to disk before it returns: survives a power loss (the default).
    #[default]
    Full,
    /// Commits survive a crash of the process but the last ones may be lost on power failure
    /// (SQLite `synchronous = NORMAL` in WAL mode); much faster on slow disks.
    Normal,
}

/// How to open a [`SqliteStore`]: start from [`SqliteStoreOptions::new`] and change fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SqliteStoreOptions {
    /// The database file; created (with its schema) when it does not exist.
    pub path: PathBuf,
    /// Sync policy (default [`Durability::Full`]).
    pub durability: Durability,
    /// How long a statement waits for a lock held by another connection or process (default 5 s).
    pub busy_timeout: Duration,
    /// Connections in the pool; readers run in parallel, writers one at a time (default 4).
    pub max_connections: u32,
}

impl SqliteStoreOptions {
    /// The defaults for the database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteStoreOptions {
            path: path.into(),
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            max_connections: 4,
        }
    }
}

/// A [`Store`] on one SQLite file in WAL mode.
///
/// Commits run in `BEGIN IMMEDIATE` transactions, concurrent ones grouped into one transaction
/// with a savepoint each (see the crate docs). Revocation changes reach the
/// caches subscribed to this `SqliteStore` right after their commit; caches in other processes
/// that open the same file are not fed (run one process per database file).
///
/// A commit, once started, runs to completion on its own task even if the caller stops waiting
/// for it, so a revocation that reaches the database always reaches the subscribed caches too.
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    commits: Arc<GroupCommitQueue>,
}

/// The queue through which every commit (and prune) of a [`SqliteStore`] reaches the file,
/// shared with the tasks that run them, and the caches fed after each commit.
///
/// Commits are group-committed: each queues itself in `pending`, then waits for the `turn`;
/// whoever gets the turn runs everything queued in one SQLite transaction, each commit inside
/// its own savepoint (so one failing commit undoes only itself), and answers each. Concurrent
/// commits thus share one `BEGIN`/`COMMIT` and one sync to disk.
#[derive(Default)]
struct GroupCommitQueue {
    /// Held while writing: serialises this process's writers (SQLite admits one anyway) so
    /// revocation changes reach the caches in commit order.
    turn: tokio::sync::Mutex<()>,
    /// Commits waiting for the next turn, with where to send their outcome.
    pending: Mutex<Vec<Queued>>,
    subscribers: Mutex<Vec<Weak<RevocationCache>>>,
}

/// A commit waiting in [`GroupCommitQueue::pending`].
struct Queued {
    commit: Commit,
    done: tokio::sync::oneshot::Sender<StoreResult<()>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Refuses, before SQLite sees it, a path that cannot hold a writable database.
///
/// Permission bits are checked explicitly so that a file or directory marked read-only is
/// refused even for a superuser, whom the operating system would let write it anyway.
fn preflight(path: &Path) -> Result<(), SqliteStoreError> {
    let read_only = || SqliteStoreError::ReadOnly {
        path: path.to_path_buf(),
    };
    let cannot_open = |reason: String| SqliteStoreError::CannotOpen {
        path: path.to_path_buf(),
        reason,
    };
    if path.as_os_str().is_empty() {
        return Err(cannot_open("the path is empty".into()));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(SqliteStoreError::NotADatabase {
                path: path.to_path_buf(),
                reason: "it is a directory".into(),
            })
        }
        Ok(m) if m.permissions().readonly() => return Err(read_only()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(cannot_open(e.to_string())),
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(cannot_open(format!("{} is not a directory", dir.display()))),
        Ok(m) if m.permissions().readonly() => Err(read_only()),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(cannot_open(format!(
            "the directory {} does not exist",
            dir.display()
        ))),
        Err(e) => Err(cannot_open(e.to_string())),
    }
}

/// Checks over a plain connection, before the pool switches the file to WAL mode, that the file
/// is a SQLite database this build may migrate; anything else is refused untouched.
async fn probe(path: &Path, busy_timeout: Duration) -> Result<(), SqliteStoreError> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .busy_timeout(busy_timeout);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| open_error(path, e))?;
    let checked = schema::check(&mut conn).await;
    // Closing only releases the file; a failure to do so changes nothing worth reporting.
    let _ = conn.close().await;
    checked.map_err(|e| refusal(path, e))
}

/// The open error for a database that [`schema`] refused.
fn refusal(path: &Path, e: MigrateError) -> SqliteStoreError {
    let not_ours = |reason: String| SqliteStoreError::NotADatabase {
        path: path.to_path_buf(),
        reason,
    };
    match e {
        MigrateError::TooNew(found) => StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        }
        .into(),
        MigrateError::Corrupt(found) => {
            not_ours(format!("it records the impossible schema version {found}"))
        }
        MigrateError::Foreign(tables) => not_ours(format!(
            "it is a SQLite database with other tables ({})",
            tables.join(", ")
        )),
        MigrateError::Sql(e) => open_error(path, e),
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` with the default options.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, SqliteStoreError> {
        Self::open_with(SqliteStoreOptions::new(path.as_ref())).await
    }

    /// Opens (or creates) a database, applying any missing migrations.
    ///
    /// Fails with [`SqliteStoreError::NotADatabase`] for a file that is not an iam database,
    /// [`SqliteStoreError::ReadOnly`] when the file or its directory cannot be written,
    /// [`SqliteStoreError::CannotOpen`] when the file cannot be created or opened, and
    /// `SqliteStoreError::Store(StoreError::SchemaTooNew { .. })` when a newer build wrote it.
    pub async fn open_with(options: SqliteStoreOptions) -> Result<Self, SqliteStoreError> {
        let path = options.path.clone();
        preflight(&path)?;
        probe(&path, options.busy_timeout).await?;
        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            .synchronous(match options.durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            });
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(1)
            // A local file does not drop connections the way a network peer does; skipping the
            // ping saves a round trip to SQLite's worker thread on every call.
            .test_before_acquire(false)
            .acquire_timeout(options.busy_timeout.max(Duration::from_secs(5)))
            .connect_with(connect)
            .await
            .map_err(|e| open_error(&path, e))?;
        let store = SqliteStore {
            pool,
            path,
            commits: Arc::new(GroupCommitQueue::default()),
        };
        if let Err(e) = store.migrate().await {
            store.pool.close().await;
            return Err(e);
        }
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), SqliteStoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| open_error(&self.path, e))?;
        schema::migrate(&mut tx)
            .await
            .map_err(|e| refusal(&self.path, e))?;
        tx.commit().await.map_err(|e| open_error(&self.path, e))?;
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM iam_schema_version")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| backend(&e))?;
        Ok(v.unwrap_or(0))
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Appends the commit's drafts after the last event; the transaction's write lock keeps the
/// chain from forking.
async fn append_audit(conn: &mut SqliteConnection, commit: &mut Commit) -> StoreResult<()> {
    if commit.audit.is_empty() {
        return Ok(());
    }
    let head = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| backend(&e))?;
    let (mut seq, mut prev) = match head {
        None => (0, GENESIS),
        Some(row) => {
            let seq: i64 = row.try_get(0).map_err(|e| backend(&e))?;
            let hash: Vec<u8> = row.try_get(1).map_err(|e| backend(&e))?;
            (
                u64::try_from(seq)
                    .map_err(|_| SqliteDialect::corrupt("negative audit sequence"))?,
                rows::hash::<SqliteDialect>(&hash)?,
            )
        }
    };
    for draft in std::mem::take(&mut commit.audit) {
        let e = AuditEvent::chain(seq, prev, draft);
        let db_seq =
            i64::try_from(e.seq).map_err(|_| SqliteDialect::corrupt("audit sequence overflow"))?;
        sqlx::query(
            "INSERT INTO audit (seq, prev_hash, hash, at, kind, actor, account, session, detail)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(db_seq)
        .bind(e.prev_hash.as_slice())
        .bind(e.hash.as_slice())
        .bind(e.draft.at.as_millis())
        .bind(e.draft.kind.as_str())
        .bind(&e.draft.actor)
        .bind(&e.draft.account)
        .bind(&e.draft.session)
        .bind(rows::detail_json::<SqliteDialect>(&e.draft.detail)?)
        .execute(&mut *conn)
        .await
        .map_err(|err| backend(&err))?;
        seq = e.seq;
        prev = e.hash;
    }
    Ok(())
}

/// Applies every commit of a batch in one transaction, each inside a savepoint when there are
/// several, and returns each commit with its outcome; `Err` when the transaction as a whole
/// failed (then nothing of the batch landed).
async fn apply_batch(
    pool: &SqlitePool,
    commits: Vec<Commit>,
) -> StoreResult<Vec<(Commit, StoreResult<()>)>> {
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| backend(&e))?;
    let mut applied = Vec::with_capacity(commits.len());
    if commits.len() == 1 {
        // Alone in the batch: the transaction itself is the commit's boundary.
        for mut commit in commits {
            apply_commit(&mut tx, &mut commit)
                .await
                .map_err(AttemptError::classify::<SqliteDialect>)?;
            applied.push((commit, Ok(())));
        }
    } else {
        for mut commit in commits {
            let mut savepoint = tx.begin().await.map_err(|e| backend(&e))?;
            let outcome = apply_commit(&mut savepoint, &mut commit)
                .await
                .map_err(AttemptError::classify::<SqliteDialect>);
            match outcome {
                Ok(()) => savepoint.commit().await.map_err(|e| backend(&e))?,
                Err(_) => savepoint.rollback().await.map_err(|e| backend(&e))?,
            }
            applied.push((commit, outcome));
        }
    }
    tx.commit().await.map_err(|e| backend(&e))?;
    Ok(applied)
}

/// Applies one commit's writes, counters, revocations and audit events.
async fn apply_commit(
    conn: &mut SqliteConnection,
    commit: &mut Commit,
) -> Result<(), AttemptError> {
    for w in &commit.writes {
        apply_write::<SqliteDialect>(conn, w).await?;
    }
    for t in &commit.throttle {
        apply_throttle::<SqliteDialect>(conn, t).await?;
    }
    for c in &commit.revocations {
        apply_revocation::<SqliteDialect>(conn, c).await?;
    }
    Ok(append_audit(conn, commit).await?)
}

impl GroupCommitQueue {
    /// The caches still alive, forgetting dropped ones.
    fn live_subscribers(&self) -> Vec<Arc<RevocationCache>> {
        let mut subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        subs.retain(|w| w.strong_count() > 0);
        subs.iter().filter_map(Weak::upgrade).collect()
    }

    /// Queues `commit`, runs the queue if this call gets the turn, and returns the
    /// commit's outcome.
    async fn commit(&self, pool: &SqlitePool, commit: Commit) -> StoreResult<()> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Queued { commit, done });
        {
            let _turn = self.turn.lock().await;
            let batch =
                std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
            // Empty when an earlier turn already ran this commit along with its own.
            if !batch.is_empty() {
                self.run_batch(pool, batch).await;
            }
        }
        // Whichever turn took this commit answered it before the turn ended.
        outcome
            .await
            .map_err(|_| StoreError::Backend("sqlite: the commit was dropped unanswered".into()))?
    }

    /// Runs `batch` in one transaction and answers every commit in it.
    async fn run_batch(&self, pool: &SqlitePool, batch: Vec<Queued>) {
        let (commits, answers): (Vec<Commit>, Vec<_>) =
            batch.into_iter().map(|q| (q.commit, q.done)).unzip();
        let outcomes = match apply_batch(pool, commits).await {
            Ok(applied) => {
                // Published only now that the transaction is durable, in commit order.
                let published: Vec<&RevocationChange> = applied
                    .iter()
                    .filter_map(|(commit, outcome)| outcome.is_ok().then_some(commit))
                    .flat_map(|c| &c.revocations)
                    .collect();
                if !published.is_empty() {
                    for cache in self.live_subscribers() {
                        for change in &published {
                            cache.apply(change);
                        }
                    }
                }
                applied.into_iter().map(|(_, outcome)| outcome).collect()
            }
            Err(e) => vec![Err(e); answers.len()],
        };
        for (answer, outcome) in answers.into_iter().zip(outcomes) {
            // The caller may have stopped waiting; the outcome stands either way.
            let _ = answer.send(outcome);
        }
    }

    async fn prune(
        &self,
        pool: &SqlitePool,
        now: Timestamp,
        throttles_idle_since: Timestamp,
    ) -> StoreResult<PruneReport> {
        let _turn = self.turn.lock().await;
        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| backend(&e))?;
        let mut report = PruneReport::default();
        let counts: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, COUNT(*) FROM records
             WHERE expires_at IS NOT NULL AND expires_at <= ? GROUP BY kind",
        )
        .bind(now.as_millis())
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| backend(&e))?;
        for (name, n) in &counts {
            let kind = RecordKind::parse(name).ok_or_else(|| {
                StoreError::Corrupt(format!("sqlite: unknown record kind {name:?}"))
            })?;
            let n = u64::try_from(*n)
                .map_err(|_| StoreError::Corrupt("sqlite: negative row count".into()))?;
            report.records.push((kind, n));
        }
        report.records.sort_by_key(|(kind, _)| {
            RecordKind::ALL
                .iter()
                .position(|k| k == kind)
                .unwrap_or(usize::MAX)
        });
        sqlx::query("DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?")
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| backend(&e))?;
        report.throttles = sqlx::query("DELETE FROM throttles WHERE last_failure <= ?")
            .bind(throttles_idle_since.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| backend(&e))?
            .rows_affected();
        report.revocations = sqlx::query("DELETE FROM revocations WHERE until <= ?")
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| backend(&e))?
            .rows_affected();
        tx.commit().await.map_err(|e| backend(&e))?;
        Ok(report)
    }
}

/// A commit task that panicked or was cancelled by a shutting-down runtime.
fn task_failed(e: &tokio::task::JoinError) -> StoreError {
    StoreError::Backend(format!("sqlite: the commit task failed: {e}"))
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, kind: RecordKind, id: &str) -> StoreResult<Option<Record>> {
        reads::get::<SqliteDialect>(&self.pool, kind, id).await
    }

    async fn find(&self, kind: RecordKind, lookup: &str) -> StoreResult<Option<Record>> {
        reads::find::<SqliteDialect>(&self.pool, kind, lookup).await
    }

    async fn list(&self, kind: RecordKind, query: &ListQuery) -> StoreResult<Vec<Record>> {
        reads::list::<SqliteDialect>(&self.pool, kind, query).await
    }

    async fn commit(&self, commit: Commit) -> StoreResult<()> {
        if commit == Commit::default() {
            return Ok(()); // nothing to write, nothing to publish
        }
        let (commits, pool) = (Arc::clone(&self.commits), self.pool.clone());
        tokio::spawn(async move { commits.commit(&pool, commit).await })
            .await
            .map_err(|e| task_failed(&e))?
    }

    async fn throttle(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
        reads::throttle::<SqliteDialect>(&self.pool, key).await
    }

    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        reads::audit::<SqliteDialect>(&self.pool, query).await
    }

    async fn revocations(&self) -> StoreResult<Vec<Revocation>> {
        reads::revocations::<SqliteDialect>(&self.pool).await
    }

    async fn subscribe(&self, cache: Arc<RevocationCache>) -> StoreResult<()> {
        // Holding the turn, no commit can slip between the load and the registration.
        let _turn = self.commits.turn.lock().await;
        cache.load(reads::revocations::<SqliteDialect>(&self.pool).await?);
        self.commits
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::downgrade(&cache));
        Ok(())
    }

    async fn prune(
        &self,
        now: Timestamp,
        throttles_idle_since: Timestamp,
    ) -> StoreResult<PruneReport> {
        let (commits, pool) = (Arc::clone(&self.commits), self.pool.clone());
        tokio::spawn(async move { commits.prune(&pool, now, throttles_idle_since).await })
            .await
            .map_err(|e| task_failed(&e))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iam_core::store::Write;

    /// Every pooled connection runs with the settings the store promises.
    #[tokio::test]
    async fn connections_use_wal_foreign_keys_busy_timeout_and_full_sync() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = SqliteStoreOptions::new(dir.path().join("iam.db"));
        options.busy_timeout = Duration::from_millis(1234);
        let store = SqliteStore::open_with(options).await.expect("open");
        // Hold two connections at once so the check covers more than the first one.
        let mut first = store.pool.acquire().await.expect("connection");
        let mut second = store.pool.acquire().await.expect("connection");
        for conn in [&mut first, &mut second] {
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await
                .expect("journal_mode");
            let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut **conn)
                .await
                .expect("foreign_keys");
            let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(&mut **conn)
                .await
                .expect("busy_timeout");
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **conn)
                .await
                .expect("synchronous");
            assert_eq!(journal, "wal");
            assert_eq!(foreign_keys, 1);
            assert_eq!(busy, 1234);
            assert_eq!(sync, 2, "synchronous = FULL by default");
        }
    }

    /// `Durability::Normal` lowers the sync level and nothing else.
    #[tokio::test]
    async fn normal_durability_syncs_less() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = SqliteStoreOptions::new(dir.path().join("iam.db"));
        options.durability = Durability::Normal;
        let store = SqliteStore::open_with(options).await.expect("open");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.pool)
            .await
            .expect("synchronous");
        assert_eq!(sync, 1, "synchronous = NORMAL");
    }

    /// A commit whose caller gives up still lands and still reaches the subscribed caches.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_commit_still_reaches_the_caches() {
        use iam_core::revocation::RevokedSubject;

        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path().join("iam.db"))
            .await
            .expect("open");
        let cache = Arc::new(RevocationCache::new());
        store
            .subscribe(Arc::clone(&cache))
            .await
            .expect("subscribe");
        // Hold the turn so the commit is certainly in flight when it is abandoned.
        let turn = store.commits.turn.lock().await;
        let revocation = Revocation {
            subject: RevokedSubject::Grant,
            id: "ses_1".into(),
            issued_before: Timestamp::MAX,
            until: Timestamp::MAX,
        };
        let commit = Commit {
            revocations: vec![RevocationChange::Put(revocation.clone())],
            ..Commit::default()
        };
        let abandoned = tokio::time::timeout(Duration::from_millis(50), store.commit(commit)).await;
        assert!(abandoned.is_err(), "the commit waits for its turn");
        drop(turn);
        // The commit goes on without its caller.
        let mut landed = false;
        for _ in 0..200 {
            if store.revocations().await.expect("revocations") == vec![revocation.clone()] {
                landed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(landed, "the abandoned commit must still land");
        let _turn = store.commits.turn.lock().await; // the cache is fed before the turn ends
        assert!(
            cache
                .check("acc", "ses_1", Timestamp::from_secs(1))
                .is_err(),
            "the abandoned commit's revocation must reach the cache"
        );
    }

    /// Commits queued behind one turn run as one batch: each lands or fails on its own, a
    /// failed one leaves nothing (no record, revocation, cache change or audit event), and the
    /// audit chain has no gap.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_keeps_each_commit_atomic() {
        use iam_core::audit::{verify_chain, AuditDraft, AuditKind};
        use iam_core::revocation::RevokedSubject;

        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(
            SqliteStore::open(dir.path().join("iam.db"))
                .await
                .expect("open"),
        );
        let cache = Arc::new(RevocationCache::new());
        store
            .subscribe(Arc::clone(&cache))
            .await
            .expect("subscribe");
        let record = |id: &str| Record {
            kind: RecordKind::Account,
            id: id.to_owned(),
            version: 0,
            parent: None,
            lookup: None,
            expires_at: None,
            body: "{}".to_owned(),
        };
        let grant = |id: &str| {
            RevocationChange::Put(Revocation {
                subject: RevokedSubject::Grant,
                id: id.to_owned(),
                issued_before: Timestamp::MAX,
                until: Timestamp::MAX,
            })
        };
        let event = |n: i64| {
            vec![AuditDraft::new(
                AuditKind::AccountCreated,
                Timestamp::from_millis(n),
            )]
        };
        let commits = vec![
            Commit {
                writes: vec![Write::Insert(record("a"))],
                audit: event(1),
                ..Commit::default()
            },
            Commit {
                writes: vec![Write::Insert(record("c")), Write::Insert(record("a"))],
                revocations: vec![grant("ses_x")],
                audit: event(2),
                ..Commit::default()
            },
            Commit {
                writes: vec![Write::Insert(record("b"))],
                revocations: vec![grant("ses_y")],
                audit: event(3),
                ..Commit::default()
            },
            Commit {
                writes: vec![Write::Update {
                    record: record("b"),
                    expected_version: 5,
                }],
                audit: event(4),
                ..Commit::default()
            },
        ];
        let count = commits.len();
        let turn = store.commits.turn.lock().await;
        let mut tasks = Vec::new();
        for commit in commits {
            let racer = Arc::clone(&store);
            tasks.push(tokio::spawn(async move { racer.commit(commit).await }));
            // Queue them in this order.
            while store.commits.pending.lock().expect("pending").len() < tasks.len() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(store.commits.pending.lock().expect("pending").len(), count);
        drop(turn);
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.expect("task"));
        }
        assert_eq!(
            outcomes,
            vec![
                Ok(()),
                Err(StoreError::Duplicate {
                    kind: RecordKind::Account
                }),
                Ok(()),
                Err(StoreError::Conflict),
            ]
        );
        let ids: Vec<String> = store
            .list(RecordKind::Account, &ListQuery::default())
            .await
            .expect("list")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["a", "b"], "the failed commit's insert of c is undone");
        let revoked: Vec<String> = store
            .revocations()
            .await
            .expect("revocations")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(revoked, ["ses_y"]);
        let t = Timestamp::from_secs(1);
        assert!(cache.check("acc", "ses_y", t).is_err());
        assert_eq!(
            cache.check("acc", "ses_x", t),
            Ok(()),
            "a failed commit's revocation must not reach the cache"
        );
        let events = store.audit(&AuditQuery::default()).await.expect("audit");
        let times: Vec<i64> = events.iter().map(|e| e.draft.at.as_millis()).collect();
        assert_eq!(
            times,
            [1, 3],
            "only the landed commits' events, without a gap"
        );
        assert_eq!(verify_chain(&events), Ok(2));
    }
}
