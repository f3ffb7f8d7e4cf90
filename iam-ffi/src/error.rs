//! [`FfiError`]: why a call failed, before it becomes an [`iam_status`] and a last-error message.

use crate::status::{core_status, denial_status, iam_status, oauth_status};

/// Why a call across the C boundary failed.
#[derive(Debug, thiserror::Error)]
pub enum FfiError {
    /// A required pointer argument was NULL.
    #[error("the argument `{0}` must not be NULL")]
    NullParameter(&'static str),
    /// A string argument was not UTF-8.
    #[error("the argument `{0}` is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// An argument breaks a rule of the C API itself.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The configuration JSON could not be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The call came from inside an async runtime, or the runtime would not start.
    #[error("{0}")]
    Runtime(String),
    /// The SQLite store could not be opened.
    #[error(transparent)]
    Sqlite(#[from] iam_store_sqlite::SqliteStoreError),
    /// iam refused or failed.
    #[error(transparent)]
    Core(#[from] iam_core::Error),
    /// A value to return contained a NUL byte and cannot be a C string.
    #[error("the {0} to return contains a NUL byte")]
    InteriorNul(&'static str),
    /// A JSON argument could not be read.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidJson {
        /// The argument.
        name: &'static str,
        /// What is wrong with it (the parser's message, or the unknown field).
        reason: String,
    },
    /// A value to return could not be written as JSON.
    #[error("the {0} to return cannot be written as JSON")]
    Serialize(&'static str),
    /// An OAuth client was refused at the introspection endpoint.
    #[error(transparent)]
    OAuth(#[from] iam_core::OAuthError),
}

impl From<iam_core::Denial> for FfiError {
    fn from(d: iam_core::Denial) -> Self {
        FfiError::Core(d.into())
    }
}

impl FfiError {
    /// The status code the caller sees.
    pub fn status(&self) -> iam_status {
        match self {
            FfiError::NullParameter(_) => iam_status::NullParameter,
            FfiError::InvalidUtf8(_) => iam_status::InvalidUtf8,
            FfiError::InvalidArgument { .. } | FfiError::InvalidJson { .. } => {
                iam_status::InvalidArgument
            }
            FfiError::Config(_) => iam_status::InvalidConfig,
            FfiError::Runtime(_) => iam_status::Runtime,
            FfiError::Sqlite(_) => iam_status::Store,
            FfiError::Core(iam_core::Error::Denied(d)) => denial_status(d),
            FfiError::Core(iam_core::Error::Invalid(iam_core::InvalidInput::Config(_))) => {
                iam_status::InvalidConfig
            }
            FfiError::Core(e) => core_status(e),
            FfiError::InteriorNul(_) | FfiError::Serialize(_) => iam_status::Internal,
            FfiError::OAuth(e) => oauth_status(e.code),
        }
    }
}
