//! Service-account tokens and personal API tokens.

use std::time::Duration;

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, ServiceToken, Store};
use serde_json::{json, Value};

use super::St;
use crate::auth::RequireAuth;
use crate::dto::{rfc3339, ApiTokenOut, NewApiTokenBody, OwnerQuery};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

fn service_token_json(t: &ServiceToken) -> Json<Value> {
    Json(json!({
        "token": t.token.expose(),
        "token_type": "Bearer",
        "grant_id": t.grant_id,
        "expires_at": rfc3339(t.expires_at),
    }))
}

/// `POST /accounts/{id}/service-token`: issues a system account's token, revoking the old one.
pub(crate) async fn issue_service<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let t = st.iam.issue_service_token(&p, &id).await?;
    Ok((StatusCode::CREATED, service_token_json(&t)))
}

/// `DELETE /accounts/{id}/service-token` (admin).
pub(crate) async fn revoke_service<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.revoke_service_token(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /service-token/renew`: the presenting service token is replaced by a new one.
pub(crate) async fn renew_service<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<Value>> {
    let t = st.iam.renew_service_token(&p).await?;
    Ok(service_token_json(&t))
}

/// `POST /api-tokens`: creates a personal API token; the secret is in this answer only.
pub(crate) async fn create_api<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<NewApiTokenBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let secs = i64::try_from(body.expires_in).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "duration_too_long",
            "expires_in is too large",
        )
    })?;
    let now = st.iam.clock().now();
    let expires_at = now.plus(Duration::from_secs(secs.unsigned_abs()));
    let t = st
        .iam
        .create_api_token(&p, &body.label, &body.scopes, expires_at)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": t.secret.expose(), "info": ApiTokenOut::from(t.info) })),
    ))
}

/// `GET /api-tokens[?account_id=]`: the caller's API tokens, metadata only (an admin may
/// name another account, to find what to revoke).
pub(crate) async fn list_api<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiQuery(q): ApiQuery<OwnerQuery>,
) -> ApiResult<Json<Value>> {
    let account = q.account_id.unwrap_or_else(|| p.account_id.clone());
    let tokens: Vec<ApiTokenOut> = st
        .iam
        .list_api_tokens((&p).into(), &account)
        .await?
        .into_iter()
        .map(ApiTokenOut::from)
        .collect();
    Ok(Json(json!({ "api_tokens": tokens })))
}

/// `DELETE /api-tokens/{id}`: revokes one (its owner or an admin).
pub(crate) async fn revoke_api<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.revoke_api_token((&p).into(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
