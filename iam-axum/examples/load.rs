//! Load comparison: requests per second for a route behind the bearer-token check
//! (`IamAuth` + `RequireAuthLayer`, PASETO access token) versus the same route with no layer,
//! and, for reference, the bearer check without the verified-token cache.
//! Both servers and the client (hyper, HTTP/1.1 keep-alive, loopback) run in this process.
//!
//! `cargo run --release -p iam-axum --example load [-- SECONDS CONNECTIONS ROUNDS]`
//! (defaults: 3 s per measurement, 32 connections, 3 alternating rounds).

#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

#[path = "support/rate.rs"]
mod rate;

use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iam_axum::{IamAuth, RequireAuthLayer};
use iam_core::{
    Config, Iam, LoginRequest, MasterKey, MemoryStore, NewAccount, PasswordPolicy, SecureRandom,
};

async fn handler() -> &'static str {
    "ok"
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/r")
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

/// Requests per second against `url` with `connections` concurrent loops for `secs`.
async fn measure(
    client: &HttpClient,
    url: &str,
    token: Option<&str>,
    connections: usize,
    secs: u64,
) -> f64 {
    let uri: hyper::Uri = url.parse().unwrap();
    let auth = token.map(|t| format!("Bearer {t}"));
    rate::per_second(connections, secs, |w| {
        let (client, uri, auth) = (client.clone(), uri.clone(), auth.clone());
        tokio::spawn(async move {
            while w.running() {
                let mut req = hyper::Request::get(uri.clone());
                if let Some(a) = &auth {
                    req = req.header(hyper::header::AUTHORIZATION, a);
                }
                let resp = client
                    .request(req.body(Empty::new()).unwrap())
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                resp.into_body().collect().await.unwrap();
                w.tick();
            }
        })
    })
    .await
}

fn main() {
    let secs = rate::arg(1, 3);
    let connections = usize::try_from(rate::arg(2, 32)).unwrap();
    let rounds = rate::arg(3, 3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
        config.passwords = PasswordPolicy::insecure_fast_for_tests();
        let iam = Iam::builder(MemoryStore::new(), config)
            .open()
            .await
            .unwrap();
        iam.create_account(
            NewAccount::human("load", "load test password"),
            iam_core::Caller::System,
        )
        .await
        .unwrap();
        let login = iam
            .login(&LoginRequest::password("load", "load test password"))
            .await
            .unwrap();
        let token = login.tokens.access_token.expose().to_owned();

        let plain = serve(Router::new().route("/r", get(handler))).await;
        let protected = serve(
            Router::new()
                .route("/r", get(handler).route_layer(RequireAuthLayer))
                .layer(IamAuth::new(iam.clone())),
        )
        .await;
        let uncached = serve(
            Router::new()
                .route("/r", get(handler).route_layer(RequireAuthLayer))
                .layer(IamAuth::with_verifier(iam.clone())),
        )
        .await;
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

        // Sanity: the protected route refuses a request without a token.
        let resp = client
            .request(
                hyper::Request::get(protected.parse::<hyper::Uri>().unwrap())
                    .body(Empty::new())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);

        // Warm-up.
        measure(&client, &plain, None, connections, 1).await;
        measure(&client, &protected, Some(&token), connections, 1).await;

        let (mut sum_plain, mut sum_protected, mut sum_uncached) = (0.0, 0.0, 0.0);
        for round in 1..=rounds {
            let p = measure(&client, &plain, None, connections, secs).await;
            let q = measure(&client, &protected, Some(&token), connections, secs).await;
            let u = measure(&client, &uncached, Some(&token), connections, secs).await;
            println!(
                "round {round}: no layer {p:.0} req/s, RequireAuth {q:.0} req/s (ratio {:.3}), \
                 RequireAuth without the verified-token cache {u:.0} req/s (ratio {:.3})",
                q / p,
                u / p
            );
            sum_plain += p;
            sum_protected += q;
            sum_uncached += u;
        }
        let r = rounds as f64;
        println!(
            "mean over {rounds} rounds ({secs} s each, {connections} connections): \
             no layer {:.0} req/s, RequireAuth {:.0} req/s, ratio {:.3} (target >= 0.80); \
             without the cache {:.0} req/s, ratio {:.3}",
            sum_plain / r,
            sum_protected / r,
            sum_protected / sum_plain,
            sum_uncached / r,
            sum_uncached / sum_plain
        );
    });
}
