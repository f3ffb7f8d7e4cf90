//! Record bodies: the JSON text a store keeps for each record, encoded and decoded.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;
use crate::store::StoreError;

/// Serialises a record body.
pub(crate) fn to_body<T: Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode record: {e}")).into())
}

/// Parses a record body written by [`to_body`].
pub(crate) fn from_body<T: DeserializeOwned>(body: &str) -> Result<T, Error> {
    serde_json::from_str(body)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode record: {e}")).into())
}
