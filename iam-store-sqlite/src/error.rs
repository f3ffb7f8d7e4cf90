//! [`SqliteStoreError`]: why a database could not be opened, and how sqlx errors map to [`StoreError`].

use std::path::{Path, PathBuf};

use iam_core::store::StoreError;
use iam_sql_common::Dialect;

use crate::dialect::SqliteDialect;

/// Why [`crate::SqliteStore::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SqliteStoreError {
    /// The file exists but is not an iam SQLite database.
    #[error("{} is not an iam SQLite database: {reason}", path.display())]
    NotADatabase {
        /// The path given.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The database (or its directory) cannot be written.
    #[error(
        "{} is read-only: iam must be able to write the database file and to create its -wal and -shm files in the same directory",
        path.display()
    )]
    ReadOnly {
        /// The path given.
        path: PathBuf,
    },
    /// The file could not be opened or created.
    #[error("cannot open {}: {reason} (check that the directory exists and is writable)", path.display())]
    CannotOpen {
        /// The path given.
        path: PathBuf,
        /// What SQLite or the operating system said.
        reason: String,
    },
    /// The database opened but the store refused it (for instance [`StoreError::SchemaTooNew`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SqliteStoreError> for StoreError {
    fn from(e: SqliteStoreError) -> Self {
        match e {
            SqliteStoreError::Store(inner) => inner,
            e @ SqliteStoreError::NotADatabase { .. } => StoreError::Corrupt(e.to_string()),
            e => StoreError::Backend(e.to_string()),
        }
    }
}

/// SQLite's primary result code of a database error (the extended code's low byte).
pub(crate) fn primary_code(e: &sqlx::Error) -> Option<i64> {
    let code: i64 = e.as_database_error()?.code()?.parse().ok()?;
    Some(code & 0xff)
}

const SQLITE_READONLY: i64 = 8;
pub(crate) const SQLITE_CORRUPT: i64 = 11;
const SQLITE_CANTOPEN: i64 = 14;
pub(crate) const SQLITE_NOTADB: i64 = 26;

/// Maps an error met while opening `path`.
pub(crate) fn open_error(path: &Path, e: sqlx::Error) -> SqliteStoreError {
    let path = path.to_path_buf();
    match primary_code(&e) {
        Some(SQLITE_NOTADB | SQLITE_CORRUPT) => SqliteStoreError::NotADatabase {
            path,
            reason: e.to_string(),
        },
        Some(SQLITE_READONLY) => SqliteStoreError::ReadOnly { path },
        Some(SQLITE_CANTOPEN) => SqliteStoreError::CannotOpen {
            path,
            reason: e.to_string(),
        },
        _ => match e {
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
                SqliteStoreError::ReadOnly { path }
            }
            e => SqliteStoreError::CannotOpen {
                path,
                reason: e.to_string(),
            },
        },
    }
}

/// Maps an error met while serving a store call.
pub(crate) fn backend(e: &sqlx::Error) -> StoreError {
    SqliteDialect::backend(e)
}
