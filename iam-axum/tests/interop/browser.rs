//! A cookie-keeping browser for the login, consent and logout pages, and the URL and form
//! plumbing of OAuth tests: PKCE, form encoding, query parsing, hidden fields. Shared by
//! iam-axum's OAuth tests (through `harness.rs`) and iamd's tests against the real binary
//! (`#[path]` into `examples/iamd/tests`), so it needs only reqwest, sha2, base64 and iam-core.

#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use iam_core::SecureRandom;
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use sha2::{Digest, Sha256};

/// A client builder that follows no redirects.
fn builder() -> reqwest::ClientBuilder {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
}

/// A builder trusting only the PEM certificate `pem`.
fn trusting(pem: &str) -> reqwest::ClientBuilder {
    builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
}

/// An HTTP client that follows no redirects (trusting `tls`'s certificate for `localhost`).
pub fn http_for(tls: Option<&(String, SocketAddr)>) -> Client {
    match tls {
        Some((pem, addr)) => trusting(pem).resolve("localhost", *addr),
        None => builder(),
    }
    .build()
    .unwrap()
}

/// An HTTP client that follows no redirects and trusts only the PEM certificate `pem` (a
/// server's self-signed one, for the names and addresses it was made for).
pub fn http_trusting(pem: &str) -> Client {
    trusting(pem).build().unwrap()
}

/// An HTTP client for plain HTTP that follows no redirects.
pub fn http() -> Client {
    http_for(None)
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(SecureRandom::from_entropy().bytes::<32>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The claims of a JWT, unverified (what the server put in).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The claims of a PASETO v4.public token, unverified: its body is base64url of the JSON
/// claims followed by a 64-byte Ed25519 signature.
pub fn paseto_claims(token: &str) -> serde_json::Value {
    let body = token
        .strip_prefix("v4.public.")
        .unwrap_or_else(|| panic!("not a v4.public token: {token}"));
    let raw = URL_SAFE_NO_PAD
        .decode(body.split('.').next().unwrap())
        .unwrap();
    assert!(raw.len() > 64, "token body too short");
    serde_json::from_slice(&raw[..raw.len() - 64]).unwrap()
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
    let mut rest = html.split("</form>").next().unwrap_or(html);
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
    /// A browser for the plain-HTTP server at `base`.
    pub fn new(base: &str) -> Self {
        Self::with_client(base, http())
    }

    /// A browser for the server at `base`, over `http` (which must follow no redirects).
    pub fn with_client(base: &str, http: Client) -> Self {
        Browser {
            http,
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
