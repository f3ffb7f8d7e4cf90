//! The OAuth 2.0 authorization server over HTTP: the protocol endpoints (authorize, token,
//! device authorization, revocation, introspection), server metadata (RFC 8414), the JWKS
//! (RFC 8037 OKP keys), WebFinger (RFC 7033) and a small server-rendered page set (login,
//! consent, device verification) that works in any browser without JavaScript.
//!
//! Build it with [`OAuthRouter`] (or [`oauth_router`]) and merge it into your app at the
//! root of the issuer URL:
//!
//! ```
//! use iam_core::{Config, Iam, MasterKey, MemoryStore, PasswordPolicy, SecureRandom};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), iam_core::Error> {
//! let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
//! config.passwords = PasswordPolicy::insecure_fast_for_tests();
//! // One issuer everywhere: tokens, ID tokens and the metadata name the public URL.
//! config.issuer = "https://id.example.com".into();
//! let iam = Iam::builder(MemoryStore::new(), config).open().await?;
//! let app: axum::Router = iam_axum::OAuthRouter::new(iam, "https://id.example.com")?.build();
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! The pages: `GET/POST /oauth2/authorize` shows the login page (username, password, optional
//! TOTP code) or the consent page as needed; `/oauth2/device` is the device verification page
//! (a relative configured `verification_uri`, by default `/device`, is served too and made
//! absolute in device authorization responses). The browser session is an HttpOnly,
//! SameSite=Lax cookie (`Secure` and `__Host-` prefixed for https issuers) holding the iam
//! session's token pair, renewed by refresh; every form carries a CSRF token bound to a cookie.
//! After a form post the browser continues to the client by a page with a meta refresh rather
//! than a redirect, because browsers apply the pages' `form-action 'self'` to redirects that
//! follow a submission.
//!
//! With upstream OpenID Providers configured (`Config::upstream`), the login page shows a
//! "Sign in with …" button per provider: `/login/upstream/{provider}` begins the login and
//! `/login/upstream/{provider}/callback` (the redirect URI to register at the provider) ends it,
//! continuing with the pending authorization request; `/account/upstream` lists, links and
//! unlinks the signed-in user's upstream identities. [`OAuthRouter::upstream_http_client`]
//! sets the HTTP client that talks to the providers.
//!
//! Protocol errors are RFC 6749 §5.2 JSON (`{"error": "...", "error_description": "..."}`),
//! including for malformed bodies, wrong content types, repeated parameters and wrong
//! methods. Errors of the authorization endpoint that must not be redirected (unknown client,
//! unregistered redirect URI) are shown: as a page to browsers, as JSON to other callers.

mod endpoints;
mod form;
mod html;
mod oidc;
mod pages;
mod relying_party;
mod session;

pub use relying_party::upstream_http_client;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use iam_core::{
    Clock, Error, Iam, InvalidInput, OAuthError, OAuthErrorCode, SecureRandom, Store, TokenPair,
};
use tower_http::limit::RequestBodyLimitLayer;

use crate::dto::OAuthStyleErrorOut;
use crate::rate_limit::{ClientLimiter, RateLimit, RateLimiter};

/// Path of the authorization endpoint.
pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// Path of the device authorization endpoint (RFC 8628).
pub const DEVICE_AUTHORIZATION_PATH: &str = "/oauth2/device_authorization";
/// Path of the revocation endpoint (RFC 7009).
pub const REVOKE_PATH: &str = "/oauth2/revoke";
/// Path of the introspection endpoint (RFC 7662).
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";
/// Path of the JWK set.
pub const JWKS_PATH: &str = "/oauth2/jwks";
/// Path of the login page.
pub const LOGIN_PATH: &str = "/oauth2/login";
/// Path the consent page posts to.
pub const CONSENT_PATH: &str = "/oauth2/consent";
/// Path of the logout form's target.
pub const LOGOUT_PATH: &str = "/oauth2/logout";
/// Path of the device verification page (the `verification_uri` unless configured otherwise).
pub const DEVICE_PATH: &str = "/oauth2/device";
/// Path the device page's approve/deny form posts to.
pub const DEVICE_DECISION_PATH: &str = "/oauth2/device/decision";
/// Path of the authorization server metadata (RFC 8414).
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// Path of the userinfo endpoint (OpenID Connect Core §5.3).
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
/// Path of the RP-initiated logout endpoint (OpenID Connect RP-Initiated Logout 1.0).
pub const END_SESSION_PATH: &str = "/oauth2/end_session";
/// Path of the OpenID Provider metadata (OpenID Connect Discovery 1.0 §4).
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// Path of WebFinger (RFC 7033).
pub const WEBFINGER_PATH: &str = "/.well-known/webfinger";

pub use pages::account::{ACCOUNT_PATH, ASSET_PATH};

/// The invitation page's path before its secret (`/invite/{secret}`).
pub const INVITE_PREFIX: &str = "/invite/";
/// The invitation page's route.
pub const INVITE_PATH: &str = "/invite/{secret}";

/// Begins a sign-in through an upstream provider (`GET` link, `POST` button).
pub const UPSTREAM_LOGIN_PATH: &str = "/login/upstream/{provider}";
/// An upstream provider's callback (its redirect URI there is the issuer URL plus this path).
pub const UPSTREAM_CALLBACK_PATH: &str = "/login/upstream/{provider}/callback";
/// The page listing the signed-in user's linked upstream identities.
pub const UPSTREAM_ACCOUNT_PATH: &str = "/account/upstream";
/// Begins linking an upstream identity to the signed-in account (a form).
pub const UPSTREAM_LINK_PATH: &str = "/account/upstream/{provider}/link";
/// Unlinks an upstream identity from the signed-in account (a form).
pub const UPSTREAM_UNLINK_PATH: &str = "/account/upstream/unlink";

/// Largest request body the OAuth endpoints read (every OAuth request is far smaller).
pub const OAUTH_BODY_LIMIT: usize = 16 * 1024;

/// How long a browser session's refresh answers a repeat of the same refresh token with the
/// same successor (in this process only).
pub const SESSION_REFRESH_REUSE: Duration = Duration::from_secs(30);

/// Most remembered session refreshes.
const MAX_RECENT_REFRESHES: usize = 10_000;

/// What the OAuth handlers share.
pub(crate) struct OAuthState<S: Store, C: Clock> {
    pub iam: Iam<S, C>,
    /// The issuer URL, without a trailing slash.
    pub issuer: String,
    /// The issuer URL's path (empty at the root), prefixed to the pages' form targets.
    pub base_path: String,
    /// The issuer's host name (lowercase, no port), for WebFinger.
    pub host: String,
    /// Whether cookies are `Secure` (and `__Host-` prefixed).
    pub secure: bool,
    pub limiter: RateLimiter,
    /// The per-address limit of the token and device authorization endpoints.
    pub token_limiter: RateLimiter,
    /// The per-client limit of the token and device authorization endpoints.
    pub clients: ClientLimiter,
    /// Which accounts WebFinger answers for.
    pub webfinger: WebFingerPublication,
    pub rng: SecureRandom,
    /// The upstream OpenID Providers' relying-party side.
    pub upstream: relying_party::UpstreamClients,
    /// Session refreshes of the last moments, by the refresh token presented: a browser that
    /// sends the same expired cookie twice at once (two tabs) gets the same successor instead
    /// of tripping refresh-token reuse detection, which would end the session.
    refreshes: tokio::sync::Mutex<HashMap<String, (Instant, TokenPair)>>,
}

/// What an OAuth handler extracts: the shared [`OAuthState`].
pub(crate) type OAuthCtx<S, C> = State<Arc<OAuthState<S, C>>>;

impl<S: Store, C: Clock> OAuthState<S, C> {
    /// The absolute URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Refreshes the browser session holding `refresh_token`, once per token: repeats within
    /// [`SESSION_REFRESH_REUSE`] get the same successor. `None` when the session is over.
    pub(crate) async fn refresh_session(&self, refresh_token: &str) -> Option<TokenPair> {
        let mut recent = self.refreshes.lock().await;
        let now = Instant::now();
        recent.retain(|_, (at, _)| now.saturating_duration_since(*at) < SESSION_REFRESH_REUSE);
        if let Some((_, pair)) = recent.get(refresh_token) {
            return Some(pair.clone());
        }
        let pair = self.iam.refresh(refresh_token).await.ok()?;
        if recent.len() < MAX_RECENT_REFRESHES {
            recent.insert(refresh_token.to_owned(), (now, pair.clone()));
        }
        Some(pair)
    }

    /// The path (under the issuer's path) of `path`, for form targets and links.
    pub(crate) fn path(&self, path: &str) -> String {
        format!("{}{path}", self.base_path)
    }
}

/// Which accounts `/.well-known/webfinger` publishes.
///
/// Whatever the setting, an account that is not published gets exactly the answer of an
/// account that does not exist (404 `not_found`), so WebFinger cannot be used to learn which
/// usernames exist beyond what is published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WebFingerPublication {
    /// Publish no account: every `acct:` query is answered 404 (the default).
    #[default]
    Off,
    /// Publish every existing, enabled account of the issuer's host (it names the issuer).
    All,
}

