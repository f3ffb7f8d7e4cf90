//! The machine-facing endpoints: token, device authorization, revocation, introspection,
//! metadata, JWKS and WebFinger. Each parses strictly, calls [`iam_core::Iam`], and answers
//! JSON exactly as the RFCs give it.

use std::future::Future;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Extension, RawQuery};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use iam_core::oauth::DeviceAuthorizationResponse;
use iam_core::oauth::TokenTypeHint;
use iam_core::{
    AuthorizationServerMetadata, ClientAuth, Clock, OAuthError, OAuthErrorCode, Store, TokenRequest,
};

use super::form::{basic_auth, form_body, no_repeats, parse_params, single, BasicAuth, Params};
use super::{
    json_error, oauth_error, rate_limited, ClientAddr, OAuthCtx, OAuthState, WebFingerPublication,
    AUTHORIZE_PATH, DEVICE_AUTHORIZATION_PATH, END_SESSION_PATH, INTROSPECT_PATH, JWKS_PATH,
    REVOKE_PATH, TOKEN_PATH, USERINFO_PATH,
};
use crate::dto::{JrdLink, JrdOut, JwkSet};
use crate::rate_limit::Settled;

/// Adds the headers RFC 6749 §5.1 requires on token-bearing answers.
fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Parses a client's form request: content type, strict form, no repeats (but `may_repeat`),
/// and client authentication by Basic, by form fields, or by a client assertion
/// (`client_assertion_type` and `client_assertion`, RFC 7523 §2.2).
fn client_request(
    headers: &HeaderMap,
    body: &[u8],
    may_repeat: &[&str],
) -> Result<(Params, ClientAuth), OAuthError> {
    let params = form_body(headers, body)?;
    no_repeats(&params, may_repeat)?;
    let form_id = single(&params, "client_id")?;
    let form_secret = single(&params, "client_secret")?;
    let assertion_type = single(&params, "client_assertion_type")?;
    let assertion = single(&params, "client_assertion")?;
    let basic = match basic_auth(headers)? {
        BasicAuth::Absent => None,
        // Basic with an empty password names a public client (as some libraries send it).
        BasicAuth::Present(id, secret) if secret.expose().is_empty() => {
            if form_secret.is_some() || assertion.is_some() {
                return Err(OAuthError::invalid_request(
                    "use only one client authentication method",
                ));
            }
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_client());
            }
            return Ok((params, ClientAuth::public(id)));
        }
        BasicAuth::Present(id, secret) => Some((id, secret)),
    };
    let auth = ClientAuth::from_request(basic, form_id, form_secret, assertion_type, assertion)?;
    Ok((params, auth))
}

/// Runs `run` for the client `auth` names, under the per-client limit: a 429 when the
/// client's bucket (or, for a client not yet answered successfully, its network's) is empty.
async fn per_client<S: Store, C: Clock, T>(
    st: &OAuthState<S, C>,
    auth: &ClientAuth,
    ClientAddr(addr): ClientAddr,
    run: impl Future<Output = Result<T, OAuthError>>,
) -> Result<T, Response> {
    let key = st
        .clients
        .admit(&auth.client_id, addr, Instant::now())
        .map_err(|wait| {
            tracing::info!(%addr, "per-client rate limit reached");
            rate_limited(wait, "too many requests for this client; slow down")
        })?;
    let out = run.await;
    let outcome = match &out {
        Ok(_) => Settled::Granted,
        Err(e) if e.code == OAuthErrorCode::InvalidClient => Settled::ClientRefused,
        Err(_) => Settled::Other,
    };
    st.clients
        .settle(&key, &auth.client_id, outcome, Instant::now());
    out.map_err(oauth_error)
}

/// `POST /oauth2/token` (RFC 6749 §3.2, every grant).
pub(crate) async fn token<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    Extension(addr): Extension<ClientAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, auth) = match client_request(&headers, &body, &["resource"]) {
        Ok(v) => v,
        Err(e) => return oauth_error(e),
    };
    let run = async {
        let req = TokenRequest::from_params(&params)?;
        st.iam.token(&auth, &req).await
    };
    match per_client(&st, &auth, addr, run).await {
        Ok(t) => no_store(Json(t).into_response()),
        Err(r) => r,
    }
}

/// Makes the verification URIs of a device response absolute when configured as paths.
fn absolute_device_uris<S: Store, C: Clock>(
    st: &OAuthState<S, C>,
    mut r: DeviceAuthorizationResponse,
) -> DeviceAuthorizationResponse {
    if r.verification_uri.starts_with('/') {
        r.verification_uri = st.url(&r.verification_uri);
    }
    if r.verification_uri_complete.starts_with('/') {
        r.verification_uri_complete = st.url(&r.verification_uri_complete);
    }
    r
}

/// `POST /oauth2/device_authorization` (RFC 8628 §3.1).
pub(crate) async fn device_authorization<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    Extension(addr): Extension<ClientAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, auth) = match client_request(&headers, &body, &["resource"]) {
        Ok(v) => v,
        Err(e) => return oauth_error(e),
    };
    let run = async {
        let resources: Vec<String> = params
            .iter()
            .filter(|(n, _)| n == "resource")
            .map(|(_, v)| v.clone())
            .collect();
        st.iam
            .device_authorization(&auth, single(&params, "scope")?, &resources)
            .await
    };
    match per_client(&st, &auth, addr, run).await {
        Ok(r) => no_store(Json(absolute_device_uris(&st, r)).into_response()),
        Err(r) => r,
    }
}

