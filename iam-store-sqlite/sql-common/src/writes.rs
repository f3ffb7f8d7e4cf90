//! A commit's record writes, throttle counter changes and revocation changes, each applied
//! inside the caller's transaction; an `Err` aborts the transaction.

use iam_core::clock::Timestamp;
use iam_core::revocation::RevocationChange;
use std::collections::HashMap;

use iam_core::store::{Commit, StoreError, StoreResult, ThrottleWrite, Write};

use crate::dialect::{Conn, Dialect, ReadRow, SqlDatabase};
use crate::error::{is_unique_violation, AttemptError};
use crate::rows::version_to_db;
use crate::statement::Statement;

/// Runs `stmt`, which ends in `RETURNING 1`, and says whether it changed a row.
async fn changed_a_row<D: Dialect>(
    conn: &mut Conn<D>,
    stmt: &Statement<'_>,
) -> Result<bool, sqlx::Error> {
    Ok(D::Db::fetch_optional(conn, stmt).await?.is_some())
}

/// Applies one record write: an insert fails with [`StoreError::Duplicate`], and an update,
/// delete or check of a version that is not the stored one with [`StoreError::Conflict`].
pub async fn apply_write<D: Dialect>(
    conn: &mut Conn<D>,
    write: &Write,
) -> Result<(), AttemptError> {
    match write {
        Write::Insert(r) => {
            let stmt = Statement::new(
                "INSERT INTO records (kind, id, version, parent, lookup, expires_at, body)
                 VALUES ($1, $2, 1, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1",
            )
            .bind(r.kind.as_str())
            .bind(&r.id)
            .bind(r.parent.as_deref())
            .bind(r.lookup.as_deref())
            .bind(r.expires_at.map(Timestamp::as_millis))
            .bind(&r.body);
            if !changed_a_row::<D>(conn, &stmt).await? {
                return Err(StoreError::Duplicate { kind: r.kind }.into());
            }
        }
        Write::Update {
            record: r,
            expected_version,
        } => {
            let Some(expected) = version_to_db(*expected_version) else {
                return Err(StoreError::Conflict.into());
            };
            let stmt = Statement::new(
                "UPDATE records SET version = version + 1, parent = $1, lookup = $2, expires_at = $3, body = $4
                 WHERE kind = $5 AND id = $6 AND version = $7 RETURNING 1",
            )
            .bind(r.parent.as_deref())
            .bind(r.lookup.as_deref())
            .bind(r.expires_at.map(Timestamp::as_millis))
            .bind(&r.body)
            .bind(r.kind.as_str())
            .bind(&r.id)
            .bind(expected);
            match changed_a_row::<D>(conn, &stmt).await {
                Ok(true) => {}
                Ok(false) => return Err(StoreError::Conflict.into()),
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Duplicate { kind: r.kind }.into())
                }
                Err(e) => return Err(e.into()),
            }
        }
        Write::Delete {
            kind,
            id,
            expected_version,
        } => {
            let Some(expected) = version_to_db(*expected_version) else {
                return Err(StoreError::Conflict.into());
            };
            let stmt = Statement::new(
                "DELETE FROM records WHERE kind = $1 AND id = $2 AND version = $3 RETURNING 1",
            )
            .bind(kind.as_str())
            .bind(id)
            .bind(expected);
            if !changed_a_row::<D>(conn, &stmt).await? {
                return Err(StoreError::Conflict.into());
            }
        }
        Write::Check {
            kind,
            id,
            expected_version,
        } => {
            let Some(expected) = version_to_db(*expected_version) else {
                return Err(StoreError::Conflict.into());
            };
            let stmt = Statement::new(format!(
                "SELECT 1 FROM records WHERE kind = $1 AND id = $2 AND version = $3{}",
                D::CHECK_LOCK
            ))
            .bind(kind.as_str())
            .bind(id)
            .bind(expected);
            if D::Db::fetch_optional(conn, &stmt).await?.is_none() {
                return Err(StoreError::Conflict.into());
            }
        }
    }
    Ok(())
}

/// Most records one statement of [`check_all`] names (two bound values each, under SQLite's
/// oldest limit of 999).
pub const CHECKS_PER_STATEMENT: usize = 400;

/// The stored version of each record read by [`push_version_query`], by kind and id.
pub type StoredVersions = HashMap<(String, String), i64>;

