//! [`PostgresStore`]: the [`Store`] on a PostgreSQL schema.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iam_core::audit::{AuditDraft, AuditEvent, AuditQuery, GENESIS};
use iam_core::clock::Timestamp;
use iam_core::revocation::{Revocation, RevocationCache, RevocationChange};
use iam_core::store::{
    Commit, ListQuery, PruneReport, Record, RecordKind, Store, StoreResult, ThrottleState,
};
use iam_sql_common::batch::{
    all_failed, apply_commits, chain_after, succeeded_drafts, BatchRunner, CommitQueue, Writer,
};
use iam_sql_common::{reads, rows, AttemptError, Dialect};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Row};

use crate::dialect::PostgresDialect;
use crate::error::{backend, connect_error, is_transient};
use crate::feed::{notice_payload, Feed};
use crate::options::PostgresStoreOptions;
use crate::schema;
use crate::PostgresStoreError;

/// Pooled connections idle longer than this are pinged before use.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// A [`Store`] on one schema of a PostgreSQL database, shareable by many processes.
///
/// Commits are group-committed: concurrent ones share one READ COMMITTED transaction (see the
/// crate docs). Record writes are conditional statements (`INSERT .. ON CONFLICT DO NOTHING`,
/// `UPDATE .. WHERE version = $expected`), throttle failures are atomic upserts, and each batch's
/// audit append locks the chain head row `FOR UPDATE`, so the chain stays one unbroken line
/// whatever number of processes append. A batch that meets a deadlock or serialization failure
/// is run again, up to [`PostgresStoreOptions::commit_retries`] times.
///
/// Revocations reach caches subscribed to any `PostgresStore` on the same schema, in any process,
/// through `LISTEN`/`NOTIFY` (see [`PostgresStore::subscribe`](Store::subscribe) and the crate docs).
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
    commit_retries: u32,
    acquire_timeout: Duration,
    feed: Arc<Feed>,
    commits: Arc<Batcher>,
    /// Wakes the task that runs the queued commits; dropping it ends that task.
    writer: Writer,
}

/// The group commit of one [`PostgresStore`]: its queue, and what a batch needs, shared with the
/// tasks that run the batches.
///
/// The store's writer task takes the queue's turn and runs up to
/// [`MAX_BATCH`](iam_sql_common::batch::MAX_BATCH) queued commits as one transaction (see [`iam_sql_common::batch`]): one chain-head lock, one
/// audit insert, one revision bump and notice for the revocation changes of the commits that
/// succeeded, one commit and sync. The turn orders this process's batches, so revisions reach
/// the local caches in commit order; the head row locks order batches of other processes.
struct Batcher {
    queue: CommitQueue,
    pool: PgPool,
    channel: String,
    commit_retries: u32,
    feed: Arc<Feed>,
}

/// What one batch's transaction produced: each commit's outcome, and the revocation revision
/// with the changes it carries, if any.
type BatchResult = (Vec<StoreResult<()>>, Option<(i64, Vec<RevocationChange>)>);

impl Batcher {
    /// One attempt at running `commits` in one transaction.
    async fn try_batch(&self, commits: &[Commit]) -> Result<BatchResult, AttemptError> {
        let mut tx = self.pool.begin().await?;
        let outcomes =
            apply_commits::<PostgresDialect>(&mut tx, commits, commits.len() > 1).await?;
        append_audit(&mut tx, succeeded_drafts(commits, &outcomes)).await?;
        let changes: Vec<RevocationChange> = commits
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| outcome.is_ok())
            .flat_map(|(c, _)| c.revocations.iter().cloned())
            .collect();
        let mut revision = None;
        if !changes.is_empty() {
            // Locks the revision row until commit: revisions follow commit order.
            let r: i64 =
                sqlx::query_scalar("UPDATE revocation_head SET rev = rev + 1 RETURNING rev")
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&self.channel)
                .bind(notice_payload(r, &changes))
                .execute(&mut *tx)
                .await?;
            revision = Some((r, changes));
        }
        if outcomes.iter().any(Result::is_ok) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok((outcomes, revision))
    }
}

impl BatchRunner for Batcher {
    fn queue(&self) -> &CommitQueue {
        &self.queue
    }

