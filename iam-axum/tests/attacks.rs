//! Attack paths against a real server (REST API and OAuth endpoints on one HTTPS listener):
//! each test drives one way a delegated or stale credential used to reach more than it
//! should, asserts the precise denial, and where it matters that the legitimate path works.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;
#[path = "interop/harness.rs"]
mod harness;

use std::collections::HashMap;
use std::time::Duration;

use common::{start_with_oauth, Answer, Server, ADMIN_PASSWORD};
use harness::{pkce, query_params, Browser};
use iam_core::config::{ElevationPolicy, StepUp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const REDIRECT: &str = "https://app.example/cb";

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

fn password_of(name: &str) -> String {
    format!("{name} password")
}

/// A server with the OAuth endpoints and the test defaults.
async fn server() -> Server {
    start_with_oauth(|_| {}).await
}

/// Creates a human account as admin (password [`password_of`]); returns its id.
async fn create_user(srv: &Server, admin: &str, name: &str, roles: &[&str]) -> String {
    let a = srv
        .post(
            "/iam/accounts",
            Some(admin),
            json!({ "username": name, "password": password_of(name), "roles": roles }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    s(&a.body["id"])
}

/// Logs `name` in over REST; returns its session's access token.
async fn session(srv: &Server, name: &str, password: &str) -> String {
    s(&srv.login(name, password).await["access_token"])
}

async fn delete(srv: &Server, path: &str, token: &str) -> Answer {
    srv.call(Method::DELETE, path, Some(token), None).await
}

async fn put(srv: &Server, path: &str, token: &str, body: Value) -> Answer {
    srv.call(Method::PUT, path, Some(token), Some(body)).await
}

async fn whoami(srv: &Server, token: &str) -> Answer {
    srv.get("/iam/whoami", token).await
}

/// Asserts that `token` no longer verifies on iam's own API.
async fn assert_dead(srv: &Server, token: &str, code: &str) {
    let a = whoami(srv, token).await;
    a.assert_error(401, code);
    assert!(
        a.header("www-authenticate").contains("invalid_token"),
        "{:?}",
        a.headers
    );
}

/// Asserts that `token` verifies on iam's own API.
async fn assert_alive(srv: &Server, token: &str) -> Value {
    let a = whoami(srv, token).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body
}

/// POSTs a form to an OAuth endpoint, with the client's Basic credentials when given.
async fn oauth_post(
    srv: &Server,
    path: &str,
    client: Option<&(String, String)>,
    pairs: &[(&str, &str)],
) -> Answer {
    let mut req = srv
        .client
        .post(srv.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(harness::form(pairs));
    if let Some((id, secret)) = client {
        req = req.basic_auth(harness::enc(id), Some(harness::enc(secret)));
    }
    Answer::from(req.send().await.unwrap()).await
}

/// Asserts an OAuth error answer (RFC 6749 §5.2 shape).
fn assert_oauth_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    assert_eq!(a.code(), code, "{}", a.body);
}

/// alice (role `reports`), her session, and her confidential client acting for her with the
/// client-credentials grant and scope `reports`: `(alice's id, her token, the client)`.
async fn alice_with_exporter(srv: &Server, admin: &str) -> (String, String, (String, String)) {
    let alice_id = create_user(srv, admin, "alice", &["reports"]).await;
    let alice = session(srv, "alice", &password_of("alice")).await;
    let client = confidential(
        srv,
        &alice,
        json!({ "name": "alice's exporter", "acts_for_owner": true,
                "grant_types": ["client_credentials"], "scopes": ["reports"] }),
    )
    .await;
    (alice_id, alice, client)
}

/// Registers a client over REST as the holder of `token`; returns the answer.
async fn register(srv: &Server, token: &str, body: Value) -> Answer {
    srv.post("/iam/clients", Some(token), body).await
}

/// Registers a confidential client (asserting 201); returns its id and secret.
async fn confidential(srv: &Server, token: &str, mut body: Value) -> (String, String) {
    body["kind"] = json!("confidential");
    let a = register(srv, token, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    (s(&a.body["client"]["id"]), s(&a.body["client_secret"]))
}

/// A client-credentials token for `client` with `scope`.
async fn client_credentials(srv: &Server, client: &(String, String), scope: &str) -> Answer {
    oauth_post(
        srv,
        "/oauth2/token",
        Some(client),
        &[("grant_type", "client_credentials"), ("scope", scope)],
    )
    .await
}

/// A browser trusting the server's certificate.
fn browser(srv: &Server) -> Browser {
    Browser {
        http: harness::http_for(Some(&(srv.cert_pem.clone(), srv.addr))),
        cookies: HashMap::new(),
        base: srv.base.clone(),
    }
}

/// Starts a device authorization for `client` with `scope`; returns (device_code, complete URI).
async fn start_device(srv: &Server, client: &(String, String), scope: &str) -> (String, String) {
    let d = oauth_post(
        srv,
        "/oauth2/device_authorization",
        Some(client),
        &[("scope", scope)],
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    (
        s(&d.body["device_code"]),
        s(&d.body["verification_uri_complete"]),
    )
}

/// In `b`, opens the device page, logs in as `name` and approves.
async fn approve_device(b: &mut Browser, uri: &str, name: &str, password: &str) {
    let login = b.get(uri).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let prompt = b.login(&login, name, password).await;
    assert_eq!(prompt.status, StatusCode::OK, "{}", prompt.body);
    let done = b.submit(&prompt, &[("decision", "approve")]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("connected"), "{}", done.body);
}

async fn poll(srv: &Server, client: &(String, String), device_code: &str) -> Answer {
    oauth_post(
        srv,
        "/oauth2/token",
        Some(client),
        &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
    )
    .await
}

/// The device flow for `client` and `scope`, approved by `name` in a fresh browser; returns
/// the token answer's body (asserting 200).
async fn device_token(
    srv: &Server,
    client: &(String, String),
    scope: &str,
    name: &str,
    password: &str,
) -> Value {
    let (code, uri) = start_device(srv, client, scope).await;
    approve_device(&mut browser(srv), &uri, name, password).await;
    let t = poll(srv, client, &code).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    t.body
}

async fn introspect(srv: &Server, client: &(String, String), token: &str) -> Value {
    let a = oauth_post(srv, "/oauth2/introspect", Some(client), &[("token", token)]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body
}

async fn refresh(srv: &Server, client: &(String, String), refresh_token: &str) -> Answer {
    oauth_post(
        srv,
        "/oauth2/token",
        Some(client),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Signs `b` out of its login-page session.
async fn sign_out(b: &mut Browser) {
    let page = b.get("/oauth2/login").await;
    assert!(page.body.contains("Sign out"), "{}", page.body);
    let out = b.submit(&page, &[]).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
}

/// Attack 1: the four-step escalation. A user registers a client acting for itself that asks
/// for the admin role; and a token an admin delegated to a (non-first-party) client carries the
/// admin role but must not reach the management API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegated_admin_role_does_not_reach_management() {
    let srv = server().await;
    let admin = srv.admin_token().await;
    let admin_id = s(&whoami(&srv, &admin).await.body["account_id"]);
    create_user(&srv, &admin, "mallory", &[]).await;
    let mallory = session(&srv, "mallory", &password_of("mallory")).await;

    // Step 1 of the escalation: a client acting for mallory that may ask for "admin".
    register(
        &srv,
        &mallory,
        json!({ "name": "escalator", "kind": "confidential", "acts_for_owner": true,
                "grant_types": [DEVICE_GRANT], "scopes": ["admin"] }),
    )
    .await
    .assert_error(403, "missing_role");
    // Nor by asking for the management scope.
    register(
        &srv,
        &mallory,
        json!({ "name": "escalator", "kind": "confidential", "acts_for_owner": true,
                "grant_types": ["client_credentials"], "scopes": ["iam:manage"] }),
    )
    .await
    .assert_error(403, "not_permitted");

    // The admin approves a device login of an admin-registered client asking for "admin".
    let client = confidential(
        &srv,
        &admin,
        json!({ "name": "console", "grant_types": [DEVICE_GRANT], "scopes": ["admin"] }),
    )
    .await;
    let t = device_token(&srv, &client, "admin", "admin", ADMIN_PASSWORD).await;
    assert_eq!(t["scope"], "admin");
    let delegated = s(&t["access_token"]);
    assert_eq!(
        assert_alive(&srv, &delegated).await["account_id"],
        admin_id.as_str()
    );
    put(
        &srv,
        &format!("/iam/accounts/{admin_id}/roles/admin"),
        &delegated,
        json!({}),
    )
    .await
    .assert_error(403, "missing_scope");
    srv.get("/iam/audit", &delegated)
        .await
        .assert_error(403, "missing_scope");
    let create = srv
        .post(
            "/iam/accounts",
            Some(&delegated),
            json!({ "username": "sleeper", "password": "sleeper password", "roles": ["admin"] }),
        )
        .await;
    create.assert_error(403, "missing_scope");
    assert!(
        create.body["message"]
            .as_str()
            .unwrap()
            .contains("iam:manage"),
        "{}",
        create.body
    );

    // The legitimate paths: the admin's session, and a first-party client granted iam:manage.
    assert_eq!(srv.get("/iam/audit", &admin).await.status, StatusCode::OK);
    let first_party = confidential(
        &srv,
        &admin,
        json!({ "name": "iamctl", "first_party": true, "grant_types": [DEVICE_GRANT],
                "scopes": ["admin", "iam:manage"] }),
    )
    .await;
    let t = device_token(
        &srv,
        &first_party,
        "admin iam:manage",
        "admin",
        ADMIN_PASSWORD,
    )
    .await;
    let managing = s(&t["access_token"]);
    let audit = srv.get("/iam/audit", &managing).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
}

/// Attack 2: a requester holding the approver role approves its own elevation request with
/// the client-credentials token of a client acting for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_client_cannot_approve_own_elevation() {
    let srv = start_with_oauth(|c| {
        c.elevation.insert(
            "ops".into(),
            ElevationPolicy {
                step_up: StepUp::Password,
                approver_role: Some("approver".into()),
                max_duration: Duration::from_secs(600),
            },
        );
    })
    .await;
    let admin = srv.admin_token().await;
    let carol_id = create_user(&srv, &admin, "carol", &["approver"]).await;
    create_user(&srv, &admin, "dave", &["approver"]).await;
    let granted = put(
        &srv,
        &format!("/iam/accounts/{carol_id}/elevatable-roles/ops"),
        &admin,
        json!({}),
    )
    .await;
    assert!(granted.status.is_success(), "{}", granted.body);
    let carol = session(&srv, "carol", &password_of("carol")).await;
    let asked = srv
        .post(
            "/iam/elevation",
            Some(&carol),
            json!({ "role": "ops", "password": password_of("carol") }),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let approve = format!(
        "/iam/elevation/requests/{}/approve",
        s(&asked.body["request_id"])
    );

    let client = confidential(
        &srv,
        &carol,
        json!({ "name": "carol's bot", "acts_for_owner": true,
                "grant_types": ["client_credentials"], "scopes": ["approver"] }),
    )
    .await;
    let t = client_credentials(&srv, &client, "approver").await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    let bot = s(&t.body["access_token"]);
    srv.post(&approve, Some(&bot), json!({}))
        .await
        .assert_error(403, "wrong_token_kind");
    srv.post(&approve, Some(&carol), json!({}))
        .await
        .assert_error(403, "self_approval");

    // Another approver's session approves.
    let dave = session(&srv, "dave", &password_of("dave")).await;
    let ok = srv.post(&approve, Some(&dave), json!({})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["status"], "approved");
}

/// Attack 3: a scopeless personal API token and an OAuth token with only `profile` reach the
/// account's sign-out, deletion and token management.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrow_delegated_tokens_cannot_manage_the_account() {
    let srv = server().await;
    let admin = srv.admin_token().await;
    let alice_id = create_user(&srv, &admin, "alice", &[]).await;
    let login = srv.login("alice", &password_of("alice")).await;
    let alice = s(&login["access_token"]);
    let session_id = s(&login["session_id"]);
    let made = srv
        .post(
            "/iam/api-tokens",
            Some(&alice),
            json!({ "label": "script", "scopes": [], "expires_in": 3600 }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let api_token = s(&made.body["token"]);
    let api_token_id = s(&made.body["info"]["id"]);

    let client = confidential(
        &srv,
        &admin,
        json!({ "name": "profile reader", "grant_types": [DEVICE_GRANT], "scopes": ["profile"] }),
    )
    .await;
    let t = device_token(&srv, &client, "profile", "alice", &password_of("alice")).await;
    let oauth_token = s(&t["access_token"]);

    for token in [&api_token, &oauth_token] {
        assert_alive(&srv, token).await;
        delete(&srv, "/iam/sessions", token)
            .await
            .assert_error(403, "wrong_token_kind");
        delete(&srv, &format!("/iam/sessions/{session_id}"), token)
            .await
            .assert_error(403, "wrong_token_kind");
        srv.post(
            &format!("/iam/accounts/{alice_id}/deletion"),
            Some(token),
            json!({}),
        )
        .await
        .assert_error(403, "wrong_token_kind");
        srv.get("/iam/api-tokens", token)
            .await
            .assert_error(403, "missing_scope");
        delete(&srv, &format!("/iam/api-tokens/{api_token_id}"), token)
            .await
            .assert_error(403, "wrong_token_kind");
    }

    // Nothing was done: the session, the API token and the account are as they were; the
    // session itself may list and revoke.
    assert_alive(&srv, &alice).await;
    assert_alive(&srv, &api_token).await;
    let me = srv.get(&format!("/iam/accounts/{alice_id}"), &alice).await;
    assert!(me.body["deletion_due"].is_null(), "{}", me.body);
    let listed = srv.get("/iam/api-tokens", &alice).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["api_tokens"][0]["id"], api_token_id.as_str());
    let revoked = delete(&srv, &format!("/iam/api-tokens/{api_token_id}"), &alice).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
}

/// Attack 4: an OAuth grant outlives sign-out-everywhere and a password change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_grants_die_with_sign_out_everywhere_and_password_change() {
    let srv = server().await;
    let admin = srv.admin_token().await;
    create_user(&srv, &admin, "alice", &[]).await;
    let client = confidential(
        &srv,
        &admin,
        json!({ "name": "tv", "grant_types": [DEVICE_GRANT, "refresh_token"],
                "scopes": ["profile"] }),
    )
    .await;

    // Sign out everywhere.
    let t = device_token(&srv, &client, "profile", "alice", &password_of("alice")).await;
    let (access, refresh_token) = (s(&t["access_token"]), s(&t["refresh_token"]));
    assert_alive(&srv, &access).await;
    assert_eq!(introspect(&srv, &client, &access).await["active"], true);
    let alice = session(&srv, "alice", &password_of("alice")).await;
    let out = delete(&srv, "/iam/sessions", &alice).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert_oauth_error(
        &refresh(&srv, &client, &refresh_token).await,
        400,
        "invalid_grant",
    );
    assert_eq!(introspect(&srv, &client, &access).await["active"], false);
    assert_dead(&srv, &access, "token_revoked").await;

    // A password change.
    let t = device_token(&srv, &client, "profile", "alice", &password_of("alice")).await;
    let (access, refresh_token) = (s(&t["access_token"]), s(&t["refresh_token"]));
    // The grant works until then: a refresh rotates.
    let rotated = refresh(&srv, &client, &refresh_token).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let refresh_token = s(&rotated.body["refresh_token"]);
    let alice = session(&srv, "alice", &password_of("alice")).await;
    let changed = put(
        &srv,
        "/iam/password",
        &alice,
        json!({ "current_password": password_of("alice"),
                "new_password": "alice's new password" }),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_oauth_error(
        &refresh(&srv, &client, &refresh_token).await,
        400,
        "invalid_grant",
    );
    assert_eq!(introspect(&srv, &client, &access).await["active"], false);
    assert_dead(&srv, &access, "token_revoked").await;
    let rotated_access = s(&rotated.body["access_token"]);
    assert_dead(&srv, &rotated_access, "token_revoked").await;
}

/// Attack 5: a client-credentials token acting for its owner outlives the owner's sign-out,
/// password change, disabling, or the loss of the role it carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acting_for_owner_tokens_follow_the_owner() {
    let srv = server().await;
    let admin = srv.admin_token().await;
    let (alice_id, alice, client) = alice_with_exporter(&srv, &admin).await;
    let mint = || async {
        let t = client_credentials(&srv, &client, "reports").await;
        assert_eq!(t.status, StatusCode::OK, "{}", t.body);
        let token = s(&t.body["access_token"]);
        let who = assert_alive(&srv, &token).await;
        assert_eq!(who["scopes"], json!(["reports"]), "{who}");
        token
    };

    // The owner signs out everywhere.
    let token = mint().await;
    let out = delete(&srv, "/iam/sessions", &alice).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert_dead(&srv, &token, "token_revoked").await;

    // The owner changes its password.
    let token = mint().await;
    let alice = session(&srv, "alice", &password_of("alice")).await;
    let changed = put(
        &srv,
        "/iam/password",
        &alice,
        json!({ "current_password": password_of("alice"),
                "new_password": "alice's new password" }),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_dead(&srv, &token, "token_revoked").await;

    // The role it carries is revoked from the owner.
    let token = mint().await;
    let revoked = delete(
        &srv,
        &format!("/iam/accounts/{alice_id}/roles/reports"),
        &admin,
    )
    .await;
    assert!(revoked.status.is_success(), "{}", revoked.body);
    assert_dead(&srv, &token, "token_revoked").await;

    // The owner is disabled.
    let regranted = put(
        &srv,
        &format!("/iam/accounts/{alice_id}/roles/reports"),
        &admin,
        json!({}),
    )
    .await;
    assert!(regranted.status.is_success(), "{}", regranted.body);
    let token = mint().await;
    let disabled = srv
        .post(
            &format!("/iam/accounts/{alice_id}/disable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert!(disabled.status.is_success(), "{}", disabled.body);
    assert_dead(&srv, &token, "account_disabled").await;
    assert_oauth_error(
        &client_credentials(&srv, &client, "reports").await,
        400,
        "unauthorized_client",
    );
}

/// Attack 5b: after its owner loses a role, a client acting for the owner tries to mint tokens
/// with that role's scope, which resource servers would accept (`RequireScope`). Each
/// client-credentials grant re-derives the scopes against the owner's current roles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acting_for_owner_client_cannot_mint_a_role_its_owner_lost() {
    let srv = server().await;
    let admin = srv.admin_token().await;
    let (alice_id, _, client) = alice_with_exporter(&srv, &admin).await;
    let t = client_credentials(&srv, &client, "reports").await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    assert_eq!(
        srv.get("/app/reports", &s(&t.body["access_token"]))
            .await
            .status,
        StatusCode::OK
    );

    let revoked = delete(
        &srv,
        &format!("/iam/accounts/{alice_id}/roles/reports"),
        &admin,
    )
    .await;
    assert!(revoked.status.is_success(), "{}", revoked.body);
    let again = client_credentials(&srv, &client, "reports").await;
    if again.status == StatusCode::OK {
        // What a resource server sees today: the role's scope, accepted.
        let reports = srv
            .get("/app/reports", &s(&again.body["access_token"]))
            .await;
        panic!(
            "a token with scope \"reports\" was minted for an owner without the role; \
             /app/reports answered {}",
            reports.status
        );
    }
    assert_oauth_error(&again, 400, "invalid_scope");
}

/// Attack 6: a stolen, long-lived session token removes TOTP or mints a role-carrying API
/// token without the holder having authenticated recently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_self_service_needs_recent_authentication() {
    let srv = start_with_oauth(|c| c.recent_authentication = Duration::from_secs(2)).await;
    let admin = srv.admin_token().await;
    create_user(&srv, &admin, "alice", &["reports"]).await;
    let stale = session(&srv, "alice", &password_of("alice")).await;
    let e = srv.post("/iam/totp/enrol", Some(&stale), json!({})).await;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.body);
    let totp = totp_rs::TOTP::from_url_unchecked(s(&e.body["uri"])).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let c = srv
        .post(
            "/iam/totp/confirm",
            Some(&stale),
            json!({ "code": totp.generate(now) }),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    let role_token = json!({ "label": "reports", "scopes": ["reports"], "expires_in": 3600 });

    tokio::time::sleep(Duration::from_millis(3100)).await;
    for a in [
        delete(&srv, "/iam/totp", &stale).await,
        srv.post("/iam/api-tokens", Some(&stale), role_token.clone())
            .await,
    ] {
        a.assert_error(401, "insufficient_user_authentication");
        let challenge = a.header("www-authenticate");
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(
            challenge.contains("error=\"insufficient_user_authentication\""),
            "{challenge}"
        );
        assert!(challenge.contains("max_age=2"), "{challenge}");
    }
    // A token that carries no role needs no recent sign-in.
    let plain = srv
        .post(
            "/iam/api-tokens",
            Some(&stale),
            json!({ "label": "plain", "scopes": [], "expires_in": 3600 }),
        )
        .await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.body);

    // A fresh sign-in (the next step's code, within the skew window) may do both.
    let fresh = srv
        .post(
            "/iam/login",
            None,
            json!({ "username": "alice", "password": password_of("alice"),
                    "totp_code": totp.generate(now + 30) }),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.body);
    let fresh = s(&fresh.body["access_token"]);
    let minted = srv
        .post("/iam/api-tokens", Some(&fresh), role_token.clone())
        .await;
    assert_eq!(minted.status, StatusCode::CREATED, "{}", minted.body);
    let removed = delete(&srv, "/iam/totp", &fresh).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(removed.body["totp"], "off");
}

/// Attack 7: any user creates an organization and adds a victim to it, to cut off the
/// victim's tokens or to act on its behalf in the organization.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_membership_is_an_invitation() {
    let srv = server().await;
    let admin = srv.admin_token().await;
    create_user(&srv, &admin, "mallory", &[]).await;
    let victim_id = create_user(&srv, &admin, "victim", &[]).await;
    let mallory = session(&srv, "mallory", &password_of("mallory")).await;
    let victim = session(&srv, "victim", &password_of("victim")).await;
    let org = srv
        .post("/iam/orgs", Some(&mallory), json!({ "name": "trap" }))
        .await;
    assert_eq!(org.status, StatusCode::CREATED, "{}", org.body);
    let org = s(&org.body["id"]);
    let member = format!("/iam/orgs/{org}/members/{victim_id}");
    let token_path = format!("/iam/orgs/{org}/token");

    let invited = put(&srv, &member, &mallory, json!({ "role": "member" })).await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
    assert_alive(&srv, &victim).await;
    let early = srv.post(&token_path, Some(&victim), json!({})).await;
    assert!(
        early.status == StatusCode::FORBIDDEN || early.status == StatusCode::NOT_FOUND,
        "no org token before accepting: {} {}",
        early.status,
        early.body
    );

    let accepted = srv
        .post(&format!("/iam/orgs/{org}/accept"), Some(&victim), json!({}))
        .await;
    assert_eq!(accepted.status, StatusCode::NO_CONTENT, "{}", accepted.body);
    let t = srv.post(&token_path, Some(&victim), json!({})).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    let org_token = s(&t.body["access_token"]);
    assert_eq!(
        assert_alive(&srv, &org_token).await["org"]["id"],
        org.as_str()
    );

    let removed = delete(&srv, &member, &mallory).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    assert_dead(&srv, &org_token, "token_revoked").await;
    assert_alive(&srv, &victim).await;
}

/// Attack 8 (a regression): removing a service account from an organization cut off its
/// 30-day token, which then could not be renewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_token_survives_org_membership_changes() {
    let srv = server().await;
    let admin = srv.admin_token().await;
    let svc = srv
        .post(
            "/iam/accounts",
            Some(&admin),
            json!({ "username": "billing", "kind": "system" }),
        )
        .await;
    assert_eq!(svc.status, StatusCode::CREATED, "{}", svc.body);
    let svc_id = s(&svc.body["id"]);
    let issued = srv
        .post(
            &format!("/iam/accounts/{svc_id}/service-token"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
    let service_token = s(&issued.body["token"]);
    let org = srv
        .post("/iam/orgs", Some(&admin), json!({ "name": "finance" }))
        .await;
    assert_eq!(org.status, StatusCode::CREATED, "{}", org.body);
    let member = format!("/iam/orgs/{}/members/{svc_id}", s(&org.body["id"]));

    let added = put(&srv, &member, &admin, json!({ "role": "member" })).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let removed = delete(&srv, &member, &admin).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);

    assert_alive(&srv, &service_token).await;
    let renewed = srv
        .post("/iam/service-token/renew", Some(&service_token), json!({}))
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    let new_token = s(&renewed.body["token"]);
    assert_eq!(
        assert_alive(&srv, &new_token).await["account_id"],
        svc_id.as_str()
    );
}

/// Attack 10: an authorization code or device approval outlives the login session that
/// granted it: the approving user signs out before the client redeems it. (Pairs with the
/// change on main that ties codes and device approvals to the approving session.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_die_with_the_approving_session() {
    let srv = server().await;
    let admin = srv.admin_token().await;
    create_user(&srv, &admin, "alice", &[]).await;
    let client = confidential(
        &srv,
        &admin,
        json!({ "name": "web and tv", "redirect_uris": [REDIRECT],
                "grant_types": ["authorization_code", DEVICE_GRANT], "scopes": ["profile"] }),
    )
    .await;

    // Authorization code: consent, sign out, then the exchange.
    let (verifier, challenge) = pkce();
    let mut b = browser(&srv);
    let url = format!(
        "/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=profile&state=s&code_challenge={challenge}&code_challenge_method=S256",
        harness::enc(&client.0),
        harness::enc(REDIRECT)
    );
    let login = b.get(&url).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let consent = b.login(&login, "alice", &password_of("alice")).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    let code = query_params(&done.location())["code"].clone();
    sign_out(&mut b).await;
    let exchange = oauth_post(
        &srv,
        "/oauth2/token",
        Some(&client),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_oauth_error(&exchange, 400, "invalid_grant");

    // Device: approve, sign out, then the poll.
    let (device_code, uri) = start_device(&srv, &client, "profile").await;
    let mut b = browser(&srv);
    approve_device(&mut b, &uri, "alice", &password_of("alice")).await;
    sign_out(&mut b).await;
    // RFC 8628 §3.5: the device is told the request was denied.
    assert_oauth_error(
        &poll(&srv, &client, &device_code).await,
        400,
        "access_denied",
    );

    // Without the sign-out, the same device flow yields a token.
    let t = device_token(&srv, &client, "profile", "alice", &password_of("alice")).await;
    assert_alive(&srv, &s(&t["access_token"])).await;
}

/// Attack 9: a token minted for another resource server (RFC 8707 `resource`) is replayed
/// against iam's own API. (Pairs with the change on main that puts the resource in `aud`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_bound_token_is_refused_by_iams_own_api() {
    let srv = server().await;
    let admin = srv.admin_token().await;
    let resource = "https://api.example/";
    let client = confidential(
        &srv,
        &admin,
        json!({ "name": "api caller", "grant_types": ["client_credentials"],
                "scopes": ["reports"], "resources": [resource] }),
    )
    .await;
    let bound = oauth_post(
        &srv,
        "/oauth2/token",
        Some(&client),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports"),
            ("resource", resource),
        ],
    )
    .await;
    assert_eq!(bound.status, StatusCode::OK, "{}", bound.body);
    let bound = s(&bound.body["access_token"]);
    // The resource server itself accepts it (introspection by a client allowed that resource).
    assert_eq!(introspect(&srv, &client, &bound).await["active"], true);
    assert_dead(&srv, &bound, "token_wrong_audience").await;

    // A token minted without a resource is for iam itself.
    let plain = client_credentials(&srv, &client, "reports").await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert_alive(&srv, &s(&plain.body["access_token"])).await;
}
