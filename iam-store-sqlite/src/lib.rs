//! # iam-store-sqlite
//!
//! The embedded default [`Store`](iam_core::Store) for iam: one SQLite file in WAL mode, with
//! its schema embedded and migrated on open. Start at [`SqliteStore::open`] and hand the store
//! to [`iam_core::Iam::builder`].
//!
//! ```
//! use iam_core::{Config, Iam, MasterKey, NewAccount, PasswordPolicy, SecureRandom};
//! use iam_store_sqlite::SqliteStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("iam.db")).await?;
//!
//! let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
//! config.passwords = PasswordPolicy::insecure_fast_for_tests(); // keep the doc test quick
//! let iam = Iam::builder(store, config).open().await?;
//! iam.create_account(NewAccount::human("alice", "correct horse battery"), None).await?;
//! assert_eq!(iam.verify_audit_chain().await?, 2); // the signing key, then the account
//! # Ok(())
//! # }
//! ```
//!
//! Bodies arrive from the core already holding secrets only as hashes or ciphertext; this crate
//! stores them as given and keeps nothing else secret.

mod error;
mod rows;
mod schema;
mod store;

pub use error::SqliteStoreError;
pub use schema::SCHEMA_VERSION;
pub use store::{Durability, SqliteStore, SqliteStoreOptions};
