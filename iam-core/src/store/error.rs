//! Why a store call failed.

use std::time::Duration;

use super::kind::RecordKind;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A write's expected version did not match (someone else changed the record first).
    #[error("the record changed concurrently")]
    Conflict,
    /// An insert hit an existing id or lookup key.
    #[error("a {kind:?} with that id or lookup already exists")]
    Duplicate {
        /// The kind whose uniqueness was violated.
        kind: RecordKind,
    },
    /// The database is newer than this build understands.
    #[error(
        "the database schema is version {found}, newer than the supported version {supported}"
    )]
    SchemaTooNew {
        /// The version found in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// Stored data could not be read back (corruption or a foreign writer).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The backend failed (connection lost, disk full, ...).
    #[error("store backend failed: {0}")]
    Backend(String),
    /// A [`ThrottleWrite::Reserve`](super::ThrottleWrite::Reserve) was refused: the back-off asks to wait `retry_after`.
    #[error("throttled; retry after {retry_after:?}")]
    Throttled {
        /// How long the caller must still wait.
        retry_after: Duration,
    },
    /// The store's commit queue is full: the commit was not started (nothing changed). The
    /// caller should answer "busy, retry after `retry_after`" rather than wait without bound.
    #[error("the store is overloaded; retry after {retry_after:?}")]
    Overloaded {
        /// A suggested pause before retrying.
        retry_after: Duration,
    },
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;
