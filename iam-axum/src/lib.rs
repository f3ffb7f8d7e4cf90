//! # iam-axum
//!
//! The HTTP side of iam for [axum]: a [`Router`] serving the iam REST API (login, refresh,
//! sessions, TOTP, accounts and roles, service and API tokens, elevation, credentials, audit,
//! organizations, public keys) over any [`iam_core::Store`], and the pieces an embedding app
//! uses to protect its own routes with iam tokens.
//!
//! Start at [`router`] (or [`IamRouter`] to set the prefix, body limit and rate limit), and
//! protect your own routes with the [`RequireAuth`] extractor or the [`RequireRole`] /
//! [`RequireScope`] route layers under an [`IamAuth`] layer.
//!
//! ```
//! use axum::{routing::get, Router};
//! use iam_axum::{IamAuth, RequireAuth, RequireRole};
//! use iam_core::{Config, Iam, MasterKey, MemoryStore, PasswordPolicy, SecureRandom};
//!
//! async fn hello(RequireAuth(who): RequireAuth) -> String {
//!     format!("hello, {}", who.account_id)
//! }
//!
//! async fn admin_only() -> &'static str {
//!     "for admins"
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iam_core::Error> {
//! let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
//! config.passwords = PasswordPolicy::insecure_fast_for_tests();
//! let iam = Iam::builder(MemoryStore::new(), config).open().await?;
//!
//! let app: Router = Router::new()
//!     .route("/hello", get(hello))
//!     .route("/admin", get(admin_only).route_layer(RequireRole("admin")))
//!     .layer(IamAuth::new(iam.clone()))
//!     .nest("/iam", iam_axum::router(iam));
//! // Serve with connection info so that the per-address rate limit sees client addresses:
//! // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! Every request and answer body is a type in [`dto`] (serialize and deserialize), so a Rust
//! client such as `iamctl` decodes exactly what the handlers send.
//!
//! Every error is JSON: `{"error": "<stable_code>", "message": "..."}` (see [`ApiError`]);
//! invalid or missing tokens get `401` with `WWW-Authenticate: Bearer error="invalid_token"`,
//! missing roles or scopes `403` with `error="insufficient_scope"` (RFC 6750).
//!
//! With the OAuth/OpenID endpoints ([`OAuthRouter`]) served, start
//! [`backchannel::spawn_deliveries`] beside them: it POSTs the OpenID Connect Back-Channel
//! Logout tokens that ended sessions queue.
//!
//! ## Routes (relative to the prefix)
//!
//! | route | who | what |
//! | --- | --- | --- |
//! | `GET /health` | anyone | liveness |
//! | `GET /keys`, `GET /keys/jwks.json` | anyone | verification keys as PASERK / RFC 7517 JWKS (with the JWT keys) |
//! | `POST /login` `{username, password, totp_code?}` | anyone (rate-limited) | session + token pair |
//! | `POST /refresh` `{refresh_token}` | anyone (rate-limited) | rotated token pair |
//! | `POST /logout`, `GET /whoami` | bearer | end the session / what the token says |
//! | `GET /sessions[?account_id=]`, `DELETE /sessions`, `DELETE /sessions/{id}` | bearer (admin for others) | list, sign out everywhere, revoke one |
//! | `POST /totp/enrol`, `POST /totp/confirm` `{code}`, `DELETE /totp` | session token | own TOTP |
//! | `GET/POST /accounts`, `GET /accounts/{id}` | admin (self may read itself) | accounts |
//! | `POST /accounts/{id}/disable`, `.../enable`, `PUT .../password` | admin | lifecycle |
//! | `PATCH /accounts/{id}/profile` `{name?, email?, email_verified?}` | admin | name, email, email verification |
//! | `PATCH /profile` `{name}` | session token | own display name |
//! | `PUT/DELETE /accounts/{id}/roles/{role}`, `.../elevatable-roles/{role}` | admin | roles |
//! | `DELETE /accounts/{id}/totp`, `DELETE /accounts/{id}/sessions` | admin (sessions: self too) | recovery |
//! | `POST/DELETE /accounts/{id}/deletion` | self or admin | schedule / cancel deletion |
//! | `POST/DELETE /accounts/{id}/service-token`, `POST /service-token/renew` | admin or role holder / the service | service tokens |
//! | `GET/PUT /accounts/{id}/db-credentials` | the service or its role holders / admin | credentials vault |
//! | `GET/POST /api-tokens`, `DELETE /api-tokens/{id}` | session token (owner or admin) | personal API tokens |
//! | `POST /elevation`, `DELETE /elevation/{role}` | session token | open (200) or request (202) / end |
//! | `GET /elevation/requests`, `POST .../{id}/approve`, `POST .../{id}/deny` | approver role | answer requests |
//! | `GET /audit[?account=&kind=&from=&to=&after_seq=&limit=]`, `GET /audit/verify` | admin | audit log |
//! | `GET /audit/export` | admin | the audit log as JSON lines with signed checkpoints, verifiable offline |
//! | `POST /orgs`, `GET /orgs/{id}`, `GET /orgs/{id}/members`, `PUT/DELETE /orgs/{id}/members/{account}`, `POST /orgs/{id}/token`, `GET /accounts/{id}/memberships` | bearer (owners/admins manage) | organizations |
//! | `GET/POST /clients`, `GET /clients/{id}`, `POST /clients/{id}/secret`, `POST /clients/{id}/disable` | admin (owners read their own) | OAuth client registry; secrets shown once |
//! | `GET /accounts/{id}/upstream-links`, `DELETE /accounts/{id}/upstream-links/{link}` | self or admin | upstream (OpenID Provider) identities linked to the account |
//! | `GET /openapi.json` | anyone | the OpenAPI 3.1 description of these routes ([`openapi`]) |
//! | `GET /metrics` | loopback (or [`IamRouter::metrics_networks`]), or a token with scope `iam:metrics` | Prometheus metrics ([`metrics`]; see [`IamRouter::metrics`]) |
//!
//! Bearer tokens are PASETO access tokens (login, refresh, elevation, service and organization
//! tokens) or personal API tokens (`iam_pat_…`). Verified access tokens are remembered by iam
//! itself ([`Iam::verify_cached`]); revocation and expiry are still checked on every request.
//!
//! [axum]: https://docs.rs/axum

pub mod auth;
pub mod backchannel;
pub mod dto;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod rate_limit;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use iam_core::{Clock, Iam, Store};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

pub use auth::{
    IamAuth, RequireAuth, RequireAuthLayer, RequireRole, RequireScope, TokenVerifier, Verifier,
};
pub use error::{ApiError, ApiResult};
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use ipnet::IpNet;
pub use metrics::Metrics;
pub use oauth::{oauth_router, upstream_http_client, OAuthRouter, WebFingerPublication};
pub use rate_limit::RateLimit;

/// Default largest request body: 64 KiB (every iam request is far smaller).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The iam REST API router over `iam` with the defaults: routes at the root (nest it where you
/// like), a 64 KiB body limit, the default per-address [`RateLimit`] on login and refresh, and
/// no catch-all fallback (so it merges into an app that has its own).
pub fn router<S: Store, C: Clock>(iam: Iam<S, C>) -> Router {
    IamRouter::new(iam).build()
}

/// Builds the iam REST API [`Router`] with settings.
#[derive(Debug, Clone)]
pub struct IamRouter<S: Store, C: Clock> {
    iam: Iam<S, C>,
    prefix: String,
    body_limit: usize,
    rate_limit: RateLimit,
    trusted_proxies: Vec<std::net::IpAddr>,
    json_fallback: bool,
    metrics: Metrics,
    serve_metrics: bool,
    metrics_networks: Vec<IpNet>,
    describe_oauth: bool,
}

impl<S: Store, C: Clock> IamRouter<S, C> {
    /// The defaults of [`router`].
    pub fn new(iam: Iam<S, C>) -> Self {
        IamRouter {
            iam,
            prefix: String::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            rate_limit: RateLimit::default(),
            trusted_proxies: Vec::new(),
            json_fallback: false,
            metrics: Metrics::new(),
            serve_metrics: true,
            metrics_networks: metrics::default_networks(),
            describe_oauth: false,
        }
    }

    /// Mounts the routes under `prefix` (for example `/iam`; empty or `/` for the root).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the largest accepted request body in bytes.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sets the per-address limit of the anonymous endpoints (login, refresh).
    #[must_use]
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Names the reverse proxies whose `X-Forwarded-For` the per-address limit believes
    /// (none by default: the limit keys on the TCP peer). See [`rate_limit`].
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: Vec<std::net::IpAddr>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Whether unknown paths get a JSON 404 (set it when this router is the whole app, as in
    /// `iamd`; leave it off when merging into an app with its own fallback).
    #[must_use]
    pub fn json_fallback(mut self, on: bool) -> Self {
        self.json_fallback = on;
        self
    }

    /// Whether to serve the Prometheus metrics at `/metrics` under the prefix (default on).
    ///
    /// The route is served without a token to clients in
    /// [`metrics_networks`](Self::metrics_networks) (loopback by default), and to bearer
    /// tokens granting the scope [`metrics::METRICS_SCOPE`] (`iam:metrics`); others get 403.
    /// Alternatively turn it off and serve the registry given to
    /// [`metrics_registry`](Self::metrics_registry) on a private listener with
    /// [`Metrics::render`]. The metrics are recorded either way; their labels carry no secrets
    /// or ids (see [`metrics`]).
    #[must_use]
    pub fn metrics(mut self, serve: bool) -> Self {
        self.serve_metrics = serve;
        self
    }

    /// Sets the client networks `/metrics` is served to without a token (default
    /// [`metrics::default_networks`]: `127.0.0.0/8` and `::1`; empty: tokens only). The client
    /// address is the per-address limit's: behind [`trusted_proxies`](Self::trusted_proxies),
    /// the forwarded one.
    #[must_use]
    pub fn metrics_networks(mut self, networks: Vec<IpNet>) -> Self {
        self.metrics_networks = networks;
        self
    }

    /// Whether `/openapi.json` also describes the OAuth 2.0 and OpenID Connect endpoints (off
    /// by default). Turn it on when an [`OAuthRouter`] is served beside this router under the
    /// same prefix, as `iamd` does.
    #[must_use]
    pub fn describe_oauth(mut self, on: bool) -> Self {
        self.describe_oauth = on;
        self
    }

    /// Records the metrics into `registry` (a clone of which the caller keeps to render them)
    /// instead of a registry of the router's own.
    #[must_use]
    pub fn metrics_registry(mut self, registry: Metrics) -> Self {
        self.metrics = registry;
        self
    }

    /// The router, with tracing spans, the body limit, JSON errors for every rejection, and
    /// the [`IamAuth`] layer applied.
    pub fn build(self) -> Router {
        let state = Arc::new(routes::ApiState {
            iam: self.iam.clone(),
            limiter: rate_limit::RateLimiter::new(self.rate_limit, &self.trusted_proxies),
        });
        let prefix = self.prefix.trim_end_matches('/');
        let prefix = if prefix.is_empty() || prefix.starts_with('/') {
            prefix.to_owned()
        } else {
            format!("/{prefix}")
        };
        let coverage = openapi::Coverage {
            metrics: self.serve_metrics,
            oauth: self.describe_oauth,
        };
        let doc = axum::body::Bytes::from(
            openapi::document(&prefix, coverage, self.iam.config()).to_string(),
        );
        let mut api = routes::routes(state).route(
            openapi::OPENAPI_PATH,
            axum::routing::get(move || async move {
                ([(header::CONTENT_TYPE, "application/json")], doc)
            }),
        );
        if self.serve_metrics {
            let endpoint = metrics::Endpoint {
                metrics: self.metrics.clone(),
                networks: self.metrics_networks.into(),
                addresses: rate_limit::ClientAddresses::new(&self.trusted_proxies),
            };
            api = api.route(
                openapi::METRICS_PATH,
                axum::routing::get(metrics::serve).with_state(endpoint),
            );
        }
        let mut app = if prefix.is_empty() {
            api
        } else {
            Router::new().nest(&prefix, api)
        };
        if self.json_fallback {
            app = app.fallback(|| async { ApiError::from_status(StatusCode::NOT_FOUND) });
        }
        let tracker = metrics::Tracker {
            metrics: self.metrics,
            login_route: format!("{prefix}/login"),
        };
        with_http_layers(app, self.body_limit)
            .layer(IamAuth::new(self.iam))
            .layer(axum::middleware::from_fn_with_state(
                tracker,
                metrics::track,
            ))
    }
}

/// Wraps `app` in the layers iam's own routes use: per-request `tracing` spans (method and
/// path only, never headers, query strings or bodies), a body limit, and JSON bodies for every
/// error answer that has none of its own (405, 413, 404 fallbacks, ...).
pub fn with_http_layers(app: Router, body_limit: usize) -> Router {
    app.layer(DefaultBodyLimit::max(body_limit))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(axum::middleware::map_response(json_errors))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    tracing::info_span!(
                        "http",
                        method = %req.method(),
                        path = %req.uri().path(),
                    )
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new()
                        .level(tracing::Level::DEBUG)
                        .latency_unit(tower_http::LatencyUnit::Micros),
                ),
        )
}

/// Headers of a framework answer kept when its body is replaced by a JSON one.
const KEPT_HEADERS: [HeaderName; 3] =
    [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE];

/// Gives every error answer without a JSON body one.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return response;
    }
    let mut out = ApiError::from_status(status).into_response();
    for name in KEPT_HEADERS {
        if let Some(v) = response.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// How long [`Iam::sweep`] waits between runs by default in servers built on this crate.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(300);
