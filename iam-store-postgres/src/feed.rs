//! The revocation feed: keeps the [`RevocationCache`]s subscribed to one [`crate::PostgresStore`]
//! in step with every revocation committed to the database, by any process.
//!
//! # How
//! Every batch of commits that changes the revocation list bumps the one-row
//! `revocation_head.rev` once (under its row lock, so revisions follow commit order) and sends,
//! inside the same transaction, `NOTIFY iam_revocations_<schema>` with the payload
//! `{"rev": n, "changes": [...]}` (the changes in commit order). PostgreSQL delivers notices
//! only after commit, and in commit order. Each store runs one listener task on a connection of
//! its own that applies notices to its caches in revision order.
//!
//! The payload carries the changes themselves, not just a "reload" signal: a receiver applies a
//! notice without reading the database, so a revocation reaches other processes in one network
//! hop and a burst of revocations does not turn into a burst of full reloads. The revision makes
//! the feed self-checking: a notice that does not follow the last applied revision (one was
//! lost), a payload too large for NOTIFY (sent as `{"rev": n}` alone), an unreadable payload, or
//! a heartbeat that finds the database ahead of the caches all lead to a full reload
//! (`cache.load(all)`), never to a silently missed revocation.
//!
//! The committing store also applies its own changes directly after commit, so a revocation is
//! in force on the instance that made it when `commit` returns. When it gets ahead of the
//! listener (its revision is not the next one), it reloads instead, so changes are never applied
//! out of order.
//!
//! While the listener's connection is down, every cache is marked stale (verification fails
//! closed with `RevocationUnavailable`); the listener reconnects with back-off, `LISTEN`s again,
//! and only then reloads and marks the caches current, so nothing committed in between is missed.

use std::sync::{Arc, Weak};
use std::time::Duration;

use iam_core::revocation::{Revocation, RevocationCache, RevocationChange};
use iam_core::store::StoreError;
use iam_sql_common::{rows, Dialect};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgListener, PgPool};
use sqlx::{Executor, Postgres, Row};
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

use crate::dialect::PostgresDialect;
use crate::error::backend;

/// NOTIFY payloads must stay under 8000 bytes; larger change sets are sent as a bare revision.
const MAX_PAYLOAD: usize = 7_900;
/// The longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The first pause after a lost connection.
const MIN_BACKOFF: Duration = Duration::from_millis(50);

/// What a notice carries.
#[derive(Serialize, Deserialize)]
struct Notice {
    /// The revocation revision the commit produced.
    rev: i64,
    /// The changes, in commit order; absent when too large for a notice (receivers reload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changes: Option<Vec<RevocationChange>>,
}

/// The payload announcing revision `rev` made of `changes`.
pub(crate) fn notice_payload(rev: i64, changes: &[RevocationChange]) -> String {
    let full = serde_json::to_string(&Notice {
        rev,
        changes: Some(changes.to_vec()),
    });
    match full {
        Ok(p) if p.len() <= MAX_PAYLOAD => p,
        _ => format!("{{\"rev\":{rev}}}"),
    }
}

/// The revision and the whole list, read in one statement (one snapshot).
async fn snapshot<'e, E>(executor: E) -> Result<(i64, Vec<Revocation>), StoreError>
where
    E: Executor<'e, Database = Postgres>,
{
    let rows = sqlx::query(
        "SELECT h.rev, r.subject, r.id, r.issued_before, r.until
         FROM revocation_head h LEFT JOIN revocations r ON TRUE",
    )
    .fetch_all(executor)
    .await
    .map_err(|e| backend(&e))?;
    let mut rev = None;
    let mut list = Vec::with_capacity(rows.len());
    for row in &rows {
        rev = Some(row.try_get::<i64, _>(0).map_err(|e| backend(&e))?);
        if row
            .try_get::<Option<String>, _>(1)
            .map_err(|e| backend(&e))?
            .is_some()
        {
            list.push(rows::revocation_at::<PostgresDialect>(row, 1)?);
        }
    }
    let rev = rev.ok_or_else(|| PostgresDialect::corrupt("revocation_head is empty"))?;
    Ok((rev, list))
}

#[derive(Default)]
struct State {
    caches: Vec<Weak<RevocationCache>>,
    /// The listener is connected and the caches reflect `applied`.
    listening: bool,
    /// The revision every cache reflects (meaningful while `listening`).
    applied: i64,
}

