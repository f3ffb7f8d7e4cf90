//! [`PostgresStore`]: the [`Store`] on a PostgreSQL schema.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use iam_core::audit::{AuditEvent, AuditQuery, GENESIS};
use iam_core::clock::Timestamp;
use iam_core::revocation::{Revocation, RevocationCache, RevocationChange};
use iam_core::store::{
    Commit, ListQuery, PruneReport, Record, RecordKind, Store, StoreError, StoreResult,
    ThrottleState, ThrottleWrite, Write,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection, Postgres, QueryBuilder, Row};

use crate::error::{backend, connect_error, is_transient, is_unique_violation, Failure};
use crate::feed::{notice_payload, Feed};
use crate::options::PostgresStoreOptions;
use crate::rows::{self, to_db_count, version_to_db, AUDIT_COLUMNS, RECORD_COLUMNS};
use crate::schema;
use crate::PostgresStoreError;

/// Pooled connections idle longer than this are pinged before use.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// A [`Store`] on one schema of a PostgreSQL database, shareable by many processes.
///
/// Each [`Commit`] is one READ COMMITTED transaction: record writes are conditional statements
/// (`INSERT .. ON CONFLICT DO NOTHING`, `UPDATE .. WHERE version = $expected`), throttle
/// failures are atomic upserts, and audit appends lock the chain head row `FOR UPDATE`, so the
/// chain stays one unbroken line whatever number of processes append. A commit that meets a
/// deadlock or serialization failure is run again, up to
/// [`PostgresStoreOptions::commit_retries`] times.
///
/// Revocations reach caches subscribed to any `PostgresStore` on the same schema, in any process,
/// through `LISTEN`/`NOTIFY` (see [`PostgresStore::subscribe`](Store::subscribe) and the crate docs).
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
    channel: String,
    commit_retries: u32,
    acquire_timeout: Duration,
    feed: Arc<Feed>,
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
    /// [`crate::SCHEMA_VERSION`]; fails with [`StoreError::SchemaTooNew`] (inside
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
        Ok(PostgresStore {
            feed: Feed::new(listener_pool, channel.clone(), options.feed_heartbeat),
            pool,
            schema: options.schema,
            channel,
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

    /// One attempt at `commit`; returns the revocation revision it produced, if any.
    async fn try_commit(&self, commit: &Commit) -> Result<Option<i64>, Failure> {
        let mut tx = self.pool.begin().await?;
        for w in &commit.writes {
            apply_write(&mut tx, w).await?;
        }
        for t in &commit.throttle {
            apply_throttle(&mut tx, t).await?;
        }
        let mut rev = None;
        if !commit.revocations.is_empty() {
            // Locks the revision row until commit: revisions follow commit order.
            let r: i64 =
                sqlx::query_scalar("UPDATE revocation_head SET rev = rev + 1 RETURNING rev")
                    .fetch_one(&mut *tx)
                    .await?;
            for c in &commit.revocations {
                apply_revocation(&mut tx, c).await?;
            }
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&self.channel)
                .bind(notice_payload(r, &commit.revocations))
                .execute(&mut *tx)
                .await?;
            rev = Some(r);
        }
        append_audit(&mut tx, commit).await?;
        tx.commit().await?;
        Ok(rev)
    }

    /// Runs `attempt` until it succeeds, fails for good, or has met
    /// [`PostgresStoreOptions::commit_retries`] transient failures (deadlock, serialization).
    async fn retrying<T, F, Fut>(&self, attempt: F) -> StoreResult<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut retries = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                Err(Failure::Store(e)) => return Err(e),
                Err(Failure::Sql(e)) if is_transient(&e) && retries < self.commit_retries => {
                    retries += 1;
                    tracing::debug!(retries, error = %e, "transaction met a transient failure; retrying");
                    tokio::time::sleep(retry_pause(retries)).await;
                }
                Err(Failure::Sql(e)) => return Err(backend(&e)),
            }
        }
    }

    /// One attempt at [`Store::prune`].
    async fn try_prune(
        &self,
        now: Timestamp,
        throttles_idle_since: Timestamp,
    ) -> Result<PruneReport, Failure> {
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
            let kind =
                RecordKind::parse(&kind).ok_or_else(|| rows::corrupt("unknown record kind"))?;
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

    async fn load_revocations(&self) -> StoreResult<Vec<Revocation>> {
        sqlx::query("SELECT subject, id, issued_before, until FROM revocations")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| backend(&e))?
            .iter()
            .map(|r| rows::revocation_at(r, 0))
            .collect()
    }
}

