//! OAuth client registry: register, list, read, rotate a secret, disable.

use axum::http::StatusCode;
use axum::Json;
use iam_core::oauth::{ClientJwks, ClientKind, GrantType, NewClient, OAuthClient};
use iam_core::oidc::OidcClientSettings;
use iam_core::{Clock, InvalidInput, Store};

use super::ApiCtx;
use crate::auth::RequireAuth;
use crate::dto::{
    ClientDisabledOut, ClientList, ClientSecretOut, NewClientBody, RegisteredClientOut,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};

/// `POST /clients`: registers a client (admins; any session for a client acting for its
/// owner). The secret of a confidential client is in this answer only.
pub(crate) async fn register<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<NewClientBody>,
) -> ApiResult<(StatusCode, Json<RegisteredClientOut>)> {
    let mut new = match body.kind {
        ClientKind::Confidential => NewClient::confidential(body.name),
        ClientKind::Public => NewClient::public(body.name),
    };
    new.redirect_uris = body.redirect_uris;
    new.grant_types = body
        .grant_types
        .iter()
        .map(|g| {
            GrantType::parse(g)
                .ok_or_else(|| ApiError::bad_request(format!("unknown grant type {g:?}")))
        })
        .collect::<ApiResult<_>>()?;
    new.scopes = body.scopes;
    new.resources = body.resources;
    if let Some(pkce) = body.require_pkce {
        new.require_pkce = pkce;
    }
    new.acts_for_owner = body.acts_for_owner;
    new.first_party = body.first_party;
    new.oidc = OidcClientSettings {
        id_token_signed_response_alg: body.id_token_signed_response_alg.unwrap_or_default(),
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        default_max_age: body.default_max_age,
        access_token_format: body.access_token_format.unwrap_or_default(),
        backchannel_logout_uri: body.backchannel_logout_uri,
        backchannel_logout_session_required: body
            .backchannel_logout_session_required
            .unwrap_or(true),
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        jwks: body
            .jwks
            .as_ref()
            .map(ClientJwks::from_json)
            .transpose()
            .map_err(|why| {
                ApiError::from(iam_core::Error::Invalid(InvalidInput::OAuthClient(why)))
            })?,
    };
    let registered = st.iam.register_client(&p, new).await?;
    let client_secret = registered
        .client_secret
        .as_ref()
        .map(|s| s.expose().to_owned());
    Ok((
        StatusCode::CREATED,
        Json(RegisteredClientOut {
            client: registered.client,
            client_secret,
        }),
    ))
}

/// `GET /clients` (admin).
pub(crate) async fn list<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<ClientList>> {
    let clients: Vec<OAuthClient> = st.iam.list_oauth_clients((&p).into()).await?;
    Ok(Json(clients.into()))
}

/// `GET /clients/{id}` (admins and the registering account).
pub(crate) async fn get_one<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OAuthClient>> {
    Ok(Json(st.iam.oauth_client((&p).into(), &id).await?))
}

/// `POST /clients/{id}/secret`: rotates a confidential client's secret; the old one keeps
/// working for the configured grace period. The new secret is in this answer only.
pub(crate) async fn rotate_secret<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ClientSecretOut>> {
    let secret = st.iam.rotate_client_secret(&p, &id).await?;
    Ok(Json(ClientSecretOut {
        client_secret: secret.expose().to_owned(),
    }))
}

/// `POST /clients/{id}/disable`: the client can no longer authenticate and its tokens stop
/// verifying at once.
pub(crate) async fn disable<S: Store, C: Clock>(
    st: ApiCtx<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ClientDisabledOut>> {
    let revoked_token_families = st.iam.disable_client(&p, &id).await?;
    Ok(Json(ClientDisabledOut {
        revoked_token_families,
    }))
}
