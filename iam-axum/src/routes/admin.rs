//! Audit queries and the database-credentials vault.

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::Json;
use iam_core::{AuditEvent, AuditKind, AuditQuery, Clock, DbCredentials, Store, Timestamp};
use serde_json::{json, Value};

use super::St;
use crate::auth::RequireAuth;
use crate::dto::{rfc3339, AuditListQuery, DbCredentialsBody};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// Most audit events one page lists.
const MAX_AUDIT_PAGE: usize = 1000;

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn event_json(e: &AuditEvent) -> Value {
    let d = &e.draft;
    json!({
        "seq": e.seq,
        "at": rfc3339(d.at),
        "kind": d.kind.as_str(),
        "actor": d.actor,
        "account": d.account,
        "session": d.session,
        "detail": d.detail,
        "prev_hash": hex(&e.prev_hash),
        "hash": hex(&e.hash),
    })
}

fn time_param(name: &str, value: Option<&str>) -> ApiResult<Option<Timestamp>> {
    value
        .map(|v| {
            Timestamp::parse_rfc3339(v).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("{name} must be an RFC 3339 time"),
                )
            })
        })
        .transpose()
}

/// `GET /audit[?account=&kind=&from=&to=&after_seq=&limit=]` (admin).
pub(crate) async fn audit<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiQuery(q): ApiQuery<AuditListQuery>,
) -> ApiResult<Json<Value>> {
    let kind = match q.kind.as_deref() {
        Some(k) => Some(AuditKind::parse(k).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "unknown audit kind",
            )
        })?),
        None => None,
    };
    let query = AuditQuery {
        account: q.account,
        kind,
        from: time_param("from", q.from.as_deref())?,
        to: time_param("to", q.to.as_deref())?,
        after_seq: q.after_seq,
        limit: Some(q.limit.unwrap_or(100).clamp(1, MAX_AUDIT_PAGE)),
    };
    let events: Vec<Value> = st
        .iam
        .audit_events((&p).into(), &query)
        .await?
        .iter()
        .map(event_json)
        .collect();
    Ok(Json(json!({ "events": events })))
}

/// `GET /audit/verify` (admin): walks the hash chain.
pub(crate) async fn audit_verify<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<Value>> {
    match st.iam.verify_audit_chain((&p).into()).await {
        Ok(n) => Ok(Json(json!({ "intact": true, "events": n }))),
        Err(iam_core::Error::AuditChain(b)) => {
            Ok(Json(json!({ "intact": false, "break": b.to_string() })))
        }
        Err(e) => Err(e.into()),
    }
}

/// `PUT /accounts/{id}/db-credentials` (admin): stores a system account's credentials.
pub(crate) async fn store_credentials<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DbCredentialsBody>,
) -> ApiResult<StatusCode> {
    let creds = DbCredentials {
        host: body.host,
        port: body.port,
        database: body.database,
        user: body.user,
        password: body.password.0,
    };
    st.iam.store_db_credentials(&p, &id, &creds).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /accounts/{id}/db-credentials`: the account itself or a holder of its role fetches them.
pub(crate) async fn fetch_credentials<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let c = st.iam.fetch_db_credentials(&p, &id).await?;
    Ok(Json(json!({
        "host": c.host,
        "port": c.port,
        "database": c.database,
        "user": c.user,
        "password": c.password.expose(),
    })))
}

/// `POST /keys/rotate` (admin): a new signing key becomes active; tokens signed by the old one
/// keep verifying until they expire.
pub(crate) async fn rotate_key<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<Value>> {
    let kid = st.iam.rotate_signing_key((&p).into()).await?;
    Ok(Json(json!({ "active_kid": kid })))
}
