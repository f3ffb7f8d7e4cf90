//! Service-account tokens and personal API tokens.

use std::time::Duration;

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{
    ApiTokenList, ApiTokenOut, NewApiTokenBody, NewApiTokenOut, OwnerQuery, ServiceTokenOut,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// `POST /accounts/{id}/service-token`: issues a system account's token, revoking the old one.
pub(crate) async fn issue_service<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<ServiceTokenOut>)> {
    let t = st.iam.issue_service_token(&p, &id).await?;
    Ok((StatusCode::CREATED, Json(ServiceTokenOut::from(&t))))
}

/// `DELETE /accounts/{id}/service-token` (admin).
pub(crate) async fn revoke_service<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.revoke_service_token(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /service-token/renew`: the presenting service token is replaced by a new one.
pub(crate) async fn renew_service<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<ServiceTokenOut>> {
    let t = st.iam.renew_service_token(&p).await?;
    Ok(Json(ServiceTokenOut::from(&t)))
}

/// `POST /api-tokens`: creates a personal API token; the secret is in this answer only.
pub(crate) async fn create_api<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<NewApiTokenBody>,
) -> ApiResult<(StatusCode, Json<NewApiTokenOut>)> {
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
        Json(NewApiTokenOut {
            token: t.secret.expose().to_owned(),
            info: ApiTokenOut::from(t.info),
        }),
    ))
}

/// `GET /api-tokens[?account_id=]`: the caller's API tokens, metadata only (an admin may
/// name another account, to find what to revoke).
pub(crate) async fn list_api<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiQuery(q): ApiQuery<OwnerQuery>,
) -> ApiResult<Json<ApiTokenList>> {
    let account = q.account_id.unwrap_or_else(|| p.account_id.clone());
    let tokens: Vec<ApiTokenOut> = st
        .iam
        .list_api_tokens((&p).into(), &account)
        .await?
        .into_iter()
        .map(ApiTokenOut::from)
        .collect();
    Ok(Json(tokens.into()))
}

/// `DELETE /api-tokens/{id}`: revokes one (its owner or an admin).
pub(crate) async fn revoke_api<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.revoke_api_token((&p).into(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
