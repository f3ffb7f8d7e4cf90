//! `GET /audit/export` over HTTPS: an admin's export (JSON lines) verifies offline against the
//! keys published at `/keys`, an edited event is named, and only admin management credentials
//! may export.

#![allow(clippy::unwrap_used)]

mod common;

use common::{start, Server};
use iam_core::audit::{verify_export, ChainBreak, ExportFault, PinnedKey};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// `GET /iam/audit/export` with `token`: status, content type and body text.
async fn export(srv: &Server, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = srv.client.get(srv.url("/iam/audit/export"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, kind, r.text().await.unwrap())
}

/// The keys `/keys` publishes, pinned.
async fn published(srv: &Server) -> Vec<PinnedKey> {
    let keys = srv
        .call(reqwest::Method::GET, "/iam/keys", None, None)
        .await;
    keys.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| PinnedKey::parse(k["paserk"].as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_exports_a_log_that_verifies_offline() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    for name in ["gil", "hal"] {
        let a = srv
            .post(
                "/iam/accounts",
                Some(&admin),
                json!({ "username": name, "password": format!("{name} password 1") }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
    let (status, kind, text) = export(&srv, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(kind, "application/x-ndjson");
    let keys = published(&srv).await;
    let ok = verify_export(&text, &keys).expect("the export verifies");
    assert!(ok.pinned);
    assert!(ok.events >= 4, "{}", ok.events);

    // One event edited in the file: verification fails and names it.
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let i = lines
        .iter()
        .position(|l| l["kind"] == "account.created" && l["detail"]["username"] == "gil")
        .unwrap();
    let seq = lines[i]["seq"].as_u64().unwrap();
    lines[i]["detail"]["username"] = json!("mallory");
    let edited = lines
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let fault = verify_export(&edited, &keys).expect_err("edited");
    assert_eq!(fault, ExportFault::Chain(ChainBreak::Altered { seq }));

    // The export is itself audited.
    let a = srv.get("/iam/audit?kind=audit.exported", &admin).await;
    assert_eq!(
        a.body["events"].as_array().map(Vec::len),
        Some(1),
        "{}",
        a.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admin_management_credentials_export() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    let a = srv
        .post(
            "/iam/accounts",
            Some(&admin),
            json!({ "username": "ivy", "password": "ivy password 1" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let ivy = srv.login("ivy", "ivy password 1").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, _, _) = export(&srv, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = export(&srv, Some(&ivy)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("missing_role"), "{body}");

    // An admin's API token reaches the export only with the management scope.
    let pat = |scopes: Value| {
        let srv = &srv;
        let admin = admin.clone();
        async move {
            let c = srv
                .post(
                    "/iam/api-tokens",
                    Some(&admin),
                    json!({ "label": "export", "scopes": scopes, "expires_in": 3600 }),
                )
                .await;
            assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
            c.body["token"].as_str().unwrap().to_owned()
        }
    };
    let plain = pat(json!(["admin"])).await;
    let (status, _, body) = export(&srv, Some(&plain)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("missing_scope"), "{body}");
    let manage = pat(json!(["admin", iam_core::MANAGEMENT_SCOPE])).await;
    let (status, kind, body) = export(&srv, Some(&manage)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(kind, "application/x-ndjson");
    assert!(verify_export(&body, &published(&srv).await).is_ok());
}