/// The OAuth router over `iam` for the issuer (base URL) `issuer`, with the defaults of
/// [`OAuthRouter`].
pub fn oauth_router<S: Store, C: Clock>(iam: Iam<S, C>, issuer: &str) -> Result<Router, Error> {
    Ok(OAuthRouter::new(iam, issuer)?.build())
}

/// Builds the OAuth 2.0 [`Router`] with settings.
#[derive(Debug, Clone)]
pub struct OAuthRouter<S: Store, C: Clock> {
    iam: Iam<S, C>,
    issuer: String,
    secure_cookies: bool,
    rate_limit: RateLimit,
    token_rate_limit: RateLimit,
    client_rate_limit: RateLimit,
    trusted_proxies: Vec<IpAddr>,
    webfinger: WebFingerPublication,
    upstream_http: Option<reqwest::Client>,
}

/// Splits an `http(s)://host[:port][/path]` URL into (scheme is https, host, path).
fn split_issuer(issuer: &str) -> Option<(bool, String, String)> {
    let (https, rest) = if let Some(r) = issuer.strip_prefix("https://") {
        (true, r)
    } else {
        (false, issuer.strip_prefix("http://")?)
    };
    if issuer.contains(['?', '#']) || issuer.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next().unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    Some((
        https,
        host.to_ascii_lowercase(),
        path.trim_end_matches('/').to_owned(),
    ))
}

