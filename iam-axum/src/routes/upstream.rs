//! Upstream identities linked to an account: listed, and unlinked. (Linking goes through the
//! upstream provider in a browser: see the `/account/upstream` pages.)

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{UpstreamLinkList, UpstreamLinkOut};
use crate::error::ApiResult;
use crate::extract::ApiPath;

/// `GET /accounts/{id}/upstream-links`: the upstream identities linked to the account (itself
/// or an admin).
pub(crate) async fn list<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<UpstreamLinkList>> {
    let links: Vec<UpstreamLinkOut> = st
        .iam
        .upstream_links((&p).into(), &id)
        .await?
        .into_iter()
        .map(UpstreamLinkOut::from)
        .collect();
    Ok(Json(links.into()))
}

/// `DELETE /accounts/{id}/upstream-links/{link}`: unlinks one (itself with a session, or an
/// admin).
pub(crate) async fn unlink<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath((id, link)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    st.iam.unlink_upstream((&p).into(), &id, &link).await?;
    Ok(StatusCode::NO_CONTENT)
}
