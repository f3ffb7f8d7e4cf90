//! OAuth client registry: register, list, read, rotate a secret, disable.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use axum::Json;
use iam_core::oauth::{ClientKind, GrantType, NewClient, OAuthClient};
use iam_core::{Clock, Store};
use serde::Deserialize;
use serde_json::{json, Value};

use super::St;
use crate::auth::RequireAuth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath};

/// The body of `POST /clients`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewClientBody {
    name: String,
    kind: ClientKind,
    #[serde(default)]
    redirect_uris: Vec<String>,
    /// `grant_type` values (`authorization_code`, `client_credentials`, ...).
    grant_types: Vec<String>,
    #[serde(default)]
    scopes: BTreeSet<String>,
    #[serde(default)]
    resources: BTreeSet<String>,
    require_pkce: Option<bool>,
    #[serde(default)]
    acts_for_owner: bool,
    /// First-party clients (admins only) may be granted `iam:manage`.
    #[serde(default)]
    first_party: bool,
}

/// `POST /clients`: registers a client (admins; any session for a client acting for its
/// owner). The secret of a confidential client is in this answer only.
pub(crate) async fn register<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiJson(body): ApiJson<NewClientBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
    let registered = st.iam.register_client(&p, new).await?;
    let secret = registered
        .client_secret
        .as_ref()
        .map(|s| s.expose().to_owned());
    Ok((
        StatusCode::CREATED,
        Json(json!({ "client": registered.client, "client_secret": secret })),
    ))
}

/// `GET /clients` (admin).
pub(crate) async fn list<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
) -> ApiResult<Json<Value>> {
    let clients: Vec<OAuthClient> = st.iam.list_oauth_clients((&p).into()).await?;
    Ok(Json(json!({ "clients": clients })))
}

/// `GET /clients/{id}` (admins and the registering account).
pub(crate) async fn get_one<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OAuthClient>> {
    Ok(Json(st.iam.oauth_client((&p).into(), &id).await?))
}

/// `POST /clients/{id}/secret`: rotates a confidential client's secret; the old one keeps
/// working for the configured grace period. The new secret is in this answer only.
pub(crate) async fn rotate_secret<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let secret = st.iam.rotate_client_secret(&p, &id).await?;
    Ok(Json(json!({ "client_secret": secret.expose() })))
}

/// `POST /clients/{id}/disable`: the client can no longer authenticate and its tokens stop
/// verifying at once.
pub(crate) async fn disable<S: Store, C: Clock>(
    st: St<S, C>,
    RequireAuth(p): RequireAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let revoked = st.iam.disable_client(&p, &id).await?;
    Ok(Json(json!({ "revoked_token_families": revoked })))
}
