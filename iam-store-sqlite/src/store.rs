//! [`SqliteStore`]: the [`Store`] on one SQLite file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use iam_core::audit::{AuditEvent, AuditQuery};
use iam_core::clock::Timestamp;
use iam_core::revocation::{Revocation, RevocationCache, RevocationChange};
use iam_core::store::{
    Commit, ListQuery, PruneReport, Record, RecordKind, Store, StoreError, StoreResult,
    ThrottleState,
};
use iam_sql_common::batch::{
    all_failed, BatchRunner, CommitQueue, Writer, DEFAULT_MAX_QUEUED_COMMITS,
};
use iam_sql_common::reads;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, SqliteConnection};

use crate::batch::BatchConnection;
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
    /// How many commits may wait for a transaction at once (default 4096); past that, `commit`
    /// fails at once with [`StoreError::Overloaded`] without starting. Bounds the memory that a
    /// burst of commits can hold.
    pub max_queued_commits: usize,
}

impl SqliteStoreOptions {
    /// The defaults for the database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteStoreOptions {
            path: path.into(),
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            max_connections: 4,
            max_queued_commits: DEFAULT_MAX_QUEUED_COMMITS,
        }
    }
}

/// A [`Store`] on one SQLite file in WAL mode.
///
/// Commits run in `BEGIN IMMEDIATE` transactions, concurrent ones grouped into one transaction,
/// each inside a savepoint when it changes something, with one audit append per transaction
/// (see the crate docs). Revocation changes reach the
/// caches subscribed to this `SqliteStore` right after their commit; caches in other processes
/// that open the same file are not fed (run one process per database file).
///
/// A commit, once started, runs to completion on its own task even if the caller stops waiting
/// for it, so a revocation that reaches the database always reaches the subscribed caches too.
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    commits: Arc<GroupCommitQueue>,
    /// Wakes the task that runs the queued commits; dropping it ends that task.
    writer: Writer,
}

/// The queue through which every commit (and prune) of a [`SqliteStore`] reaches the file,
/// shared with the tasks that run them, and the caches fed after each batch.
///
/// Commits are group-committed ([`CommitQueue`]): the store's writer, on a thread of its own,
/// takes the turn and runs up to [`MAX_BATCH`](iam_sql_common::batch::MAX_BATCH) queued
/// commits in one `BEGIN IMMEDIATE` transaction (see [`iam_sql_common::batch`]), so concurrent
/// commits share one `BEGIN`/`COMMIT` and one sync to disk. The turn also serialises this process's writers
/// (SQLite admits one anyway), so revocation changes reach the caches in commit order.
struct GroupCommitQueue {
    queue: CommitQueue,
    /// Where the batches run.
    batches: BatchConnection,
    subscribers: Mutex<Vec<Weak<RevocationCache>>>,
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
            .connect_with(connect.clone())
            .await
            .map_err(|e| open_error(&path, e))?;
        let commits = Arc::new(GroupCommitQueue {
            queue: CommitQueue::new(options.max_queued_commits),
            batches: BatchConnection::new(connect),
            subscribers: Mutex::default(),
        });
        let writer =
            match Writer::start_on_own_thread(Arc::clone(&commits), "iam-sqlite-writer").await {
                Ok(writer) => writer,
                Err(e) => {
                    pool.close().await;
                    return Err(SqliteStoreError::CannotOpen {
                        path,
                        reason: format!("cannot start the commit writer's thread: {e}"),
                    });
                }
            };
        let store = SqliteStore {
            pool,
            path,
            commits,
            writer,
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
        self.commits.batches.close().await;
    }
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

