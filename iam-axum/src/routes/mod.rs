//! The REST routes: one file per concept, each handler parses, calls [`iam_core::Iam`], and maps
//! the outcome to a status and JSON body.

mod accounts;
mod admin;
mod clients;
mod elevation;
mod invitations;
mod orgs;
pub(crate) mod passkeys;
mod profile;
mod public;
mod session;
mod tokens;
mod upstream;

pub(crate) use admin::AUDIT_EXPORT_TYPE;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use iam_core::{Clock, Iam, Store};

use crate::error::ApiError;
use crate::rate_limit::RateLimiter;

/// What every handler shares.
pub(crate) struct ApiState<S: Store, C: Clock> {
    pub iam: Iam<S, C>,
    pub limiter: RateLimiter,
}

/// What a REST handler extracts: the shared [`ApiState`].
pub(crate) type ApiCtx<S, C> = State<Arc<ApiState<S, C>>>;

/// The per-address limit in front of anonymous endpoints.
async fn limit_by_address<S: Store, C: Clock>(
    State(state): ApiCtx<S, C>,
    req: Request,
    next: Next,
) -> Response {
    let addr = state.limiter.client_address(&req);
    match state.limiter.check(addr, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            tracing::info!(%addr, "rate limit reached");
            ApiError::rate_limited(wait).into_response()
        }
    }
}

/// Declares the REST route table once: [`ROUTES`] (what the OpenAPI document and its tests
/// enumerate) and the functions mounting exactly those routes.
macro_rules! route_table {
    (
        limited { $($lm:ident $lp:literal => $lh:expr, $ls:literal;)* }
        open { $($m:ident $p:literal => $h:expr, $s:literal;)* }
    ) => {
        /// Every REST route relative to the prefix: `(method, path template, summary)`.
        pub(crate) const ROUTES: &[(&str, &str, &str)] = &[
            $((stringify!($lm), $lp, $ls),)*
            $((stringify!($m), $p, $s),)*
        ];

        /// Mounts the rate-limited anonymous routes of [`ROUTES`].
        fn mount_limited<S: Store, C: Clock>(
            r: Router<Arc<ApiState<S, C>>>,
        ) -> Router<Arc<ApiState<S, C>>> {
            r$(.route($lp, $lm($lh)))*
        }

        /// Mounts the other routes of [`ROUTES`].
        fn mount_open<S: Store, C: Clock>(
            r: Router<Arc<ApiState<S, C>>>,
        ) -> Router<Arc<ApiState<S, C>>> {
            r$(.route($p, $m($h)))*
        }
    };
}

