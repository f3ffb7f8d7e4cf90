//! Turning rows back into the core's types, refusing anything malformed as
//! [`StoreError::Corrupt`], and the conversions of the core's numbers into stored integers.

use std::collections::BTreeMap;

use iam_core::audit::{AuditDraft, AuditEvent, AuditKind, ChainHash};
use iam_core::clock::Timestamp;
use iam_core::revocation::{Revocation, RevokedSubject};
use iam_core::store::{Record, RecordKind, StoreError, ThrottleState};

use crate::dialect::{Dialect, ReadRow, RowOf};

/// The record columns, in the order [`record`] reads them.
pub const RECORD_COLUMNS: &str = "kind, id, version, parent, lookup, expires_at, body";

/// The audit columns, in the order [`audit_event`] reads them.
pub const AUDIT_COLUMNS: &str = "seq, prev_hash, hash, at, kind, actor, account, session, detail";

/// The revocation columns, in the order [`revocation_at`] reads them.
pub const REVOCATION_COLUMNS: &str = "subject, id, issued_before, until";

/// The throttle columns, in the order [`throttle`] reads them.
pub const THROTTLE_COLUMNS: &str = "failures, last_failure";

/// A column value, or the error for a column that cannot be read (a value of the wrong type
/// means the row was written by something other than iam).
fn col<D: Dialect, T>(value: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    value.map_err(|e| D::backend(&e))
}

/// Converts a version the core holds into the stored integer (`None`: it can match nothing).
pub fn version_to_db(v: u64) -> Option<i64> {
    i64::try_from(v).ok()
}

/// Converts a count or limit into a SQL integer, saturating.
pub fn to_db_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A record from the [`RECORD_COLUMNS`].
pub fn record<D: Dialect>(row: &RowOf<D>) -> Result<Record, StoreError> {
    let kind = col::<D, _>(row.text(0))?;
    let version = col::<D, _>(row.integer(2))?;
    Ok(Record {
        kind: RecordKind::parse(&kind).ok_or_else(|| D::corrupt("unknown record kind"))?,
        id: col::<D, _>(row.text(1))?,
        version: u64::try_from(version).map_err(|_| D::corrupt("negative record version"))?,
        parent: col::<D, _>(row.optional_text(3))?,
        lookup: col::<D, _>(row.optional_text(4))?,
        expires_at: col::<D, _>(row.optional_integer(5))?.map(Timestamp::from_millis),
        body: col::<D, _>(row.text(6))?,
    })
}

/// A throttle counter from the [`THROTTLE_COLUMNS`].
pub fn throttle<D: Dialect>(row: &RowOf<D>) -> Result<ThrottleState, StoreError> {
    let failures = col::<D, _>(row.integer(0))?;
    Ok(ThrottleState {
        failures: u32::try_from(failures).map_err(|_| D::corrupt("throttle count out of range"))?,
        last_failure: Timestamp::from_millis(col::<D, _>(row.integer(1))?),
    })
}

/// A revocation from the [`REVOCATION_COLUMNS`], the first of them at column `first`.
pub fn revocation_at<D: Dialect>(row: &RowOf<D>, first: usize) -> Result<Revocation, StoreError> {
    let subject = col::<D, _>(row.text(first))?;
    Ok(Revocation {
        subject: RevokedSubject::parse(&subject)
            .ok_or_else(|| D::corrupt("unknown revocation subject"))?,
        id: col::<D, _>(row.text(first + 1))?,
        issued_before: Timestamp::from_millis(col::<D, _>(row.integer(first + 2))?),
        until: Timestamp::from_millis(col::<D, _>(row.integer(first + 3))?),
    })
}

/// A stored chain hash.
pub fn hash<D: Dialect>(bytes: &[u8]) -> Result<ChainHash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| D::corrupt("audit hash is not 32 bytes"))
}

/// An audit event from the [`AUDIT_COLUMNS`].
pub fn audit_event<D: Dialect>(row: &RowOf<D>) -> Result<AuditEvent, StoreError> {
    let seq = col::<D, _>(row.integer(0))?;
    let prev = col::<D, _>(row.bytes(1))?;
    let this = col::<D, _>(row.bytes(2))?;
    let kind = col::<D, _>(row.text(4))?;
    let detail = col::<D, _>(row.text(8))?;
    let detail: BTreeMap<String, String> =
        serde_json::from_str(&detail).map_err(|_| D::corrupt("audit detail is not a JSON map"))?;
    Ok(AuditEvent {
        seq: u64::try_from(seq).map_err(|_| D::corrupt("negative audit sequence number"))?,
        prev_hash: hash::<D>(&prev)?,
        hash: hash::<D>(&this)?,
        draft: AuditDraft {
            at: Timestamp::from_millis(col::<D, _>(row.integer(3))?),
            kind: AuditKind::parse(&kind).ok_or_else(|| D::corrupt("unknown audit kind"))?,
            actor: col::<D, _>(row.optional_text(5))?,
            account: col::<D, _>(row.optional_text(6))?,
            session: col::<D, _>(row.optional_text(7))?,
            detail,
        },
    })
}

/// The detail map as stored.
pub fn detail_json<D: Dialect>(detail: &BTreeMap<String, String>) -> Result<String, StoreError> {
    serde_json::to_string(detail)
        .map_err(|e| D::corrupt(&format!("cannot encode audit detail: {e}")))
}
