//! What the load examples share: timed runs of counting workers, and positional arguments.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// A worker's view of a run: whether to go on, and where to count finished units.
#[derive(Clone)]
pub struct Worker {
    done: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
}

impl Worker {
    /// Whether the run is still going.
    pub fn running(&self) -> bool {
        !self.done.load(Ordering::Relaxed)
    }

    /// Counts one finished unit of work.
    pub fn tick(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts `workers` tasks with `spawn`, lets them run for `secs` seconds and returns the units
/// they finished per second.
pub async fn per_second(
    workers: usize,
    secs: u64,
    mut spawn: impl FnMut(Worker) -> JoinHandle<()>,
) -> f64 {
    let worker = Worker {
        done: Arc::new(AtomicBool::new(false)),
        count: Arc::new(AtomicU64::new(0)),
    };
    let tasks: Vec<_> = (0..workers).map(|_| spawn(worker.clone())).collect();
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    worker.done.store(true, Ordering::Relaxed);
    let n = worker.count.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / elapsed
}

/// The `n`-th command-line argument as a number, or `default`.
pub fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}
