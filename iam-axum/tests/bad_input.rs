//! Bad input over HTTPS: every malformed request gets a 4xx JSON answer, never plain text or a 500.

#![allow(clippy::unwrap_used)]

mod common;

use common::{start, start_with, Answer};
use iam_axum::RateLimit;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_json_4xx() {
    let srv = start().await;
    let send = |body: &'static str, ct: Option<&'static str>| {
        let mut req = srv.client.post(srv.url("/iam/login")).body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        async move { Answer::from(req.send().await.unwrap()).await }
    };
    send("{not json", Some("application/json"))
        .await
        .assert_error(400, "malformed_json");
    send("", Some("application/json"))
        .await
        .assert_error(400, "malformed_json");
    send(r#"{"username":"a","password":"b"}"#, Some("text/plain"))
        .await
        .assert_error(415, "unsupported_media_type");
    send(r#"{"username":"a","password":"b"}"#, None)
        .await
        .assert_error(415, "unsupported_media_type");
    send(
        "username=a&password=b",
        Some("application/x-www-form-urlencoded"),
    )
    .await
    .assert_error(415, "unsupported_media_type");
    let missing = send(r#"{"username":"admin"}"#, Some("application/json")).await;
    missing.assert_error(422, "invalid_body");
    assert!(missing.body["message"]
        .as_str()
        .unwrap()
        .contains("password"));
    let unknown = send(
        r#"{"username":"admin","password":"x","extra":1}"#,
        Some("application/json"),
    )
    .await;
    unknown.assert_error(422, "invalid_body");
    assert!(unknown.body["message"].as_str().unwrap().contains("extra"));
    send(r#"{"username":1,"password":"x"}"#, Some("application/json"))
        .await
        .assert_error(422, "invalid_body");
    send("[1,2,3]", Some("application/json"))
        .await
        .assert_error(422, "invalid_body");
    // Duplicate keys are refused by serde's derive.
    send(
        r#"{"username":"a","username":"b","password":"x"}"#,
        Some("application/json"),
    )
    .await
    .assert_error(422, "invalid_body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_413_json() {
    let srv = start().await;
    let big = format!(
        r#"{{"username":"admin","password":"{}"}}"#,
        "x".repeat(iam_axum::DEFAULT_BODY_LIMIT + 10)
    );
    // Over HTTP/2 the early 413 reaches the client while it still sends; over HTTP/1.1 the
    // server closes the connection first, which a client may see as a broken pipe.
    let a = Answer::from(
        srv.h2_client()
            .post(srv.url("/iam/login"))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    a.assert_error(413, "payload_too_large");
    let _ = big;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_methods_paths_and_queries() {
    let srv = start().await;
    let admin = srv.admin_token().await;
    let a = srv.call(Method::GET, "/iam/login", None, None).await;
    a.assert_error(405, "method_not_allowed");
    assert!(a.header("allow").contains("POST"));
    srv.call(Method::PATCH, "/iam/accounts", Some(&admin), None)
        .await
        .assert_error(405, "method_not_allowed");
    srv.call(Method::GET, "/iam/no-such-route", None, None)
        .await
        .assert_error(404, "not_found");
    srv.call(Method::GET, "/elsewhere", None, None)
        .await
        .assert_error(404, "not_found");
    srv.get("/iam/accounts?limit=many", &admin)
        .await
        .assert_error(400, "invalid_query");
    srv.get("/iam/accounts?bogus=1", &admin)
        .await
        .assert_error(400, "invalid_query");
    srv.get("/iam/audit?after_seq=-1", &admin)
        .await
        .assert_error(400, "invalid_query");
    // A huge API-token lifetime is refused, not overflowed.
    srv.post(
        "/iam/api-tokens",
        Some(&admin),
        json!({ "label": "x", "scopes": [], "expires_in": u64::MAX }),
    )
    .await
    .assert_error(422, "duration_too_long");
    srv.post(
        "/iam/elevation",
        Some(&admin),
        json!({ "role": "ops", "duration": u64::MAX }),
    )
    .await
    .assert_error(422, "duration_too_long");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_header_variants() {
    let srv = start().await;
    let send = |value: &'static str| {
        let req = srv
            .client
            .get(srv.url("/iam/whoami"))
            .header("authorization", value);
        async move { Answer::from(req.send().await.unwrap()).await }
    };
    let a = send("Basic YWRtaW46eA==").await;
    a.assert_error(401, "missing_token");
    assert_eq!(a.header("www-authenticate"), r#"Bearer realm="iam""#);
    for v in [
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Bearer v4.public.AAAA",
    ] {
        let a = send(v).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{v}");
        assert!(
            a.header("www-authenticate")
                .contains(r#"error="invalid_token""#),
            "{v}"
        );
    }
    let long = Box::leak(format!("Bearer {}", "a".repeat(10_000)).into_boxed_str());
    let a = send(long).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_rate_limit_and_login_throttle() {
    let srv = start_with(RateLimit {
        burst: 3,
        per_second: 0.01,
        max_tracked: 100,
    })
    .await;
    let body = json!({ "username": "admin", "password": "wrong password" });
    for _ in 0..3 {
        let a = srv.post("/iam/login", None, body.clone()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let limited = srv.post("/iam/login", None, body.clone()).await;
    limited.assert_error(429, "rate_limited");
    assert!(limited.header("retry-after").parse::<u64>().unwrap() >= 1);
    // No proxy is trusted, so X-Forwarded-For cannot move a client to a fresh bucket.
    let spoofed = srv
        .client
        .post(srv.url("/iam/login"))
        .header("x-forwarded-for", "198.51.100.77")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);

    // Behind a trusted proxy (here the loopback peer), each forwarded client has its own bucket.
    let behind = common::start_trusting(
        RateLimit {
            burst: 1,
            per_second: 0.01,
            max_tracked: 100,
        },
        vec![std::net::Ipv4Addr::LOCALHOST.into()],
    )
    .await;
    let from = |client: &'static str| {
        behind
            .client
            .post(behind.url("/iam/login"))
            .header("x-forwarded-for", client)
            .json(&body)
            .send()
    };
    assert_eq!(
        from("198.51.100.1").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        from("198.51.100.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        from("198.51.100.2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let limited = srv
        .post("/iam/refresh", None, json!({ "refresh_token": "x" }))
        .await;
    limited.assert_error(429, "rate_limited");
    // Authenticated routes are not limited per address.
    assert_eq!(
        srv.call(Method::GET, "/iam/health", None, None)
            .await
            .status,
        StatusCode::OK
    );

    // The core's per-account back-off also answers 429 with Retry-After.
    let srv = start().await;
    let mut throttled = None;
    for _ in 0..10 {
        let a = srv.post("/iam/login", None, body.clone()).await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(a);
            break;
        }
    }
    let a = throttled.expect("login back-off");
    a.assert_error(429, "throttled");
    assert!(a.header("retry-after").parse::<u64>().unwrap() >= 1);
}
