//! The verified-token cache behind `IamAuth` never outlives what it caches: expiry, revocation,
//! disabling and role changes take effect on the very next request.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use iam_axum::{IamAuth, RequireAuth, RequireRole};
use iam_core::{
    Config, Iam, LoginRequest, ManualClock, MasterKey, MemoryStore, NewAccount, PasswordPolicy,
    SecureRandom, Timestamp,
};
use tower::ServiceExt;

async fn me(RequireAuth(p): RequireAuth) -> String {
    p.account_id
}

async fn call(app: &Router, path: &str, token: &str) -> StatusCode {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn cached_tokens_still_expire_and_revoke() {
    let clock = ManualClock::new(Timestamp::from_secs(1_800_000_000));
    let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.access_token_ttl = Duration::from_secs(300);
    let iam = Iam::builder(MemoryStore::new(), config)
        .clock(clock.clone())
        .open()
        .await
        .unwrap();
    let alice = iam
        .create_account(
            NewAccount::human("alice", "alice password").with_roles(["ops"]),
            iam_core::Caller::System,
        )
        .await
        .unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .route("/ops", get(me).route_layer(RequireRole("ops")))
        .layer(IamAuth::new(iam.clone()));
    let login = || async {
        iam.login(&LoginRequest::password("alice", "alice password"))
            .await
            .unwrap()
            .tokens
            .access_token
            .expose()
            .to_owned()
    };

    // Expiry: a token served from the cache stops working at its exp.
    let t = login().await;
    assert_eq!(call(&app, "/me", &t).await, StatusCode::OK);
    assert_eq!(call(&app, "/me", &t).await, StatusCode::OK);
    clock.advance(Duration::from_secs(299));
    assert_eq!(call(&app, "/me", &t).await, StatusCode::OK);
    clock.advance(Duration::from_secs(1));
    assert_eq!(call(&app, "/me", &t).await, StatusCode::UNAUTHORIZED);

    // Session revocation.
    let t = login().await;
    assert_eq!(call(&app, "/me", &t).await, StatusCode::OK);
    iam.logout(&iam.verify(&t).await.unwrap()).await.unwrap();
    assert_eq!(call(&app, "/me", &t).await, StatusCode::UNAUTHORIZED);

    // Role revocation voids tokens carrying the role.
    clock.advance(Duration::from_secs(1));
    let t = login().await;
    assert_eq!(call(&app, "/ops", &t).await, StatusCode::OK);
    clock.advance(Duration::from_secs(1));
    iam.revoke_role(iam_core::Caller::System, &alice.id, "ops")
        .await
        .unwrap();
    assert_eq!(call(&app, "/ops", &t).await, StatusCode::UNAUTHORIZED);

    // Disabling the account.
    clock.advance(Duration::from_secs(1));
    let t = login().await;
    assert_eq!(call(&app, "/me", &t).await, StatusCode::OK);
    assert_eq!(call(&app, "/ops", &t).await, StatusCode::FORBIDDEN);
    iam.disable_account(iam_core::Caller::System, &alice.id)
        .await
        .unwrap();
    assert_eq!(call(&app, "/me", &t).await, StatusCode::UNAUTHORIZED);

    // A token differing in one character is not a cache hit.
    let mut forged = t.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(call(&app, "/me", &forged).await, StatusCode::UNAUTHORIZED);
}
