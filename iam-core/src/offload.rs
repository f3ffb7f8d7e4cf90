//! Where CPU-heavy work (Argon2id hashing) runs. iam-core has no async runtime: it hands each
//! job to an [`Offload`] and awaits its result, at most `max_concurrent_hashes` at once.
//!
//! The default, [`OsThreads`], runs each job on an operating-system thread of its own (kept
//! for reuse while jobs keep coming), so no async worker is ever blocked, under any runtime. An adapter may hand jobs to its runtime's
//! blocking pool instead (for tokio: `tokio::task::spawn_blocking`).

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::Error;

/// A unit of blocking work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Runs blocking jobs away from the async workers.
pub trait Offload: Send + Sync + 'static {
    /// Starts `job` somewhere it may block. Dropping it unrun fails the operation that
    /// waited for it (with [`Error::Crypto`]), never hangs it.
    fn spawn(&self, job: Job);
}

/// Runs each job on an operating-system thread (the default). Threads that finish a job wait
/// a while for the next one before exiting, so a busy server does not start a thread per
/// hash; the bound on jobs in flight bounds the threads too.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsThreads;

/// How long an idle offload thread waits for another job before exiting.
const THREAD_IDLE: Duration = Duration::from_secs(10);

/// An idle offload thread: its id and the channel it waits on.
type IdleThread = (u64, mpsc::Sender<Job>);

/// The idle threads of this process. The process id guards against `fork`: a child inherits
/// the list but not the threads, so it starts over.
static IDLE_THREADS: Mutex<(u32, u64, Vec<IdleThread>)> = Mutex::new((0, 0, Vec::new()));

fn idle_threads() -> std::sync::MutexGuard<'static, (u32, u64, Vec<IdleThread>)> {
    let mut idle = IDLE_THREADS.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    if idle.0 != pid {
        idle.0 = pid;
        idle.2.clear();
    }
    idle
}

impl Offload for OsThreads {
    fn spawn(&self, mut job: Job) {
        loop {
            let Some((_, thread)) = idle_threads().2.pop() else {
                break;
            };
            match thread.send(job) {
                Ok(()) => return,
                // The thread is gone; take the job back and try another.
                Err(mpsc::SendError(back)) => job = back,
            }
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let id = {
            let mut idle = idle_threads();
            idle.1 += 1;
            idle.1
        };
        // A failed spawn drops the job, which the waiting side reports as an error.
        let _ = std::thread::Builder::new()
            .name("iam-offload".into())
            .spawn(move || {
                let mut job = job;
                loop {
                    job();
                    idle_threads().2.push((id, tx.clone()));
                    job = match rx.recv_timeout(THREAD_IDLE) {
                        Ok(next) => next,
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                            // Leave the idle list first; a job sent before that is still
                            // queued here and runs before the thread exits.
                            idle_threads().2.retain(|(other, _)| *other != id);
                            match rx.try_recv() {
                                Ok(next) => next,
                                Err(_) => return,
                            }
                        }
                    };
                }
            });
    }
}

/// Runs each job on the calling thread: for callers without an async runtime, and fuzzing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inline;

impl Offload for Inline {
    fn spawn(&self, job: Job) {
        job();
    }
}

/// An [`Offload`] behind a bound on the jobs in flight.
#[derive(Clone)]
pub(crate) struct Bounded {
    offload: Arc<dyn Offload>,
    permits: Arc<async_lock::Semaphore>,
}

impl Bounded {
    pub fn new(offload: Arc<dyn Offload>, max_in_flight: usize) -> Self {
        Bounded {
            offload,
            permits: Arc::new(async_lock::Semaphore::new(max_in_flight.max(1))),
        }
    }

    /// Runs `work` through the offload, waiting for a permit first.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self.permits.acquire().await;
        let (tx, rx) = futures_channel::oneshot::channel();
        self.offload.spawn(Box::new(move || {
            let _ = tx.send(work());
        }));
        rx.await
            .map_err(|_| Error::Crypto("offloaded work did not run"))
    }
}

/// Lets other tasks run once before continuing (between retries of a lost race).
pub(crate) fn yield_now() -> impl Future<Output = ()> {
    YieldNow { yielded: false }
}

struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dropping;
    impl Offload for Dropping {
        fn spawn(&self, _job: Job) {}
    }

    /// A minimal executor: polls with a waker that unparks this thread.
    fn block_on<F: Future>(f: F) -> F::Output {
        use std::task::{Wake, Waker};
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    #[test]
    fn jobs_run_on_threads_inline_and_report_a_dropped_job() {
        let caller = std::thread::current().id();
        let threads = Bounded::new(Arc::new(OsThreads), 2);
        let ran_on = block_on(threads.run(|| std::thread::current().id())).expect("ran");
        assert_ne!(ran_on, caller);
        // Later jobs reuse idle threads rather than starting one each.
        let ids: std::collections::HashSet<_> = (0..50)
            .map(|_| block_on(threads.run(|| std::thread::current().id())).expect("ran"))
            .collect();
        assert!(ids.len() < 50, "every job started a thread of its own");
        let inline = Bounded::new(Arc::new(Inline), 1);
        assert_eq!(block_on(inline.run(|| 7)).expect("ran"), 7);
        let dropping = Bounded::new(Arc::new(Dropping), 1);
        assert!(matches!(
            block_on(dropping.run(|| 7)),
            Err(Error::Crypto(_))
        ));
        block_on(yield_now());
    }
}