route_table! {
    limited {
        post "/login" => session::login::<S, C>, "Log in with password (and TOTP code) for a session and token pair";
        post "/refresh" => session::refresh::<S, C>, "Rotate a refresh token for a new token pair";
        post "/reauthenticate" => elevation::reauthenticate::<S, C>, "Prove the caller's credentials again (renews the recent sign-in)";
        post "/login/passkey" => passkeys::start_login::<S, C>, "Start a passkey sign-in: passwordless, or after username and password";
        post "/login/passkey/{ceremony}" => passkeys::finish_login::<S, C>, "Finish a passkey sign-in with the browser's credential, for a session and token pair";
    }
    open {
        get "/health" => public::health::<S, C>, "Health: 503 while tokens cannot be checked for revocation";
        get "/keys" => public::keys::<S, C>, "Token verification keys as PASERK";
        get "/keys/jwks.json" => public::jwks::<S, C>, "Token and JWT verification keys as an RFC 7517 JWK set";
        post "/keys/rotate" => admin::rotate_key::<S, C>, "Make a new signing key active (admin)";
        post "/logout" => session::logout::<S, C>, "End the caller's session";
        get "/whoami" => session::whoami, "What the caller's token says";
        get "/sessions" => session::list_sessions::<S, C>, "List sessions (own, or another account's for admins)";
        delete "/sessions" => session::revoke_all_own::<S, C>, "Sign out everywhere";
        delete "/sessions/{id}" => session::revoke_session::<S, C>, "Revoke one session";
        put "/password" => session::change_password::<S, C>, "Change the caller's password (needs the current one)";
        patch "/profile" => profile::update_own::<S, C>, "Set or clear the caller's own display name (a session)";
        post "/totp/enrol" => session::totp_enrol::<S, C>, "Start TOTP enrolment";
        post "/totp/confirm" => session::totp_confirm::<S, C>, "Confirm TOTP enrolment with a code";
        delete "/totp" => session::totp_remove::<S, C>, "Remove the caller's TOTP";
        get "/accounts" => accounts::list::<S, C>, "List accounts";
        post "/accounts" => accounts::create::<S, C>, "Create an account";
        get "/accounts/{id}" => accounts::get_one::<S, C>, "Read an account";
        post "/accounts/{id}/disable" => accounts::disable::<S, C>, "Disable an account";
        post "/accounts/{id}/enable" => accounts::enable::<S, C>, "Enable an account";
        put "/accounts/{id}/password" => accounts::set_password::<S, C>, "Set an account's password";
        patch "/accounts/{id}/profile" => profile::update::<S, C>, "Set an account's name, email and email verification (admin)";
        put "/accounts/{id}/roles/{role}" => accounts::grant_role::<S, C>, "Grant a role";
        delete "/accounts/{id}/roles/{role}" => accounts::revoke_role::<S, C>, "Revoke a role";
        put "/accounts/{id}/elevatable-roles/{role}" => accounts::grant_elevatable::<S, C>, "Grant an elevatable role";
        delete "/accounts/{id}/elevatable-roles/{role}" => accounts::revoke_elevatable::<S, C>, "Revoke an elevatable role";
        delete "/accounts/{id}/totp" => accounts::remove_totp::<S, C>, "Remove an account's TOTP (recovery)";
        delete "/accounts/{id}/sessions" => accounts::revoke_sessions::<S, C>, "Revoke every session of an account";
        post "/accounts/{id}/deletion" => accounts::schedule_deletion::<S, C>, "Schedule an account's deletion";
        delete "/accounts/{id}/deletion" => accounts::cancel_deletion::<S, C>, "Cancel a scheduled deletion";
        get "/accounts/{id}/memberships" => orgs::memberships_of::<S, C>, "An account's organization memberships";
        get "/accounts/{id}/upstream-links" => upstream::list::<S, C>, "The upstream (OpenID Provider) identities linked to an account";
        delete "/accounts/{id}/upstream-links/{link}" => upstream::unlink::<S, C>, "Unlink an upstream identity from an account";
        post "/accounts/{id}/service-token" => tokens::issue_service::<S, C>, "Issue a service account's token";
        delete "/accounts/{id}/service-token" => tokens::revoke_service::<S, C>, "Revoke a service account's token";
        post "/service-token/renew" => tokens::renew_service::<S, C>, "Renew the calling service's token";
        get "/accounts/{id}/db-credentials" => admin::fetch_credentials::<S, C>, "Fetch a service's database credentials";
        put "/accounts/{id}/db-credentials" => admin::store_credentials::<S, C>, "Store a service's database credentials";
        get "/api-tokens" => tokens::list_api::<S, C>, "List personal API tokens (own, or another account's for admins)";
        post "/api-tokens" => tokens::create_api::<S, C>, "Create a personal API token";
        delete "/api-tokens/{id}" => tokens::revoke_api::<S, C>, "Revoke a personal API token";
        get "/passkeys" => passkeys::list::<S, C>, "List passkeys (own, or another account's for admins)";
        post "/passkeys/registration" => passkeys::start_registration::<S, C>, "Start registering a passkey for the caller (a recent session)";
        post "/passkeys/registration/{ceremony}" => passkeys::finish_registration::<S, C>, "Finish registering a passkey with the browser's credential";
        post "/passkeys/step-up" => passkeys::step_up::<S, C>, "A passkey challenge for a step-up (reauthenticate, elevation)";
        patch "/passkeys/{id}" => passkeys::rename::<S, C>, "Rename a passkey";
        delete "/passkeys/{id}" => passkeys::remove::<S, C>, "Remove a passkey";
        get "/invitations" => invitations::list::<S, C>, "List invitations (all for admins, an inviter's own)";
        post "/invitations" => invitations::create::<S, C>, "Invite someone to create an account (the secret is shown once)";
        delete "/invitations/{id}" => invitations::revoke::<S, C>, "Revoke an invitation";
        post "/elevation" => elevation::elevate::<S, C>, "Open (200) or request (202) an elevation";
        get "/elevation/requests" => elevation::pending::<S, C>, "Pending elevation requests the caller may answer";
        post "/elevation/requests/{id}/approve" => elevation::approve::<S, C>, "Approve an elevation request";
        post "/elevation/requests/{id}/deny" => elevation::deny::<S, C>, "Deny an elevation request";
        delete "/elevation/{role}" => elevation::end::<S, C>, "End an elevation";
        get "/audit" => admin::audit::<S, C>, "Query the audit log";
        get "/audit/verify" => admin::audit_verify::<S, C>, "Verify the audit log's hash chain";
        get "/audit/export" => admin::audit_export::<S, C>, "Export the audit log as JSON lines with its signed checkpoints and their keys, for offline verification (admin)";
        post "/orgs" => orgs::create::<S, C>, "Create an organization";
        get "/orgs/{id}" => orgs::get_one::<S, C>, "Read an organization";
        get "/orgs/{id}/members" => orgs::members::<S, C>, "List an organization's members";
        put "/orgs/{id}/members/{account_id}" => orgs::set_member::<S, C>, "Add or update a member";
        delete "/orgs/{id}/members/{account_id}" => orgs::remove_member::<S, C>, "Remove a member";
        post "/orgs/{id}/accept" => orgs::accept::<S, C>, "Accept an invitation to an organization";
        post "/orgs/{id}/decline" => orgs::decline::<S, C>, "Decline an invitation to an organization";
        post "/orgs/{id}/token" => orgs::org_token::<S, C>, "Issue an organization-scoped token";
        get "/clients" => clients::list::<S, C>, "List OAuth clients";
        post "/clients" => clients::register::<S, C>, "Register an OAuth client (its secret is shown once)";
        get "/clients/{id}" => clients::get_one::<S, C>, "Read an OAuth client";
        post "/clients/{id}/secret" => clients::rotate_secret::<S, C>, "Rotate an OAuth client's secret";
        post "/clients/{id}/disable" => clients::disable::<S, C>, "Disable an OAuth client and revoke its tokens";
    }
}

/// Every REST route of [`ROUTES`], relative to the prefix.
pub(crate) fn routes<S: Store, C: Clock>(state: Arc<ApiState<S, C>>) -> Router {
    let anonymous = mount_limited(Router::new()).route_layer(middleware::from_fn_with_state(
        Arc::clone(&state),
        limit_by_address::<S, C>,
    ));
    mount_open(Router::new().merge(anonymous)).with_state(state)
}
