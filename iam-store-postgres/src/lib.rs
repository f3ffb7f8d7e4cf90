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
//! - **Atomicity.** Each commit is one transaction of conditional statements; deadlocks and
//!   serialization failures are retried a bounded number of times. Audit appends lock the chain
//!   head, so concurrent processes extend one unbroken chain.
//! - **Revocations across processes.** Revocations are published with `NOTIFY` inside the
//!   committing transaction; each store listens on a connection of its own and applies them to
//!   its subscribed caches in commit order. A lost listener connection marks the caches stale
//!   (tokens fail closed) until it is re-established and the list reloaded. Details and the
//!   choice of payload are in the `feed` module's source docs.
//! - **Queries** are built at run time: building needs no live database.
//!
//! ```no_run
//! use iam_core::{Config, Iam, MasterKey, NewAccount, SecureRandom};
//! use iam_store_postgres::{PostgresStore, PostgresStoreOptions};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let options = PostgresStoreOptions::new("postgres://iam@db.internal/iam")?
//!     .schema("iam")
//!     .max_connections(20);
//! let store = PostgresStore::open(options).await?;
//!
//! // Every instance must be given the same master key.
//! let config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
//! let iam = Iam::builder(store, config).open().await?;
//! iam.create_account(NewAccount::human("alice", "correct horse battery"), None).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Bodies arrive from the core already holding secrets only as hashes or ciphertext; this crate
//! stores them as given and keeps nothing else secret. Connection URLs may hold a password:
//! they are never logged, and [`PostgresStoreOptions`]'s `Debug` leaves the password out.

mod error;
mod feed;
mod options;
mod rows;
mod schema;
mod store;

pub use error::PostgresStoreError;
pub use options::{PostgresStoreOptions, MAX_SCHEMA_NAME_LEN};
pub use schema::SCHEMA_VERSION;
pub use store::PostgresStore;
