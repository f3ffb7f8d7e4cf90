//! Load figures for the endpoints an auth server lives by, beside a bare axum handler measured
//! in the same run: `/oauth2/introspect`, `/oauth2/token` (client credentials) and `/login`
//! (real Argon2id cost, beside bare Argon2id verifications on the same cores).
//! Server (the iam REST and OAuth routers over a SQLite file, as iamd runs them, plain HTTP)
//! and client (hyper, HTTP/1.1 keep-alive, loopback) run in this process.
//!
//! `cargo run --release -p iam-axum --example endpoint_load [-- SECONDS CONNECTIONS]`
//! (defaults: 5 s per measurement, 32 connections).

#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

#[path = "support/rate.rs"]
mod rate;

use axum::routing::post;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iam_axum::{IamRouter, OAuthRouter, RateLimit};
use iam_core::oauth::{GrantType, NewClient};
use iam_core::{
    Config, Iam, LoginRequest, MasterKey, NewAccount, PasswordPolicy, SecretString, SecureRandom,
    ADMIN_ROLE,
};
use iam_store_sqlite::SqliteStore;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// One kind of request: where, which headers, which body.
#[derive(Clone)]
struct Target {
    url: hyper::Uri,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

/// Requests per second against `target` with `connections` concurrent loops for `secs`.
async fn measure(client: &HttpClient, target: &Target, connections: usize, secs: u64) -> f64 {
    rate::per_second(connections, secs, |w| {
        let (client, target) = (client.clone(), target.clone());
        tokio::spawn(async move {
            while w.running() {
                let mut req = hyper::Request::post(target.url.clone());
                for (k, v) in &target.headers {
                    req = req.header(*k, v);
                }
                let resp = client
                    .request(req.body(Full::new(target.body.clone())).unwrap())
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{}", target.url);
                resp.into_body().collect().await.unwrap();
                w.tick();
            }
        })
    })
    .await
}

/// Bare Argon2id verifications per second at the default cost, `threads` at a time.
async fn argon2_rate(threads: usize, secs: u64) -> f64 {
    use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
    let policy = PasswordPolicy::default();
    let params = argon2::Params::new(
        policy.memory_kib,
        policy.iterations,
        policy.parallelism,
        None,
    )
    .unwrap();
    let argon = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = argon2::password_hash::SaltString::encode_b64(b"endpoint-load-salt").unwrap();
    let phc = argon
        .hash_password(b"a wrong password", &salt)
        .unwrap()
        .to_string();
    rate::per_second(threads, secs, |w| {
        let (phc, argon) = (phc.clone(), argon.clone());
        tokio::task::spawn_blocking(move || {
            let hash = PasswordHash::new(&phc).unwrap();
            while w.running() {
                let _ = argon.verify_password(b"the password", &hash);
                w.tick();
            }
        })
    })
    .await
}

fn main() {
    let secs = rate::arg(1, 5);
    let connections = usize::try_from(rate::arg(2, 32)).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("iam.db")).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
        config.issuer.clone_from(&base);
        let iam = Iam::builder(store, config).open().await.unwrap();
        let password = "load test password";
        iam.create_account(
            NewAccount::human("load", password).with_roles([ADMIN_ROLE]),
            iam_core::Caller::System,
        )
        .await
        .unwrap();
        let login = iam
            .login(&LoginRequest::password("load", password))
            .await
            .unwrap();
        let admin = iam
            .verify(login.tokens.access_token.expose())
            .await
            .unwrap();
        let mut new = NewClient::confidential("load");
        new.grant_types = [GrantType::ClientCredentials].into();
        new.scopes = ["read".to_owned()].into();
        let client = iam.register_client(&admin, new).await.unwrap();
        let secret: SecretString = client.client_secret.unwrap();
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                client.client.id,
                secret.expose()
            ))
        );

        let app = IamRouter::new(iam.clone())
            .rate_limit(RateLimit::off())
            .build()
            .merge(
                OAuthRouter::new(iam.clone(), &base)
                    .unwrap()
                    .secure_cookies(false)
                    // One client hammering from one address is the measurement, not an attack.
                    .token_rate_limit(RateLimit::off())
                    .client_rate_limit(RateLimit::off())
                    .build(),
            )
            .route("/bare", post(|| async { "ok" }));
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        });
        let http: HttpClient = Client::builder(TokioExecutor::new()).build_http();
        let form = "application/x-www-form-urlencoded".to_owned();
        let cc = Target {
            url: format!("{base}/oauth2/token").parse().unwrap(),
            headers: vec![
                ("authorization", basic.clone()),
                ("content-type", form.clone()),
            ],
            body: Bytes::from_static(b"grant_type=client_credentials&scope=read"),
        };
        // A client-credentials token to introspect.
        let resp = http
            .request(
                hyper::Request::post(cc.url.clone())
                    .header("authorization", &basic)
                    .header("content-type", &form)
                    .body(Full::new(cc.body.clone()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let token: serde_json::Value =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        let access = token["access_token"].as_str().unwrap().to_owned();
        let introspect = Target {
            url: format!("{base}/oauth2/introspect").parse().unwrap(),
            headers: vec![
                ("authorization", basic.clone()),
                ("content-type", form.clone()),
            ],
            body: Bytes::from(format!("token={access}")),
        };
        let bare = Target {
            url: format!("{base}/bare").parse().unwrap(),
            headers: vec![("content-type", form)],
            body: Bytes::from_static(b"x=1"),
        };
        let login = Target {
            url: format!("{base}/login").parse().unwrap(),
            headers: vec![("content-type", "application/json".to_owned())],
            body: Bytes::from(format!(r#"{{"username":"load","password":"{password}"}}"#)),
        };
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);

        measure(&http, &bare, connections, 1).await; // warm-up
        let bare_rate = measure(&http, &bare, connections, secs).await;
        let introspect_rate = measure(&http, &introspect, connections, secs).await;
        let token_rate = measure(&http, &cc, connections, secs).await;
        let argon_rate = argon2_rate(cores, secs).await;
        let login_rate = measure(&http, &login, connections, secs).await;
        println!("bare axum POST handler: {bare_rate:.0} req/s");
        println!(
            "/oauth2/introspect: {introspect_rate:.0} req/s ({:.3} x bare)",
            introspect_rate / bare_rate
        );
        println!(
            "/oauth2/token client_credentials: {token_rate:.0} req/s ({:.3} x bare)",
            token_rate / bare_rate
        );
        println!(
            "/login (Argon2id m=19456 t=2 p=1): {login_rate:.1} req/s; bare Argon2id verify on \
             {cores} threads: {argon_rate:.1}/s; login = {:.3} x bare verify",
            login_rate / argon_rate
        );
    });
}
