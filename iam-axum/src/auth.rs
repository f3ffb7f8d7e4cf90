//! Bearer-token authentication for axum: the [`IamAuth`] layer that makes a verifier available,
//! the [`RequireAuth`] extractor, and the [`RequireRole`], [`RequireScope`] and
//! [`RequireAuthLayer`] route layers.
//!
//! # How the pieces fit
//! - [`IamAuth::new(iam)`](IamAuth::new) is a tower layer put around the app (`.layer(..)`). It
//!   only stores the verifier in the request extensions; it refuses nothing.
//! - [`RequireAuth`] is an extractor: a handler taking `RequireAuth(principal)` answers 401
//!   (`WWW-Authenticate: Bearer error="invalid_token"`) unless the request carries a valid
//!   PASETO access token or personal API token (`iam_pat_…`).
//! - [`RequireRole("x")`](RequireRole), [`RequireScope("y")`](RequireScope) and
//!   [`RequireAuthLayer`] are route layers (`.route_layer(..)`) that verify the token, answer
//!   401/403 (`error="insufficient_scope"`), and leave the [`Principal`] in the request
//!   extensions, where [`RequireAuth`] then finds it without verifying again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use iam_core::{Clock, Denial, Iam, Principal, Store, API_TOKEN_PREFIX};
use tower::{Layer, Service};

