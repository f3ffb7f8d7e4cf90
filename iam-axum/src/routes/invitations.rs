//! Invitations: single-use links with which a new person creates an account.

use std::time::Duration;

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, NewInvitation, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{InvitationList, InvitationOut, NewInvitationBody, NewInvitationOut};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// `POST /invitations`: creates an invitation; its secret is in this answer only.
pub(crate) async fn create<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<NewInvitationBody>,
) -> ApiResult<(StatusCode, Json<NewInvitationOut>)> {
    let new = NewInvitation {
        roles: body.roles,
        org_id: body.org_id,
        org_role: body.org_role,
        ttl: body.expires_in.map(Duration::from_secs),
    };
    let created = st.iam.create_invitation((&p).into(), &new).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewInvitationOut {
            secret: created.secret.expose().to_owned(),
            invitation: created.invitation.into(),
        }),
    ))
}

/// `GET /invitations`: every invitation for admins, an inviter's own otherwise.
pub(crate) async fn list<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<InvitationList>> {
    let list: Vec<InvitationOut> = st
        .iam
        .list_invitations((&p).into())
        .await?
        .into_iter()
        .map(InvitationOut::from)
        .collect();
    Ok(Json(list.into()))
}

/// `DELETE /invitations/{id}`: revokes an open invitation (its creator or an admin).
pub(crate) async fn revoke<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.revoke_invitation((&p).into(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