    async fn prune(
        &self,
        pool: &SqlitePool,
        now: Timestamp,
        throttles_idle_since: Timestamp,
    ) -> StoreResult<PruneReport> {
        let _turn = self.queue.turn().await;
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

impl BatchRunner for GroupCommitQueue {
    fn queue(&self) -> &CommitQueue {
        &self.queue
    }

    /// Runs `commits` in one transaction and feeds the caches; returns each commit's outcome.
    async fn run_batch(&self, commits: Vec<Commit>) -> Vec<StoreResult<()>> {
        match self.batches.apply(&commits).await {
            Ok(outcomes) => {
                // Published only now that the transaction is durable, in commit order.
                let published: Vec<&RevocationChange> = commits
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, outcome)| outcome.is_ok())
                    .flat_map(|(c, _)| &c.revocations)
                    .collect();
                if !published.is_empty() {
                    for cache in self.live_subscribers() {
                        for change in &published {
                            cache.apply(change);
                        }
                    }
                }
                outcomes
            }
            Err(e) => all_failed(commits.len(), &e),
        }
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
        // Refused here, before anything starts, when the queue is full.
        self.writer.commit(&self.commits.queue, commit).await
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
        let _turn = self.commits.queue.turn().await;
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
    use iam_core::audit::{verify_chain, AuditDraft, AuditKind};
    use iam_core::store::Write;

    /// An account record `id` with an empty body.
    fn account(id: &str) -> Record {
        Record {
            kind: RecordKind::Account,
            id: id.to_owned(),
            version: 0,
            parent: None,
            lookup: None,
            expires_at: None,
            body: "{}".to_owned(),
        }
    }

    /// One audit draft, told apart by its time `n` (milliseconds).
    fn event(n: i64) -> Vec<AuditDraft> {
        vec![AuditDraft::new(
            AuditKind::AccountCreated,
            Timestamp::from_millis(n),
        )]
    }

    /// A commit checking that account `id` is stored at `version`, with the audit event `n`.
    fn check(id: &str, version: u64, n: i64) -> Commit {
        Commit {
            writes: vec![Write::Check {
                kind: RecordKind::Account,
                id: id.into(),
                expected_version: version,
            }],
            audit: event(n),
            ..Commit::default()
        }
    }

    /// A commit inserting account `id`, with the audit event `n`.
    fn insert(id: &str, n: i64) -> Commit {
        Commit {
            writes: vec![Write::Insert(account(id))],
            audit: event(n),
            ..Commit::default()
        }
    }

    /// Runs `commits` as one batch (queued in order behind the turn, then let go) and returns
    /// their outcomes.
    async fn run_as_one_batch(
        store: &Arc<SqliteStore>,
        commits: Vec<Commit>,
    ) -> Vec<StoreResult<()>> {
        let count = commits.len();
        let turn = store.commits.queue.turn().await;
        let mut tasks = Vec::new();
        for commit in commits {
            let racer = Arc::clone(store);
            tasks.push(tokio::spawn(async move { racer.commit(commit).await }));
            // Queue them in this order.
            while store.commits.queue.queued() < tasks.len() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(store.commits.queue.queued(), count);
        drop(turn);
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.expect("task"));
        }
        outcomes
    }

