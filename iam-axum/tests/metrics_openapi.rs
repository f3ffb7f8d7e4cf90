//! `/metrics` (Prometheus text format) and `/openapi.json` (OpenAPI 3.1), checked over HTTPS
//! against the real router.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use common::{start, Server, ADMIN_PASSWORD};
use iam_axum::openapi::rest_routes;
use iam_axum::{IamRouter, IpNet, RateLimit};
use iam_core::{Config, Iam, MasterKey, MemoryStore, NewAccount, PasswordPolicy, SecureRandom};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Whether `line` is `name{label="value",...} number`.
fn is_sample(line: &str) -> bool {
    let Some(open) = line.find('{') else {
        return false;
    };
    let name = &line[..open];
    let name_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !name_ok {
        return false;
    }
    // Labels: k="v" pairs, values with \\ \" \n escapes.
    let rest: Vec<char> = line[open + 1..].chars().collect();
    let mut i = 0;
    loop {
        let start = i;
        while i < rest.len() && (rest[i].is_ascii_alphanumeric() || rest[i] == '_') {
            i += 1;
        }
        if i == start || rest.get(i) != Some(&'=') || rest.get(i + 1) != Some(&'"') {
            return false;
        }
        i += 2;
        loop {
            match rest.get(i) {
                None => return false,
                Some('\\') => i += 2,
                Some('"') => break,
                Some(_) => i += 1,
            }
        }
        i += 1;
        match rest.get(i) {
            Some(',') => i += 1,
            Some('}') => break,
            _ => return false,
        }
    }
    let tail: String = rest[i + 1..].iter().collect();
    let Some(value) = tail.strip_prefix(' ') else {
        return false;
    };
    matches!(value, "+Inf" | "-Inf" | "NaN") || value.parse::<f64>().is_ok()
}

async fn metrics_text(srv: &Server) -> String {
    let m = srv.call(Method::GET, "/iam/metrics", None, None).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.header("content-type").starts_with("text/plain"));
    m.body.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_logins_and_denials() {
    let srv = start().await;
    let token = srv.admin_token().await;
    srv.post(
        "/iam/login",
        None,
        json!({ "username": "admin", "password": "wrong password" }),
    )
    .await
    .assert_error(401, "invalid_credentials");
    srv.call(Method::GET, "/iam/no/such/route-xyz", None, None)
        .await
        .assert_error(404, "not_found");
    srv.get("/iam/accounts/acc_secretish_id", &token)
        .await
        .assert_error(404, "not_found");

    let text = metrics_text(&srv).await;
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(is_sample(line), "not a Prometheus sample: {line}");
    }
    for expected in [
        r#"iam_http_requests_total{method="POST",route="/iam/login",status="2xx"} 1"#,
        r#"iam_http_requests_total{method="POST",route="/iam/login",status="4xx"} 1"#,
        r#"iam_http_requests_total{method="GET",route="unmatched",status="4xx"} 1"#,
        r#"iam_http_requests_total{method="GET",route="/iam/accounts/{id}",status="4xx"} 1"#,
        r#"iam_http_request_duration_seconds_count{method="POST",route="/iam/login",status="2xx"} 1"#,
        r#"iam_http_request_duration_seconds_bucket{method="POST",route="/iam/login",status="2xx",le="+Inf"} 1"#,
        r#"iam_logins_total{result="success"} 1"#,
        r#"iam_logins_total{result="failure"} 1"#,
        r#"iam_denials_total{reason="invalid_credentials"} 1"#,
        r#"iam_denials_total{reason="not_found"} 2"#,
        "# TYPE iam_http_request_duration_seconds histogram",
    ] {
        assert!(
            text.lines().any(|l| l == expected),
            "missing {expected}\n{text}"
        );
    }
    // Raw paths, ids, usernames and secrets never become labels.
    for secret in [
        "route-xyz",
        "acc_secretish_id",
        "admin",
        ADMIN_PASSWORD,
        &token,
    ] {
        assert!(!text.contains(secret), "{secret} in\n{text}");
    }
}

