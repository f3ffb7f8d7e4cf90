//! [`PostgresStoreError`]: why a store could not be opened, and how sqlx errors map to [`StoreError`].

use iam_core::store::StoreError;

/// Why [`crate::PostgresStore::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum PostgresStoreError {
    /// The connection URL could not be parsed (the URL itself is not repeated: it may hold a password).
    #[error("invalid PostgreSQL connection URL: {reason}")]
    InvalidUrl {
        /// What the parser said.
        reason: String,
    },
    /// The schema name is not one iam accepts.
    #[error(
        "invalid schema name {name:?}: use 1 to {max} characters from a-z, 0-9 and _, not starting with a digit"
    )]
    InvalidSchemaName {
        /// The name given.
        name: String,
        /// The longest name accepted.
        max: usize,
    },
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to PostgreSQL: {reason}")]
    CannotConnect {
        /// What sqlx or the server said.
        reason: String,
    },
    /// The database was reached but the store refused it (for instance [`StoreError::SchemaTooNew`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PostgresStoreError> for StoreError {
    fn from(e: PostgresStoreError) -> Self {
        match e {
            PostgresStoreError::Store(inner) => inner,
            e => StoreError::Backend(e.to_string()),
        }
    }
}

/// SQLSTATE `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";
/// SQLSTATE `serialization_failure`.
const SERIALIZATION_FAILURE: &str = "40001";
/// SQLSTATE `deadlock_detected`.
const DEADLOCK_DETECTED: &str = "40P01";
/// SQLSTATE class `XX` (internal errors such as `data_corrupted`, `index_corrupted`).
const INTERNAL_ERROR_CLASS: &str = "XX";

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    Some(e.as_database_error()?.code()?.into_owned())
}

/// Maps an error met while serving a store call.
pub(crate) fn backend(e: &sqlx::Error) -> StoreError {
    match sqlstate(e) {
        Some(code) if code.starts_with(INTERNAL_ERROR_CLASS) => {
            StoreError::Corrupt(format!("postgres: {e}"))
        }
        _ => StoreError::Backend(format!("postgres: {e}")),
    }
}

/// Maps an error met while connecting.
pub(crate) fn connect_error(e: &sqlx::Error) -> PostgresStoreError {
    PostgresStoreError::CannotConnect {
        reason: e.to_string(),
    }
}

/// Whether `e` is a violated UNIQUE or PRIMARY KEY constraint.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    sqlstate(e).as_deref() == Some(UNIQUE_VIOLATION)
}

/// Whether the transaction that met `e` may simply be run again (serialization failure, deadlock).
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    matches!(
        sqlstate(e).as_deref(),
        Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED)
    )
}

/// A failed commit attempt: either the store's verdict or a database error to classify.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A verdict for the caller (`Conflict`, `Duplicate`, `Corrupt`, ...).
    Store(StoreError),
    /// A database error, possibly transient.
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}
