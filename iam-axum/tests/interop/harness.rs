//! Test harness of the OAuth tests: the OAuth router on 127.0.0.1 with an ephemeral port
//! (plain HTTP), a temporary SQLite store, an admin, a user, and (from `browser.rs`) a
//! cookie-keeping browser.

#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

#[path = "browser.rs"]
pub mod browser;
pub use browser::*;

use std::net::SocketAddr;
use std::time::Duration;

use iam_axum::{OAuthRouter, RateLimit, WebFingerPublication};
use iam_core::{
    Clock, Config, Iam, LoginRequest, MasterKey, NewAccount, NewClient, PasswordPolicy, Principal,
    RegisteredClient, SecureRandom,
};
use iam_store_sqlite::SqliteStore;
use reqwest::{Client, StatusCode};

/// The user's password.
pub const ALICE_PASSWORD: &str = "alice password 1";
/// The admin's password.
pub const ADMIN_PASSWORD: &str = "admin password 1";

/// A running server.
pub struct Server<C: Clock> {
    pub base: String,
    pub iam: Iam<SqliteStore, C>,
    pub admin: Principal,
    pub http: Client,
    /// The self-signed certificate and address when served over TLS.
    pub tls: Option<(String, SocketAddr)>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl<C: Clock> Drop for Server<C> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A change to the configuration that captures values of the test.
pub type Adjust = Box<dyn FnOnce(&mut Config) + Send>;

/// How to build the router.
pub struct Options {
    pub secure_cookies: bool,
    pub poll_interval: Duration,
    /// Serve HTTPS (rcgen self-signed certificate for `localhost`) instead of plain HTTP.
    pub tls: bool,
    /// The per-address limit of the pages (off by default).
    pub rate_limit: RateLimit,
    /// The per-address limit of the token endpoints (the library's default).
    pub token_rate_limit: RateLimit,
    /// The per-client limit of the token endpoints (the library's default).
    pub client_rate_limit: RateLimit,
    /// Which accounts WebFinger publishes (the library's default: none).
    pub webfinger: WebFingerPublication,
    /// Changes to the configuration before the server opens.
    pub configure: fn(&mut Config),
    /// Further changes that need values of the test (run after `configure`).
    pub adjust: Option<Adjust>,
    /// A listener bound in advance (when the test must know the address before the server
    /// starts); otherwise one on an ephemeral port of 127.0.0.1.
    pub listener: Option<std::net::TcpListener>,
    /// The host name of the plain-HTTP base URL (default `127.0.0.1`; `localhost` gives a
    /// second server its own cookies in a real browser).
    pub host: &'static str,
    /// Turn passkeys on for the relying party `localhost`, used from
    /// `http://localhost:<port>` (browsers refuse an IP address as the RP id).
    pub passkeys: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            secure_cookies: false,
            poll_interval: Duration::from_secs(1),
            tls: false,
            rate_limit: RateLimit::off(),
            token_rate_limit: RateLimit::token_endpoint_default(),
            client_rate_limit: RateLimit::per_client_default(),
            webfinger: WebFingerPublication::default(),
            configure: |_| {},
            adjust: None,
            listener: None,
            host: "127.0.0.1",
            passkeys: false,
        }
    }
}

/// Starts a server over `clock`.
pub async fn start<C: Clock>(clock: C, mut opts: Options) -> Server<C> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("iam.db")).await.unwrap();
    let std_listener = opts
        .listener
        .take()
        .unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let base = if opts.tls {
        format!("https://localhost:{}", addr.port())
    } else {
        format!("http://{}:{}", opts.host, addr.port())
    };
    let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.oauth.device_poll_interval = opts.poll_interval;
    config.issuer.clone_from(&base);
    if opts.passkeys {
        config.passkeys = Some(iam_core::PasskeyConfig::new(
            "localhost",
            format!("http://localhost:{}", addr.port()),
        ));
    }
    (opts.configure)(&mut config);
    if let Some(adjust) = opts.adjust.take() {
        adjust(&mut config);
    }
    let iam = Iam::builder(store, config)
        .clock(clock)
        .open()
        .await
        .unwrap();
    iam.create_account(
        NewAccount::human("admin", ADMIN_PASSWORD).with_roles(["admin"]),
        iam_core::Caller::System,
    )
    .await
    .unwrap();
    iam.create_account(
        NewAccount::human("alice", ALICE_PASSWORD),
        iam_core::Caller::System,
    )
    .await
    .unwrap();
    let login = iam
        .login(&LoginRequest::password("admin", ADMIN_PASSWORD))
        .await
        .unwrap();
    let admin = iam
        .verify(login.tokens.access_token.expose())
        .await
        .unwrap();

    let app = OAuthRouter::new(iam.clone(), &base)
        .unwrap()
        .secure_cookies(opts.secure_cookies)
        .rate_limit(opts.rate_limit)
        .token_rate_limit(opts.token_rate_limit)
        .client_rate_limit(opts.client_rate_limit)
        .webfinger(opts.webfinger)
        .build()
        // A client's redirect target for browser tests.
        .route(
            "/test/callback",
            axum::routing::get(|| async { "callback reached" }),
        );
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let (task, tls) = if opts.tls {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let pem = cert.cert.pem();
        let config = axum_server::tls_rustls::RustlsConfig::from_pem(
            pem.clone().into_bytes(),
            cert.key_pair.serialize_pem().into_bytes(),
        )
        .await
        .unwrap();
        let server = axum_server::from_tcp_rustls(std_listener, config);
        let task = tokio::spawn(async move {
            let _ = server.serve(service).await;
        });
        (task, Some((pem, addr)))
    } else {
        let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        (task, None)
    };
    Server {
        base,
        iam,
        admin,
        http: http_for(tls.as_ref()),
        tls,
        task,
        _dir: dir,
    }
}

impl<C: Clock> Server<C> {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser for this server.
    pub fn browser(&self) -> Browser {
        Browser::with_client(&self.base, self.http.clone())
    }

    /// Exchanges `code` at the token endpoint as the confidential client `reg`; the JSON
    /// answer.
    pub async fn exchange(
        &self,
        reg: &RegisteredClient,
        redirect: &str,
        code: &str,
        verifier: &str,
    ) -> serde_json::Value {
        let tok = self
            .http
            .post(self.url("/oauth2/token"))
            .basic_auth(
                &reg.client.id,
                reg.client_secret
                    .as_ref()
                    .map(iam_core::SecretString::expose),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(tok.status(), StatusCode::OK);
        tok.json().await.unwrap()
    }

    /// Registers a client as the admin.
    pub async fn register(&self, new: NewClient) -> RegisteredClient {
        self.iam.register_client(&self.admin, new).await.unwrap()
    }
}