use crate::error::ApiError;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Checks bearer tokens. Implemented for every [`Iam`]; object-safe so that extractors work
/// with any store and clock.
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token` (a PASETO access token or a personal API token).
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Denial>>;

    /// Verifies with no I/O if possible: `Some` when decided without the store.
    fn verify_fast(&self, token: &str) -> Option<Result<Principal, Denial>>;

    /// Like [`TokenVerifier::verify_fast`], sharing the principal (no copy for cached tokens).
    fn verify_fast_shared(&self, token: &str) -> Option<Result<Arc<Principal>, Denial>> {
        self.verify_fast(token).map(|r| r.map(Arc::new))
    }
}

impl<S: Store, C: Clock> TokenVerifier for Iam<S, C> {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Denial>> {
        Box::pin(async move {
            if token.starts_with(API_TOKEN_PREFIX) {
                self.verify_api_token(token).await
            } else {
                Iam::verify(self, token).await
            }
        })
    }

    fn verify_fast(&self, token: &str) -> Option<Result<Principal, Denial>> {
        if token.starts_with(API_TOKEN_PREFIX) {
            return None;
        }
        match self.verify_cached(token) {
            Err(Denial::TokenUnknownKey) => None,
            other => Some(other),
        }
    }
}

/// Verifies access tokens meant for one audience other than iam's own (see
/// [`IamAuth::for_audience`]). Personal API tokens are iam's own and are refused unless
/// `audience` is iam's.
struct AudienceVerifier<S: Store, C: Clock> {
    iam: Iam<S, C>,
    audience: String,
}

impl<S: Store, C: Clock> AudienceVerifier<S, C> {
    fn api_token_allowed(&self) -> Result<(), Denial> {
        if self.audience == self.iam.config().audience {
            Ok(())
        } else {
            Err(Denial::TokenWrongAudience)
        }
    }
}

impl<S: Store, C: Clock> TokenVerifier for AudienceVerifier<S, C> {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Principal, Denial>> {
        Box::pin(async move {
            if token.starts_with(API_TOKEN_PREFIX) {
                self.api_token_allowed()?;
                self.iam.verify_api_token(token).await
            } else {
                self.iam.verify_for(token, &self.audience).await
            }
        })
    }

    fn verify_fast(&self, token: &str) -> Option<Result<Principal, Denial>> {
        if token.starts_with(API_TOKEN_PREFIX) {
            return None;
        }
        match self.iam.verify_cached_for(token, &self.audience) {
            Err(Denial::TokenUnknownKey) => None,
            other => Some(other),
        }
    }
}

/// A shared verifier, as stored in request extensions.
#[derive(Clone)]
pub struct Verifier(Arc<dyn TokenVerifier>);

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier")
    }
}

impl Verifier {
    /// Wraps a verifier (usually an [`Iam`]).
    pub fn new(v: impl TokenVerifier) -> Self {
        Verifier(Arc::new(v))
    }

    /// Verifies the bearer token in `headers`.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        self.authenticate_shared(headers)
            .await
            .map(|p| Principal::clone(&p))
    }

    /// Like [`Verifier::authenticate`], sharing the principal.
    pub async fn authenticate_shared(
        &self,
        headers: &HeaderMap,
    ) -> Result<Arc<Principal>, ApiError> {
        let token = bearer_token(headers)?;
        let result = match self.0.verify_fast_shared(token) {
            Some(r) => r,
            None => self.0.verify(token).await.map(Arc::new),
        };
        result.map_err(|d| {
            tracing::debug!(denial = ?DenialCode(&d), "bearer token refused");
            ApiError::token_refused(d)
        })
    }
}

/// Logs only the variant name of a denial.
struct DenialCode<'a>(&'a Denial);

impl std::fmt::Debug for DenialCode<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(ApiError::from(self.0.clone()).code)
    }
}

/// Longest `Authorization` value considered; longer ones are refused unparsed.
const MAX_AUTHORIZATION_LEN: usize = 4096;

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, one header).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ApiError::missing_token());
    };
    if values.next().is_some() || value.len() > MAX_AUTHORIZATION_LEN {
        return Err(Denial::TokenMalformed.into());
    }
    let text = value.to_str().map_err(|_| Denial::TokenMalformed)?;
    let (scheme, token) = text.split_once(' ').ok_or(Denial::TokenMalformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::missing_token());
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Denial::TokenMalformed.into());
    }
    Ok(token)
}

/// The tower layer that makes `iam` available to [`RequireAuth`] and the `Require*` route
/// layers beneath it. It never refuses a request by itself.
#[derive(Clone, Debug)]
pub struct IamAuth {
    verifier: Verifier,
}

impl IamAuth {
    /// A layer verifying tokens with `iam` (which remembers verified tokens: see
    /// [`Iam::verify_cached`]).
    pub fn new<S: Store, C: Clock>(iam: Iam<S, C>) -> Self {
        IamAuth {
            verifier: Verifier::new(iam),
        }
    }

    /// A layer for a resource server whose tokens are minted for `audience` (an RFC 8707
    /// resource): tokens meant for any other audience, iam's own included, are refused with
    /// `token_wrong_audience`. [`IamAuth::new`] expects iam's own audience.
    pub fn for_audience<S: Store, C: Clock>(iam: Iam<S, C>, audience: impl Into<String>) -> Self {
        IamAuth::with_verifier(AudienceVerifier {
            iam,
            audience: audience.into(),
        })
    }

    /// A layer verifying every token with `verifier` (no cache unless it has one).
    pub fn with_verifier(verifier: impl TokenVerifier) -> Self {
        IamAuth {
            verifier: Verifier::new(verifier),
        }
    }

    /// A layer over an existing shared verifier.
    pub fn from_verifier(verifier: Verifier) -> Self {
        IamAuth { verifier }
    }
}

impl<Inner> Layer<Inner> for IamAuth {
    type Service = IamAuthService<Inner>;

    fn layer(&self, inner: Inner) -> Self::Service {
        IamAuthService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service of [`IamAuth`].
#[derive(Clone, Debug)]
pub struct IamAuthService<Inner> {
    inner: Inner,
    verifier: Verifier,
}

impl<Inner, B> Service<axum::http::Request<B>> for IamAuthService<Inner>
where
    Inner: Service<axum::http::Request<B>>,
{
    type Response = Inner::Response;
    type Error = Inner::Error;
    type Future = Inner::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: axum::http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.verifier.clone());
        self.inner.call(req)
    }
}

/// The principal of a verified request, checked once and cached in the extensions.
#[derive(Clone, Debug)]
struct Verified(Arc<Principal>);

/// Extractor: the [`Principal`] behind a valid bearer token, or a 401 JSON answer with
/// `WWW-Authenticate: Bearer error="invalid_token"`. Needs [`IamAuth`] (or the iam router) above it.
///
/// ```
/// use iam_axum::RequireAuth;
/// async fn me(RequireAuth(who): RequireAuth) -> String {
///     who.account_id
/// }
/// ```
#[derive(Clone, Debug)]
pub struct RequireAuth(pub Principal);

impl RequireAuth {
    /// Authenticates the request described by `parts`.
    pub async fn principal(parts: &mut Parts) -> Result<Principal, ApiError> {
        Self::shared(parts).await.map(|p| Principal::clone(&p))
    }

