//! Organizations and memberships.

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{
    AccessTokenOut, MemberBody, MemberList, MembershipList, MembershipOut, NewOrgBody, OrgOut,
};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// `POST /orgs`: creates an organization; the caller becomes its owner.
pub(crate) async fn create<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<NewOrgBody>,
) -> ApiResult<(StatusCode, Json<OrgOut>)> {
    let org = st.iam.create_organization(&p, &body.name).await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

/// `GET /orgs/{id}`.
pub(crate) async fn get_one<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(_p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OrgOut>> {
    Ok(Json(st.iam.organization(&id).await?.into()))
}

/// `GET /orgs/{id}/members`.
pub(crate) async fn members<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MemberList>> {
    let members: Vec<MembershipOut> = st
        .iam
        .members_of((&p).into(), &id)
        .await?
        .into_iter()
        .map(MembershipOut::from)
        .collect();
    Ok(Json(members.into()))
}

/// `PUT /orgs/{id}/members/{account_id}` (admins and owners).
pub(crate) async fn set_member<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath((org, account)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<MemberBody>,
) -> ApiResult<Json<MembershipOut>> {
    let m = st
        .iam
        .set_membership(&p, &org, &account, &body.role)
        .await?;
    Ok(Json(m.into()))
}

/// `DELETE /orgs/{id}/members/{account_id}` (admins and owners).
pub(crate) async fn remove_member<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath((org, account)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    st.iam.remove_member(&p, &org, &account).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /orgs/{id}/accept`: the caller accepts an owner's invitation to the organization.
pub(crate) async fn accept<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.answer_invitation(&p, &org, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /orgs/{id}/decline`: the caller declines an owner's invitation to the organization.
pub(crate) async fn decline<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.answer_invitation(&p, &org, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /orgs/{id}/token`: an access token scoped to the organization.
pub(crate) async fn org_token<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(org): ApiPath<String>,
) -> ApiResult<Json<AccessTokenOut>> {
    let t = st.iam.org_token(&p, &org).await?;
    Ok(Json(AccessTokenOut::bearer(t.expose())))
}

/// `GET /accounts/{id}/memberships` (the account itself or an admin).
pub(crate) async fn memberships_of<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MembershipList>> {
    let ms: Vec<MembershipOut> = st
        .iam
        .memberships_of((&p).into(), &id)
        .await?
        .into_iter()
        .map(MembershipOut::from)
        .collect();
    Ok(Json(ms.into()))
}