/// The records that the `Write::Check`s of `commits` name, as (kind, id), sorted and each once.
pub fn checked_records(commits: &[Commit]) -> Vec<(&str, &str)> {
    let mut keys: Vec<(&str, &str)> = commits
        .iter()
        .flat_map(|c| &c.writes)
        .filter_map(|w| match w {
            Write::Check { kind, id, .. } => Some((kind.as_str(), id.as_str())),
            _ => None,
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Appends to `stmt` the query reading the kind, id and version of every record of `keys` (at
/// most [`CHECKS_PER_STATEMENT`]) with [`Dialect::CHECK_LOCK`]; [`read_versions`] reads its rows.
pub fn push_version_query<'a, D: Dialect>(stmt: &mut Statement<'a>, keys: &[(&'a str, &'a str)]) {
    stmt.push("SELECT kind, id, version FROM records WHERE (kind, id) IN (VALUES ");
    for (i, (kind, id)) in keys.iter().enumerate() {
        stmt.push(if i == 0 { "(" } else { ", (" });
        stmt.push_bind(*kind).push(", ").push_bind(*id).push(")");
    }
    stmt.push(")").push(D::CHECK_LOCK);
}

/// Adds the versions in `rows` of a [`push_version_query`] query to `stored`.
pub fn read_versions<R: ReadRow>(
    rows: &[R],
    stored: &mut StoredVersions,
) -> Result<(), sqlx::Error> {
    for row in rows {
        stored.insert((row.text(0)?, row.text(1)?), row.integer(2)?);
    }
    Ok(())
}

/// The outcome of each of `commits`, which hold only `Write::Check`s (and audit drafts), given
/// the `stored` versions of the records they name: a commit succeeds when every record it checks
/// is stored at the version it expects, else fails with [`StoreError::Conflict`].
pub fn check_outcomes(commits: &[Commit], stored: &StoredVersions) -> Vec<StoreResult<()>> {
    let holds = |w: &Write| match w {
        Write::Check {
            kind,
            id,
            expected_version,
        } => version_to_db(*expected_version).is_some_and(|expected| {
            stored.get(&(kind.as_str().to_owned(), id.clone())) == Some(&expected)
        }),
        _ => false,
    };
    commits
        .iter()
        .map(|c| {
            if c.writes.iter().all(holds) {
                Ok(())
            } else {
                Err(StoreError::Conflict)
            }
        })
        .collect()
}

/// The outcome of each of `commits`, which hold only `Write::Check`s (and audit drafts), as
/// [`check_outcomes`] decides it. Every record named is read in as few statements as possible
/// (with [`Dialect::CHECK_LOCK`]), so a run of such commits costs one round trip, not one each.
pub async fn check_all<D: Dialect>(
    conn: &mut Conn<D>,
    commits: &[Commit],
) -> Result<Vec<StoreResult<()>>, AttemptError> {
    let keys = checked_records(commits);
    let mut stored = StoredVersions::with_capacity(keys.len());
    for chunk in keys.chunks(CHECKS_PER_STATEMENT) {
        let mut stmt = Statement::new("");
        push_version_query::<D>(&mut stmt, chunk);
        read_versions(&D::Db::fetch_all(conn, &stmt).await?, &mut stored)?;
    }
    Ok(check_outcomes(commits, &stored))
}

/// Applies one counter change; a refused [`ThrottleWrite::Reserve`] fails with
/// [`StoreError::Throttled`], aborting the commit.
///
/// A reservation reads the counter, held until the transaction ends (see
/// [`Dialect::lock_throttle`]), decides with the policy and writes the outcome, so concurrent
/// reservations on one key are admitted only as far as the policy allows.
pub async fn apply_throttle<D: Dialect>(
    conn: &mut Conn<D>,
    t: &ThrottleWrite,
) -> Result<(), AttemptError> {
    let stmt = match t {
        ThrottleWrite::Reserve { key, at, policy } => {
            let current = D::lock_throttle(conn, key, *at).await?;
            let next = policy
                .admit(current, *at)
                .map_err(|retry_after| StoreError::Throttled { retry_after })?;
            Statement::new(
                "INSERT INTO throttles (key, failures, last_failure) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET
                    failures = excluded.failures, last_failure = excluded.last_failure",
            )
            .bind(key)
            .bind(i64::from(next.failures))
            .bind(next.last_failure.as_millis())
        }
        ThrottleWrite::Refund { key } => {
            let one_fewer =
                Statement::new("UPDATE throttles SET failures = failures - 1 WHERE key = $1")
                    .bind(key);
            D::Db::execute(conn, &one_fewer).await?;
            Statement::new("DELETE FROM throttles WHERE key = $1 AND failures <= 0").bind(key)
        }
        // Saturates at u32::MAX; the last failure time never moves back.
        ThrottleWrite::Failure { key, at } => Statement::new(
            "INSERT INTO throttles (key, failures, last_failure) VALUES ($1, 1, $2)
             ON CONFLICT (key) DO UPDATE SET
                failures = CASE WHEN throttles.failures < 4294967295
                    THEN throttles.failures + 1 ELSE throttles.failures END,
                last_failure = CASE WHEN excluded.last_failure > throttles.last_failure
                    THEN excluded.last_failure ELSE throttles.last_failure END",
        )
        .bind(key)
        .bind(at.as_millis()),
        ThrottleWrite::Reset { key } => {
            Statement::new("DELETE FROM throttles WHERE key = $1").bind(key)
        }
    };
    D::Db::execute(conn, &stmt).await?;
    Ok(())
}

/// Puts or lifts one revocation.
pub async fn apply_revocation<D: Dialect>(
    conn: &mut Conn<D>,
    change: &RevocationChange,
) -> Result<(), AttemptError> {
    let stmt = match change {
        RevocationChange::Put(r) => Statement::new(
            "INSERT INTO revocations (subject, id, issued_before, until) VALUES ($1, $2, $3, $4)
             ON CONFLICT (subject, id) DO UPDATE SET
                issued_before = excluded.issued_before, until = excluded.until",
        )
        .bind(r.subject.as_str())
        .bind(&r.id)
        .bind(r.issued_before.as_millis())
        .bind(r.until.as_millis()),
        RevocationChange::Lift { subject, id } => {
            Statement::new("DELETE FROM revocations WHERE subject = $1 AND id = $2")
                .bind(subject.as_str())
                .bind(id)
        }
    };
    D::Db::execute(conn, &stmt).await?;
    Ok(())
}
