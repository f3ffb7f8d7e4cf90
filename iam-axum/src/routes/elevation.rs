//! Elevation ("sudo mode"): request, approve, deny, end.

use std::time::Duration;

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, ElevationOutcome, StepUpProof, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::PasskeyAssertionBody;
use crate::dto::{
    rfc3339, AccessTokenOut, ElevateBody, ElevationOut, ElevationRequestList, ElevationRequestOut,
    ElevationStatusOut, ReauthenticateBody, TokenType,
};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath};

/// `POST /elevation`: opens an elevatable role for the caller's session (200 with a new access
/// token), or files a request that another account must approve (202).
pub(crate) async fn elevate<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<ElevateBody>,
) -> ApiResult<(StatusCode, Json<ElevationStatusOut>)> {
    let proof = StepUpProof {
        password: body.password.map(|s| s.0),
        totp_code: body.totp_code,
        passkey: body.passkey.map(PasskeyAssertionBody::into_assertion),
    };
    let duration = body.duration.map(Duration::from_secs);
    match st.iam.elevate(&p, &body.role, duration, &proof).await? {
        ElevationOutcome::Active {
            elevation,
            access_token,
        } => Ok((
            StatusCode::OK,
            Json(ElevationStatusOut::Active {
                elevation: ElevationOut::from(&elevation),
                access_token: access_token.expose().to_owned(),
                token_type: TokenType::Bearer,
            }),
        )),
        ElevationOutcome::Pending {
            request_id,
            expires_at,
        } => Ok((
            StatusCode::ACCEPTED,
            Json(ElevationStatusOut::Pending {
                request_id,
                expires_at: rfc3339(expires_at),
            }),
        )),
    }
}

/// `POST /reauthenticate`: proves the caller's credentials again; actions that need a recent
/// sign-in (`insufficient_user_authentication`) work with the access token it returns.
pub(crate) async fn reauthenticate<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<ReauthenticateBody>,
) -> ApiResult<Json<AccessTokenOut>> {
    let proof = StepUpProof {
        password: body.password.map(|s| s.0),
        totp_code: body.totp_code,
        passkey: body.passkey.map(PasskeyAssertionBody::into_assertion),
    };
    let token = st.iam.reauthenticate(&p, &proof).await?;
    Ok(Json(AccessTokenOut::bearer(token.expose())))
}

/// `GET /elevation/requests`: pending requests the caller may answer.
pub(crate) async fn pending<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<ElevationRequestList>> {
    let requests: Vec<ElevationRequestOut> = st
        .iam
        .pending_elevations(&p)
        .await?
        .into_iter()
        .map(ElevationRequestOut::from)
        .collect();
    Ok(Json(requests.into()))
}

/// `POST /elevation/requests/{id}/approve`.
pub(crate) async fn approve<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ElevationStatusOut>> {
    let e = st.iam.approve_elevation(&p, &id).await?;
    Ok(Json(ElevationStatusOut::Approved {
        elevation: ElevationOut::from(&e),
    }))
}

/// `POST /elevation/requests/{id}/deny`.
pub(crate) async fn deny<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.deny_elevation(&p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /elevation/{role}`: ends an open elevation of the caller's session early.
pub(crate) async fn end<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(role): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.end_elevation(&p, &role).await?;
    Ok(StatusCode::NO_CONTENT)
}
