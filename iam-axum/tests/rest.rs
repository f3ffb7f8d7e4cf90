//! End to end over HTTPS: every REST route, driven with reqwest against a real server.

#![allow(clippy::unwrap_used, clippy::many_single_char_names)]

mod common;

use common::{start, Server, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// Creates a human account as admin; returns its id.
async fn create_user(srv: &Server, admin: &str, name: &str, roles: &[&str]) -> String {
    let a = srv
        .post(
            "/iam/accounts",
            Some(admin),
            json!({ "username": name, "password": format!("{name} password"), "roles": roles }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["username"], name);
    assert!(a.body.get("password").is_none());
    s(&a.body["id"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_routes() {
    let srv = start().await;
    let a = srv.call(Method::GET, "/iam/health", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["status"], "ok");
    // While the revocation list is not current every token check fails closed; health says so.
    srv.iam.revocation_cache().mark_stale();
    let stale = srv.call(Method::GET, "/iam/health", None, None).await;
    assert_eq!(stale.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stale.body["status"], "revocation_unavailable");
    iam_core::store::Store::subscribe(
        srv.iam.store(),
        std::sync::Arc::clone(srv.iam.revocation_cache()),
    )
    .await
    .expect("reload the revocation list");
    let again = srv.call(Method::GET, "/iam/health", None, None).await;
    assert_eq!(again.status, StatusCode::OK);

    let keys = srv.call(Method::GET, "/iam/keys", None, None).await;
    assert_eq!(keys.status, StatusCode::OK);
    let k = &keys.body["keys"][0];
    assert!(s(&k["kid"]).starts_with("k4.pid."));
    assert!(s(&k["paserk"]).starts_with("k4.public."));
    assert_eq!(k["active"], true);

    let jwks = srv
        .call(Method::GET, "/iam/keys/jwks.json", None, None)
        .await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert_eq!(jwks.body["keys"][0]["kty"], "OKP");
    assert_eq!(jwks.body["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks.body["keys"][0]["kid"], k["kid"]);
    // The JWT keys follow the PASETO ones, one per algorithm.
    let algs: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["RS256", "ES256", "EdDSA"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refresh_whoami_sessions_logout() {
    let srv = start().await;
    let login = srv.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login["token_type"], "Bearer");
    assert!(login["expires_in"].as_u64().unwrap() > 0);
    assert_eq!(login["account"]["username"], "admin");
    let access = s(&login["access_token"]);
    let refresh = s(&login["refresh_token"]);

    // Wrong password and unknown user answer alike.
    let wrong = srv
        .post(
            "/iam/login",
            None,
            json!({ "username": "admin", "password": "not the password" }),
        )
        .await;
    wrong.assert_error(401, "invalid_credentials");
    let unknown = srv
        .post(
            "/iam/login",
            None,
            json!({ "username": "nobody", "password": "not the password" }),
        )
        .await;
    unknown.assert_error(401, "invalid_credentials");
    assert_eq!(wrong.body, unknown.body);

    let who = srv.get("/iam/whoami", &access).await;
    assert_eq!(who.status, StatusCode::OK);
    assert_eq!(who.body["roles"], json!(["admin"]));
    assert_eq!(who.body["amr"], json!(["pwd"]));

    let r = srv
        .post("/iam/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let access2 = s(&r.body["access_token"]);
    // Reuse of the old refresh token revokes the session.
    let reuse = srv
        .post("/iam/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    reuse.assert_error(401, "refresh_token_reused");
    srv.get("/iam/whoami", &access2)
        .await
        .assert_error(401, "session_revoked");

    // Sessions: list, revoke one, sign out everywhere.
    let t1 = srv.admin_token().await;
    let t2 = srv.admin_token().await;
    let list = srv.get("/iam/sessions", &t1).await;
    assert_eq!(list.status, StatusCode::OK);
    let sessions = list.body["sessions"].as_array().unwrap();
    assert!(sessions.len() >= 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let who2 = srv.get("/iam/whoami", &t2).await;
    let sid2 = s(&who2.body["session_id"]);
    let del = srv
        .call(
            Method::DELETE,
            &format!("/iam/sessions/{sid2}"),
            Some(&t1),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    srv.get("/iam/whoami", &t2)
        .await
        .assert_error(401, "session_revoked");
    srv.call(Method::DELETE, "/iam/sessions/ses_nope", Some(&t1), None)
        .await
        .assert_error(404, "not_found");

    let logout = srv.call(Method::POST, "/iam/logout", Some(&t1), None).await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    srv.get("/iam/whoami", &t1)
        .await
        .assert_error(401, "session_revoked");

    let t3 = srv.admin_token().await;
    let all = srv
        .call(Method::DELETE, "/iam/sessions", Some(&t3), None)
        .await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(all.body["revoked"].as_u64().unwrap() >= 1);
    assert_eq!(
        srv.get("/iam/whoami", &t3).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_enrol_confirm_login_remove() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    create_user(&srv, &admin, "carol", &[]).await;
    let tok = s(&srv.login("carol", "carol password").await["access_token"]);

    let e = srv.post("/iam/totp/enrol", Some(&tok), json!({})).await;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.body);
    let uri = s(&e.body["uri"]);
    assert!(uri.starts_with("otpauth://totp/"));
    let totp = totp_rs::TOTP::from_url_unchecked(&uri).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    srv.post("/iam/totp/confirm", Some(&tok), json!({ "code": "12" }))
        .await
        .assert_error(422, "invalid_totp_code");
    let c = srv
        .post(
            "/iam/totp/confirm",
            Some(&tok),
            json!({ "code": totp.generate(now) }),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    assert_eq!(c.body["totp"], "on");

    // Password alone is no longer enough.
    srv.post(
        "/iam/login",
        None,
        json!({ "username": "carol", "password": "carol password" }),
    )
    .await
    .assert_error(401, "totp_required");
    // The next step's code (within the skew window) logs in.
    let l = srv
        .post(
            "/iam/login",
            None,
            json!({ "username": "carol", "password": "carol password",
                    "totp_code": totp.generate(now + 30) }),
        )
        .await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.body);
    let tok2 = s(&l.body["access_token"]);
    let who = srv.get("/iam/whoami", &tok2).await;
    assert_eq!(who.body["amr"], json!(["pwd", "otp"]));

    let r = srv
        .call(Method::DELETE, "/iam/totp", Some(&tok2), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totp"], "off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_roles_admin() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    let bob = create_user(&srv, &admin, "bob", &["staff"]).await;

    srv.post(
        "/iam/accounts",
        Some(&admin),
        json!({ "username": "bob", "password": "another password" }),
    )
    .await
    .assert_error(409, "username_taken");
    srv.post(
        "/iam/accounts",
        Some(&admin),
        json!({ "username": "Bad Name", "password": "another password" }),
    )
    .await
    .assert_error(422, "invalid_username");
    srv.post(
        "/iam/accounts",
        Some(&admin),
        json!({ "username": "shorty", "password": "x" }),
    )
    .await
    .assert_error(422, "password_too_short");

    let list = srv.get("/iam/accounts?limit=10", &admin).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["accounts"].as_array().unwrap().len(), 2);
    let by_name = srv.get("/iam/accounts?username=bob", &admin).await;
    assert_eq!(by_name.body["accounts"][0]["id"], bob.as_str());
    let one = srv.get(&format!("/iam/accounts/{bob}"), &admin).await;
    assert_eq!(one.body["roles"], json!(["staff"]));
    srv.get("/iam/accounts/acc_missing", &admin)
        .await
        .assert_error(404, "not_found");

    // Bob is not an admin: RFC 6750 insufficient_scope.
    let bob_tok = s(&srv.login("bob", "bob password").await["access_token"]);
    let denied = srv.get("/iam/accounts", &bob_tok).await;
    denied.assert_error(403, "missing_role");
    assert!(denied
        .header("www-authenticate")
        .contains("insufficient_scope"));
    // Bob may read himself, not others.
    assert_eq!(
        srv.get(&format!("/iam/accounts/{bob}"), &bob_tok)
            .await
            .status,
        StatusCode::OK
    );

    let put = |path: String| {
        let srv = &srv;
        let admin = admin.clone();
        async move { srv.call(Method::PUT, &path, Some(&admin), None).await }
    };
    let g = put(format!("/iam/accounts/{bob}/roles/ops")).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body["roles"], json!(["ops", "staff"]));
    put(format!("/iam/accounts/{bob}/roles/NOT%20OK"))
        .await
        .assert_error(422, "invalid_role");
    // Revoking a role voids bob's current tokens.
    let r = srv
        .call(
            Method::DELETE,
            &format!("/iam/accounts/{bob}/roles/ops"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["roles"], json!(["staff"]));
    srv.get("/iam/whoami", &bob_tok)
        .await
        .assert_error(401, "token_revoked");

    let e = put(format!("/iam/accounts/{bob}/elevatable-roles/ops")).await;
    assert_eq!(e.body["elevatable_roles"], json!(["ops"]));
    let e = srv
        .call(
            Method::DELETE,
            &format!("/iam/accounts/{bob}/elevatable-roles/ops"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(e.body["elevatable_roles"], json!([]));

    let pw = srv
        .call(
            Method::PUT,
            &format!("/iam/accounts/{bob}/password"),
            Some(&admin),
            Some(json!({ "password": "bob new password" })),
        )
        .await;
    assert_eq!(pw.status, StatusCode::OK, "{}", pw.body);
    srv.login("bob", "bob new password").await;

    let d = srv
        .post(
            &format!("/iam/accounts/{bob}/disable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(d.body["disabled"], true);
    let l = srv
        .post(
            "/iam/login",
            None,
            json!({ "username": "bob", "password": "bob new password" }),
        )
        .await;
    l.assert_error(403, "account_disabled");
    let en = srv
        .post(
            &format!("/iam/accounts/{bob}/enable"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(en.body["disabled"], false);
    let bob_tok = s(&srv.login("bob", "bob new password").await["access_token"]);

    // Admin removes bob's TOTP; admin signs bob out everywhere.
    let t = srv
        .call(
            Method::DELETE,
            &format!("/iam/accounts/{bob}/totp"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(t.body["totp"], "off");
    let so = srv
        .call(
            Method::DELETE,
            &format!("/iam/accounts/{bob}/sessions"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(so.status, StatusCode::OK);
    assert_eq!(
        srv.get("/iam/whoami", &bob_tok).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Scheduled deletion: by the account itself; cancel.
    let bob_tok = s(&srv.login("bob", "bob new password").await["access_token"]);
    let sd = srv
        .post(
            &format!("/iam/accounts/{bob}/deletion"),
            Some(&bob_tok),
            json!({}),
        )
        .await;
    assert_eq!(sd.status, StatusCode::ACCEPTED, "{}", sd.body);
    assert!(sd.body["deletion_due"].is_string());
    let acc = srv.get(&format!("/iam/accounts/{bob}"), &admin).await;
    assert!(acc.body["deletion_due"].is_string());
    let cd = srv
        .call(
            Method::DELETE,
            &format!("/iam/accounts/{bob}/deletion"),
            Some(&bob_tok),
            None,
        )
        .await;
    assert_eq!(cd.status, StatusCode::NO_CONTENT);
    let acc = srv.get(&format!("/iam/accounts/{bob}"), &admin).await;
    assert!(acc.body["deletion_due"].is_null());
    let admin_id = s(&srv.get("/iam/whoami", &admin).await.body["account_id"]);
    srv.post(
        &format!("/iam/accounts/{admin_id}/deletion"),
        Some(&bob_tok),
        json!({}),
    )
    .await
    .assert_error(403, "not_permitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tokens_and_credentials() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    let sa = srv
        .post(
            "/iam/accounts",
            Some(&admin),
            json!({ "username": "billing", "kind": "system" }),
        )
        .await;
    assert_eq!(sa.status, StatusCode::CREATED, "{}", sa.body);
    assert_eq!(sa.body["kind"], "system");
    let sa = s(&sa.body["id"]);

    let t = srv
        .post(
            &format!("/iam/accounts/{sa}/service-token"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    let svc = s(&t.body["token"]);
    let who = srv.get("/iam/whoami", &svc).await;
    assert_eq!(who.body["kind"], "system");
    assert_eq!(who.body["amr"], json!(["service_token"]));

    // Renewal by the token itself replaces it.
    let renewed = srv
        .post("/iam/service-token/renew", Some(&svc), json!({}))
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    let svc2 = s(&renewed.body["token"]);
    srv.get("/iam/whoami", &svc)
        .await
        .assert_error(401, "session_revoked");

    // Credentials: admin stores, the service fetches, others are refused.
    let put = srv
        .call(
            Method::PUT,
            &format!("/iam/accounts/{sa}/db-credentials"),
            Some(&admin),
            Some(
                json!({ "host": "db.local", "port": 5432, "database": "billing",
                         "user": "billing", "password": "s3cret" }),
            ),
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
    let got = srv
        .get(&format!("/iam/accounts/{sa}/db-credentials"), &svc2)
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.body["password"], "s3cret");
    assert_eq!(got.body["port"], 5432);
    srv.get(&format!("/iam/accounts/{sa}/db-credentials"), &admin)
        .await
        .assert_error(403, "not_permitted");

    let rv = srv
        .call(
            Method::DELETE,
            &format!("/iam/accounts/{sa}/service-token"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(rv.status, StatusCode::NO_CONTENT);
    srv.get("/iam/whoami", &svc2)
        .await
        .assert_error(401, "session_revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    let dave_id = create_user(&srv, &admin, "dave", &["reports", "staff"]).await;
    let dave = s(&srv.login("dave", "dave password").await["access_token"]);

    let c = srv
        .post(
            "/iam/api-tokens",
            Some(&dave),
            json!({ "label": "ci", "scopes": ["reports"], "expires_in": 3600 }),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    let pat = s(&c.body["token"]);
    assert!(pat.starts_with(iam_core::API_TOKEN_PREFIX));
    let id = s(&c.body["info"]["id"]);

    let who = srv.get("/iam/whoami", &pat).await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.body);
    assert_eq!(who.body["scopes"], json!(["reports"]));
    // Scope checks in the embedding app.
    assert_eq!(srv.get("/app/reports", &pat).await.status, StatusCode::OK);

    srv.post(
        "/iam/api-tokens",
        Some(&dave),
        json!({ "label": "x", "scopes": ["admin"], "expires_in": 3600 }),
    )
    .await
    .assert_error(403, "missing_role");
    srv.post(
        "/iam/api-tokens",
        Some(&dave),
        json!({ "label": "x", "scopes": [], "expires_in": 0 }),
    )
    .await
    .assert_error(422, "expiry_in_past");
    // An API token cannot mint API tokens.
    srv.post(
        "/iam/api-tokens",
        Some(&pat),
        json!({ "label": "x", "scopes": [], "expires_in": 60 }),
    )
    .await
    .assert_error(403, "wrong_token_kind");

    let list = srv.get("/iam/api-tokens", &dave).await;
    let tokens = list.body["api_tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].get("token").is_none());
    // An admin can see another account's tokens (to revoke them); nobody else can.
    let seen = srv
        .get(&format!("/iam/api-tokens?account_id={dave_id}"), &admin)
        .await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(seen.body["api_tokens"][0]["id"], json!(id));
    create_user(&srv, &admin, "erin", &[]).await;
    let erin = s(&srv.login("erin", "erin password").await["access_token"]);
    // (Anyone else is refused.)
    srv.get(&format!("/iam/api-tokens?account_id={dave_id}"), &erin)
        .await
        .assert_error(403, "not_permitted");
    let del = srv
        .call(
            Method::DELETE,
            &format!("/iam/api-tokens/{id}"),
            Some(&dave),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    let after = srv.get("/iam/whoami", &pat).await;
    after.assert_error(401, "token_revoked");
    assert!(after.header("www-authenticate").contains("invalid_token"));
    srv.get("/iam/whoami", "iam_pat_garbage")
        .await
        .assert_error(401, "api_token_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elevation_direct_and_approved() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    let erin = create_user(&srv, &admin, "erin", &[]).await;
    for role in ["ops", "breakglass"] {
        srv.call(
            Method::PUT,
            &format!("/iam/accounts/{erin}/elevatable-roles/{role}"),
            Some(&admin),
            None,
        )
        .await;
    }
    let tok = s(&srv.login("erin", "erin password").await["access_token"]);

    srv.post("/iam/elevation", Some(&tok), json!({ "role": "ops" }))
        .await
        .assert_error(403, "step_up_required");
    srv.post(
        "/iam/elevation",
        Some(&tok),
        json!({ "role": "ops", "password": "wrong password" }),
    )
    .await
    .assert_error(401, "invalid_credentials");
    srv.post(
        "/iam/elevation",
        Some(&tok),
        json!({ "role": "root", "password": "erin password" }),
    )
    .await
    .assert_error(403, "elevation_not_allowed");

    let el = srv
        .post(
            "/iam/elevation",
            Some(&tok),
            json!({ "role": "ops", "password": "erin password", "duration": 60 }),
        )
        .await;
    assert_eq!(el.status, StatusCode::OK, "{}", el.body);
    assert_eq!(el.body["status"], "active");
    let elevated = s(&el.body["access_token"]);
    let who = srv.get("/iam/whoami", &elevated).await;
    assert_eq!(who.body["elevated_roles"], json!(["ops"]));
    let end = srv
        .call(Method::DELETE, "/iam/elevation/ops", Some(&elevated), None)
        .await;
    assert_eq!(end.status, StatusCode::NO_CONTENT);
    assert_eq!(
        srv.get("/iam/whoami", &elevated).await.status,
        StatusCode::UNAUTHORIZED
    );

    // breakglass needs an admin's approval.
    let tok = s(&srv.login("erin", "erin password").await["access_token"]);
    let req = srv
        .post(
            "/iam/elevation",
            Some(&tok),
            json!({ "role": "breakglass", "password": "erin password" }),
        )
        .await;
    assert_eq!(req.status, StatusCode::ACCEPTED, "{}", req.body);
    let rid = s(&req.body["request_id"]);
    let pending = srv.get("/iam/elevation/requests", &admin).await;
    assert_eq!(pending.body["requests"][0]["id"], rid.as_str());
    srv.post(
        &format!("/iam/elevation/requests/{rid}/approve"),
        Some(&tok),
        json!({}),
    )
    .await
    .assert_error(403, "self_approval");
    let ok = srv
        .post(
            &format!("/iam/elevation/requests/{rid}/approve"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["elevation"]["role"], "breakglass");
    srv.post(
        &format!("/iam/elevation/requests/{rid}/deny"),
        Some(&admin),
        json!({}),
    )
    .await
    .assert_error(409, "elevation_request_closed");

    // A second request, denied.
    let req = srv
        .post(
            "/iam/elevation",
            Some(&tok),
            json!({ "role": "breakglass", "password": "erin password" }),
        )
        .await;
    let rid = s(&req.body["request_id"]);
    let d = srv
        .post(
            &format!("/iam/elevation/requests/{rid}/deny"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_and_organizations() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    let fred = create_user(&srv, &admin, "fred", &[]).await;

    let a = srv
        .get("/iam/audit?kind=login.succeeded&limit=5", &admin)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let events = a.body["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["kind"] == "login.succeeded"));
    assert_eq!(events[0]["hash"].as_str().unwrap().len(), 64);
    let by_acc = srv.get(&format!("/iam/audit?account={fred}"), &admin).await;
    assert_eq!(by_acc.body["events"][0]["kind"], "account.created");
    srv.get("/iam/audit?kind=nope", &admin)
        .await
        .assert_error(400, "invalid_query");
    srv.get("/iam/audit?from=yesterday", &admin)
        .await
        .assert_error(400, "invalid_query");
    let v = srv.get("/iam/audit/verify", &admin).await;
    assert_eq!(v.body["intact"], true);
    assert!(v.body["events"].as_u64().unwrap() >= 3);

    let org = srv
        .post("/iam/orgs", Some(&admin), json!({ "name": "acme" }))
        .await;
    assert_eq!(org.status, StatusCode::CREATED, "{}", org.body);
    let org_id = s(&org.body["id"]);
    let got = srv.get(&format!("/iam/orgs/{org_id}"), &admin).await;
    assert_eq!(got.body["name"], "acme");
    let m = srv
        .call(
            Method::PUT,
            &format!("/iam/orgs/{org_id}/members/{fred}"),
            Some(&admin),
            Some(json!({ "role": "member" })),
        )
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    let members = srv
        .get(&format!("/iam/orgs/{org_id}/members"), &admin)
        .await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 2);

    let fred_tok = s(&srv.login("fred", "fred password").await["access_token"]);
    let ms = srv
        .get(&format!("/iam/accounts/{fred}/memberships"), &fred_tok)
        .await;
    assert_eq!(ms.body["memberships"][0]["role"], "member");
    let ot = srv
        .post(
            &format!("/iam/orgs/{org_id}/token"),
            Some(&fred_tok),
            json!({}),
        )
        .await;
    assert_eq!(ot.status, StatusCode::OK, "{}", ot.body);
    let org_tok = s(&ot.body["access_token"]);
    let who = srv.get("/iam/whoami", &org_tok).await;
    assert_eq!(who.body["org"]["id"], org_id.as_str());
    assert_eq!(who.body["org"]["role"], "member");

    let rm = srv
        .call(
            Method::DELETE,
            &format!("/iam/orgs/{org_id}/members/{fred}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(rm.status, StatusCode::NO_CONTENT);
    // Leaving the organization ends its organization tokens, and nothing else.
    srv.get("/iam/whoami", &org_tok)
        .await
        .assert_error(401, "token_revoked");
    assert_eq!(
        srv.get("/iam/whoami", &fred_tok).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedding_app_routes() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    create_user(&srv, &admin, "gina", &["staff"]).await;
    let gina = s(&srv.login("gina", "gina password").await["access_token"]);

    let r = srv
        .client
        .get(srv.url("/app/hello"))
        .bearer_auth(&gina)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().starts_with("hello acc_"));

    let none = srv.call(Method::GET, "/app/hello", None, None).await;
    none.assert_error(401, "missing_token");
    assert_eq!(none.header("www-authenticate"), r#"Bearer realm="iam""#);
    let bad = srv.get("/app/hello", "v4.public.garbage").await;
    bad.assert_error(401, "token_malformed");
    assert_eq!(
        bad.header("www-authenticate"),
        r#"Bearer realm="iam", error="invalid_token""#
    );

    let forbidden = srv.get("/app/admin", &gina).await;
    forbidden.assert_error(403, "missing_role");
    assert_eq!(
        forbidden.header("www-authenticate"),
        r#"Bearer realm="iam", error="insufficient_scope""#
    );
    assert_eq!(srv.get("/app/admin", &admin).await.status, StatusCode::OK);
    srv.get("/app/reports", &gina)
        .await
        .assert_error(403, "missing_scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_change_their_own_password() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    create_user(&srv, &admin, "quinn", &[]).await;
    let quinn = s(&srv.login("quinn", "quinn password").await["access_token"]);
    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    srv.call(
        Method::PUT,
        "/iam/password",
        Some(&quinn),
        Some(change("wrong password", "a new passphrase")),
    )
    .await
    .assert_error(401, "invalid_credentials");
    srv.call(
        Method::PUT,
        "/iam/password",
        Some(&quinn),
        Some(json!({ "new_password": "a new passphrase" })),
    )
    .await
    .assert_error(422, "invalid_body");
    let ok = srv
        .call(
            Method::PUT,
            "/iam/password",
            Some(&quinn),
            Some(change("quinn password", "a new passphrase")),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["username"], "quinn");
    srv.post(
        "/iam/login",
        None,
        json!({ "username": "quinn", "password": "quinn password" }),
    )
    .await
    .assert_error(401, "invalid_credentials");
    assert!(srv.login("quinn", "a new passphrase").await["access_token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_rotate_the_signing_key() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    create_user(&srv, &admin, "rita", &[]).await;
    let rita = s(&srv.login("rita", "rita password").await["access_token"]);
    srv.call(Method::POST, "/iam/keys/rotate", Some(&rita), None)
        .await
        .assert_error(403, "missing_role");
    let before = srv.call(Method::GET, "/iam/keys", None, None).await;
    let old_kid = s(&before.body["keys"][0]["kid"]);
    let r = srv
        .call(Method::POST, "/iam/keys/rotate", Some(&admin), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new_kid = s(&r.body["active_kid"]);
    assert_ne!(new_kid, old_kid);
    let after = srv.call(Method::GET, "/iam/keys", None, None).await;
    assert_eq!(after.body["keys"][0]["kid"], json!(new_kid));
    assert_eq!(after.body["keys"][0]["active"], true);
    assert_eq!(after.body["keys"][1]["kid"], json!(old_kid));
    // Tokens signed by the old key keep working; new ones use the new key.
    assert_eq!(srv.get("/iam/whoami", &rita).await.status, StatusCode::OK);
    let fresh = s(&srv.login("rita", "rita password").await["access_token"]);
    assert_eq!(srv.get("/iam/whoami", &fresh).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_admins_set_them_and_users_name_themselves() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    let sam = create_user(&srv, &admin, "sam", &[]).await;
    let sam_tok = s(&srv.login("sam", "sam password").await["access_token"]);
    let patch = |path: String, token: String, body: Value| {
        let srv = &srv;
        async move {
            srv.call(Method::PATCH, &path, Some(&token), Some(body))
                .await
        }
    };
    let admin_path = format!("/iam/accounts/{sam}/profile");

    let fresh = srv.get(&format!("/iam/accounts/{sam}"), &admin).await;
    assert_eq!(
        fresh.body["profile"],
        json!({ "name": null, "email": null, "email_verified": false, "updated_at": null })
    );

    // An admin sets name and a verified email.
    let a = patch(
        admin_path.clone(),
        admin.clone(),
        json!({ "name": "  Sam Vimes ", "email": "sam@example.org", "email_verified": true }),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["id"], sam.as_str());
    assert_eq!(a.body["profile"]["name"], "Sam Vimes");
    assert_eq!(a.body["profile"]["email"], "sam@example.org");
    assert_eq!(a.body["profile"]["email_verified"], true);
    let stamped = s(&a.body["profile"]["updated_at"]);
    // Leaving fields out keeps them; an update that changes nothing keeps updated_at.
    let same = patch(
        admin_path.clone(),
        admin.clone(),
        json!({ "name": "Sam Vimes" }),
    )
    .await;
    assert_eq!(same.body["profile"], a.body["profile"]);
    let same = patch(admin_path.clone(), admin.clone(), json!({})).await;
    assert_eq!(same.body["profile"]["updated_at"], stamped.as_str());
    // A new address is unverified unless the same update says otherwise.
    let moved = patch(
        admin_path.clone(),
        admin.clone(),
        json!({ "email": "vimes@example.org" }),
    )
    .await;
    assert_eq!(moved.body["profile"]["email"], "vimes@example.org");
    assert_eq!(moved.body["profile"]["email_verified"], false);
    assert_eq!(moved.body["profile"]["name"], "Sam Vimes");

    // Bad input: typed errors.
    for body in [
        json!({ "email": "no-at-sign" }),
        json!({ "email": "a b@example.org" }),
        json!({ "name": "" }),
        json!({ "name": "x".repeat(129) }),
        json!({ "name": "bell\u{7}" }),
        json!({ "email": null, "email_verified": true }),
    ] {
        patch(admin_path.clone(), admin.clone(), body)
            .await
            .assert_error(422, "invalid_profile");
    }
    patch(
        admin_path.clone(),
        admin.clone(),
        json!({ "nickname": "x" }),
    )
    .await
    .assert_error(422, "invalid_body");
    patch(
        "/iam/accounts/acc_missing/profile".into(),
        admin.clone(),
        json!({ "name": "x" }),
    )
    .await
    .assert_error(404, "not_found");

    // Sam may not use the admin route, not even on himself.
    patch(admin_path.clone(), sam_tok.clone(), json!({ "name": "x" }))
        .await
        .assert_error(403, "missing_role");
    // Sam names himself with his session; he cannot set his email.
    let own = patch(
        "/iam/profile".into(),
        sam_tok.clone(),
        json!({ "name": "Samuel" }),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(own.body["id"], sam.as_str());
    assert_eq!(own.body["profile"]["name"], "Samuel");
    assert_eq!(own.body["profile"]["email"], "vimes@example.org");
    patch(
        "/iam/profile".into(),
        sam_tok.clone(),
        json!({ "name": "S", "email": "x@example.org" }),
    )
    .await
    .assert_error(422, "invalid_body");
    patch("/iam/profile".into(), sam_tok.clone(), json!({}))
        .await
        .assert_error(422, "invalid_body");
    patch(
        "/iam/profile".into(),
        sam_tok.clone(),
        json!({ "name": " \t" }),
    )
    .await
    .assert_error(422, "invalid_profile");
    let cleared = patch(
        "/iam/profile".into(),
        sam_tok.clone(),
        json!({ "name": null }),
    )
    .await;
    assert_eq!(cleared.body["profile"]["name"], Value::Null);

    // Delegated credentials: an API token never renames its owner; an admin's API token
    // reaches the admin route only with iam:manage.
    let pat = srv
        .post(
            "/iam/api-tokens",
            Some(&sam_tok),
            json!({ "label": "script", "scopes": [], "expires_in": 600 }),
        )
        .await;
    let pat = s(&pat.body["token"]);
    patch("/iam/profile".into(), pat, json!({ "name": "x" }))
        .await
        .assert_error(403, "wrong_token_kind");
    let mint = |scopes: Value| {
        let srv = &srv;
        let admin = admin.clone();
        async move {
            let t = srv
                .post(
                    "/iam/api-tokens",
                    Some(&admin),
                    json!({ "label": "admin script", "scopes": scopes, "expires_in": 600 }),
                )
                .await;
            assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
            s(&t.body["token"])
        }
    };
    let plain = mint(json!(["admin"])).await;
    patch(admin_path.clone(), plain, json!({ "name": "x" }))
        .await
        .assert_error(403, "missing_scope");
    let managing = mint(json!(["admin", "iam:manage"])).await;
    let ok = patch(
        admin_path.clone(),
        managing.clone(),
        json!({ "name": "Sir Samuel" }),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["profile"]["name"], "Sir Samuel");
    patch("/iam/profile".into(), managing, json!({ "name": "x" }))
        .await
        .assert_error(403, "wrong_token_kind");

    // Each effective change is one audit event naming the fields, never their values.
    let audit = srv
        .get(
            &format!("/iam/audit?kind=account.profile_updated&account={sam}"),
            &admin,
        )
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let events = audit.body["events"].as_array().unwrap();
    let fields: Vec<String> = events.iter().map(|e| s(&e["detail"]["fields"])).collect();
    assert_eq!(
        fields,
        [
            "name,email,email_verified",
            "email,email_verified",
            "name",
            "name",
            "name"
        ],
        "{}",
        audit.body
    );
    assert!(!audit.body.to_string().contains("example.org"));
}
