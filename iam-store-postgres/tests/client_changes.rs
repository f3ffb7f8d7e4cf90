//! A client's registration changed on one instance takes effect on every instance: each
//! instance remembers clients between requests, yet a disabled client's next token request is
//! refused at once everywhere, and a rotated secret works at once everywhere.

mod common;

use std::time::{Duration, Instant};

use common::TestSchema;
use iam_core::{
    Caller, ClientAuth, GrantType, Iam, NewAccount, NewClient, OAuthErrorCode, TokenRequest,
};
use iam_store_postgres::PostgresStore;

const PW: &str = "correct horse battery";

fn cc() -> TokenRequest {
    TokenRequest::ClientCredentials {
        scope: None,
        resource: vec![],
    }
}

/// Two instances on one schema, an admin principal, and a confidential client's id and secret
/// (registered on `a`).
async fn two_instances(
    schema: &TestSchema,
) -> (
    Iam<PostgresStore>,
    Iam<PostgresStore>,
    iam_core::Principal,
    ClientAuth,
) {
    let (a, b) = schema.two_instances().await;
    a.create_account(
        NewAccount::human("root", PW).with_roles(["admin"]),
        Caller::System,
    )
    .await
    .expect("admin");
    let login = a
        .login(&iam_core::LoginRequest::password("root", PW))
        .await
        .expect("login");
    let admin = a
        .verify(login.tokens.access_token.expose())
        .await
        .expect("verify");
    let reg = a
        .register_client(
            &admin,
            NewClient::confidential("App").grants([GrantType::ClientCredentials]),
        )
        .await
        .expect("register");
    let secret = reg
        .client_secret
        .expect("a confidential client has a secret");
    (a, b, admin, ClientAuth::secret(reg.client.id, secret))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_client_is_refused_at_once_on_every_instance() {
    if !common::server_available("a_disabled_client_is_refused_at_once_on_every_instance").await {
        return;
    }
    let schema = TestSchema::new();
    let (a, b, admin, app) = two_instances(&schema).await;
    // Both instances now remember the client.
    for iam in [&a, &b] {
        iam.token(&app, &cc()).await.expect("token before");
        let t = iam.token(&app, &cc()).await.expect("token");
        iam.introspect(&app, t.access_token.expose(), None)
            .await
            .expect("introspect before");
    }
    a.disable_client(&admin, &app.client_id)
        .await
        .expect("disable");
    // The very next token request on the other instance is refused, whether or not the
    // revocation feed has reached it yet.
    for iam in [&b, &a] {
        let refused = iam.token(&app, &cc()).await.expect_err("refused");
        assert_eq!(refused.code, OAuthErrorCode::InvalidClient);
    }
    // Introspection follows as soon as the feed has carried the change.
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.introspect(&app, "v4.public.x", None).await.is_ok() {
        assert!(Instant::now() < deadline, "still introspecting after 5 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = b.introspect(&app, "v4.public.x", None).await;
    assert_eq!(
        refused.err().map(|e| e.code),
        Some(OAuthErrorCode::InvalidClient)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_works_at_once_on_every_instance() {
    if !common::server_available("a_rotated_secret_works_at_once_on_every_instance").await {
        return;
    }
    let schema = TestSchema::new();
    let (a, b, admin, app) = two_instances(&schema).await;
    b.token(&app, &cc()).await.expect("b remembers the client");
    let fresh = a
        .rotate_client_secret(&admin, &app.client_id)
        .await
        .expect("rotate");
    let rotated = ClientAuth::secret(app.client_id.clone(), fresh);
    let t = b
        .token(&rotated, &cc())
        .await
        .expect("new secret on b at once");
    b.introspect(&rotated, t.access_token.expose(), None)
        .await
        .expect("introspection with the new secret on b");
    b.token(&app, &cc())
        .await
        .expect("the old secret during its grace period");
    // Garbage is refused on both, remembered or not.
    let wrong = ClientAuth::secret(
        app.client_id.clone(),
        iam_core::SecretString::new(String::from("iam_cs_wrong")),
    );
    for iam in [&a, &b] {
        assert_eq!(
            iam.token(&wrong, &cc()).await.expect_err("wrong").code,
            OAuthErrorCode::InvalidClient
        );
    }
}
