//! A WebDriver client for the browser tests: Debian's Chromium, headless, driven by
//! chromedriver over plain HTTP requests (no WebDriver crate).
//!
//! Needs `chromium` and `chromium-driver` (Debian packages); [`browser_available`] says whether
//! they are there (and fails under `CI=true` when they are not).

#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process, killed on drop.
pub struct Driver {
    child: Child,
    pub base: String,
    pub http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub async fn start() -> Driver {
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

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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
pub struct Session<'a> {
    pub d: &'a Driver,
    pub id: String,
}

impl Session<'_> {
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.d
            .call(
                reqwest::Method::POST,
                &format!("/session/{}{path}", self.id),
                Some(body),
            )
            .await
    }

    pub async fn url(&self) -> String {
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

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// Waits until the browser is at a URL starting with `prefix`; returns that URL.
    pub async fn wait_for_url(&self, prefix: &str) -> String {
        let mut landed = String::new();
        for _ in 0..100 {
            landed = self.url().await;
            if landed.starts_with(prefix) {
                return landed;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = self.post("/se/log", json!({ "type": "browser" })).await;
        panic!(
            "ended at {landed}, not {prefix}: {}\nbrowser log: {log}",
            self.text().await
        );
    }

    /// Signs in on the login page the browser shows.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.wait_for("#username").await;
        self.type_into("#username", username).await;
        self.type_into("#password", password).await;
        self.click("button[type=submit]").await;
    }

    pub async fn close(self) {
        let _ = self
            .d
            .call(
                reqwest::Method::DELETE,
                &format!("/session/{}", self.id),
                None,
            )
            .await;
    }

    pub async fn find(&self, css: &str) -> String {
        let v = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/value"), json!({ "text": text }))
            .await;
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/click"), json!({})).await;
    }

    pub async fn text(&self) -> String {
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

    /// Waits until the page's text contains `needle`. A page still loading, or replaced while
    /// it is read, is read again: after a click that navigates, the old page may still answer
    /// for a moment, and between the two there may be no body at all.
    pub async fn wait_for_text(&self, needle: &str) {
        let mut last = String::new();
        for _ in 0..100 {
            if let Some(text) = self.try_text().await {
                if text.contains(needle) {
                    return;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {needle:?}; it last read: {last}");
    }

    /// The page's visible text, or `None` while there is no body to read.
    async fn try_text(&self) -> Option<String> {
        let base = format!("{}/session/{}", self.d.base, self.id);
        let found = answer_of(
            self.d
                .http
                .post(format!("{base}/element"))
                .json(&json!({ "using": "css selector", "value": "body" })),
        )
        .await?;
        let body = found["value"][ELEMENT].as_str()?;
        let text = answer_of(self.d.http.get(format!("{base}/element/{body}/text"))).await?;
        text["value"].as_str().map(str::to_owned)
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub async fn run(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
            .await
    }

    /// The visible text of the element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.get(&format!("/element/{e}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Whether the element matching `css` is displayed.
    pub async fn displayed(&self, css: &str) -> bool {
        let e = self.find(css).await;
        self.get(&format!("/element/{e}/displayed"))
            .await
            .as_bool()
            .unwrap_or(false)
    }

    /// Sets the viewport to `width` x `height` CSS pixels (device emulation through the
    /// DevTools protocol, so that narrow phone widths are exact), as a phone when `mobile`.
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.post(
            "/goog/cdp/execute",
            json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": { "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile },
            }),
        )
        .await;
    }

    /// Saves a PNG screenshot of the viewport to `path` (creating its directory).
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let png = self.get("/screenshot").await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }

    /// Empties the input matching `css`.
    pub async fn clear(&self, css: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{e}/clear"), json!({})).await;
    }

    /// Adds a virtual authenticator (the WebDriver WebAuthn extension): a platform passkey
    /// provider (CTAP2, internal transport) that keeps discoverable credentials and verifies
    /// the user at once. Its id.
    pub async fn virtual_authenticator(&self) -> String {
        let v = self
            .post(
                "/webauthn/authenticator",
                json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "isUserConsenting": true,
                }),
            )
            .await;
        v.as_str().unwrap().to_owned()
    }

    /// The credentials virtual authenticator `id` holds.
    pub async fn authenticator_credentials(&self, id: &str) -> Vec<Value> {
        self.get(&format!("/webauthn/authenticator/{id}/credentials"))
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Saves a screenshot named `name` under `$CARGO_TARGET_TMPDIR/screenshots/` and prints
    /// its path.
    pub async fn snap(&self, name: &str) {
        let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("screenshots")
            .join(format!("{name}.png"));
        self.screenshot(&path).await;
        println!("screenshot: {}", path.display());
    }

    /// `GET` of a session command; its value.
    async fn get(&self, path: &str) -> Value {
        self.d
            .call(
                reqwest::Method::GET,
                &format!("/session/{}{path}", self.id),
                None,
            )
            .await
    }

    /// Waits until the page shows `css`.
    pub async fn wait_for(&self, css: &str) {
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

impl Driver {
    /// A new headless Chromium session.
    pub async fn session(&self) -> Session<'_> {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let created = self
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        Session {
            d: self,
            id: created["sessionId"].as_str().unwrap().to_owned(),
        }
    }
}

pub fn browser_available() -> bool {
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

/// The JSON answer to `request`, or `None` when it fails or answers an error status.
async fn answer_of(request: reqwest::RequestBuilder) -> Option<Value> {
    request
        .send()
        .await
        .ok()?
        .error_for_status()
        .ok()?
        .json()
        .await
        .ok()
}
