//! Test harness: the iam router plus an embedding app, served over TLS (rcgen self-signed
//! certificate, rustls) on 127.0.0.1 with an ephemeral port, on a temporary SQLite file.

#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use iam_axum::{
    IamAuth, IamRouter, OAuthRouter, RateLimit, RequireAuth, RequireRole, RequireScope,
};
use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::{Config, Iam, MasterKey, NewAccount, PasswordPolicy, SecureRandom, SystemClock};
use iam_store_sqlite::SqliteStore;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;

/// The admin's password in every test server.
pub const ADMIN_PASSWORD: &str = "admin password 1";

/// A running test server.
pub struct Server {
    pub base: String,
    pub client: Client,
    pub iam: Iam<SqliteStore>,
    pub cert_pem: String,
    pub addr: SocketAddr,
    pub handle: axum_server::Handle,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

async fn hello(RequireAuth(who): RequireAuth) -> String {
    format!("hello {}", who.account_id)
}

async fn plain() -> &'static str {
    "ok"
}

/// Starts a server with `rate_limit` on login/refresh.
pub async fn start_with(rate_limit: RateLimit) -> Server {
    start_trusting(rate_limit, vec![]).await
}

/// Like [`start_with`], believing `X-Forwarded-For` from `trusted_proxies`.
pub async fn start_trusting(
    rate_limit: RateLimit,
    trusted_proxies: Vec<std::net::IpAddr>,
) -> Server {
    start_custom(rate_limit, trusted_proxies, |r| r).await
}

/// Like [`start_trusting`], with further settings applied to the router by `configure`.
pub async fn start_custom(
    rate_limit: RateLimit,
    trusted_proxies: Vec<std::net::IpAddr>,
    configure: impl FnOnce(IamRouter<SqliteStore, SystemClock>) -> IamRouter<SqliteStore, SystemClock>,
) -> Server {
    launch(rate_limit, trusted_proxies, |_| {}, configure, false).await
}

/// A server with the OAuth endpoints (pages, token, device, introspection; issuer = its base
/// URL; no rate limits) beside the REST API under `/iam`, over a [`Config`] adjusted by
/// `config` after the defaults of every test server.
pub async fn start_with_oauth(config: impl FnOnce(&mut Config)) -> Server {
    launch(RateLimit::off(), vec![], config, |r| r, true).await
}

async fn launch(
    rate_limit: RateLimit,
    trusted_proxies: Vec<std::net::IpAddr>,
    adjust: impl FnOnce(&mut Config),
    configure: impl FnOnce(IamRouter<SqliteStore, SystemClock>) -> IamRouter<SqliteStore, SystemClock>,
    oauth: bool,
) -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("iam.db")).await.unwrap();
    let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.elevation.insert(
        "breakglass".into(),
        ElevationPolicy {
            step_up: StepUp::Password,
            approver_role: Some("admin".into()),
            max_duration: Duration::from_secs(600),
        },
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("https://localhost:{}", addr.port());
    if oauth {
        config.issuer.clone_from(&base);
    }
    adjust(&mut config);
    let iam = Iam::builder(store, config).open().await.unwrap();
    iam.create_account(
        NewAccount::human("admin", ADMIN_PASSWORD).with_roles(["admin"]),
        iam_core::Caller::System,
    )
    .await
    .unwrap();

    let embedding_app = Router::new()
        .route("/app/hello", get(hello))
        .route("/app/admin", get(plain).route_layer(RequireRole("admin")))
        .route(
            "/app/reports",
            get(plain).route_layer(RequireScope("reports")),
        )
        .layer(IamAuth::new(iam.clone()));
    let router = IamRouter::new(iam.clone())
        .prefix("/iam")
        .json_fallback(true)
        .rate_limit(rate_limit)
        .trusted_proxies(trusted_proxies);
    let mut app = configure(router).build().merge(embedding_app);
    if oauth {
        let endpoints = OAuthRouter::new(iam.clone(), &base)
            .unwrap()
            .rate_limit(RateLimit::off())
            .token_rate_limit(RateLimit::off())
            .client_rate_limit(RateLimit::off())
            .build();
        app = app.merge(endpoints);
    }

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = cert.cert.pem();
    let tls = RustlsConfig::from_pem(
        cert_pem.clone().into_bytes(),
        cert.key_pair.serialize_pem().into_bytes(),
    )
    .await
    .unwrap();
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls).handle(handle.clone());
    tokio::spawn(async move {
        let _ = server
            .serve(app.into_make_service_with_connect_info::<SocketAddr>())
            .await;
    });
    let client = client(&cert_pem, addr, false);
    Server {
        base,
        client,
        cert_pem,
        addr,
        iam,
        handle,
        _dir: dir,
    }
}

fn client(cert_pem: &str, addr: SocketAddr, h2: bool) -> Client {
    let builder = Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(30));
    if h2 {
        builder.http2_prior_knowledge().build().unwrap()
    } else {
        builder.http1_only().build().unwrap()
    }
}

/// Starts a server with no per-address limit.
pub async fn start() -> Server {
    start_with(RateLimit::off()).await
}

/// An answer: status, headers, JSON body (Null when empty).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub async fn from(r: Response) -> Answer {
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        let is_json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = if bytes.is_empty() {
            Value::Null
        } else if !is_json && status.is_success() {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{status}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The `error` code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an error answer with `status` and `code` and a message.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.code(), code, "{}", self.body);
        assert!(self.body["message"].is_string(), "{}", self.body);
        assert!(
            self.header("content-type").starts_with("application/json"),
            "{:?}",
            self.headers
        );
    }
}

impl Server {
    /// A client speaking HTTP/2 to this server.
    pub fn h2_client(&self) -> Client {
        client(&self.cert_pem, self.addr, true)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Answer::from(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Logs in and returns the answer body (asserting 200).
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let a = self
            .post(
                "/iam/login",
                None,
                serde_json::json!({ "username": username, "password": password }),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body
    }

    /// The admin's access token.
    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