/// Applies one write; `Err` aborts the transaction.
async fn apply_write(conn: &mut PgConnection, write: &Write) -> Result<(), Failure> {
    match write {
        Write::Insert(r) => {
            let done = sqlx::query(
                "INSERT INTO records (kind, id, version, parent, lookup, expires_at, body)
                 VALUES ($1, $2, 1, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(r.kind.as_str())
            .bind(&r.id)
            .bind(&r.parent)
            .bind(&r.lookup)
            .bind(r.expires_at.map(Timestamp::as_millis))
            .bind(&r.body)
            .execute(&mut *conn)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Duplicate { kind: r.kind }.into());
            }
        }
        Write::Update {
            record: r,
            expected_version,
        } => {
            let Some(expected) = version_to_db(*expected_version) else {
                return Err(StoreError::Conflict.into());
            };
            let done = sqlx::query(
                "UPDATE records SET version = version + 1, parent = $1, lookup = $2, expires_at = $3, body = $4
                 WHERE kind = $5 AND id = $6 AND version = $7",
            )
            .bind(&r.parent)
            .bind(&r.lookup)
            .bind(r.expires_at.map(Timestamp::as_millis))
            .bind(&r.body)
            .bind(r.kind.as_str())
            .bind(&r.id)
            .bind(expected)
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Failure::Store(StoreError::Duplicate { kind: r.kind })
                } else {
                    Failure::Sql(e)
                }
            })?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict.into());
            }
        }
        Write::Delete {
            kind,
            id,
            expected_version,
        } => {
            let Some(expected) = version_to_db(*expected_version) else {
                return Err(StoreError::Conflict.into());
            };
            let done =
                sqlx::query("DELETE FROM records WHERE kind = $1 AND id = $2 AND version = $3")
                    .bind(kind.as_str())
                    .bind(id)
                    .bind(expected)
                    .execute(&mut *conn)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict.into());
            }
        }
        // `FOR SHARE` locks the row until the transaction ends: a concurrent update waits for
        // this commit, and one that committed first is seen (read committed re-reads the row).
        Write::Check {
            kind,
            id,
            expected_version,
        } => {
            let Some(expected) = version_to_db(*expected_version) else {
                return Err(StoreError::Conflict.into());
            };
            let found = sqlx::query(
                "SELECT 1 FROM records WHERE kind = $1 AND id = $2 AND version = $3 FOR SHARE",
            )
            .bind(kind.as_str())
            .bind(id)
            .bind(expected)
            .fetch_optional(&mut *conn)
            .await?;
            if found.is_none() {
                return Err(StoreError::Conflict.into());
            }
        }
    }
    Ok(())
}

/// Applies one counter change; a refused [`ThrottleWrite::Reserve`] fails with
/// [`StoreError::Throttled`], aborting the commit.
///
/// A reservation first locks the counter row, creating it with no failures when missing
/// (`INSERT .. ON CONFLICT DO UPDATE` always yields the row, locked, whatever runs
/// concurrently), decides with the policy, then writes the outcome. Concurrent reservations on
/// one key queue on the row lock until the transaction ends, and each decides on the state its
/// predecessor committed; a refused or failed one rolls back, its placeholder row with it.
async fn apply_throttle(conn: &mut PgConnection, t: &ThrottleWrite) -> Result<(), Failure> {
    let q = match t {
        ThrottleWrite::Reserve { key, at, policy } => {
            let locked = sqlx::query(
                "INSERT INTO throttles AS t (key, failures, last_failure) VALUES ($1, 0, $2)
                 ON CONFLICT (key) DO UPDATE SET failures = t.failures
                 RETURNING failures, last_failure",
            )
            .bind(key)
            .bind(at.as_millis())
            .fetch_one(&mut *conn)
            .await?;
            let current = rows::throttle(&locked)?;
            // A row with no failures is the placeholder just made: no counter yet.
            let current = Some(current).filter(|c| c.failures > 0);
            let next = policy
                .admit(current, *at)
                .map_err(|retry_after| StoreError::Throttled { retry_after })?;
            sqlx::query("UPDATE throttles SET failures = $2, last_failure = $3 WHERE key = $1")
                .bind(key)
                .bind(i64::from(next.failures))
                .bind(next.last_failure.as_millis())
        }
        ThrottleWrite::Refund { key } => {
            sqlx::query("UPDATE throttles SET failures = failures - 1 WHERE key = $1")
                .bind(key)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM throttles WHERE key = $1 AND failures <= 0").bind(key)
        }
        ThrottleWrite::Failure { key, at } => sqlx::query(
            "INSERT INTO throttles AS t (key, failures, last_failure) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE SET
                failures = LEAST(t.failures + 1, 4294967295),
                last_failure = GREATEST(t.last_failure, EXCLUDED.last_failure)",
        )
        .bind(key)
        .bind(at.as_millis()),
        ThrottleWrite::Reset { key } => {
            sqlx::query("DELETE FROM throttles WHERE key = $1").bind(key)
        }
    };
    q.execute(&mut *conn).await?;
    Ok(())
}

