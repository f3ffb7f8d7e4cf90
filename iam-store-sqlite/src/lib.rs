//! # iam-store-sqlite
//!
//! The embedded default [`Store`](iam_core::Store) for iam: one SQLite file in WAL mode, with
//! its schema embedded and migrated on open. Start at [`SqliteStore::open`] and hand the store
//! to [`iam_core::Iam::builder`].
//!
//! ```
//! use iam_core::{Caller, Config, Iam, MasterKey, NewAccount, PasswordPolicy};
//! use iam_store_sqlite::SqliteStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?; // your data directory
//! for run in 1..=2 {
//!     // Created (mode 0600) on the first run, read on the second: the data sealed under it
//!     // in the database opens again.
//!     let master_key = MasterKey::load_or_create(dir.path().join("master.key"))?;
//!     let store = SqliteStore::open(dir.path().join("iam.db")).await?;
//!
//!     let mut config = Config::new(master_key);
//!     config.passwords = PasswordPolicy::insecure_fast_for_tests(); // keep the doc test quick
//!     let iam = Iam::builder(store, config).open().await?;
//!     if run == 1 {
//!         iam.create_account(NewAccount::human("alice", "correct horse battery"), Caller::System).await?;
//!     }
//!     assert_eq!(iam.verify_audit_chain(Caller::System).await?, 2); // the signing key, then the account
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The README's quick start (`examples/quickstart.rs`) is the same on files in `./iam-data`.
//!
//! ## Opening
//!
//! [`SqliteStore::open`] creates the file when it is missing and applies the embedded migrations
//! in one transaction; [`SqliteStore::open_with`] takes [`SqliteStoreOptions`] (sync policy,
//! busy timeout, pool size). Every connection runs in WAL mode with foreign keys on and a busy
//! timeout. Opening fails with a typed [`SqliteStoreError`] rather than touching a file that is
//! not ours: `NotADatabase` (a text file, a directory, another application's database),
//! `ReadOnly` (the file or its directory is marked read-only), `CannotOpen` (a missing
//! directory, ...), or `Store(StoreError::SchemaTooNew { .. })` when a newer build of iam has
//! migrated the file beyond [`SCHEMA_VERSION`].
//!
//! ## Durability and concurrency
//!
//! With the default [`Durability::Full`] a commit is on disk when it returns, so a crash (even
//! SIGKILL) loses no returned commit and leaves the audit chain whole.
//!
//! Commits are group-committed by one writer per store, on a thread of its own (named
//! `iam-sqlite-writer`, with a single-threaded tokio runtime), so that under load it never
//! waits behind request tasks between its statements. Dropping the store waits for that thread
//! to finish what is queued. Commits that arrive while a batch is being written wait in a
//! queue, and the writer's next batch takes up to 512 of them into one `BEGIN IMMEDIATE`
//! transaction (one sync to disk), on a connection of its own. Each commit's writes, counter
//! and revocation changes apply in order, inside a savepoint when it changes something, so each
//! still lands or fails on its own: a conflicting, duplicate or throttled commit answers its own
//! error, leaves the rest of the batch intact and writes no audit event. A commit of
//! `Write::Check`s alone (the OAuth client-credentials grant's) changes nothing and needs no
//! savepoint; the checks of consecutive such commits are made in one statement. The audit
//! events of the commits that succeeded are then chained, in commit order, from one read of the
//! chain head and inserted with multi-row `INSERT`s. Every commit is answered only once the
//! batch's transaction has committed.
//!
//! Every statement is a round trip to the connection's own thread, so a batch takes as few as
//! it can: one opens the transaction, reads the chain head and makes the leading checks, and
//! one appends the audit events and commits. A batch of checks alone, once the writer knows the
//! chain head from its last batch, is a single round trip: the events are chained in advance
//! and appended only if every check holds and the head has not moved (another process may
//! write the file too); otherwise nothing is written and the batch runs in full.
//!
//! The queue is bounded by [`SqliteStoreOptions::max_queued_commits`] (default 4096): when it
//! is full, `commit` fails at once with
//! [`StoreError::Overloaded`](iam_core::store::StoreError::Overloaded) (suggesting a retry after
//! a second) without starting the commit, so a burst cannot hold unbounded memory; iam-axum
//! answers it with 503 and `Retry-After`.
//!
//! A commit, once queued, finishes even if its caller is cancelled, so a revocation written to
//! the file also reaches the in-process caches. Revocations reach only caches subscribed to the
//! same `SqliteStore`: run one process per database file (several processes sharing one
//! database want the Postgres store).
//!
//! ## Housekeeping
//!
//! Expired sessions, refresh tokens, revocations and idle throttle counters stay until
//! [`Store::prune`](iam_core::Store::prune) removes them; [`Iam::sweep`](iam_core::Iam::sweep) calls it. Audit events
//! are never removed.
//!
//! ## Secrets
//!
//! Bodies arrive from the core already holding secrets only as hashes or ciphertext; this crate
//! stores them as given, keeps nothing else secret, and never puts bound values in its errors.

mod batch;
mod dialect;
mod error;
mod schema;
mod store;

pub use error::SqliteStoreError;
pub use schema::SCHEMA_VERSION;
pub use store::{Durability, SqliteStore, SqliteStoreOptions};
