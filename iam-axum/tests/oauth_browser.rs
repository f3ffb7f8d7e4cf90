//! The login and consent pages in a real browser: Debian's Chromium, headless, driven over
//! WebDriver (chromedriver) with plain HTTP requests, completes one authorization-code + PKCE
//! flow to a client on another origin, with no JavaScript on the pages.
//!
//! Needs `chromium` and `chromium-driver` (Debian packages). Without them the test is skipped
//! with a message, except under `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "interop/harness.rs"]
mod harness;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::{pkce, query_params, start, Options, ALICE_PASSWORD};
use iam_core::{GrantType, NewClient, SystemClock};
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process, killed on drop.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let d = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..100 {
            if let Ok(r) = d.http.get(format!("{}/status", d.base)).send().await {
                if r.status().is_success() {
                    return d;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start");
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {v}");
        v["value"].clone()
    }
}

/// A browser session.
struct Session<'a> {
    d: &'a Driver,
    id: String,
}

impl Session<'_> {
    async fn post(&self, path: &str, body: Value) -> Value {
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}{path}", self.id),
                Some(body),
            )
            .await
    }

    async fn url(&self) -> String {
        self.d
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/url", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/value"), json!({ "text": text }))
            .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/click"), json!({})).await;
    }

    async fn text(&self) -> String {
        let body = self.find("body").await;
        self.d
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/element/{body}/text", self.id),
                None,
            )
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the page shows `css`.
    async fn wait_for(&self, css: &str) {
        for _ in 0..100 {
            let r = self
                .d
                .http
                .post(format!("{}/session/{}/element", self.d.base, self.id))
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .await
                .unwrap();
            if r.status().is_success() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {css} on {}: {}", self.url().await, self.text().await);
    }
}

fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium and chromium-driver must be installed in CI"
        );
        eprintln!("skipped: install Debian's chromium and chromium-driver to run this test");
    }
    present
}

#[tokio::test(flavor = "multi_thread")]
async fn authorization_code_flow_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let s = start(SystemClock, Options::default()).await;
    // The client lives on another origin (localhost, not 127.0.0.1) of the same test server.
    let port = s.base.rsplit(':').next().unwrap().to_owned();
    let redirect = format!("http://localhost:{port}/test/callback");
    let reg = s
        .register(
            NewClient::confidential("Browser app")
                .redirect_uri(redirect.clone())
                .grants([GrantType::AuthorizationCode])
                .scopes(["profile"]),
        )
        .await;
    let (verifier, challenge) = pkce();
    let authorize = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope=profile&state=xyz&code_challenge={challenge}&code_challenge_method=S256",
        s.url("/oauth2/authorize"),
        reg.client.id,
        harness::enc(&redirect)
    );

    let driver = Driver::start().await;
    let caps = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    }}});
    let created = driver
        .call(reqwest::Method::POST, "/session", Some(caps))
        .await;
    let session = Session {
        d: &driver,
        id: created["sessionId"].as_str().unwrap().to_owned(),
    };

    session.goto(&authorize).await;
    session.wait_for("#username").await;
    session.type_into("#username", "alice").await;
    session.type_into("#password", ALICE_PASSWORD).await;
    session.click("button[type=submit]").await;
    session.wait_for("button[value=allow]").await;
    assert!(session.text().await.contains("Browser app"));
    // The session cookie is HttpOnly: scripts cannot read it.
    let cookies = session
        .post(
            "/execute/sync",
            json!({ "script": "return document.cookie", "args": [] }),
        )
        .await;
    assert!(
        !cookies.as_str().unwrap_or_default().contains("iam_session"),
        "{cookies}"
    );
    session.click("button[value=allow]").await;

    let mut landed = String::new();
    for _ in 0..100 {
        landed = session.url().await;
        if landed.starts_with(&redirect) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !landed.starts_with(&redirect) {
        let log = session.post("/se/log", json!({ "type": "browser" })).await;
        panic!(
            "ended at {landed}: {}\nbrowser log: {log}",
            session.text().await
        );
    }
    assert!(session.text().await.contains("callback reached"));
    let q = query_params(&landed);
    assert_eq!(q["state"], "xyz");

    let _ = driver
        .call(
            reqwest::Method::DELETE,
            &format!("/session/{}", session.id),
            None,
        )
        .await;

    let tok = s
        .http
        .post(s.url("/oauth2/token"))
        .basic_auth(
            &reg.client.id,
            reg.client_secret
                .as_ref()
                .map(iam_core::SecretString::expose),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tok.status(), reqwest::StatusCode::OK);
}