/// Every `(method, path)` of the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_served_routes() {
    let srv = start().await;
    let a = srv.call(Method::GET, "/iam/openapi.json", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.header("content-type").starts_with("application/json"));
    let doc = a.body;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], "/iam");

    // The document and the route table the router is mounted from agree.
    let table: BTreeSet<(String, String)> = rest_routes(true)
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let docs = documented(&doc);
    assert_eq!(docs, table);
    assert!(docs.contains(&("get".into(), "/metrics".into())));
    assert!(docs.contains(&("post".into(), "/login".into())));

    // Every documented operation is served; every other method on a documented path is not.
    let all = ["get", "post", "put", "delete", "patch"];
    let paths: BTreeSet<&String> = docs.iter().map(|(_, p)| p).collect();
    for path in paths {
        let url = format!("/iam{}", concrete(path));
        for m in all {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let ans = srv.call(method, &url, None, None).await;
            if docs.contains(&(m.to_owned(), path.clone())) {
                assert!(
                    ans.status != StatusCode::NOT_FOUND
                        && ans.status != StatusCode::METHOD_NOT_ALLOWED,
                    "{m} {url}: {} {}",
                    ans.status,
                    ans.body
                );
            } else {
                assert_eq!(
                    ans.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{m} {url} served but not documented"
                );
            }
        }
    }
}

#[tokio::test]
async fn metrics_route_can_be_turned_off() {
    let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    let iam = Iam::builder(MemoryStore::new(), config)
        .open()
        .await
        .unwrap();
    let registry = iam_axum::Metrics::new();
    let app = IamRouter::new(iam)
        .metrics(false)
        .metrics_registry(registry.clone())
        .build();
    let get = |path: &str| axum::http::Request::get(path).body(Body::empty()).unwrap();
    let health = app.clone().oneshot(get("/health")).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let off = app.clone().oneshot(get("/metrics")).await.unwrap();
    assert_eq!(off.status(), StatusCode::NOT_FOUND);
    let doc = app.oneshot(get("/openapi.json")).await.unwrap();
    let doc: Value = serde_json::from_slice(
        &axum::body::to_bytes(doc.into_body(), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(doc["paths"].get("/metrics").is_none());
    assert_eq!(doc["servers"][0]["url"], "/");
    // Still recorded, for the caller to render elsewhere.
    assert!(registry
        .render()
        .contains(r#"iam_http_requests_total{method="GET",route="/health",status="2xx"} 1"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_only_to_allowed_networks_or_metrics_tokens() {
    // Served to 192.0.2.0/24 only (not loopback), behind a trusted proxy on loopback.
    let allowed: IpNet = "192.0.2.0/24".parse().unwrap();
    let srv = common::start_custom(
        RateLimit::off(),
        vec![std::net::Ipv4Addr::LOCALHOST.into()],
        |r| r.metrics_networks(vec![allowed]),
    )
    .await;
    let from = |client: &'static str| {
        let req = srv
            .client
            .get(srv.url("/iam/metrics"))
            .header("x-forwarded-for", client);
        async move { common::Answer::from(req.send().await.unwrap()).await }
    };
    // The proxy itself (a loopback peer) and a client outside the networks are refused.
    srv.call(Method::GET, "/iam/metrics", None, None)
        .await
        .assert_error(403, "forbidden");
    from("203.0.113.9").await.assert_error(403, "forbidden");
    // A client inside them is served.
    let ok = from("192.0.2.7").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.header("content-type").starts_with("text/plain"));

    // Outside the networks a bearer token must grant iam:metrics.
    let admin = srv.admin_token().await;
    srv.get("/iam/metrics", &admin)
        .await
        .assert_error(403, "missing_scope");
    let bad = srv.get("/iam/metrics", "not-a-token").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    srv.iam
        .create_account(
            NewAccount::human("scraper", "scraper password 1").with_roles(["iam:metrics"]),
            iam_core::Caller::System,
        )
        .await
        .unwrap();
    let token = srv.login("scraper", "scraper password 1").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = srv.get("/iam/metrics", &token).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    assert!(m
        .body
        .as_str()
        .unwrap()
        .contains("# TYPE iam_http_requests_total counter"));
}
