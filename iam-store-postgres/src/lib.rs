//! # iam-store-postgres
//!
//! The [`Store`](iam_core::Store) for iam on PostgreSQL, for deployments where several
//! processes share one database. Start at [`PostgresStore::open`] (or
//! [`PostgresStore::connect`] with a URL) and hand the store to [`iam_core::Iam::builder`].
//!
//! - **Schema.** All tables live in one schema (default `iam`, see
//!   [`PostgresStoreOptions::schema`]), created and migrated on open under an advisory lock.
//!   Migrations are embedded; a database written by a newer build is refused with
//!   [`StoreError::SchemaTooNew`](iam_core::store::StoreError::SchemaTooNew).
//! - **Atomicity.** Each commit is applied as conditional statements inside a transaction,
//!   landing or failing on its own; concurrent commits of one process share one transaction (see
//!   "Durability and concurrency" below).
//! - **Revocations across processes.** See below.
//! - **Queries** are built at run time: building needs no live database.
//!
//! ```no_run
//! use iam_core::{Caller, Config, Iam, MasterKey, NewAccount};
//! use iam_store_postgres::{PostgresStore, PostgresStoreOptions};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let options = PostgresStoreOptions::new("postgres://iam@db.internal/iam")?
//!     .schema("iam")
//!     .max_connections(20);
//! let store = PostgresStore::open(options).await?;
//!
//! // Every instance must be given the same master key, here from the environment.
//! let config = Config::new(MasterKey::from_env("IAM_MASTER_KEY")?);
//! let iam = Iam::builder(store, config).open().await?;
//! iam.create_account(NewAccount::human("alice", "correct horse battery"), Caller::System).await?;
//! # Ok(())
//! # }
//! ```
//!
//! ## Durability and concurrency
//!
//! A commit is durable (committed, with PostgreSQL's own `synchronous_commit`) when it returns.
//! The commits of one `PostgresStore` are group-committed by one writer task (spawned on the
//! tokio runtime that opens the store, which must outlive the store's use; unlike SQLite's
//! writer it stays on that runtime, whose reactor drives its connections anyway): those that arrive
//! while a batch is being written wait in a queue, and the writer's next batch takes up to 512
//! of them into one READ COMMITTED transaction. Each commit's writes, counter and revocation changes apply in order,
//! inside a savepoint when it changes something, so a conflicting, duplicate or throttled commit
//! answers its own error, leaves the rest of the batch intact and writes no audit event; a
//! commit of `Write::Check`s alone (the OAuth client-credentials grant's) changes nothing and
//! needs no savepoint. Then, once per batch, the audit drafts of the commits that succeeded are
//! chained in commit order after the chain head (locked `FOR UPDATE` until commit, so the
//! batches of every process extend one unbroken chain) and inserted with one statement, and the
//! batch's revocation changes bump the revision once and go out in one notice. Every commit is
//! answered only after the batch's transaction has committed. A deadlock or serialization
//! failure runs the whole batch again, up to [`PostgresStoreOptions::commit_retries`] times.
//! Audited commits thus cost one head lock, one insert and one commit per batch rather than per
//! commit.
//!
//! The queue is bounded by [`PostgresStoreOptions::max_queued_commits`] (default 4096): when it
//! is full, `commit` fails at once with
//! [`StoreError::Overloaded`](iam_core::store::StoreError::Overloaded) (suggesting a retry after
//! a second) without starting the commit, so a burst cannot hold unbounded memory; iam-axum
//! answers it with 503 and `Retry-After`. A commit, once queued, finishes even if its caller is
//! cancelled.
//!
//! ## The revocation feed
//!
//! A revocation made through one `PostgresStore` is in force in the caches subscribed to it
//! when `commit` returns, and reaches the caches of every other `PostgresStore` on the same
//! schema, in this process or another, over `LISTEN`/`NOTIFY`:
//!
//! - Every batch of commits that changes the revocation list bumps a one-row revision counter
//!   once (under its row lock, so revisions follow commit order) and, in the same transaction,
//!   sends `NOTIFY iam_revocations_<schema>` with the payload `{"rev": n, "changes": [...]}`,
//!   the changes of the batch's successful commits in commit order. PostgreSQL
//!   delivers notices only after commit, in commit order.
//! - The payload carries the changes themselves rather than a bare "reload" signal: receivers
//!   apply them without reading the database (one network hop; measured well under the 50 ms
//!   target), and a burst of revocations does not become a burst of full reloads. The revision
//!   makes the feed self-checking: a notice that does not follow the last applied revision, a
//!   change set too large for one notice (sent as `{"rev": n}` alone), an unreadable payload, or
//!   a heartbeat ([`PostgresStoreOptions::feed_heartbeat`]) that finds the database ahead all
//!   lead to a full reload (`RevocationCache::load`), never to a silently missed revocation.
//! - Each store listens on one extra connection of its own (opened on the first
//!   `subscribe`). When it is lost, every subscribed cache is marked stale, so verification
//!   fails closed (`Denial::RevocationUnavailable`); the store reconnects with back-off,
//!   `LISTEN`s again, and only then reloads the list and marks the caches current.
//!
//! Bodies arrive from the core already holding secrets only as hashes or ciphertext; this crate
//! stores them as given and keeps nothing else secret. Connection URLs may hold a password:
//! they are never logged, and [`PostgresStoreOptions`]'s `Debug` leaves the password out.

mod dialect;
mod error;
mod feed;
mod options;
mod schema;
mod store;

pub use error::PostgresStoreError;
pub use options::{PostgresStoreOptions, MAX_SCHEMA_NAME_LEN};
pub use schema::SCHEMA_VERSION;
pub use store::PostgresStore;