/// The `token` and `token_type_hint` of a revocation or introspection request.
fn token_and_hint(params: &Params) -> Result<(&str, Option<TokenTypeHint>), OAuthError> {
    let token = single(params, "token")?
        .filter(|t| !t.is_empty())
        .ok_or(OAuthError::invalid_request("token is required"))?;
    let hint = single(params, "token_type_hint")?.and_then(TokenTypeHint::parse);
    Ok((token, hint))
}

/// `POST /oauth2/revoke` (RFC 7009): 200 with an empty body, also for unknown tokens.
pub(crate) async fn revoke<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let (params, auth) = client_request(&headers, &body, &[])?;
        let (token, hint) = token_and_hint(&params)?;
        st.iam.revoke_token(&auth, token, hint).await
    };
    match run.await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => oauth_error(e),
    }
}

/// `POST /oauth2/introspect` (RFC 7662), for confidential clients.
pub(crate) async fn introspect<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let (params, auth) = client_request(&headers, &body, &[])?;
        let (token, hint) = token_and_hint(&params)?;
        st.iam.introspect(&auth, token, hint).await
    };
    match run.await {
        Ok(i) => no_store(Json(i).into_response()),
        Err(e) => oauth_error(e),
    }
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414) and
/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0): one document.
pub(crate) async fn metadata<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
) -> Json<AuthorizationServerMetadata> {
    let mut m = AuthorizationServerMetadata::new(&st.issuer);
    m.authorization_endpoint = st.url(AUTHORIZE_PATH);
    m.token_endpoint = st.url(TOKEN_PATH);
    m.jwks_uri = Some(st.url(JWKS_PATH));
    m.revocation_endpoint = st.url(REVOKE_PATH);
    m.introspection_endpoint = st.url(INTROSPECT_PATH);
    m.device_authorization_endpoint = st.url(DEVICE_AUTHORIZATION_PATH);
    m.userinfo_endpoint = Some(st.url(USERINFO_PATH));
    m.end_session_endpoint = Some(st.url(END_SESSION_PATH));
    Json(m)
}

/// `GET /oauth2/jwks`: the token-verification keys (PASETO Ed25519 and the JWT keys) as an
/// RFC 7517 JWK set.
pub(crate) async fn jwks<S: Store, C: Clock>(st: OAuthCtx<S, C>) -> Response {
    let document = match st.iam.jwks().await {
        Ok(d) => d,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let mut r = Json(JwkSet::from_document(document)).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

/// The relation WebFinger answers with: the account's OpenID issuer.
const ISSUER_REL: &str = "http://openid.net/specs/connect/1.0/issuer";

/// `GET /.well-known/webfinger?resource=acct:user@host[&rel=...]` (RFC 7033): a JRD for
/// published accounts (with [`WebFingerPublication::All`], the existing, enabled accounts of
/// this host); the same 404 for anything else, whether or not the account exists.
pub(crate) async fn webfinger<S: Store, C: Clock>(
    st: OAuthCtx<S, C>,
    RawQuery(query): RawQuery,
) -> Response {
    let not_found = || json_error(StatusCode::NOT_FOUND, "not_found", "no such resource");
    let params = match parse_params(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return oauth_error(e),
    };
    let resource = match single(&params, "resource") {
        Ok(Some(r)) if !r.is_empty() => r,
        Ok(_) => return oauth_error(OAuthError::invalid_request("resource is required")),
        Err(e) => return oauth_error(e),
    };
    let Some(acct) = resource.strip_prefix("acct:") else {
        return not_found();
    };
    let Some((user, host)) = acct.rsplit_once('@') else {
        return not_found();
    };
    let Some(user) = super::form::decode_component(&user.replace('+', "%2B")) else {
        return not_found();
    };
    if user.is_empty() || user.len() > 256 || !host.eq_ignore_ascii_case(&st.host) {
        return not_found();
    }
    // Nothing is published: answer before any lookup, so neither the answer nor its timing
    // depends on whether the account exists.
    if st.webfinger == WebFingerPublication::Off {
        return not_found();
    }
    match st
        .iam
        .account_by_username(iam_core::Caller::System, &user)
        .await
    {
        Ok(Some(a)) if !a.disabled => {}
        Ok(_) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "webfinger lookup failed");
            return json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "the server failed to handle the request",
            );
        }
    }
    let rels: Vec<&str> = params
        .iter()
        .filter(|(n, _)| n == "rel")
        .map(|(_, v)| v.as_str())
        .collect();
    let links: Vec<JrdLink> = if rels.is_empty() || rels.contains(&ISSUER_REL) {
        vec![JrdLink {
            rel: ISSUER_REL.to_owned(),
            href: st.issuer.clone(),
        }]
    } else {
        vec![]
    };
    let body = JrdOut {
        subject: resource.to_owned(),
        links,
    };
    let mut r = Json(body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jrd+json"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}
