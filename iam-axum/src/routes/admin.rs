//! Audit queries and the database-credentials vault.

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::TryStreamExt as _;
use iam_core::{AuditKind, AuditQuery, Clock, Store, Timestamp};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{
    ActiveKeyOut, AuditEventList, AuditEventOut, AuditListQuery, AuditVerifyOut, DbCredentialsBody,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// Most audit events one page lists.
const MAX_AUDIT_PAGE: usize = 1000;

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
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiQuery(q): ApiQuery<AuditListQuery>,
) -> ApiResult<Json<AuditEventList>> {
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
    let events: Vec<AuditEventOut> = st
        .iam
        .audit_events((&p).into(), &query)
        .await?
        .iter()
        .map(AuditEventOut::from)
        .collect();
    Ok(Json(events.into()))
}

/// `GET /audit/verify` (admin): walks the hash chain.
pub(crate) async fn audit_verify<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<AuditVerifyOut>> {
    match st.iam.verify_audit_chain((&p).into()).await {
        Ok(n) => Ok(Json(AuditVerifyOut {
            intact: true,
            events: Some(n),
            broken_at: None,
        })),
        Err(iam_core::Error::AuditChain(b)) => Ok(Json(AuditVerifyOut {
            intact: false,
            events: None,
            broken_at: Some(b.to_string()),
        })),
        Err(e) => Err(e.into()),
    }
}

/// The media type of an audit export (JSON lines).
pub(crate) const AUDIT_EXPORT_TYPE: &str = "application/x-ndjson";

/// `GET /audit/export` (admin): the audit log as JSON lines, ending with a checkpoint of its
/// head signed by the token key, streamed a page at a time. An error mid-way ends the body
/// early, which verification reports as a cut export.
pub(crate) async fn audit_export<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Response> {
    let export = st.iam.export_audit((&p).into()).await?;
    let chunks = futures_util::stream::try_unfold(export, |mut export| async move {
        Ok::<_, iam_core::Error>(export.next_chunk().await?.map(|chunk| (chunk, export)))
    })
    .inspect_err(|e| tracing::error!(error = %e, "audit export ended early"));
    Ok((
        [
            (header::CONTENT_TYPE, AUDIT_EXPORT_TYPE),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"iam-audit.jsonl\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

/// `PUT /accounts/{id}/db-credentials` (admin): stores a system account's credentials.
pub(crate) async fn store_credentials<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DbCredentialsBody>,
) -> ApiResult<StatusCode> {
    st.iam.store_db_credentials(&p, &id, &body.into()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /accounts/{id}/db-credentials`: the account itself or a holder of its role fetches them.
pub(crate) async fn fetch_credentials<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DbCredentialsBody>> {
    let c = st.iam.fetch_db_credentials(&p, &id).await?;
    Ok(Json(c.into()))
}

/// `POST /keys/rotate` (admin): a new signing key becomes active; tokens signed by the old one
/// keep verifying until they expire.
pub(crate) async fn rotate_key<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<ActiveKeyOut>> {
    let active_kid = st.iam.rotate_signing_key((&p).into()).await?;
    Ok(Json(ActiveKeyOut { active_kid }))
}
