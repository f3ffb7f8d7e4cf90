//! [`AttemptError`]: how the shared writes report failure, and what the two stores classify alike.

use iam_core::store::StoreError;

use crate::dialect::Dialect;

/// Why one attempt at a transaction failed: a verdict to hand to the caller as it stands, or a
/// database error still to be classified (the PostgreSQL store runs the attempt again when the
/// error is transient, such as a serialization failure or a deadlock).
#[derive(Debug)]
pub enum AttemptError {
    /// The store's verdict for the caller (`Conflict`, `Duplicate`, `Throttled`, `Corrupt`, ...).
    Verdict(StoreError),
    /// A database error, possibly transient.
    Sql(sqlx::Error),
}

impl AttemptError {
    /// The error for the caller, a database error classified as dialect `D` says.
    pub fn classify<D: Dialect>(self) -> StoreError {
        match self {
            AttemptError::Verdict(e) => e,
            AttemptError::Sql(e) => D::backend(&e),
        }
    }
}

impl From<sqlx::Error> for AttemptError {
    fn from(e: sqlx::Error) -> Self {
        AttemptError::Sql(e)
    }
}

impl From<StoreError> for AttemptError {
    fn from(e: StoreError) -> Self {
        AttemptError::Verdict(e)
    }
}

/// Whether `e` is a violated UNIQUE or PRIMARY KEY constraint.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
}
