//! Login, refresh, logout, whoami, sessions and the caller's own TOTP.

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, LoginRequest, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{
    AccountOut, ChangePasswordBody, LoginBody, LoginOut, OwnerQuery, PrincipalOut, RefreshBody,
    RevokedOut, SessionList, SessionOut, TokensOut, TotpCodeBody, TotpEnrolmentOut,
};
use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// `POST /login`: password (and TOTP code once TOTP is on) for a session and a token pair.
pub(crate) async fn login<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Json<LoginOut>> {
    let mut req = LoginRequest::password(body.username, body.password.0);
    req.totp_code = body.totp_code;
    let ok = st.iam.login(&req).await?;
    Ok(Json(LoginOut {
        tokens: TokensOut::from(&ok.tokens),
        account: AccountOut::from(ok.account),
    }))
}

/// `POST /refresh`: rotates the refresh token.
pub(crate) async fn refresh<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> ApiResult<Json<TokensOut>> {
    let pair = st.iam.refresh(body.refresh_token.0.expose()).await?;
    Ok(Json(TokensOut::from(&pair)))
}

/// `POST /logout`: ends the caller's session.
pub(crate) async fn logout<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<StatusCode> {
    st.iam.logout(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /whoami`: what the caller's token says.
pub(crate) async fn whoami(RequireAuth(p): RequireAuth) -> Json<PrincipalOut> {
    Json(PrincipalOut::from(p))
}

/// `GET /sessions[?account_id=]`: the caller's sessions (an admin may name another account).
pub(crate) async fn list_sessions<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiQuery(q): ApiQuery<OwnerQuery>,
) -> ApiResult<Json<SessionList>> {
    let account = q.account_id.unwrap_or_else(|| p.account_id.clone());
    let sessions: Vec<SessionOut> = st
        .iam
        .list_sessions((&p).into(), &account)
        .await?
        .iter()
        .map(|s| SessionOut::new(s, &p.session_id))
        .collect();
    Ok(Json(sessions.into()))
}

/// `DELETE /sessions/{id}`: revokes one of the caller's sessions (admins: anyone's).
pub(crate) async fn revoke_session<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.revoke_session((&p).into(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /sessions`: signs the caller out everywhere.
pub(crate) async fn revoke_all_own<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<RevokedOut>> {
    let n = st
        .iam
        .revoke_all_sessions((&p).into(), &p.account_id)
        .await?;
    Ok(Json(RevokedOut { revoked: n }))
}

/// `POST /totp/enrol`: starts TOTP enrolment for the caller; the secret is shown once.
pub(crate) async fn totp_enrol<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<(StatusCode, Json<TotpEnrolmentOut>)> {
    let e = st.iam.enrol_totp((&p).into(), &p.account_id).await?;
    Ok((StatusCode::CREATED, Json(TotpEnrolmentOut::from(&e))))
}

/// `POST /totp/confirm`: confirms enrolment with a first code.
pub(crate) async fn totp_confirm<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<TotpCodeBody>,
) -> ApiResult<Json<AccountOut>> {
    let a = st
        .iam
        .confirm_totp((&p).into(), &p.account_id, &body.code)
        .await?;
    Ok(Json(a.into()))
}

/// `PUT /password`: changes the caller's password, given the current one.
pub(crate) async fn change_password<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> ApiResult<Json<AccountOut>> {
    let a = st
        .iam
        .change_own_password(&p, &body.current_password.0, &body.new_password.0)
        .await?;
    Ok(Json(a.into()))
}

/// `DELETE /totp`: removes the caller's TOTP.
pub(crate) async fn totp_remove<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<AccountOut>> {
    let a = st.iam.remove_totp((&p).into(), &p.account_id).await?;
    Ok(Json(a.into()))
}
