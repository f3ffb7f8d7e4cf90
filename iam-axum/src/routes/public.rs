//! Unauthenticated routes: health and the public keys.

use axum::http::StatusCode;
use axum::Json;
use iam_core::{Clock, Store};
use serde_json::{json, Value};

use super::St;

/// `GET /health`: 200 while this instance can check tokens; 503 while its revocation list is
/// not current (a lost feed being reloaded), when every token check fails closed, so a load
/// balancer can send requests elsewhere.
pub(crate) async fn health<S: Store, C: Clock>(st: St<S, C>) -> (StatusCode, Json<Value>) {
    if st.iam.revocation_cache().is_current() {
        (StatusCode::OK, Json(json!({ "status": "ok" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "revocation_unavailable" })),
        )
    }
}

/// `GET /keys`: the token-verification keys as PASERK, active first.
pub(crate) async fn keys<S: Store, C: Clock>(st: St<S, C>) -> Json<Value> {
    let keys: Vec<Value> = st
        .iam
        .public_keys()
        .into_iter()
        .map(|k| json!({ "kid": k.kid, "paserk": k.paserk, "active": k.active }))
        .collect();
    Json(json!({ "keys": keys }))
}

/// `GET /keys/jwks.json`: the same keys as an RFC 8037 OKP JWK set.
pub(crate) async fn jwks<S: Store, C: Clock>(st: St<S, C>) -> Json<Value> {
    let keys: Vec<Value> = st.iam.public_keys().into_iter().map(|k| k.jwk).collect();
    Json(json!({ "keys": keys }))
}