async fn apply_revocation(conn: &mut PgConnection, c: &RevocationChange) -> Result<(), Failure> {
    let q = match c {
        RevocationChange::Put(r) => sqlx::query(
            "INSERT INTO revocations (subject, id, issued_before, until) VALUES ($1, $2, $3, $4)
             ON CONFLICT (subject, id) DO UPDATE SET
                issued_before = EXCLUDED.issued_before, until = EXCLUDED.until",
        )
        .bind(r.subject.as_str())
        .bind(&r.id)
        .bind(r.issued_before.as_millis())
        .bind(r.until.as_millis()),
        RevocationChange::Lift { subject, id } => {
            sqlx::query("DELETE FROM revocations WHERE subject = $1 AND id = $2")
                .bind(subject.as_str())
                .bind(id)
        }
    };
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Appends the commit's drafts after the chain head, which stays locked until commit.
async fn append_audit(conn: &mut PgConnection, commit: &Commit) -> Result<(), Failure> {
    if commit.audit.is_empty() {
        return Ok(());
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head FOR UPDATE")
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get(0)?;
    let hash: Vec<u8> = head.try_get(1)?;
    let (mut seq, mut prev) = if seq == 0 {
        (0, GENESIS)
    } else {
        (
            u64::try_from(seq).map_err(|_| rows::corrupt("negative audit sequence"))?,
            rows::hash(&hash)?,
        )
    };
    let mut seqs = Vec::with_capacity(commit.audit.len());
    let mut prevs = Vec::with_capacity(commit.audit.len());
    let mut hashes = Vec::with_capacity(commit.audit.len());
    let mut ats = Vec::with_capacity(commit.audit.len());
    let mut kinds = Vec::with_capacity(commit.audit.len());
    let mut actors = Vec::with_capacity(commit.audit.len());
    let mut accounts = Vec::with_capacity(commit.audit.len());
    let mut sessions = Vec::with_capacity(commit.audit.len());
    let mut details = Vec::with_capacity(commit.audit.len());
    for draft in &commit.audit {
        let e = AuditEvent::chain(seq, prev, draft.clone());
        seqs.push(i64::try_from(e.seq).map_err(|_| rows::corrupt("audit sequence overflow"))?);
        prevs.push(e.prev_hash.to_vec());
        hashes.push(e.hash.to_vec());
        ats.push(e.draft.at.as_millis());
        kinds.push(e.draft.kind.as_str());
        details.push(rows::detail_json(&e.draft.detail)?);
        actors.push(e.draft.actor);
        accounts.push(e.draft.account);
        sessions.push(e.draft.session);
        seq = e.seq;
        prev = e.hash;
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
    .bind(i64::try_from(seq).map_err(|_| rows::corrupt("audit sequence overflow"))?)
    .bind(prev.as_slice())
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
        sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind = $1 AND id = $2"
        ))
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| backend(&e))?
        .as_ref()
        .map(rows::record)
        .transpose()
    }

    async fn find(&self, kind: RecordKind, lookup: &str) -> StoreResult<Option<Record>> {
        if !storable(lookup) {
            return Ok(None);
        }
        sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind = $1 AND lookup = $2"
        ))
        .bind(kind.as_str())
        .bind(lookup)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| backend(&e))?
        .as_ref()
        .map(rows::record)
        .transpose()
    }

    async fn list(&self, kind: RecordKind, query: &ListQuery) -> StoreResult<Vec<Record>> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE kind = "
        ));
        q.push_bind(kind.as_str());
        if let Some(parent) = &query.parent {
            if !storable(parent) {
                return Ok(Vec::new());
            }
            q.push(" AND parent = ").push_bind(parent);
        }
        if let Some(after) = &query.after {
            // No stored id holds NUL, so the ids after "x\0..." are exactly those after "x".
            let cut = after.split('\0').next().unwrap_or_default();
            q.push(" AND id > ").push_bind(cut);
        }
        q.push(" ORDER BY id");
        if let Some(limit) = query.limit {
            q.push(" LIMIT ").push_bind(to_db_count(limit));
        }
        q.build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| backend(&e))?
            .iter()
            .map(rows::record)
            .collect()
    }

    async fn commit(&self, commit: Commit) -> StoreResult<()> {
        if commit == Commit::default() {
            return Ok(());
        }
        if let Some(rev) = self.retrying(|| self.try_commit(&commit)).await? {
            self.feed
                .deliver_local(&self.pool, rev, &commit.revocations)
                .await;
        }
        Ok(())
    }

    async fn throttle(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
        if !storable(key) {
            return Ok(None);
        }
        sqlx::query("SELECT failures, last_failure FROM throttles WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| backend(&e))?
            .as_ref()
            .map(rows::throttle)
            .transpose()
    }

    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        let mut q: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE TRUE"));
        if let Some(account) = &query.account {
            if !storable(account) {
                return Ok(Vec::new());
            }
            q.push(" AND account = ").push_bind(account);
        }
        if let Some(kind) = query.kind {
            q.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(from) = query.from {
            q.push(" AND at >= ").push_bind(from.as_millis());
        }
        if let Some(to) = query.to {
            q.push(" AND at < ").push_bind(to.as_millis());
        }
        if let Some(after) = query.after_seq {
            q.push(" AND seq > ")
                .push_bind(i64::try_from(after).unwrap_or(i64::MAX));
        }
        q.push(" ORDER BY seq");
        if let Some(limit) = query.limit {
            q.push(" LIMIT ").push_bind(to_db_count(limit));
        }
        q.build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| backend(&e))?
            .iter()
            .map(rows::audit_event)
            .collect()
    }

    async fn revocations(&self) -> StoreResult<Vec<Revocation>> {
        self.load_revocations().await
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
        self.retrying(|| self.try_prune(now, throttles_idle_since))
            .await
    }
}
