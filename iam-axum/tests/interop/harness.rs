//! Test harness of the OAuth tests: the OAuth router on 127.0.0.1 with an ephemeral port
//! (plain HTTP), a temporary SQLite store, an admin, a user and a cookie-keeping browser.

#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use iam_axum::{OAuthRouter, RateLimit, WebFingerPublication};
use iam_core::{
    Clock, Config, Iam, LoginRequest, MasterKey, NewAccount, NewClient, PasswordPolicy, Principal,
    RegisteredClient, SecureRandom,
};
use iam_store_sqlite::SqliteStore;
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use sha2::{Digest, Sha256};

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
            passkeys: false,
        }
    }
}

/// An HTTP client that follows no redirects (trusting `tls`'s certificate for `localhost`).
pub fn http_for(tls: Option<&(String, SocketAddr)>) -> Client {
    let mut b = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    if let Some((pem, addr)) = tls {
        b = b
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .resolve("localhost", *addr);
    }
    b.build().unwrap()
}

/// An HTTP client for plain HTTP that follows no redirects.
pub fn http() -> Client {
    http_for(None)
}

/// Starts a server over `clock`.
pub async fn start<C: Clock>(clock: C, opts: Options) -> Server<C> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("iam.db")).await.unwrap();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let base = if opts.tls {
        format!("https://localhost:{}", addr.port())
    } else {
        format!("http://127.0.0.1:{}", addr.port())
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
        Browser {
            http: self.http.clone(),
            cookies: HashMap::new(),
            base: self.base.clone(),
        }
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

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(SecureRandom::from_entropy().bytes::<32>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Form-encodes one component.
pub fn enc(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Form-encodes pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", enc(n), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes the query parameters of a URL.
pub fn query_params(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Undoes the HTML escaping of attribute values.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// The hidden inputs of the first form in `html`, decoded.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input type=\"hidden\" name=\"") {
        rest = &rest[i + "<input type=\"hidden\" name=\"".len()..];
        let name_end = rest.find('"').unwrap();
        let name = unescape(&rest[..name_end]);
        let v = rest.find("value=\"").unwrap() + "value=\"".len();
        let value_end = v + rest[v..].find('"').unwrap();
        out.push((name, unescape(&rest[v..value_end])));
        rest = &rest[value_end..];
    }
    out
}

/// The hidden inputs of the (first) form in `html` that posts to `action`, decoded.
pub fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let marker = format!("<form method=\"post\" action=\"{action}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no form posting to {action}: {html}"));
    let form = &html[start..];
    hidden_fields(&form[..form.find("</form>").unwrap()])
}

/// The action of the first form in `html`.
pub fn form_action(html: &str) -> String {
    let i = html.find("<form method=\"post\" action=\"").unwrap() + 28;
    let end = i + html[i..].find('"').unwrap();
    unescape(&html[i..end])
}

/// A browser: keeps cookies, follows no redirects, asks for HTML.
pub struct Browser {
    pub http: Client,
    pub cookies: HashMap<String, String>,
    pub base: String,
}

/// A page: status, headers, body.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Where the answer sends the browser: the `Location` of a redirect, or the URL of a
    /// page that continues by meta refresh (what the pages answer after a form post).
    pub fn location(&self) -> String {
        if let Some(l) = self.headers.get(LOCATION).and_then(|v| v.to_str().ok()) {
            return l.to_owned();
        }
        let marker = "<meta http-equiv=\"refresh\" content=\"0;url=";
        match self.body.find(marker) {
            Some(i) => {
                let rest = &self.body[i + marker.len()..];
                unescape(&rest[..rest.find('"').unwrap()])
            }
            None => String::new(),
        }
    }

    /// The `Set-Cookie` lines.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.status, self.body))
    }
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Browser {
            http: http(),
            cookies: HashMap::new(),
            base: base.to_owned(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, r: Response) -> Page {
        let status = r.status();
        let headers = r.headers().clone();
        for v in headers.get_all(SET_COOKIE) {
            let line = v.to_str().unwrap();
            let pair = line.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if line.contains("Max-Age=0") || val.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
        let body = r.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    fn abs(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let r = self
            .http
            .get(self.abs(url))
            .header("accept", "text/html,application/xhtml+xml")
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(r).await
    }

    pub async fn post(&mut self, url: &str, pairs: &[(String, String)]) -> Page {
        let body = pairs
            .iter()
            .map(|(n, v)| format!("{}={}", enc(n), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .post(self.abs(url))
            .header("accept", "text/html")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(COOKIE, self.cookie_header())
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(r).await
    }

    /// Submits the first form of `page` with its hidden fields plus `extra`.
    pub async fn submit(&mut self, page: &Page, extra: &[(&str, &str)]) -> Page {
        let mut pairs = hidden_fields(&page.body);
        pairs.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        let action = form_action(&page.body);
        self.post(&action, &pairs).await
    }

    /// Submits the form of `page` that posts to `action` with its hidden fields plus `extra`.
    pub async fn submit_to(&mut self, page: &Page, action: &str, extra: &[(&str, &str)]) -> Page {
        let mut pairs = form_fields(&page.body, action);
        pairs.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        self.post(action, &pairs).await
    }

    /// Posts `body` as JSON, as the pages' script does: with the CSRF token in the
    /// `X-CSRF-Token` header when `csrf` is given.
    pub async fn post_json(&mut self, url: &str, csrf: Option<&str>, body: &str) -> Page {
        let mut req = self
            .http
            .post(self.abs(url))
            .header("content-type", "application/json")
            .header(COOKIE, self.cookie_header())
            .body(body.to_owned());
        if let Some(token) = csrf {
            req = req.header("x-csrf-token", token);
        }
        let r = req.send().await.unwrap();
        self.keep(r).await
    }

    /// The CSRF token the browser holds (its CSRF cookie).
    pub fn csrf(&self) -> String {
        self.cookies
            .iter()
            .find(|(k, _)| k.ends_with("iam_csrf"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Fills the login form on `page` as `username`.
    pub async fn login(&mut self, page: &Page, username: &str, password: &str) -> Page {
        assert!(page.body.contains("name=\"password\""), "{}", page.body);
        self.submit(page, &[("username", username), ("password", password)])
            .await
    }
}
