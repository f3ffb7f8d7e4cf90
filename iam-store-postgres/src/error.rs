//! [`PostgresStoreError`]: why a store could not be opened, and how sqlx errors map to [`StoreError`].

use iam_core::store::StoreError;
use iam_sql_common::Dialect;

use crate::dialect::PostgresDialect;

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

/// SQLSTATE `serialization_failure`.
const SERIALIZATION_FAILURE: &str = "40001";
/// SQLSTATE `deadlock_detected`.
const DEADLOCK_DETECTED: &str = "40P01";

/// The SQLSTATE code of a database error.
pub(crate) fn sqlstate(e: &sqlx::Error) -> Option<String> {
    Some(e.as_database_error()?.code()?.into_owned())
}

/// Maps an error met while serving a store call.
pub(crate) fn backend(e: &sqlx::Error) -> StoreError {
    PostgresDialect::backend(e)
}

/// Maps an error met while connecting.
pub(crate) fn connect_error(e: &sqlx::Error) -> PostgresStoreError {
    PostgresStoreError::CannotConnect {
        reason: e.to_string(),
    }
}

/// Whether the transaction that met `e` may simply be run again (serialization failure, deadlock).
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    matches!(
        sqlstate(e).as_deref(),
        Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED)
    )
}
