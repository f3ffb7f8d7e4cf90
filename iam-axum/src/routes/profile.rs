//! Profiles: an admin sets any account's name and email, an account its own name.

use axum::Json;
use iam_core::{Clock, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{AccountOut, OwnProfileBody, ProfileBody};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// `PATCH /accounts/{id}/profile` (admin): name, email, email verified.
pub(crate) async fn update<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ProfileBody>,
) -> ApiResult<Json<AccountOut>> {
    let a = st
        .iam
        .update_profile((&p).into(), &id, &body.into())
        .await?;
    Ok(Json(a.into()))
}

/// `PATCH /profile` (the caller's session): its own name.
pub(crate) async fn update_own<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<OwnProfileBody>,
) -> ApiResult<Json<AccountOut>> {
    let a = st.iam.set_own_name(&p, body.name.as_deref()).await?;
    Ok(Json(a.into()))
}
