//! Unauthenticated routes: health and the public keys.

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, Store};

use crate::dto::{Health, HealthOut, JwkSet, KeyList, PaserkKeyOut};
use crate::error::ApiError;

use super::ApiCtx;

/// `GET /health`: 200 while this instance can check tokens; 503 while its revocation list is
/// not current (a lost feed being reloaded), when every token check fails closed, so a load
/// balancer can send requests elsewhere.
pub(crate) async fn health<S: Store, C: Clock>(st: ApiCtx<S, C>) -> (StatusCode, Json<HealthOut>) {
    let (code, status) = if st.iam.revocation_cache().is_current() {
        (StatusCode::OK, Health::Ok)
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Health::RevocationUnavailable,
        )
    };
    (code, Json(HealthOut { status }))
}

/// `GET /keys`: the token-verification keys as PASERK, active first.
pub(crate) async fn keys<S: Store, C: Clock>(st: ApiCtx<S, C>) -> Json<KeyList> {
    let keys: Vec<PaserkKeyOut> = st
        .iam
        .public_keys()
        .into_iter()
        .map(PaserkKeyOut::from)
        .collect();
    Json(keys.into())
}

/// `GET /keys/jwks.json`: the same keys as JWKs, with the JWT (JOSE) keys, as an RFC 7517 JWK set.
pub(crate) async fn jwks<S: Store, C: Clock>(st: ApiCtx<S, C>) -> Result<Json<JwkSet>, ApiError> {
    Ok(Json(JwkSet::from_document(st.iam.jwks().await?)))
}
