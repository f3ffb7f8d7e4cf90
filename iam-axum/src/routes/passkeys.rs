//! Passkeys: registration and management for the signed-in account, passwordless or
//! second-factor sign-in, and the step-up challenge. The credential JSON a browser produced is
//! handed to iam-core as it came, which parses and checks it.

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, LoginRequest, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{
    AccountOut, LoginOut, OwnerQuery, PasskeyChallengeOut, PasskeyLabelBody, PasskeyList,
    PasskeyLoginBody, PasskeyOut, TokensOut, WebauthnCredential,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

/// `POST /passkeys/registration`: starts registering a passkey for the caller (a recent
/// session).
pub(crate) async fn start_registration<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<PasskeyLabelBody>,
) -> ApiResult<Json<PasskeyChallengeOut>> {
    let challenge = st.iam.start_passkey_registration(&p, &body.label).await?;
    Ok(Json(challenge.into()))
}

/// `POST /passkeys/registration/{ceremony}`: finishes it with the browser's credential.
pub(crate) async fn finish_registration<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(ceremony): ApiPath<String>,
    ApiJson(credential): ApiJson<WebauthnCredential>,
) -> ApiResult<(StatusCode, Json<PasskeyOut>)> {
    let json = credential.0.to_string();
    let info = st
        .iam
        .finish_passkey_registration(&p, &ceremony, &json)
        .await?;
    Ok((StatusCode::CREATED, Json(info.into())))
}

/// `GET /passkeys`: the caller's passkeys (admins: another account's).
pub(crate) async fn list<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiQuery(q): ApiQuery<OwnerQuery>,
) -> ApiResult<Json<PasskeyList>> {
    let account = q.account_id.unwrap_or_else(|| p.account_id.clone());
    let list: Vec<PasskeyOut> = st
        .iam
        .list_passkeys((&p).into(), &account)
        .await?
        .into_iter()
        .map(PasskeyOut::from)
        .collect();
    Ok(Json(list.into()))
}

/// `PATCH /passkeys/{id}`: renames a passkey.
pub(crate) async fn rename<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PasskeyLabelBody>,
) -> ApiResult<Json<PasskeyOut>> {
    let info = st.iam.rename_passkey((&p).into(), &id, &body.label).await?;
    Ok(Json(info.into()))
}

/// `DELETE /passkeys/{id}`: removes a passkey.
pub(crate) async fn remove<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    st.iam.remove_passkey((&p).into(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /passkeys/step-up`: a challenge one of the caller's passkeys answers, for
/// `POST /reauthenticate` or `POST /elevation`.
pub(crate) async fn step_up<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<PasskeyChallengeOut>> {
    let challenge = st.iam.start_passkey_step_up(&p).await?;
    Ok(Json(challenge.into()))
}

/// `POST /login/passkey`: starts a passkey sign-in (passwordless, or after the password).
pub(crate) async fn start_login<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    ApiJson(body): ApiJson<PasskeyLoginBody>,
) -> ApiResult<Json<PasskeyChallengeOut>> {
    let request = password_first(body)?;
    let challenge = st.iam.start_passkey_login(request.as_ref()).await?;
    Ok(Json(challenge.into()))
}

/// The password a passkey sign-in checks first, if the body gives one (both username and
/// password, or neither).
pub(crate) fn password_first(body: PasskeyLoginBody) -> Result<Option<LoginRequest>, ApiError> {
    match (body.username, body.password) {
        (Some(username), Some(password)) => Ok(Some(LoginRequest::password(username, password.0))),
        (None, None) => Ok(None),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "give both username and password, or neither",
        )),
    }
}

/// `POST /login/passkey/{ceremony}`: finishes a passkey sign-in; answers like `POST /login`.
pub(crate) async fn finish_login<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    ApiPath(ceremony): ApiPath<String>,
    ApiJson(credential): ApiJson<WebauthnCredential>,
) -> ApiResult<Json<LoginOut>> {
    let json = credential.0.to_string();
    let ok = st.iam.finish_passkey_login(&ceremony, &json).await?;
    Ok(Json(LoginOut {
        tokens: TokensOut::from(&ok.tokens),
        account: AccountOut::from(ok.account),
    }))
}