impl<S: Store, C: Clock> OAuthRouter<S, C> {
    /// Endpoints for the issuer `issuer`: the absolute `http(s)` base URL the router is
    /// reachable at (no query or fragment; a path such as `/iam` if it is nested there).
    /// Cookies are `Secure` when the issuer is `https`; the per-address limit on login,
    /// device-code entry and WebFinger is [`RateLimit::default`]; the token and device
    /// authorization endpoints are limited by [`RateLimit::token_endpoint_default`] per address
    /// and [`RateLimit::per_client_default`] per client; WebFinger publishes no account.
    pub fn new(iam: Iam<S, C>, issuer: &str) -> Result<Self, Error> {
        let (https, _, _) = split_issuer(issuer).ok_or(Error::Invalid(InvalidInput::Config(
            "the OAuth issuer must be an absolute http(s) URL without query or fragment",
        )))?;
        if iam.config().issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(Error::Invalid(InvalidInput::Config(
                "the OAuth issuer URL must be Config::issuer: access tokens, ID tokens and the \
metadata name one issuer",
            )));
        }
        Ok(OAuthRouter {
            iam,
            issuer: issuer.trim_end_matches('/').to_owned(),
            secure_cookies: https,
            rate_limit: RateLimit::default(),
            token_rate_limit: RateLimit::token_endpoint_default(),
            client_rate_limit: RateLimit::per_client_default(),
            trusted_proxies: Vec::new(),
            webfinger: WebFingerPublication::Off,
            upstream_http: None,
        })
    }

    /// Sets whether the session and CSRF cookies are `Secure` (on by default for an https
    /// issuer; turn it off only for plain-HTTP development and tests).
    #[must_use]
    pub fn secure_cookies(mut self, on: bool) -> Self {
        self.secure_cookies = on;
        self
    }

    /// Sets the per-address limit of the login form, device-code entry and WebFinger.
    #[must_use]
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Sets the per-address limit of `/oauth2/token` and `/oauth2/device_authorization`
    /// (default [`RateLimit::token_endpoint_default`]; IPv6 counts per /64).
    #[must_use]
    pub fn token_rate_limit(mut self, limit: RateLimit) -> Self {
        self.token_rate_limit = limit;
        self
    }

    /// Sets the per-client limit of `/oauth2/token` and `/oauth2/device_authorization`
    /// (default [`RateLimit::per_client_default`]). A `client_id` counts on its own once it
    /// has been answered successfully; until then, per source network. See
    /// [`crate::rate_limit`].
    #[must_use]
    pub fn client_rate_limit(mut self, limit: RateLimit) -> Self {
        self.client_rate_limit = limit;
        self
    }

    /// Names the reverse proxies whose `X-Forwarded-For` the per-address limits believe
    /// (none by default). See [`crate::rate_limit`].
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: Vec<IpAddr>) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Sets which accounts `/.well-known/webfinger` publishes (default
    /// [`WebFingerPublication::Off`]: none).
    #[must_use]
    pub fn webfinger(mut self, publication: WebFingerPublication) -> Self {
        self.webfinger = publication;
        self
    }

    /// Sets the HTTP client that talks to upstream OpenID Providers (default
    /// [`upstream_http_client`]: no redirects, a 10 s timeout, the webpki roots). Give one
    /// that trusts a private CA when a provider uses one; keep redirects off.
    #[must_use]
    pub fn upstream_http_client(mut self, client: reqwest::Client) -> Self {
        self.upstream_http = Some(client);
        self
    }

    /// The router. Merge it into an app served at the issuer URL's root path (or nest it at
    /// the issuer's path); serve with connection info so the per-address limit sees addresses.
    pub fn build(self) -> Router {
        let (_, host, base_path) = split_issuer(&self.issuer).unwrap_or_default();
        let state = Arc::new(OAuthState {
            iam: self.iam,
            issuer: self.issuer,
            base_path,
            host,
            secure: self.secure_cookies,
            limiter: RateLimiter::new(self.rate_limit, &self.trusted_proxies),
            token_limiter: RateLimiter::new(self.token_rate_limit, &self.trusted_proxies),
            clients: ClientLimiter::new(self.client_rate_limit),
            webfinger: self.webfinger,
            rng: SecureRandom::from_entropy(),
            upstream: relying_party::UpstreamClients::new(
                self.upstream_http
                    .or_else(|| upstream_http_client().ok())
                    .unwrap_or_default(),
            ),
            refreshes: tokio::sync::Mutex::new(HashMap::new()),
        });
        let mut limited = Router::new()
            .route(
                LOGIN_PATH,
                get(pages::login_page::<S, C>).post(pages::login::<S, C>),
            )
            .route(
                pages::PASSKEY_LOGIN_PATH,
                post(pages::start_passkey_login::<S, C>),
            )
            .route(
                DEVICE_PATH,
                get(pages::device_page::<S, C>).post(pages::device_entry::<S, C>),
            )
            .route(
                INVITE_PATH,
                get(pages::invite_page::<S, C>).post(pages::accept_invite::<S, C>),
            )
            .route(WEBFINGER_PATH, get(endpoints::webfinger::<S, C>))
            .route(
                UPSTREAM_LOGIN_PATH,
                get(pages::upstream_start::<S, C>).post(pages::upstream_start_form::<S, C>),
            )
            .route(
                UPSTREAM_CALLBACK_PATH,
                get(pages::upstream_callback::<S, C>),
            );
        // A relative configured verification URI (the default `/device`) is served too, under
        // the same limit as the page it stands for.
        let configured = state.iam.config().oauth.verification_uri.clone();
        if configured.starts_with('/')
            && configured != DEVICE_PATH
            && !configured.contains(['?', '#', '{', '}', '*'])
        {
            limited = limited.route(
                &configured,
                get(pages::device_page::<S, C>).post(pages::device_entry::<S, C>),
            );
        }
        let limited = limited.route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            limit_by_address::<S, C>,
        ));
        let token_endpoints = Router::new()
            .route(TOKEN_PATH, post(endpoints::token::<S, C>))
            .route(
                DEVICE_AUTHORIZATION_PATH,
                post(endpoints::device_authorization::<S, C>),
            )
            .route_layer(middleware::from_fn_with_state(
                Arc::clone(&state),
                limit_token_by_address::<S, C>,
            ));
        let router = Router::new()
            .merge(limited)
            .merge(token_endpoints)
            .route(
                AUTHORIZE_PATH,
                get(pages::authorize_get::<S, C>).post(pages::authorize_post::<S, C>),
            )
            .route(CONSENT_PATH, post(pages::consent::<S, C>))
            .route(LOGOUT_PATH, post(pages::logout::<S, C>))
            .route(DEVICE_DECISION_PATH, post(pages::device_decision::<S, C>))
            .route(REVOKE_PATH, post(endpoints::revoke::<S, C>))
            .route(INTROSPECT_PATH, post(endpoints::introspect::<S, C>))
            .route(METADATA_PATH, get(endpoints::metadata::<S, C>))
            .route(OPENID_CONFIGURATION_PATH, get(endpoints::metadata::<S, C>))
            .route(
                USERINFO_PATH,
                get(oidc::userinfo::<S, C>).post(oidc::userinfo::<S, C>),
            )
            .route(
                END_SESSION_PATH,
                get(oidc::end_session::<S, C>).post(oidc::end_session::<S, C>),
            )
            .route(JWKS_PATH, get(endpoints::jwks::<S, C>))
            .route(
                UPSTREAM_ACCOUNT_PATH,
                get(pages::upstream_account_page::<S, C>),
            )
            .route(UPSTREAM_LINK_PATH, post(pages::link_upstream::<S, C>))
            .route(UPSTREAM_UNLINK_PATH, post(pages::unlink_upstream::<S, C>))
            .merge(pages::account::routes::<S, C>());
        router
            .with_state(state)
            .layer(DefaultBodyLimit::max(OAUTH_BODY_LIMIT))
            .layer(RequestBodyLimitLayer::new(OAUTH_BODY_LIMIT))
            .layer(middleware::map_response(oauth_json_errors))
    }
}