    /// Authenticates once per request; later calls reuse the result.
    async fn shared(parts: &mut Parts) -> Result<Arc<Principal>, ApiError> {
        if let Some(Verified(p)) = parts.extensions.get::<Verified>() {
            return Ok(Arc::clone(p));
        }
        let verifier = parts.extensions.get::<Verifier>().cloned().ok_or_else(|| {
            tracing::error!("RequireAuth used on a route without the IamAuth layer");
            ApiError::internal()
        })?;
        let principal = verifier.authenticate_shared(&parts.headers).await?;
        parts.extensions.insert(Verified(Arc::clone(&principal)));
        Ok(principal)
    }
}

impl<St: Send + Sync> FromRequestParts<St> for RequireAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        Self::principal(parts).await.map(RequireAuth)
    }
}

/// What a route layer demands of a principal.
#[derive(Clone, Debug)]
enum Requirement {
    Auth,
    Role(&'static str),
    Scope(&'static str),
}

impl Requirement {
    fn check(&self, p: &Principal) -> Result<(), Denial> {
        match self {
            Requirement::Auth => Ok(()),
            Requirement::Role(r) => p.require_role(r),
            Requirement::Scope(s) => p.require_scope(s),
        }
    }
}

/// Route layer: a valid bearer token is required (401 otherwise).
#[derive(Clone, Copy, Debug, Default)]
pub struct RequireAuthLayer;

/// Route layer: a valid token carrying this role is required (401, or 403 with
/// `error="insufficient_scope"`). Use as `.route_layer(RequireRole("admin"))`.
#[derive(Clone, Copy, Debug)]
pub struct RequireRole(pub &'static str);

/// Route layer: a valid token granting this scope is required (401, or 403 with
/// `error="insufficient_scope"`). A token without explicit scopes grants the scopes named like
/// its roles (see [`Principal::require_scope`]). Use as `.route_layer(RequireScope("reports"))`.
#[derive(Clone, Copy, Debug)]
pub struct RequireScope(pub &'static str);

macro_rules! requirement_layer {
    ($t:ty, $req:expr) => {
        impl<Inner> Layer<Inner> for $t {
            type Service = RequireService<Inner>;

            #[allow(clippy::redundant_closure_call)]
            fn layer(&self, inner: Inner) -> Self::Service {
                RequireService {
                    inner,
                    requirement: ($req)(self),
                }
            }
        }
    };
}

requirement_layer!(RequireAuthLayer, |_: &RequireAuthLayer| Requirement::Auth);
requirement_layer!(RequireRole, |r: &RequireRole| Requirement::Role(r.0));
requirement_layer!(RequireScope, |s: &RequireScope| Requirement::Scope(s.0));

/// The service of the `Require*` route layers.
#[derive(Clone, Debug)]
pub struct RequireService<Inner> {
    inner: Inner,
    requirement: Requirement,
}

impl<Inner> Service<Request> for RequireService<Inner>
where
    Inner: Service<Request, Response = Response> + Clone + Send + 'static,
    Inner::Future: Send + 'static,
{
    type Response = Response;
    type Error = Inner::Error;
    type Future = BoxFuture<'static, Result<Response, Inner::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let requirement = self.requirement.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let principal = match RequireAuth::shared(&mut parts).await {
                Ok(p) => p,
                Err(e) => return Ok(e.into_response()),
            };
            if let Err(d) = requirement.check(&principal) {
                return Ok(ApiError::from(d).into_response());
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(&with_auth("Bearer abc")).ok(), Some("abc"));
        assert_eq!(bearer_token(&with_auth("bearer abc")).ok(), Some("abc"));
        assert_eq!(
            bearer_token(&HeaderMap::new()).err().map(|e| e.code),
            Some("missing_token")
        );
        assert_eq!(
            bearer_token(&with_auth("Basic abc")).err().map(|e| e.code),
            Some("missing_token")
        );
        assert_eq!(
            bearer_token(&with_auth("Bearer ")).err().map(|e| e.code),
            Some("token_malformed")
        );
        assert_eq!(
            bearer_token(&with_auth("Bearer")).err().map(|e| e.code),
            Some("token_malformed")
        );
    }
}
