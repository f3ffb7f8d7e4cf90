//! Group commit: the queue through which a store's commits reach the database, and how one
//! batch of them is applied inside one transaction.
//!
//! A commit queues itself ([`Writer::commit`], refused with [`StoreError::Overloaded`] when
//! [`CommitQueue`]'s bound is reached) and wakes the store's writer, which takes the turn
//! and runs up to [`MAX_BATCH`] queued commits at a time as one transaction: each commit's
//! writes, counter and revocation changes in order ([`apply_commits`]: inside a savepoint when
//! it changes something and shares the transaction), then the audit drafts of the commits that
//! succeeded ([`succeeded_drafts`]), chained from one read of the chain head ([`chain_after`])
//! and appended by the store in as few statements as it can. Every commit is answered only
//! after the transaction ended.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use iam_core::audit::{AuditDraft, AuditEvent, ChainHash};
use iam_core::store::{Commit, StoreError, StoreResult, Write};
use tokio::sync::{mpsc, oneshot};

use crate::dialect::{Conn, Dialect, SqlDatabase};
use crate::error::AttemptError;
use crate::statement::Statement;
use crate::writes::{apply_revocation, apply_throttle, apply_write, check_all};

/// The most commits one transaction takes; the rest wait for the next one.
pub const MAX_BATCH: usize = 512;

/// The default bound on commits waiting for a transaction (`max_queued_commits`).
pub const DEFAULT_MAX_QUEUED_COMMITS: usize = 4096;

/// The pause [`StoreError::Overloaded`] suggests.
pub const OVERLOADED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A commit waiting for its batch, with where to send its outcome.
struct Queued {
    commit: Commit,
    done: oneshot::Sender<StoreResult<()>>,
}

/// Where a queued commit's outcome arrives.
pub struct Ticket(oneshot::Receiver<StoreResult<()>>);

impl Ticket {
    /// Waits for the commit's outcome.
    pub async fn outcome(self) -> StoreResult<()> {
        self.0.await.map_err(|_| {
            StoreError::Backend("the commit was dropped unanswered (the writer stopped)".into())
        })?
    }
}

/// The bounded queue of commits waiting for a transaction, and the turn that serialises this
/// process's transactions (see the module docs).
pub struct CommitQueue {
    /// Held while a batch runs (and by callers that must not interleave with one).
    turn: tokio::sync::Mutex<()>,
    pending: Mutex<VecDeque<Queued>>,
    max_queued: usize,
}

impl CommitQueue {
    /// A queue holding at most `max_queued` waiting commits (at least one).
    pub fn new(max_queued: usize) -> Self {
        CommitQueue {
            turn: tokio::sync::Mutex::new(()),
            pending: Mutex::new(VecDeque::new()),
            max_queued: max_queued.max(1),
        }
    }

    /// Queues `commit`; refuses it with [`StoreError::Overloaded`], untouched, when the queue
    /// is full.
    pub fn enqueue(&self, commit: Commit) -> StoreResult<Ticket> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() >= self.max_queued {
            return Err(StoreError::Overloaded {
                retry_after: OVERLOADED_RETRY_AFTER,
            });
        }
        let (done, outcome) = oneshot::channel();
        pending.push_back(Queued { commit, done });
        Ok(Ticket(outcome))
    }

    /// Commits waiting for a transaction.
    pub fn queued(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Waits for the turn: no batch runs while the guard lives.
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }

    /// Takes up to [`MAX_BATCH`] queued commits, oldest first.
    fn take(&self) -> Vec<Queued> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let n = pending.len().min(MAX_BATCH);
        pending.drain(..n).collect()
    }
}

/// What a store's writer task needs: the queue, and how to run one batch.
pub trait BatchRunner: Send + Sync + 'static {
    /// The queue the writer empties.
    fn queue(&self) -> &CommitQueue;

    /// Runs `commits` in one transaction (publishing what must be published before the turn
    /// ends) and returns one outcome per commit, in order.
    fn run_batch(&self, commits: Vec<Commit>) -> impl Future<Output = Vec<StoreResult<()>>> + Send;
}