/// An OAuth error as JSON (RFC 6749 §5.2), with `Cache-Control: no-store` and, for 401, the
/// `WWW-Authenticate: Basic` challenge RFC 6749 §5.2 requires.
pub(crate) fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, axum::Json(e)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"iam\""),
        );
    }
    if e.code == OAuthErrorCode::TemporarilyUnavailable {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// A JSON error with a status and code of our own (not an RFC 6749 error).
fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(OAuthStyleErrorOut {
            error: error.to_owned(),
            error_description: description.to_owned(),
        }),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Headers of a framework answer kept when its body is replaced.
const KEPT_HEADERS: [HeaderName; 3] =
    [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE];

/// Gives framework error answers (405, 413, rejections: empty or plain text) an OAuth JSON body.
async fn oauth_json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if !plain {
        return response;
    }
    let mut out = match status {
        StatusCode::METHOD_NOT_ALLOWED => json_error(
            status,
            "invalid_request",
            "the method is not allowed for this endpoint",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            json_error(status, "invalid_request", "the request body is too large")
        }
        StatusCode::NOT_FOUND => json_error(status, "not_found", "no such resource"),
        s if s.is_client_error() => {
            json_error(status, "invalid_request", "the request is malformed")
        }
        s => json_error(s, "server_error", "the server failed to handle the request"),
    };
    for name in KEPT_HEADERS {
        if let Some(v) = response.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}

/// The 429 `rate_limited` answer (the JSON shape of the other OAuth errors) with
/// `Retry-After` in whole seconds.
pub(crate) fn rate_limited(wait: Duration, description: &str) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut r = json_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", description);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

/// The client address of a request to the token endpoints, left by
/// [`limit_token_by_address`] for the per-client limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub IpAddr);

/// Takes a token of `limiter` for the client address of `req`; the address, or how long to
/// wait.
fn admit_address(limiter: &RateLimiter, req: &Request) -> Result<IpAddr, Duration> {
    let addr = limiter.client_address(req);
    limiter.check(addr, Instant::now()).inspect_err(|_| {
        tracing::info!(%addr, "rate limit reached");
    })?;
    Ok(addr)
}

/// The 429 of a per-address limit.
fn address_limited(wait: Duration) -> Response {
    rate_limited(wait, "too many requests from this address; slow down")
}

/// The per-address limit in front of the login form, device-code entry and WebFinger.
async fn limit_by_address<S: Store, C: Clock>(
    State(state): OAuthCtx<S, C>,
    req: Request,
    next: Next,
) -> Response {
    match admit_address(&state.limiter, &req) {
        Ok(_) => next.run(req).await,
        Err(wait) => address_limited(wait),
    }
}

/// The per-address limit in front of the token and device authorization endpoints; leaves
/// the client address for their per-client limit.
async fn limit_token_by_address<S: Store, C: Clock>(
    State(state): OAuthCtx<S, C>,
    mut req: Request,
    next: Next,
) -> Response {
    match admit_address(&state.token_limiter, &req) {
        Ok(addr) => {
            req.extensions_mut().insert(ClientAddr(addr));
            next.run(req).await
        }
        Err(wait) => address_limited(wait),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_split_into_host_and_path() {
        assert_eq!(
            split_issuer("https://ID.example.com:8443/iam/"),
            Some((true, "id.example.com".into(), "/iam".into()))
        );
        assert_eq!(
            split_issuer("http://127.0.0.1:1"),
            Some((false, "127.0.0.1".into(), String::new()))
        );
        assert_eq!(split_issuer("ftp://x"), None);
        assert_eq!(split_issuer("https://x/?q"), None);
        assert_eq!(split_issuer("https://u@x/"), None);
        assert_eq!(split_issuer("https:///x"), None);
    }

    /// The router serves one issuer: the one tokens and ID tokens carry (`Config::issuer`).
    /// Another URL (host, scheme, port or path) is refused; a trailing slash is the same URL.
    #[tokio::test(flavor = "current_thread")]
    async fn refuses_an_issuer_other_than_the_configured_one() {
        use iam_core::{Config, MasterKey, MemoryStore, PasswordPolicy, SecureRandom};
        let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
        config.passwords = PasswordPolicy::insecure_fast_for_tests();
        config.issuer = "https://id.example.com".into();
        let iam = Iam::builder(MemoryStore::new(), config)
            .open()
            .await
            .expect("an in-memory iam opens");
        for other in [
            "https://other.example.com",
            "http://id.example.com",
            "https://id.example.com:8443",
            "https://id.example.com/iam",
        ] {
            match OAuthRouter::new(iam.clone(), other) {
                Err(Error::Invalid(InvalidInput::Config(why))) => {
                    assert!(why.contains("Config::issuer"), "{other}: {why}");
                }
                Err(e) => panic!("{other}: unexpected error {e}"),
                Ok(_) => panic!("{other} accepted beside Config::issuer"),
            }
        }
        assert!(OAuthRouter::new(iam.clone(), "https://id.example.com/").is_ok());
        assert!(OAuthRouter::new(iam, "https://id.example.com").is_ok());
    }
}
