//! The OAuth client registry over REST: register (secret shown once), list, read, rotate,
//! disable; permission rules; the registered secret authenticates at the token endpoint logic.

#![allow(clippy::unwrap_used)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{start, ADMIN_PASSWORD};
use iam_core::oauth::{ClientAuth, TokenRequest};
use iam_core::{NewAccount, SecretString};
use serde_json::json;

fn client_credentials() -> TokenRequest {
    TokenRequest::from_params(&[("grant_type".into(), "client_credentials".into())]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_list_rotate_disable_over_rest() {
    let srv = start().await;
    let login = srv.login("admin", ADMIN_PASSWORD).await;
    let admin = login["access_token"].as_str().unwrap().to_owned();

    let created = srv
        .post(
            "/iam/clients",
            Some(&admin),
            json!({
                "name": "reporting",
                "kind": "confidential",
                "grant_types": ["client_credentials"],
                "scopes": ["reports.read"],
            }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    let id = created.body["client"]["id"].as_str().unwrap().to_owned();
    let secret = created.body["client_secret"].as_str().unwrap().to_owned();
    assert!(created.body["client"].get("secret_hash").is_none());

    // The secret authenticates; the listing never shows it.
    let auth = ClientAuth::secret(id.clone(), SecretString::new(secret.clone()));
    let token = srv.iam.token(&auth, &client_credentials()).await.unwrap();
    assert_eq!(token.scope.as_deref(), Some("reports.read"));
    let list = srv.get("/iam/clients", &admin).await;
    assert_eq!(list.status.as_u16(), 200);
    assert_eq!(list.body["clients"][0]["id"], id.as_str());
    assert!(!list.body.to_string().contains(&secret));
    let one = srv.get(&format!("/iam/clients/{id}"), &admin).await;
    assert_eq!(one.body["name"], "reporting");

    // Bad input is a JSON 4xx.
    srv.post(
        "/iam/clients",
        Some(&admin),
        json!({ "name": "x", "kind": "confidential", "grant_types": ["password"] }),
    )
    .await
    .assert_error(400, "bad_request");

    // Others may neither register admin clients nor see them.
    srv.iam
        .create_account(
            NewAccount::human("eve", "eve's long password"),
            iam_core::Caller::System,
        )
        .await
        .unwrap();
    let eve = srv.login("eve", "eve's long password").await;
    let eve = eve["access_token"].as_str().unwrap().to_owned();
    let refused = srv
        .post(
            "/iam/clients",
            Some(&eve),
            json!({ "name": "evil", "kind": "public", "grant_types": ["authorization_code"],
                    "redirect_uris": ["https://evil.example/cb"] }),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 403, "{}", refused.body);
    assert_eq!(srv.get("/iam/clients", &eve).await.status.as_u16(), 403);
    assert_eq!(
        srv.get(&format!("/iam/clients/{id}"), &eve)
            .await
            .status
            .as_u16(),
        404
    );

    // Rotation: a new secret; disable: nothing authenticates any more.
    let rotated = srv
        .post(
            &format!("/iam/clients/{id}/secret"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(rotated.status.as_u16(), 200, "{}", rotated.body);
    let new_secret = rotated.body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let auth = ClientAuth::secret(id.clone(), SecretString::new(new_secret));
    srv.iam.token(&auth, &client_credentials()).await.unwrap();
    let disabled = srv
        .post(
            &format!("/iam/clients/{id}/disable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(disabled.status.as_u16(), 200, "{}", disabled.body);
    assert!(srv.iam.token(&auth, &client_credentials()).await.is_err());
}

/// A client registered over REST for RFC 9068 JWT access tokens: its tokens pass the bearer
/// layer (`IamAuth`, `RequireScope`) of an embedding route and userinfo, and revocation voids
/// them at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_access_tokens_pass_the_bearer_layer_and_userinfo() {
    const CB: &str = "https://rp.example/cb";
    let srv = common::start_with_oauth(|_| {}).await;
    let admin = srv.admin_token().await;
    let created = srv
        .post(
            "/iam/clients",
            Some(&admin),
            json!({
                "name": "legacy",
                "kind": "confidential",
                "grant_types": ["client_credentials", "authorization_code"],
                "redirect_uris": [CB],
                "scopes": ["reports", "openid"],
                "access_token_format": "jwt",
            }),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    assert_eq!(created.body["client"]["access_token_format"], "jwt");
    let id = created.body["client"]["id"].as_str().unwrap().to_owned();
    let secret = created.body["client_secret"].as_str().unwrap().to_owned();
    let auth = ClientAuth::secret(id.clone(), SecretString::new(secret));

    // Client credentials: a JWT that the embedding app's scope check accepts.
    let req = TokenRequest::from_params(&[
        ("grant_type".into(), "client_credentials".into()),
        ("scope".into(), "reports".into()),
    ])
    .unwrap();
    let machine = srv.iam.token(&auth, &req).await.unwrap();
    let machine = machine.access_token.expose().to_owned();
    assert_eq!(machine.split('.').count(), 3, "a JWT");
    let header = URL_SAFE_NO_PAD
        .decode(machine.split('.').next().unwrap())
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header["typ"], "at+jwt");
    let a = srv.get("/app/reports", &machine).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.body);
    let a = srv.get("/app/hello", &machine).await;
    assert_eq!(a.body, json!(format!("hello {id}")));

    // A user's sign-in: the JWT answers userinfo, lacks the reports scope, and dies with its
    // grant.
    let user = srv
        .iam
        .verify(
            srv.login("admin", ADMIN_PASSWORD).await["access_token"]
                .as_str()
                .unwrap(),
        )
        .await
        .unwrap();
    let code_req = iam_core::AuthorizeRequest {
        response_type: Some("code".into()),
        client_id: Some(id.clone()),
        redirect_uri: Some(CB.into()),
        scope: Some("openid".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        ..iam_core::AuthorizeRequest::default()
    };
    let iam_core::AuthorizeOutcome::Redirect(r) = srv
        .iam
        .consent_and_authorize(&code_req, &user)
        .await
        .unwrap()
    else {
        panic!("expected a redirect");
    };
    let iam_core::oauth::AuthorizationResult::Code(code) = r.result else {
        panic!("expected a code");
    };
    let t = srv
        .iam
        .token(
            &auth,
            &TokenRequest::AuthorizationCode {
                code,
                redirect_uri: Some(CB.into()),
                code_verifier: Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into()),
                resource: vec![],
            },
        )
        .await
        .unwrap();
    let access = t.access_token.expose().to_owned();
    assert_eq!(access.split('.').count(), 3, "a JWT");
    let info = srv.get("/oauth2/userinfo", &access).await;
    assert_eq!(info.status.as_u16(), 200, "{}", info.body);
    assert_eq!(info.body["sub"], user.account_id.as_str());
    let a = srv.get("/app/hello", &access).await;
    assert_eq!(a.status.as_u16(), 200, "{}", a.body);
    srv.get("/app/reports", &access)
        .await
        .assert_error(403, "missing_scope");
    srv.iam.revoke_token(&auth, &access, None).await.unwrap();
    assert_eq!(srv.get("/app/hello", &access).await.status.as_u16(), 401);
    assert_eq!(
        srv.get("/oauth2/userinfo", &access).await.status.as_u16(),
        401
    );
    // The client's own token lives on.
    assert_eq!(srv.get("/app/hello", &machine).await.status.as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_clients_register_over_rest() {
    let srv = start().await;
    let login = srv.login("admin", ADMIN_PASSWORD).await;
    let admin = login["access_token"].as_str().unwrap().to_owned();
    let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    let body = |key: serde_json::Value| {
        json!({
            "name": "signer",
            "kind": "confidential",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": { "keys": [key] },
        })
    };
    let created = srv
        .post(
            "/iam/clients",
            Some(&admin),
            body(json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1", "x": x})),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    assert!(created
        .body
        .get("client_secret")
        .is_none_or(serde_json::Value::is_null));
    let client = &created.body["client"];
    assert_eq!(client["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(client["jwks"]["keys"][0]["x"], x);
    // A private key, or a client without keys, is refused.
    srv.post(
        "/iam/clients",
        Some(&admin),
        body(json!({"kty": "OKP", "crv": "Ed25519", "x": x, "d": x})),
    )
    .await
    .assert_error(422, "invalid_oauth_client");
    let mut no_keys = body(json!({}));
    no_keys.as_object_mut().unwrap().remove("jwks");
    srv.post("/iam/clients", Some(&admin), no_keys)
        .await
        .assert_error(422, "invalid_oauth_client");
}

/// The OpenID Connect registration fields come back as registered, from the registration, a
/// read and the listing; values the core refuses are `422 invalid_oauth_client`, and an
/// algorithm iam never signs with does not fit the body (`422 invalid_body`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_registration_fields_round_trip_over_rest() {
    let srv = start().await;
    let login = srv.login("admin", ADMIN_PASSWORD).await;
    let admin = login["access_token"].as_str().unwrap().to_owned();
    let body = |changes: serde_json::Value| {
        let mut b = json!({
            "name": "wiki",
            "kind": "confidential",
            "redirect_uris": ["https://wiki.example/cb"],
            "grant_types": ["authorization_code"],
            "scopes": ["openid", "profile"],
            "id_token_signed_response_alg": "ES256",
            "post_logout_redirect_uris": ["https://wiki.example/bye", "https://wiki.example/"],
            "backchannel_logout_uri": "https://wiki.example/backchannel",
            "default_max_age": 3600,
        });
        for (k, v) in changes.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let created = srv
        .post("/iam/clients", Some(&admin), body(json!({})))
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    let id = created.body["client"]["id"].as_str().unwrap().to_owned();
    let one = srv.get(&format!("/iam/clients/{id}"), &admin).await;
    let list = srv.get("/iam/clients", &admin).await;
    let listed = list.body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap()
        .clone();
    for client in [&created.body["client"], &one.body, &listed] {
        assert_eq!(client["id_token_signed_response_alg"], "ES256", "{client}");
        assert_eq!(
            client["post_logout_redirect_uris"],
            json!(["https://wiki.example/bye", "https://wiki.example/"]),
            "{client}"
        );
        assert_eq!(
            client["backchannel_logout_uri"], "https://wiki.example/backchannel",
            "{client}"
        );
        assert_eq!(
            client["backchannel_logout_session_required"], true,
            "{client}"
        );
        assert_eq!(client["default_max_age"], 3600, "{client}");
    }
    // Without them: the defaults.
    let plain = srv
        .post(
            "/iam/clients",
            Some(&admin),
            json!({
                "name": "plain",
                "kind": "confidential",
                "redirect_uris": ["https://plain.example/cb"],
                "grant_types": ["authorization_code"],
                "scopes": ["openid"],
            }),
        )
        .await;
    assert_eq!(plain.status.as_u16(), 201, "{}", plain.body);
    let c = &plain.body["client"];
    assert_eq!(c["id_token_signed_response_alg"], "RS256", "{c}");
    assert!(
        c.get("post_logout_redirect_uris")
            .is_none_or(|v| v.as_array().is_some_and(Vec::is_empty)),
        "{c}"
    );
    assert!(
        c.get("backchannel_logout_uri")
            .is_none_or(serde_json::Value::is_null),
        "{c}"
    );
    assert!(
        c.get("default_max_age")
            .is_none_or(serde_json::Value::is_null),
        "{c}"
    );

    for refused in [
        json!({ "default_max_age": 365 * 24 * 3600 + 1 }),
        json!({ "backchannel_logout_uri": "http://wiki.example/backchannel" }),
        json!({ "backchannel_logout_uri": "https://wiki.example/backchannel#frag" }),
        json!({ "post_logout_redirect_uris": ["https://wiki.example/bye#frag"] }),
        json!({ "post_logout_redirect_uris": ["not a uri"] }),
    ] {
        srv.post("/iam/clients", Some(&admin), body(refused))
            .await
            .assert_error(422, "invalid_oauth_client");
    }
    for unknown_alg in ["none", "HS256"] {
        srv.post(
            "/iam/clients",
            Some(&admin),
            body(json!({ "id_token_signed_response_alg": unknown_alg })),
        )
        .await
        .assert_error(422, "invalid_body");
    }
}