    /// Runs `commits` in one transaction (again on a transient failure), feeds the local caches,
    /// and returns each commit's outcome.
    async fn run_batch(&self, commits: Vec<Commit>) -> Vec<StoreResult<()>> {
        match retrying(self.commit_retries, || self.try_batch(&commits)).await {
            Ok((outcomes, revision)) => {
                if let Some((rev, changes)) = revision {
                    self.feed.deliver_local(&self.pool, rev, &changes).await;
                }
                outcomes
            }
            Err(e) => all_failed(commits.len(), &e),
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or has met `retries_allowed` transient
/// failures (deadlock, serialization).
async fn retrying<T, F, Fut>(retries_allowed: u32, attempt: F) -> StoreResult<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, AttemptError>>,
{
    let mut retries = 0;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(AttemptError::Verdict(e)) => return Err(e),
            Err(AttemptError::Sql(e)) if is_transient(&e) && retries < retries_allowed => {
                retries += 1;
                tracing::debug!(retries, error = %e, "transaction met a transient failure; retrying");
                tokio::time::sleep(retry_pause(retries)).await;
            }
            Err(AttemptError::Sql(e)) => return Err(backend(&e)),
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.feed.stop();
    }
}

impl PostgresStore {
    /// Connects to the database at `url` with default options (schema `iam`) and migrates it.
    pub async fn connect(url: &str) -> Result<Self, PostgresStoreError> {
        Self::open(PostgresStoreOptions::new(url)?).await
    }

    /// Connects as `options` say, creates the schema when missing and brings it to
    /// [`crate::SCHEMA_VERSION`]; fails with [`StoreError::SchemaTooNew`](iam_core::store::StoreError::SchemaTooNew) (inside
    /// [`PostgresStoreError::Store`]) when the database was written by a newer build.
    pub async fn open(options: PostgresStoreOptions) -> Result<Self, PostgresStoreError> {
        options.validate()?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            // A ping before every use would double the round trips of every read; ping only
            // connections that sat idle long enough to have been cut by a proxy or a restart.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_BEFORE_PING {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.connect_options(""))
            .await
            .map_err(|e| connect_error(&e))?;
        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options.connect_options(" revocation feed"));
        let mut tx = pool.begin().await.map_err(|e| connect_error(&e))?;
        schema::migrate(&mut tx, &options.schema).await?;
        tx.commit().await.map_err(|e| backend(&e))?;
        let channel = format!("iam_revocations_{}", options.schema);
        let feed = Feed::new(listener_pool, channel.clone(), options.feed_heartbeat);
        let commits = Arc::new(Batcher {
            queue: CommitQueue::new(options.max_queued_commits),
            pool: pool.clone(),
            channel,
            commit_retries: options.commit_retries,
            feed: Arc::clone(&feed),
        });
        let writer = Writer::start(Arc::clone(&commits)).ok_or_else(|| {
            PostgresStoreError::CannotConnect {
                reason: "no tokio runtime to run the commit writer on".into(),
            }
        })?;
        Ok(PostgresStore {
            commits,
            writer,
            feed,
            pool,
            schema: options.schema,
            commit_retries: options.commit_retries,
            acquire_timeout: options.acquire_timeout,
        })
    }

    /// The schema this store works in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The connection pool, for callers that keep their own tables beside iam's.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema version of the open database.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await.map_err(|e| backend(&e))?;
        schema::current_version(&mut conn).await
    }

    /// Closes every connection, the revocation feed's included; later calls fail, and caches
    /// subscribed to this store are marked stale (verification through them fails closed).
    pub async fn close(&self) {
        self.feed.shutdown().await;
        self.pool.close().await;
    }

    /// One attempt at [`Store::prune`].
    async fn try_prune(
        &self,
        now: Timestamp,
        throttles_idle_since: Timestamp,
    ) -> Result<PruneReport, AttemptError> {
        let mut tx = self.pool.begin().await?;
        let counts = sqlx::query(
            "WITH gone AS (DELETE FROM records WHERE expires_at <= $1 RETURNING kind)
             SELECT kind, COUNT(*) FROM gone GROUP BY kind",
        )
        .bind(now.as_millis())
        .fetch_all(&mut *tx)
        .await?;
        let mut per_kind = Vec::with_capacity(counts.len());
        for row in &counts {
            let kind: String = row.try_get(0)?;
            let n: i64 = row.try_get(1)?;
            let kind = RecordKind::parse(&kind)
                .ok_or_else(|| PostgresDialect::corrupt("unknown record kind"))?;
            per_kind.push((kind, u64::try_from(n).unwrap_or(0)));
        }
        let throttles = sqlx::query("DELETE FROM throttles WHERE last_failure <= $1")
            .bind(throttles_idle_since.as_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Moot entries leave the list without a revision or notice: caches drop them by time
        // (`RevocationCache::prune`), and a reload simply no longer contains them.
        let revocations = sqlx::query("DELETE FROM revocations WHERE until <= $1")
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        let records = RecordKind::ALL
            .into_iter()
            .filter_map(|k| per_kind.iter().find(|(kind, _)| *kind == k).copied())
            .filter(|(_, n)| *n > 0)
            .collect();
        Ok(PruneReport {
            records,
            throttles,
            revocations,
        })
    }
}

/// Appends `drafts` after the chain head, which stays locked until commit: one statement reads
/// and locks the head, one inserts every event and moves the head.
pub(crate) async fn append_audit(
    conn: &mut PgConnection,
    drafts: Vec<AuditDraft>,
) -> Result<(), AttemptError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head FOR UPDATE")
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get(0)?;
    let hash: Vec<u8> = head.try_get(1)?;
    let (seq, prev) = if seq == 0 {
        (0, GENESIS)
    } else {
        (
            u64::try_from(seq).map_err(|_| PostgresDialect::corrupt("negative audit sequence"))?,
            rows::hash::<PostgresDialect>(&hash)?,
        )
    };
    let events = chain_after(seq, prev, drafts);
    let (Some(last_seq), Some(last_hash)) =
        (events.last().map(|e| e.seq), events.last().map(|e| e.hash))
    else {
        return Ok(());
    };
    let mut seqs = Vec::with_capacity(events.len());
    let mut prevs = Vec::with_capacity(events.len());
    let mut hashes = Vec::with_capacity(events.len());
    let mut ats = Vec::with_capacity(events.len());
    let mut kinds = Vec::with_capacity(events.len());
    let mut actors = Vec::with_capacity(events.len());
    let mut accounts = Vec::with_capacity(events.len());
    let mut sessions = Vec::with_capacity(events.len());
    let mut details = Vec::with_capacity(events.len());
    for e in events {
        seqs.push(
            i64::try_from(e.seq)
                .map_err(|_| PostgresDialect::corrupt("audit sequence overflow"))?,
        );
        prevs.push(e.prev_hash.to_vec());
        hashes.push(e.hash.to_vec());
        ats.push(e.draft.at.as_millis());
        kinds.push(e.draft.kind.as_str());
        details.push(rows::detail_json::<PostgresDialect>(&e.draft.detail)?);
        actors.push(e.draft.actor);
        accounts.push(e.draft.account);
        sessions.push(e.draft.session);
    }
    // One round trip for the events and the new head, so the head lock is held briefly.
    sqlx::query(
        "WITH appended AS (
             INSERT INTO audit (seq, prev_hash, hash, at, kind, actor, account, session, detail)
             SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::BYTEA[], $4::BIGINT[],
                                  $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[])
         )
         UPDATE audit_head SET seq = $10, hash = $11",
    )
    .bind(&seqs)
    .bind(&prevs)
    .bind(&hashes)
    .bind(&ats)
    .bind(&kinds)
    .bind(&actors)
    .bind(&accounts)
    .bind(&sessions)
    .bind(&details)
    .bind(i64::try_from(last_seq).map_err(|_| PostgresDialect::corrupt("audit sequence overflow"))?)
    .bind(last_hash.as_slice())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether PostgreSQL text can hold `key`. Text cannot hold NUL, so no stored id, lookup or key
