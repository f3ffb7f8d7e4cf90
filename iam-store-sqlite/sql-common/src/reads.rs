//! The read calls of [`Store`](iam_core::Store), each on a pooled connection.

use iam_core::audit::{AuditEvent, AuditQuery};
use iam_core::revocation::Revocation;
use iam_core::store::{ListQuery, Record, RecordKind, StoreResult, ThrottleState};
use sqlx::pool::PoolConnection;
use sqlx::Pool;

use crate::dialect::{Conn, Dialect, RowOf, SqlDatabase};
use crate::rows::{
    self, to_db_count, AUDIT_COLUMNS, RECORD_COLUMNS, REVOCATION_COLUMNS, THROTTLE_COLUMNS,
};
use crate::statement::Statement;

async fn acquire<D: Dialect>(pool: &Pool<D::Db>) -> StoreResult<PoolConnection<D::Db>> {
    pool.acquire().await.map_err(|e| D::backend(&e))
}

async fn fetch_optional<D: Dialect>(
    conn: &mut Conn<D>,
    stmt: &Statement<'_>,
) -> StoreResult<Option<RowOf<D>>> {
    D::Db::fetch_optional(conn, stmt)
        .await
        .map_err(|e| D::backend(&e))
}

async fn fetch_all<D: Dialect>(
    pool: &Pool<D::Db>,
    stmt: &Statement<'_>,
) -> StoreResult<Vec<RowOf<D>>> {
    let mut conn = acquire::<D>(pool).await?;
    D::Db::fetch_all(&mut conn, stmt)
        .await
        .map_err(|e| D::backend(&e))
}

/// The record of `kind` whose `column` (`id` or `lookup`) holds `value`.
async fn record_by<D: Dialect>(
    pool: &Pool<D::Db>,
    kind: RecordKind,
    column: &str,
    value: &str,
) -> StoreResult<Option<Record>> {
    let stmt = Statement::new(format!(
        "SELECT {RECORD_COLUMNS} FROM records WHERE kind = $1 AND {column} = $2"
    ))
    .bind(kind.as_str())
    .bind(value);
    let mut conn = acquire::<D>(pool).await?;
    fetch_optional::<D>(&mut conn, &stmt)
        .await?
        .as_ref()
        .map(rows::record::<D>)
        .transpose()
}

/// [`Store::get`](iam_core::Store::get): the record of `kind` with `id`.
pub async fn get<D: Dialect>(
    pool: &Pool<D::Db>,
    kind: RecordKind,
    id: &str,
) -> StoreResult<Option<Record>> {
    record_by::<D>(pool, kind, "id", id).await
}

/// [`Store::find`](iam_core::Store::find): the record of `kind` with `lookup`.
pub async fn find<D: Dialect>(
    pool: &Pool<D::Db>,
    kind: RecordKind,
    lookup: &str,
) -> StoreResult<Option<Record>> {
    record_by::<D>(pool, kind, "lookup", lookup).await
}

/// [`Store::list`](iam_core::Store::list): records of `kind` as `query` selects, ordered by id.
pub async fn list<D: Dialect>(
    pool: &Pool<D::Db>,
    kind: RecordKind,
    query: &ListQuery,
) -> StoreResult<Vec<Record>> {
    let mut stmt = Statement::new(format!(
        "SELECT {RECORD_COLUMNS} FROM records WHERE kind = "
    ));
    stmt.push_bind(kind.as_str());
    if let Some(parent) = &query.parent {
        stmt.push(" AND parent = ").push_bind(parent);
    }
    if let Some(after) = &query.after {
        stmt.push(" AND id > ").push_bind(after);
    }
    stmt.push(" ORDER BY id");
    if let Some(limit) = query.limit {
        stmt.push(" LIMIT ").push_bind(to_db_count(limit));
    }
    fetch_all::<D>(pool, &stmt)
        .await?
        .iter()
        .map(rows::record::<D>)
        .collect()
}

/// The throttle counter for `key`, read on `conn` (inside a transaction, say).
pub async fn throttle_on<D: Dialect>(
    conn: &mut Conn<D>,
    key: &str,
) -> StoreResult<Option<ThrottleState>> {
    let stmt = Statement::new(format!(
        "SELECT {THROTTLE_COLUMNS} FROM throttles WHERE key = $1"
    ))
    .bind(key);
    fetch_optional::<D>(conn, &stmt)
        .await?
        .as_ref()
        .map(rows::throttle::<D>)
        .transpose()
}

/// [`Store::throttle`](iam_core::Store::throttle): the throttle counter for `key`.
pub async fn throttle<D: Dialect>(
    pool: &Pool<D::Db>,
    key: &str,
) -> StoreResult<Option<ThrottleState>> {
    let mut conn = acquire::<D>(pool).await?;
    throttle_on::<D>(&mut conn, key).await
}

/// [`Store::audit`](iam_core::Store::audit): the audit events `query` selects, in chain order.
pub async fn audit<D: Dialect>(
    pool: &Pool<D::Db>,
    query: &AuditQuery,
) -> StoreResult<Vec<AuditEvent>> {
    let mut stmt = Statement::new(format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE TRUE"));
    if let Some(account) = &query.account {
        stmt.push(" AND account = ").push_bind(account);
    }
    if let Some(kind) = query.kind {
        stmt.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(from) = query.from {
        stmt.push(" AND at >= ").push_bind(from.as_millis());
    }
    if let Some(to) = query.to {
        stmt.push(" AND at < ").push_bind(to.as_millis());
    }
    if let Some(after) = query.after_seq {
        stmt.push(" AND seq > ")
            .push_bind(i64::try_from(after).unwrap_or(i64::MAX));
    }
    stmt.push(" ORDER BY seq");
    if let Some(limit) = query.limit {
        stmt.push(" LIMIT ").push_bind(to_db_count(limit));
    }
    fetch_all::<D>(pool, &stmt)
        .await?
        .iter()
        .map(rows::audit_event::<D>)
        .collect()
}

/// [`Store::revocations`](iam_core::Store::revocations): every stored revocation.
pub async fn revocations<D: Dialect>(pool: &Pool<D::Db>) -> StoreResult<Vec<Revocation>> {
    let stmt = Statement::new(format!("SELECT {REVOCATION_COLUMNS} FROM revocations"));
    fetch_all::<D>(pool, &stmt)
        .await?
        .iter()
        .map(|row| rows::revocation_at::<D>(row, 0))
        .collect()
}