impl State {
    fn live(&mut self) -> Vec<Arc<RevocationCache>> {
        self.caches.retain(|w| w.strong_count() > 0);
        self.caches.iter().filter_map(Weak::upgrade).collect()
    }

    fn apply(&mut self, changes: &[RevocationChange]) {
        for cache in self.live() {
            for change in changes {
                cache.apply(change);
            }
        }
    }

    fn load(&mut self, rev: i64, list: &[Revocation]) {
        for cache in self.live() {
            cache.load(list.to_vec());
        }
        self.applied = rev;
    }

    /// Loads a snapshot unless the caches already reflect a later revision.
    fn load_newer(&mut self, rev: i64, list: &[Revocation]) {
        if rev >= self.applied {
            self.load(rev, list);
        }
    }

    fn lose(&mut self) {
        self.listening = false;
        for cache in self.live() {
            cache.mark_stale();
        }
    }
}

/// The feed of one store (see the module docs).
pub(crate) struct Feed {
    state: Mutex<State>,
    /// One connection, used only by the listener.
    listener_pool: PgPool,
    channel: String,
    heartbeat: Duration,
    /// Whether the listener is connected and synced.
    synced: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Feed {
    pub(crate) fn new(listener_pool: PgPool, channel: String, heartbeat: Duration) -> Arc<Self> {
        Arc::new(Feed {
            state: Mutex::new(State::default()),
            listener_pool,
            channel,
            heartbeat,
            synced: watch::channel(false).0,
            task: std::sync::Mutex::new(None),
        })
    }

    /// Starts the listener task unless it runs.
    fn start(self: &Arc<Self>) {
        let mut task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if task.is_none() {
            *task = Some(tokio::spawn(Arc::clone(self).run()));
        }
    }

    /// Stops the listener task (the store is gone). Caches still subscribed are marked stale when
    /// the state is free at once; [`Self::shutdown`] always marks them.
    pub(crate) fn stop(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
        self.synced.send_replace(false);
        if let Ok(mut state) = self.state.try_lock() {
            state.lose();
        }
    }

    /// Stops the listener, marks every subscribed cache stale (nothing feeds them any more) and
    /// closes the listener's connection.
    pub(crate) async fn shutdown(&self) {
        self.stop();
        self.state.lock().await.lose();
        self.listener_pool.close().await;
    }

    /// Registers `cache`: starts the listener if needed, waits (up to `wait`) until it listens,
    /// then loads the cache and every other one from one snapshot read through `pool`.
    pub(crate) async fn subscribe(
        self: &Arc<Self>,
        pool: &PgPool,
        cache: Arc<RevocationCache>,
        wait: Duration,
    ) -> Result<(), StoreError> {
        self.start();
        let mut synced = self.synced.subscribe();
        match tokio::time::timeout(wait, synced.wait_for(|s| *s)).await {
            Ok(Ok(_)) => {}
            _ => {
                return Err(StoreError::Backend(
                    "postgres: the revocation feed could not listen for notices".into(),
                ))
            }
        }
        let mut state = self.state.lock().await;
        // Under the lock the listener cannot apply anything, so this snapshot is at least as new
        // as what the other caches reflect: reloading them with it too keeps every cache alike.
        let (rev, list) = snapshot(pool).await?;
        state.caches.push(Arc::downgrade(&cache));
        state.load(rev, &list);
        if !state.listening {
            // Lost between the wait and the lock: the listener reloads everything on reconnect.
            cache.mark_stale();
        }
        Ok(())
    }

    /// Applies the changes a commit of this store made (revision `rev`), right after its commit.
    pub(crate) async fn deliver_local(
        &self,
        pool: &PgPool,
        rev: i64,
        changes: &[RevocationChange],
    ) {
        let mut state = self.state.lock().await;
        if state.caches.is_empty() {
            return;
        }
        if !state.listening {
            // The caches are stale (they refuse every token) and get reloaded on reconnect;
            // applying now keeps them as close as possible meanwhile.
            state.apply(changes);
            return;
        }
        if rev <= state.applied {
            return; // the listener was faster
        }
        if rev == state.applied + 1 {
            state.apply(changes);
            state.applied = rev;
            return;
        }
        // Other processes' changes committed before ours have not arrived yet: applying ours
        // first could reorder a put and a lift of one entry. Reload instead.
        match snapshot(pool).await {
            Ok((now, list)) => state.load_newer(now, &list),
            Err(e) => {
                tracing::warn!(error = %e, "revocation reload after a local commit failed; applying the change directly");
                state.apply(changes);
            }
        }
    }

    /// The listener task: connect, sync, pump notices; on any failure mark the caches stale and
    /// start over after a pause.
    async fn run(self: Arc<Self>) {
        let mut backoff = MIN_BACKOFF;
        loop {
            match self.connect().await {
                Ok(mut listener) => {
                    backoff = MIN_BACKOFF;
                    let e = self.pump(&mut listener).await;
                    tracing::warn!(error = %e, "revocation feed lost; caches fail closed until it is back");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "revocation feed cannot connect; retrying");
                }
            }
            self.synced.send_replace(false);
            self.state.lock().await.lose();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Connects, listens, then loads every cache from a snapshot taken after `LISTEN`.
    async fn connect(&self) -> Result<PgListener, StoreError> {
        let mut listener = PgListener::connect_with(&self.listener_pool)
            .await
            .map_err(|e| backend(&e))?;
        listener.eager_reconnect(false);
        listener.ignore_pool_close_event(true);
        listener
            .listen(&self.channel)
            .await
            .map_err(|e| backend(&e))?;
        let mut state = self.state.lock().await;
        let (rev, list) = snapshot(&mut listener).await?;
        state.load(rev, &list);
        state.listening = true;
        self.synced.send_replace(true);
        Ok(listener)
    }

    /// Receives and applies notices until the connection fails; returns why.
    async fn pump(&self, listener: &mut PgListener) -> StoreError {
        loop {
            match tokio::time::timeout(self.heartbeat, listener.try_recv()).await {
                Ok(Ok(Some(n))) => {
                    if let Err(e) = self.on_notice(listener, n.payload()).await {
                        return e;
                    }
                }
                Ok(Ok(None)) => return StoreError::Backend("postgres: connection lost".into()),
                Ok(Err(e)) => return backend(&e),
                Err(_idle) => {
                    if let Err(e) = self.check(listener).await {
                        return e;
                    }
                }
            }
        }
    }

    async fn on_notice(&self, listener: &mut PgListener, payload: &str) -> Result<(), StoreError> {
        let notice: Option<Notice> = serde_json::from_str(payload).ok();
        let mut state = self.state.lock().await;
        match notice {
            Some(n) if n.rev <= state.applied => Ok(()),
            Some(Notice {
                rev,
                changes: Some(changes),
            }) if rev == state.applied + 1 => {
                state.apply(&changes);
                state.applied = rev;
                Ok(())
            }
            other => {
                if other.is_none() {
                    tracing::warn!("unreadable revocation notice; reloading the list");
                }
                let (rev, list) = snapshot(&mut *listener).await?;
                state.load_newer(rev, &list);
                Ok(())
            }
        }
    }

    /// The heartbeat: proves the connection alive and reloads if the database is ahead.
    async fn check(&self, listener: &mut PgListener) -> Result<(), StoreError> {
        let rev = tokio::time::timeout(
            self.heartbeat,
            sqlx::query_scalar::<_, i64>("SELECT rev FROM revocation_head")
                .fetch_one(&mut *listener),
        )
        .await
        .map_err(|_| StoreError::Backend("postgres: revocation feed heartbeat timed out".into()))?
        .map_err(|e| backend(&e))?;
        let mut state = self.state.lock().await;
        if rev > state.applied {
            // A notice may still be on its way; reloading early is harmless.
            let (rev, list) = snapshot(&mut *listener).await?;
            state.load_newer(rev, &list);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iam_core::clock::Timestamp;
    use iam_core::revocation::RevokedSubject;

    fn put(i: usize) -> RevocationChange {
        RevocationChange::Put(Revocation {
            subject: RevokedSubject::Grant,
            id: format!("ses_{i:0>40}"),
            issued_before: Timestamp::MAX,
            until: Timestamp::MIN,
        })
    }

    #[test]
    fn small_change_sets_travel_in_the_notice() {
        let changes: Vec<_> = (0..3).map(put).collect();
        let n: Notice = serde_json::from_str(&notice_payload(7, &changes)).expect("json");
        assert_eq!((n.rev, n.changes), (7, Some(changes)));
    }

    #[test]
    fn large_change_sets_become_a_bare_revision() {
        let changes: Vec<_> = (0..500).map(put).collect();
        let payload = notice_payload(8, &changes);
        assert!(payload.len() < 8000);
        let n: Notice = serde_json::from_str(&payload).expect("json");
        assert_eq!((n.rev, n.changes), (8, None));
    }
}
