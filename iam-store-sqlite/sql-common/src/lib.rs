//! # iam-sql-common
//!
//! What iam's two SQL stores, iam-store-sqlite and iam-store-postgres, do the same way, written
//! once: the statements that apply record writes, throttle counters and revocation changes
//! inside a commit, the reads behind [`Store`](iam_core::Store)'s `get`, `find`, `list`,
//! `throttle`, `audit` and `revocations`, row decoding (anything malformed is
//! [`StoreError::Corrupt`](iam_core::store::StoreError::Corrupt)), the mapping of sqlx errors,
//! and the indexes both schemas create.
//!
//! ## Design overview
//!
//! - [`Dialect`] is what a store crate tells this one about its database: the sqlx driver, its
//!   name in error messages, which errors mean a damaged database, and the few statements whose
//!   locking differs (how `Write::Check` holds its row, how a throttle reservation holds its
//!   counter).
//! - [`Statement`] is SQL with `$1`, `$2`, ... parameters, which both the SQLite and the
//!   PostgreSQL driver accept, together with the values bound to them.
//! - [`writes`] applies one commit's record writes, counter changes and revocation changes
//!   inside the caller's transaction; [`reads`] serves the read calls from a pool; [`rows`]
//!   turns rows back into the core's types.
//! - [`batch`] is the group commit: the bounded queue of commits waiting for a transaction and
//!   how one batch of them is applied in one transaction, audit drafts chained once per batch
//!   ([`batch::chain_after`]).
//! - [`AttemptError`] is how a write reports failure: a verdict for the caller, or a database
//!   error the store classifies (PostgreSQL retries the transient ones).
//! - [`schema`] holds the part of the migrations that is the same SQL on both databases.
//!
//! Each store keeps the rest: opening, its tables and migrations, its transactions and their
//! boundaries (PostgreSQL's retries and revocation feed), how audit events are inserted, and
//! pruning.
//!
//! ```
//! use iam_sql_common::Statement;
//!
//! let mut stmt = Statement::new("SELECT id FROM records WHERE kind = ");
//! stmt.push_bind("account").push(" AND id > ").push_bind("acc_1");
//! assert_eq!(stmt.sql(), "SELECT id FROM records WHERE kind = $1 AND id > $2");
//! assert_eq!(stmt.params().len(), 2);
//! ```

pub mod batch;
mod dialect;
mod error;
pub mod reads;
pub mod rows;
pub mod schema;
mod statement;
pub mod writes;

pub use dialect::{query, BoxFuture, Conn, Dialect, ReadRow, RowOf, SqlDatabase};
pub use error::{is_unique_violation, AttemptError};
pub use statement::{Param, Statement};
