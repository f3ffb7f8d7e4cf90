//! Account administration: create, list, read, enable/disable, password, roles, deletion.

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, NewAccount, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{
    rfc3339, AccountList, AccountListQuery, AccountOut, DeletionOut, NewAccountBody, PasswordBody,
    RevokedOut,
};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// Most accounts one page lists.
const MAX_PAGE: usize = 500;

/// `GET /accounts[?after=&limit=&username=]` (admin).
pub(crate) async fn list<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiQuery(q): ApiQuery<AccountListQuery>,
) -> ApiResult<Json<AccountList>> {
    if let Some(name) = q.username {
        let found: Vec<AccountOut> = st
            .iam
            .account_by_username((&p).into(), &name)
            .await?
            .into_iter()
            .map(AccountOut::from)
            .collect();
        return Ok(Json(found.into()));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let accounts: Vec<AccountOut> = st
        .iam
        .list_accounts((&p).into(), q.after.as_deref(), limit)
        .await?
        .into_iter()
        .map(AccountOut::from)
        .collect();
    Ok(Json(accounts.into()))
}

/// `POST /accounts` (admin).
pub(crate) async fn create<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<NewAccountBody>,
) -> ApiResult<(StatusCode, Json<AccountOut>)> {
    let new = NewAccount {
        username: body.username,
        kind: body.kind,
        password: body.password.map(|s| s.0),
        roles: body.roles,
    };
    let a = st.iam.create_account(new, (&p).into()).await?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

/// `GET /accounts/{id}` (the account itself or an admin).
pub(crate) async fn get_one<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AccountOut>> {
    Ok(Json(st.iam.account((&p).into(), &id).await?.into()))
}

/// `POST /accounts/{id}/disable` (admin).
pub(crate) async fn disable<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AccountOut>> {
    Ok(Json(st.iam.disable_account((&p).into(), &id).await?.into()))
}

/// `POST /accounts/{id}/enable` (admin).
pub(crate) async fn enable<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AccountOut>> {
    Ok(Json(st.iam.enable_account((&p).into(), &id).await?.into()))
}

/// `PUT /accounts/{id}/password` (admin).
pub(crate) async fn set_password<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> ApiResult<Json<AccountOut>> {
    let a = st
        .iam
        .set_password((&p).into(), &id, &body.password.0)
        .await?;
    Ok(Json(a.into()))
}

/// `PUT /accounts/{id}/roles/{role}` (admin).
pub(crate) async fn grant_role<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath((id, role)): ApiPath<(String, String)>,
) -> ApiResult<Json<AccountOut>> {
    Ok(Json(
        st.iam.grant_role((&p).into(), &id, &role).await?.into(),
    ))
}

/// `DELETE /accounts/{id}/roles/{role}` (admin).
pub(crate) async fn revoke_role<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath((id, role)): ApiPath<(String, String)>,
) -> ApiResult<Json<AccountOut>> {
    Ok(Json(
        st.iam.revoke_role((&p).into(), &id, &role).await?.into(),
    ))
}

/// `PUT /accounts/{id}/elevatable-roles/{role}` (admin).
pub(crate) async fn grant_elevatable<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath((id, role)): ApiPath<(String, String)>,
) -> ApiResult<Json<AccountOut>> {
    let a = st
        .iam
        .grant_elevatable_role((&p).into(), &id, &role)
        .await?;
    Ok(Json(a.into()))
}

/// `DELETE /accounts/{id}/elevatable-roles/{role}` (admin).
pub(crate) async fn revoke_elevatable<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath((id, role)): ApiPath<(String, String)>,
) -> ApiResult<Json<AccountOut>> {
    let a = st
        .iam
        .revoke_elevatable_role((&p).into(), &id, &role)
        .await?;
    Ok(Json(a.into()))
}

/// `DELETE /accounts/{id}/totp` (admin): removes another account's TOTP (lost authenticator).
pub(crate) async fn remove_totp<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<AccountOut>> {
    Ok(Json(st.iam.remove_totp((&p).into(), &id).await?.into()))
}

/// `DELETE /accounts/{id}/sessions` (the account itself or an admin): signs it out everywhere.
pub(crate) async fn revoke_sessions<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RevokedOut>> {
    let n = st.iam.revoke_all_sessions((&p).into(), &id).await?;
    Ok(Json(RevokedOut { revoked: n }))
}

/// `POST /accounts/{id}/deletion` (the account itself or an admin): schedules deletion.
pub(crate) async fn schedule_deletion<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<DeletionOut>)> {
    let due = st.iam.schedule_deletion(&p, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeletionOut {
            deletion_due: rfc3339(due),
        }),
    ))
}

/// `DELETE /accounts/{id}/deletion` (the account itself or an admin): cancels it.
pub(crate) async fn cancel_deletion<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.cancel_deletion(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
