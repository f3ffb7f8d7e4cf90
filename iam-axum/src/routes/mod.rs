//! The REST routes: one file per concept, each handler parses, calls [`iam_core::Iam`], and maps
//! the outcome to a status and JSON body.

mod accounts;
mod admin;
mod elevation;
mod orgs;
mod public;
mod session;
mod tokens;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use iam_core::{Clock, Iam, Principal, Store, ADMIN_ROLE};

use crate::error::{ApiError, ApiResult};
use crate::rate_limit::RateLimiter;

/// What every handler shares.
pub(crate) struct ApiState<S: Store, C: Clock> {
    pub iam: Iam<S, C>,
    pub limiter: RateLimiter,
}

/// The state extractor of the handlers.
pub(crate) type St<S, C> = State<Arc<ApiState<S, C>>>;

/// `Ok` when the principal holds the admin role (403 `missing_role` otherwise).
pub(crate) fn require_admin(p: &Principal) -> ApiResult<()> {
    p.require_role(ADMIN_ROLE).map_err(ApiError::from)
}

/// `Ok` when the principal is `account_id` itself or an admin; otherwise 404, so that the
/// existence of other accounts' objects is not revealed.
pub(crate) fn require_self_or_admin(p: &Principal, account_id: &str, what: &str) -> ApiResult<()> {
    if p.account_id == account_id || p.has_role(ADMIN_ROLE) {
        Ok(())
    } else {
        Err(ApiError::not_found(what))
    }
}

/// `Ok` when the token is a login session's (not an API or service token).
pub(crate) fn require_session_token(p: &Principal) -> ApiResult<()> {
    if p.is_session_token() {
        Ok(())
    } else {
        Err(iam_core::Denial::WrongTokenKind.into())
    }
}

/// The per-address limit in front of anonymous endpoints.
async fn limit_by_address<S: Store, C: Clock>(
    State(state): St<S, C>,
    req: Request,
    next: Next,
) -> Response {
    // Without connection info (an app served without `into_make_service_with_connect_info`)
    // every caller shares one bucket: stricter, never looser.
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    match state.limiter.check(addr, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::info!(%addr, "rate limit reached");
            ApiError::rate_limited(wait).into_response()
        }
    }
}

/// Every REST route, relative to the prefix.
pub(crate) fn routes<S: Store, C: Clock>(state: Arc<ApiState<S, C>>) -> Router {
    let anonymous = Router::new()
        .route("/login", post(session::login::<S, C>))
        .route("/refresh", post(session::refresh::<S, C>))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            limit_by_address::<S, C>,
        ));
    Router::new()
        .merge(anonymous)
        .route("/health", get(public::health))
        .route("/keys", get(public::keys::<S, C>))
        .route("/keys/jwks.json", get(public::jwks::<S, C>))
        .route("/logout", post(session::logout::<S, C>))
        .route("/whoami", get(session::whoami))
        .route(
            "/sessions",
            get(session::list_sessions::<S, C>).delete(session::revoke_all_own::<S, C>),
        )
        .route("/sessions/{id}", delete(session::revoke_session::<S, C>))
        .route("/totp/enrol", post(session::totp_enrol::<S, C>))
        .route("/totp/confirm", post(session::totp_confirm::<S, C>))
        .route("/totp", delete(session::totp_remove::<S, C>))
        .route(
            "/accounts",
            get(accounts::list::<S, C>).post(accounts::create::<S, C>),
        )
        .route("/accounts/{id}", get(accounts::get_one::<S, C>))
        .route("/accounts/{id}/disable", post(accounts::disable::<S, C>))
        .route("/accounts/{id}/enable", post(accounts::enable::<S, C>))
        .route(
            "/accounts/{id}/password",
            put(accounts::set_password::<S, C>),
        )
        .route(
            "/accounts/{id}/roles/{role}",
            put(accounts::grant_role::<S, C>).delete(accounts::revoke_role::<S, C>),
        )
        .route(
            "/accounts/{id}/elevatable-roles/{role}",
            put(accounts::grant_elevatable::<S, C>).delete(accounts::revoke_elevatable::<S, C>),
        )
        .route("/accounts/{id}/totp", delete(accounts::remove_totp::<S, C>))
        .route(
            "/accounts/{id}/sessions",
            delete(accounts::revoke_sessions::<S, C>),
        )
        .route(
            "/accounts/{id}/deletion",
            post(accounts::schedule_deletion::<S, C>).delete(accounts::cancel_deletion::<S, C>),
        )
        .route(
            "/accounts/{id}/memberships",
            get(orgs::memberships_of::<S, C>),
        )
        .route(
            "/accounts/{id}/service-token",
            post(tokens::issue_service::<S, C>).delete(tokens::revoke_service::<S, C>),
        )
        .route("/service-token/renew", post(tokens::renew_service::<S, C>))
        .route(
            "/accounts/{id}/db-credentials",
            get(admin::fetch_credentials::<S, C>).put(admin::store_credentials::<S, C>),
        )
        .route(
            "/api-tokens",
            get(tokens::list_api::<S, C>).post(tokens::create_api::<S, C>),
        )
        .route("/api-tokens/{id}", delete(tokens::revoke_api::<S, C>))
        .route("/elevation", post(elevation::elevate::<S, C>))
        .route("/elevation/requests", get(elevation::pending::<S, C>))
        .route(
            "/elevation/requests/{id}/approve",
            post(elevation::approve::<S, C>),
        )
        .route(
            "/elevation/requests/{id}/deny",
            post(elevation::deny::<S, C>),
        )
        .route("/elevation/{role}", delete(elevation::end::<S, C>))
        .route("/audit", get(admin::audit::<S, C>))
        .route("/audit/verify", get(admin::audit_verify::<S, C>))
        .route("/orgs", post(orgs::create::<S, C>))
        .route("/orgs/{id}", get(orgs::get_one::<S, C>))
        .route("/orgs/{id}/members", get(orgs::members::<S, C>))
        .route(
            "/orgs/{id}/members/{account_id}",
            put(orgs::set_member::<S, C>).delete(orgs::remove_member::<S, C>),
        )
        .route("/orgs/{id}/token", post(orgs::org_token::<S, C>))
        .with_state(state)
}