    /// The times of the stored audit events, after checking that their chain verifies.
    async fn audit_times(store: &SqliteStore) -> Vec<i64> {
        let events = store.audit(&AuditQuery::default()).await.expect("audit");
        assert_eq!(verify_chain(&events), Ok(events.len() as u64));
        events.iter().map(|e| e.draft.at.as_millis()).collect()
    }

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
        let turn = store.commits.queue.turn().await;
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
        let _turn = store.commits.queue.turn().await; // the cache is fed before the turn ends
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
        let record = account;
        let grant = |id: &str| {
            RevocationChange::Put(Revocation {
                subject: RevokedSubject::Grant,
                id: id.to_owned(),
                issued_before: Timestamp::MAX,
                until: Timestamp::MAX,
            })
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
            // Checks alone: no savepoint, and its failure undoes nothing of the others.
            check("a", 2, 5),
            check("a", 1, 6),
        ];
        assert_eq!(
            run_as_one_batch(&store, commits).await,
            vec![
                Ok(()),
                Err(StoreError::Duplicate {
                    kind: RecordKind::Account
                }),
                Ok(()),
                Err(StoreError::Conflict),
                Err(StoreError::Conflict),
                Ok(()),
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
        assert_eq!(
            audit_times(&store).await,
            [1, 3, 6],
            "only the landed commits' events, without a gap"
        );
    }

    /// The checks of a batch's leading commits are decided with the statement that opens its
    /// transaction, those after a commit that changes something on their own; both chain their
    /// events after the ones already stored, in commit order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leading_checks_and_later_ones_decide_alike() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(
            SqliteStore::open(dir.path().join("iam.db"))
                .await
                .expect("open"),
        );
        assert_eq!(store.commit(insert("a", 1)).await, Ok(()));
        let outcomes = run_as_one_batch(
            &store,
            vec![
                check("a", 1, 2),
                check("a", 2, 3),
                check("missing", 1, 4),
                insert("b", 5),
                check("a", 1, 6),
                check("b", 1, 7),
                check("b", 2, 8),
            ],
        )
        .await;
        let conflict = Err(StoreError::Conflict);
        assert_eq!(
            outcomes,
            [
                Ok(()),
                conflict.clone(),
                conflict.clone(),
                Ok(()),
                Ok(()),
                Ok(()),
                conflict
            ]
        );
        assert_eq!(audit_times(&store).await, [1, 2, 5, 6, 7]);
    }

    /// A batch of checks alone, once the chain's head is known, runs in one round trip; when a
    /// check fails there, or another store on the same file moved the head, nothing of it is
    /// written and the batch runs in full: each commit still gets its own outcome, and the
    /// chain has no fork or gap.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_of_checks_alone_decides_each_commit_whatever_moved() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("iam.db");
        let store = Arc::new(SqliteStore::open(&path).await.expect("open"));
        let other = SqliteStore::open(&path).await.expect("second store");
        assert_eq!(store.commit(insert("a", 1)).await, Ok(()));
        // The head is known now: every check holds.
        assert_eq!(
            run_as_one_batch(&store, vec![check("a", 1, 2), check("a", 1, 3)]).await,
            [Ok(()), Ok(())]
        );
        // A check that fails.
        assert_eq!(
            run_as_one_batch(&store, vec![check("a", 1, 4), check("a", 2, 5)]).await,
            [Ok(()), Err(StoreError::Conflict)]
        );
        // Another store appends, moving the head this one knows.
        assert_eq!(other.commit(check("a", 1, 6)).await, Ok(()));
        assert_eq!(
            run_as_one_batch(&store, vec![check("a", 1, 7), check("b", 1, 8)]).await,
            [Ok(()), Err(StoreError::Conflict)]
        );
        assert_eq!(store.commit(check("a", 1, 9)).await, Ok(()));
        assert_eq!(audit_times(&store).await, [1, 2, 3, 4, 6, 7, 9]);
    }

    /// Leading checks naming more records than one statement may are read in several
    /// statements after the opening one, with the same outcomes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leading_checks_of_many_records_decide_alike() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(
            SqliteStore::open(dir.path().join("iam.db"))
                .await
                .expect("open"),
        );
        let stored = Commit {
            writes: vec![Write::Insert(account("a"))],
            ..Commit::default()
        };
        assert_eq!(store.commit(stored).await, Ok(()));
        let many = iam_sql_common::writes::CHECKS_PER_STATEMENT + 1;
        let mut commits: Vec<Commit> = (0..many).map(|i| check(&format!("m{i}"), 1, 1)).collect();
        commits.push(check("a", 1, 2));
        let outcomes = run_as_one_batch(&store, commits).await;
        assert!(outcomes[..many]
            .iter()
            .all(|o| *o == Err(StoreError::Conflict)));
        assert_eq!(outcomes[many], Ok(()));
        assert_eq!(audit_times(&store).await, [2]);
    }

    /// A store at `path` with one pooled connection and a short busy timeout, and another
    /// connection to its file.
    async fn store_and_another_connection(path: &Path) -> (SqliteStore, SqliteConnection) {
        let mut options = SqliteStoreOptions::new(path);
        options.max_connections = 1;
        options.busy_timeout = Duration::from_millis(200);
        let store = SqliteStore::open_with(options).await.expect("open");
        let other = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("second connection");
        (store, other)
    }

    /// A batch whose audit append fails lands nothing and leaves no transaction open: another
    /// connection can take the write lock at once, and the next batch commits.
    #[tokio::test]
    async fn a_failed_batch_is_rolled_back_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, mut other) = store_and_another_connection(&dir.path().join("iam.db")).await;
        sqlx::query("CREATE TRIGGER refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'refused'); END")
            .execute(&mut other)
            .await
            .expect("trigger");
        let refused = store.commit(insert("a", 1)).await;
        assert!(
            matches!(&refused, Err(StoreError::Backend(m)) if m.contains("refused")),
            "{refused:?}"
        );
        assert_eq!(
            store.get(RecordKind::Account, "a").await.expect("get"),
            None
        );
        sqlx::query("BEGIN IMMEDIATE; DROP TRIGGER refuse; COMMIT")
            .execute(&mut other)
            .await
            .expect("the write lock is free");
        assert_eq!(store.commit(insert("a", 2)).await, Ok(()));
        assert!(store
            .get(RecordKind::Account, "a")
            .await
            .expect("get")
            .is_some());
        assert_eq!(audit_times(&store).await, [2]);
    }

    /// A batch that cannot open its transaction (another connection holds the write lock past
    /// the busy timeout) fails as a whole; once the lock is free the next one commits.
    #[tokio::test]
    async fn a_batch_kept_from_the_write_lock_fails_then_the_next_commits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, mut other) = store_and_another_connection(&dir.path().join("iam.db")).await;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("write lock");
        let busy = store.commit(check("a", 1, 1)).await;
        assert!(matches!(busy, Err(StoreError::Backend(_))), "{busy:?}");
        sqlx::query("ROLLBACK")
            .execute(&mut other)
            .await
            .expect("release");
        assert_eq!(store.commit(insert("a", 2)).await, Ok(()));
        assert_eq!(store.commit(check("a", 1, 3)).await, Ok(()));
        assert_eq!(audit_times(&store).await, [2, 3]);
    }

    /// A store outlives the runtime that opened it: its writer has a thread of its own, so a
    /// commit made on another runtime lands, and nothing waits for ever.
    #[test]
    fn a_store_whose_opening_runtime_is_gone_still_commits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let opener = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let store = opener
            .block_on(SqliteStore::open(dir.path().join("iam.db")))
            .expect("open");
        drop(opener);
        let other = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let commit = Commit {
            audit: vec![iam_core::audit::AuditDraft::new(
                iam_core::audit::AuditKind::LoginFailed,
                Timestamp::from_secs(1),
            )],
            ..Commit::default()
        };
        let (outcome, events) = other.block_on(async {
            let outcome = tokio::time::timeout(Duration::from_secs(5), store.commit(commit)).await;
            (outcome, store.audit(&AuditQuery::default()).await)
        });
        assert!(matches!(outcome, Ok(Ok(()))), "{outcome:?}");
        assert_eq!(events.expect("audit").len(), 1);
        // Dropping the store ends its writer thread (the drop joins it).
        drop(store);
    }

    /// With the queue full, a commit is refused at once with `Overloaded` and nothing of it
    /// lands; the queued one still does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_a_commit_untouched() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut options = SqliteStoreOptions::new(dir.path().join("iam.db"));
        options.max_queued_commits = 1;
        let store = Arc::new(SqliteStore::open_with(options).await.expect("open"));
        let commit = |id: &str| insert(id, 1);
        let turn = store.commits.queue.turn().await;
        let queued = {
            let store = Arc::clone(&store);
            let commit = commit("queued");
            tokio::spawn(async move { store.commit(commit).await })
        };
        while store.commits.queue.queued() < 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let refused = store.commit(commit("refused")).await;
        assert!(
            matches!(refused, Err(StoreError::Overloaded { retry_after }) if retry_after > Duration::ZERO),
            "{refused:?}"
        );
        drop(turn);
        assert_eq!(queued.await.expect("task"), Ok(()));
        assert!(store
            .get(RecordKind::Account, "queued")
            .await
            .expect("get")
            .is_some());
        assert_eq!(
            store
                .get(RecordKind::Account, "refused")
                .await
                .expect("get"),
            None
        );
        assert_eq!(
            store
                .audit(&AuditQuery::default())
                .await
                .expect("audit")
                .len(),
            1
        );
        // The queue has room again.
        assert_eq!(store.commit(commit("later")).await, Ok(()));
    }
}
