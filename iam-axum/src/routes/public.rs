//! Unauthenticated routes: health and the public keys.

use axum::Json;
use iam_core::{Clock, Store};
use serde_json::{json, Value};

use super::St;

/// `GET /health`.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
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