/// A store's handle on its writer: [`Writer::commit`] queues a commit and wakes the writer.
/// Dropping the handle lets the writer run what is still queued, then stop.
pub struct Writer {
    /// `None` only while the handle is dropped (closing the channel ends the writer).
    wake: Option<mpsc::Sender<()>>,
    /// The writer's own thread, joined on drop ([`Writer::start_on_own_thread`]).
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer task of `runner` on the current tokio runtime; `None` outside one. The
    /// store's commits then run on that runtime, which must outlive the store's use.
    ///
    /// The writer takes the turn, runs everything queued in batches, answers each commit, and
    /// sleeps until woken. One long-lived task does all the writing, so commits that arrive
    /// while a batch is syncing to disk are all in the next batch, and a caller that stops
    /// waiting never strands the commits batched with its own.
    pub fn start<R: BatchRunner>(runner: Arc<R>) -> Option<Writer> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let (wake, woken) = mpsc::channel(1);
        handle.spawn(write_loop(runner, woken));
        Some(Writer {
            wake: Some(wake),
            thread: None,
        })
    }

    /// Starts the writer of `runner` as [`Writer::start`] does, but on a thread of its own
    /// (named `name`, running a single-threaded tokio runtime), so it does not depend on the
    /// runtime that opened the store.
    ///
    /// Each batch takes several round trips to the database; on the caller's runtime, the
    /// writer waits its turn behind every request task after each one, which under load costs
    /// far more than the statements. On its own thread it resumes as soon as the database
    /// answers. Dropping the handle waits for the thread to run the queue dry and end.
    pub async fn start_on_own_thread<R: BatchRunner>(
        runner: Arc<R>,
        name: &str,
    ) -> std::io::Result<Writer> {
        let (wake, woken) = mpsc::channel(1);
        let (started, start) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Built here rather than by the caller, so the runtime's thread-locals belong
                // to this thread and end with it.
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => {
                        let _ = started.send(Ok(()));
                        runtime.block_on(write_loop(runner, woken));
                    }
                    Err(e) => {
                        let _ = started.send(Err(e));
                    }
                }
            })?;
        // Awaited, not blocked on: a blocking wait would make the caller's thread allocate
        // its `std::thread::current()` handle, which a C program's main thread never frees.
        match start.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(std::io::Error::other(
                    "the commit writer's thread ended early",
                ))
            }
        }
        Ok(Writer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Queues `commit` on `queue` (refused with [`StoreError::Overloaded`] when it is full) and
    /// waits until the writer has run it; returns its outcome.
    ///
    /// Fails at once, without queueing, when the writer is gone (a writer task whose runtime
    /// was shut down), rather than wait for a writer that will never come.
    pub async fn commit(&self, queue: &CommitQueue, commit: Commit) -> StoreResult<()> {
        let Some(wake) = self.wake.as_ref().filter(|w| !w.is_closed()) else {
            return Err(writer_gone());
        };
        let ticket = queue.enqueue(commit)?;
        match wake.try_send(()) {
            // Full means a wake-up is already pending, which will find this commit.
            Ok(()) | Err(mpsc::error::TrySendError::Full(())) => ticket.outcome().await,
            Err(mpsc::error::TrySendError::Closed(())) => Err(writer_gone()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel tells the writer to finish what is queued and end.
        drop(self.wake.take());
        // The writer's thread never holds a `Writer` (it owns only the runner), so this never
        // joins itself.
        if let Some(thread) = self.thread.take() {
            // A writer that panicked has nothing left to report here.
            let _ = thread.join();
        }
    }
}

/// The error of a commit made after the store's writer task ended.
fn writer_gone() -> StoreError {
    StoreError::Backend(
        "the store's commit writer has stopped (the runtime that opened the store is gone)".into(),
    )
}

/// The writer task: runs the queue dry after every wake-up; ends once its [`Writer`] is gone
/// and the queue is empty.
async fn write_loop<R: BatchRunner>(runner: Arc<R>, mut woken: mpsc::Receiver<()>) {
    loop {
        let open = woken.recv().await.is_some();
        loop {
            let queue = runner.queue();
            let _turn = queue.turn.lock().await;
            let batch = queue.take();
            if batch.is_empty() {
                break;
            }
            let (commits, answers): (Vec<Commit>, Vec<_>) =
                batch.into_iter().map(|q| (q.commit, q.done)).unzip();
            let outcomes = runner.run_batch(commits).await;
            for (answer, outcome) in answers.into_iter().zip(outcomes) {
                // The caller may have stopped waiting; the outcome stands either way.
                let _ = answer.send(outcome);
            }
        }
        if !open {
            return;
        }
    }
}

/// Whether `commit` changes anything when it succeeds (a commit of checks alone does not, so a
/// failed one has nothing to undo).
pub fn modifies(commit: &Commit) -> bool {
    !commit.throttle.is_empty()
        || !commit.revocations.is_empty()
        || commit
            .writes
            .iter()
            .any(|w| !matches!(w, Write::Check { .. }))
}

/// Applies one commit's writes, counter changes and revocation changes.
async fn apply_changes<D: Dialect>(
    conn: &mut Conn<D>,
    commit: &Commit,
) -> Result<(), AttemptError> {
    for w in &commit.writes {
        apply_write::<D>(conn, w).await?;
    }
    for t in &commit.throttle {
        apply_throttle::<D>(conn, t).await?;
    }
    for c in &commit.revocations {
        apply_revocation::<D>(conn, c).await?;
    }
    Ok(())
}

async fn savepoint<D: Dialect>(conn: &mut Conn<D>, sql: &str) -> Result<(), AttemptError> {
    D::Db::execute(conn, &Statement::new(sql)).await?;
    Ok(())
}

/// Applies `commits` in order inside the caller's transaction and returns each commit's outcome;
/// the caller then appends the audit drafts of those that succeeded ([`succeeded_drafts`]).
///
/// With `shared` (the transaction holds more than one commit), each commit that changes
/// something runs inside a savepoint, so one that fails with a verdict (conflict, duplicate,
/// throttled) or with a database error that is not transient is undone alone. `Err` means the
/// transaction as a whole must be abandoned: a transient database error (the caller may run
/// the whole batch again), or a database error of a commit without a savepoint. When no commit
/// succeeded, the caller rolls the transaction back (a lone failed commit has no savepoint).
pub async fn apply_commits<D: Dialect>(
    conn: &mut Conn<D>,
    commits: &[Commit],
    shared: bool,
) -> Result<Vec<StoreResult<()>>, AttemptError> {
    let mut outcomes = Vec::with_capacity(commits.len());
    let mut next = 0;
    while let Some(commit) = commits.get(next) {
        if !modifies(commit) {
            // A run of commits that change nothing is checked in one go.
            let end = commits[next..]
                .iter()
                .position(modifies)
                .map_or(commits.len(), |p| next + p);
            outcomes.extend(check_all::<D>(conn, &commits[next..end]).await?);
            next = end;
            continue;
        }
        next += 1;
        if shared {
            savepoint::<D>(conn, "SAVEPOINT iam_commit").await?;
        }
        let outcome = match apply_changes::<D>(conn, commit).await {
            Ok(()) => Ok(()),
            Err(AttemptError::Verdict(e)) => Err(e),
            Err(AttemptError::Sql(e)) if shared && !D::is_transient(&e) => Err(D::backend(&e)),
            Err(e) => return Err(e),
        };
        if shared {
            if outcome.is_err() {
                savepoint::<D>(conn, "ROLLBACK TO SAVEPOINT iam_commit").await?;
            }
            // Rolling back to a savepoint keeps it; releasing it keeps savepoints from nesting.
            savepoint::<D>(conn, "RELEASE SAVEPOINT iam_commit").await?;
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The audit drafts of the commits whose outcome is `Ok`, in commit order.
pub fn succeeded_drafts(commits: &[Commit], outcomes: &[StoreResult<()>]) -> Vec<AuditDraft> {
    commits
        .iter()
        .zip(outcomes)
        .filter(|(_, outcome)| outcome.is_ok())
        .flat_map(|(commit, _)| commit.audit.iter().cloned())
        .collect()
}

/// `drafts` chained, in order, after the chain's head: the event numbered `seq` whose hash is
/// `prev` (`0` and [`GENESIS`](iam_core::audit::GENESIS) for an empty chain).
pub fn chain_after(mut seq: u64, mut prev: ChainHash, drafts: Vec<AuditDraft>) -> Vec<AuditEvent> {
    drafts
        .into_iter()
        .map(|draft| {
            let e = AuditEvent::chain(seq, prev, draft);
            (seq, prev) = (e.seq, e.hash);
            e
        })
        .collect()
}

/// The outcome of every commit of a batch whose transaction failed as a whole.
pub fn all_failed(n: usize, e: &StoreError) -> Vec<StoreResult<()>> {
    vec![Err(e.clone()); n]
}