/// contains one: a read for such a key (say, from hostile input) finds nothing rather than
/// failing.
fn storable(key: &str) -> bool {
    !key.contains('\0')
}

/// A short pause before retry `attempt`, growing and jittered so retries do not collide again.
fn retry_pause(attempt: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() % 1_000);
    Duration::from_micros((500_u64 << attempt.min(6)) + u64::from(jitter))
}

#[async_trait]
impl Store for PostgresStore {
    async fn get(&self, kind: RecordKind, id: &str) -> StoreResult<Option<Record>> {
        if !storable(id) {
            return Ok(None);
        }
        reads::get::<PostgresDialect>(&self.pool, kind, id).await
    }

    async fn find(&self, kind: RecordKind, lookup: &str) -> StoreResult<Option<Record>> {
        if !storable(lookup) {
            return Ok(None);
        }
        reads::find::<PostgresDialect>(&self.pool, kind, lookup).await
    }

    async fn list(&self, kind: RecordKind, query: &ListQuery) -> StoreResult<Vec<Record>> {
        if query.parent.as_deref().is_some_and(|p| !storable(p)) {
            return Ok(Vec::new());
        }
        // No stored id holds NUL, so the ids after "x\0..." are exactly those after "x".
        let mut query = query.clone();
        if let Some(after) = &mut query.after {
            after.truncate(after.find('\0').unwrap_or(after.len()));
        }
        reads::list::<PostgresDialect>(&self.pool, kind, &query).await
    }

    async fn commit(&self, commit: Commit) -> StoreResult<()> {
        if commit == Commit::default() {
            return Ok(());
        }
        // Refused here, before anything starts, when the queue is full.
        self.writer.commit(&self.commits.queue, commit).await
    }

    async fn throttle(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
        if !storable(key) {
            return Ok(None);
        }
        reads::throttle::<PostgresDialect>(&self.pool, key).await
    }

    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        if query.account.as_deref().is_some_and(|a| !storable(a)) {
            return Ok(Vec::new());
        }
        reads::audit::<PostgresDialect>(&self.pool, query).await
    }

    async fn revocations(&self) -> StoreResult<Vec<Revocation>> {
        reads::revocations::<PostgresDialect>(&self.pool).await
    }

    /// Loads `cache` and feeds it every later revocation committed through any `PostgresStore`
    /// on this schema, in any process. Starts this store's listener on first use (one extra
    /// connection) and waits up to the acquire timeout for it to listen.
    async fn subscribe(&self, cache: Arc<RevocationCache>) -> StoreResult<()> {
        let wait = self.acquire_timeout.max(Duration::from_secs(1));
        self.feed.subscribe(&self.pool, cache, wait).await
    }

    async fn prune(
        &self,
        now: Timestamp,
        throttles_idle_since: Timestamp,
    ) -> StoreResult<PruneReport> {
        retrying(self.commit_retries, || {
            self.try_prune(now, throttles_idle_since)
        })
        .await
    }
}
