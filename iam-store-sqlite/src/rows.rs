//! Turning rows back into the core's types, refusing anything malformed as [`StoreError::Corrupt`].

use std::collections::BTreeMap;

use iam_core::audit::{AuditDraft, AuditEvent, AuditKind, ChainHash};
use iam_core::clock::Timestamp;
use iam_core::revocation::{Revocation, RevokedSubject};
use iam_core::store::{Record, RecordKind, StoreError, ThrottleState};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::backend;

/// The record columns, in the order [`record`] reads them.
pub(crate) const RECORD_COLUMNS: &str = "kind, id, version, parent, lookup, expires_at, body";

fn col<'r, T>(row: &'r SqliteRow, i: usize) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(i).map_err(|e| match e {
        // A value of the wrong type: written by something other than this crate.
        sqlx::Error::ColumnDecode { .. } => corrupt(&e.to_string()),
        e => backend(&e),
    })
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("sqlite: {what}"))
}

/// Converts a version the core holds into the stored integer (`None`: it can match nothing).
pub(crate) fn version_to_db(v: u64) -> Option<i64> {
    i64::try_from(v).ok()
}

pub(crate) fn record(row: &SqliteRow) -> Result<Record, StoreError> {
    let kind: String = col(row, 0)?;
    let version: i64 = col(row, 2)?;
    Ok(Record {
        kind: RecordKind::parse(&kind).ok_or_else(|| corrupt("unknown record kind"))?,
        id: col(row, 1)?,
        version: u64::try_from(version).map_err(|_| corrupt("negative record version"))?,
        parent: col(row, 3)?,
        lookup: col(row, 4)?,
        expires_at: col::<Option<i64>>(row, 5)?.map(Timestamp::from_millis),
        body: col(row, 6)?,
    })
}

pub(crate) fn throttle(row: &SqliteRow) -> Result<ThrottleState, StoreError> {
    let failures: i64 = col(row, 0)?;
    Ok(ThrottleState {
        failures: u32::try_from(failures).map_err(|_| corrupt("throttle count out of range"))?,
        last_failure: Timestamp::from_millis(col(row, 1)?),
    })
}

pub(crate) fn revocation(row: &SqliteRow) -> Result<Revocation, StoreError> {
    let subject: String = col(row, 0)?;
    Ok(Revocation {
        subject: RevokedSubject::parse(&subject)
            .ok_or_else(|| corrupt("unknown revocation subject"))?,
        id: col(row, 1)?,
        issued_before: Timestamp::from_millis(col(row, 2)?),
        until: Timestamp::from_millis(col(row, 3)?),
    })
}

/// The audit columns, in the order [`audit_event`] reads them.
pub(crate) const AUDIT_COLUMNS: &str =
    "seq, prev_hash, hash, at, kind, actor, account, session, detail";

fn hash(bytes: &[u8]) -> Result<ChainHash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| corrupt("audit hash is not 32 bytes"))
}

pub(crate) fn audit_event(row: &SqliteRow) -> Result<AuditEvent, StoreError> {
    let seq: i64 = col(row, 0)?;
    let prev: Vec<u8> = col(row, 1)?;
    let this: Vec<u8> = col(row, 2)?;
    let kind: String = col(row, 4)?;
    let detail: String = col(row, 8)?;
    let detail: BTreeMap<String, String> =
        serde_json::from_str(&detail).map_err(|_| corrupt("audit detail is not a JSON map"))?;
    Ok(AuditEvent {
        seq: u64::try_from(seq).map_err(|_| corrupt("negative audit sequence number"))?,
        prev_hash: hash(&prev)?,
        hash: hash(&this)?,
        draft: AuditDraft {
            at: Timestamp::from_millis(col(row, 3)?),
            kind: AuditKind::parse(&kind).ok_or_else(|| corrupt("unknown audit kind"))?,
            actor: col(row, 5)?,
            account: col(row, 6)?,
            session: col(row, 7)?,
            detail,
        },
    })
}

/// The detail map as stored.
pub(crate) fn detail_json(detail: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(detail).map_err(|e| corrupt(&format!("cannot encode audit detail: {e}")))
}
