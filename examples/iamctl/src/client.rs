//! The HTTP side: connection settings, the stored session (a 0600 JSON file), authenticated
//! calls with automatic refresh, and readable errors (server codes, TLS failures).

use std::fmt;
use std::fmt::Write as _;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use iam_axum::dto::{ErrorOut, LoginBody, LoginOut, RefreshBody, Secret, TokensOut};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::tls;

/// The server when neither `--server`, `IAM_SERVER` nor the session names one.
pub const DEFAULT_SERVER: &str = "https://127.0.0.1:8443";

/// Refresh this long before the access token expires.
const REFRESH_MARGIN_SECS: u64 = 15;

/// How the server's certificate is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The built-in web PKI roots.
    System,
    /// Only the certificates in this PEM file.
    CaFile(PathBuf),
    /// Exactly the certificate with this SHA-256 fingerprint.
    Pin([u8; 32]),
    /// Plain HTTP (asked for with `--insecure-http`).
    InsecureHttp,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL without a trailing slash (may carry a path prefix).
    pub server: String,
    /// The trust mode.
    pub trust: Trust,
}

impl Target {
    /// Checks that the URL scheme and the trust mode agree: `http://` only with
    /// `--insecure-http`, and `--insecure-http` only with `http://`.
    pub fn new(server: &str, trust: Trust) -> Result<Target> {
        let server = server.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&server)
            .with_context(|| format!("--server {server:?} is not a URL"))?;
        match (url.scheme(), &trust) {
            ("http", Trust::InsecureHttp) | ("https", Trust::System | Trust::CaFile(_) | Trust::Pin(_)) => {}
            ("http", _) => bail!(
                "{server} is plain HTTP: tokens would travel unencrypted; pass --insecure-http if that is really meant"
            ),
            ("https", Trust::InsecureHttp) => {
                bail!("--insecure-http needs an http:// server URL (got {server})")
            }
            (other, _) => bail!("unsupported URL scheme {other:?} (use https:// or http://)"),
        }
        if url.query().is_some() || url.fragment().is_some() {
            bail!("--server must not carry a query or fragment");
        }
        Ok(Target { server, trust })
    }

    /// The HTTP client for this target.
    fn http_client(&self) -> Result<reqwest::Client> {
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("iamctl/", env!("CARGO_PKG_VERSION")));
        let builder = match &self.trust {
            Trust::System | Trust::InsecureHttp => builder.use_rustls_tls(),
            Trust::CaFile(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading the CA file {}", path.display()))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .with_context(|| format!("{} holds no PEM certificate", path.display()))?;
                if certs.is_empty() {
                    bail!("{} holds no PEM certificate", path.display());
                }
                certs.into_iter().fold(
                    builder.use_rustls_tls().tls_built_in_root_certs(false),
                    reqwest::ClientBuilder::add_root_certificate,
                )
            }
            Trust::Pin(pin) => builder.use_preconfigured_tls(tls::pinned_config(*pin)?),
        };
        builder.build().context("building the HTTP client")
    }

    fn trust_record(&self) -> (Option<String>, Option<PathBuf>, bool) {
        match &self.trust {
            Trust::System => (None, None, false),
            Trust::CaFile(p) => (None, Some(p.clone()), false),
            Trust::Pin(pin) => (Some(tls::hex(pin)), None, false),
            Trust::InsecureHttp => (None, None, true),
        }
    }
}

/// The stored login: what the session file holds. Not `Debug`, so that tokens never reach a
/// log or a panic message.
#[derive(Serialize, Deserialize)]
#[allow(clippy::struct_field_names)] // `session_id` is the server's name for it
pub struct Session {
    /// The server the tokens belong to.
    pub server: String,
    /// The trusted fingerprint used at login, if any.
    #[serde(default)]
    pub pin_sha256: Option<String>,
    /// The CA file used at login, if any.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Whether login was over plain HTTP.
    #[serde(default)]
    pub insecure_http: bool,
    /// The account's username.
    pub username: String,
    /// The account's id.
    pub account_id: String,
    /// The server-side session id.
    pub session_id: String,
    /// The current access token.
    pub access_token: String,
    /// The current refresh token.
    pub refresh_token: String,
    /// When the access token expires (Unix seconds).
    pub access_expires_at: u64,
}

impl Session {
    /// The trust mode recorded at login.
    pub fn trust(&self) -> Result<Trust> {
        if self.insecure_http {
            Ok(Trust::InsecureHttp)
        } else if let Some(pin) = &self.pin_sha256 {
            Ok(Trust::Pin(tls::parse_fingerprint(pin)?))
        } else if let Some(ca) = &self.ca_file {
            Ok(Trust::CaFile(ca.clone()))
        } else {
            Ok(Trust::System)
        }
    }
}

/// The default session file: `$XDG_CONFIG_HOME/iamctl/session.json` or
/// `~/.config/iamctl/session.json`.
pub fn default_session_path() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("iamctl").join("session.json"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("HOME is not set; pass --session-file")?;
    Ok(PathBuf::from(home)
        .join(".config")
        .join("iamctl")
        .join("session.json"))
}

/// Reads the session file, `None` when there is none.
pub fn load_session(path: &Path) -> Result<Option<Session>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let s = serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "{} is not an iamctl session file; remove it and log in again",
                    path.display()
                )
            })?;
            Ok(Some(s))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the session file atomically with mode 0600 (its directory 0700 when created).
pub fn save_session(path: &Path, session: &Session) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let body = serde_json::to_vec_pretty(session).context("encoding the session")?;
    write_private(path, &body)
}

/// Writes `body` to `path` atomically (a temporary file renamed into place) with mode 0600.
pub fn write_private(path: &Path, body: &[u8]) -> Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(body)?;
            f.sync_all()
        })
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Removes the session file (no error when it is already gone).
pub fn remove_session(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// An error answer of the server: status, stable code and message.
#[derive(Debug)]
pub struct ServerError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable error code (`error`).
    pub code: String,
    /// The human-readable message.
    pub message: String,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (error code {}, HTTP {})",
            self.message,
            self.code,
            self.status.as_u16()
        )
    }
}

impl std::error::Error for ServerError {}

/// The stable error code of the server's answer in `err`, if `err` is one.
pub fn error_code(err: &anyhow::Error) -> Option<&str> {
    err.chain()
        .find_map(|e| e.downcast_ref::<ServerError>())
        .map(|e| e.code.as_str())
}

/// Whether a 401 with `code` refuses the token itself, so that a refreshed one may pass (not
/// a wrong password or code, nor a sign-in that is too old: a new token changes neither).
fn token_refused(code: &str) -> bool {
    !matches!(
        code,
        "invalid_credentials" | "totp_required" | "insufficient_user_authentication"
    )
}

/// Whether `err` is a server answer with `status`.
pub fn is_status(err: &anyhow::Error, status: StatusCode) -> bool {
    err.downcast_ref::<ServerError>()
        .is_some_and(|e| e.status == status)
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The rustls error in `e`, looking through (nested) `io::Error` wrappers.
fn find_rustls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(t) = e.downcast_ref::<rustls::Error>() {
        return Some(t);
    }
    let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    find_rustls(inner)
}

/// Explains a transport failure: TLS problems (pin mismatch, untrusted certificate) get a
/// clear sentence instead of reqwest's generic "error sending request".
fn transport_error(target: &Target, err: &reqwest::Error) -> anyhow::Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(tls_err) = find_rustls(e) {
            if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) =
                tls_err
            {
                if let Some(m) = other.0.downcast_ref::<tls::PinMismatch>() {
                    return anyhow!("TLS error talking to {}: {m}", target.server);
                }
            }
            let hint = match target.trust {
                Trust::Pin(_) => "",
                _ => "; trust the server with --ca-file PATH or --pin-sha256 HEX",
            };
            return anyhow!("TLS error talking to {}: {tls_err}{hint}", target.server);
        }
        source = e.source();
    }
    let mut msg = format!("cannot reach {}: {err}", target.server);
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        let text = e.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = e.source();
    }
    anyhow!(msg)
}

/// A client of one iam server, with an optional stored session.
pub struct Api {
    target: Target,
    http: reqwest::Client,
    session_path: PathBuf,
    session: Option<Session>,
    fixed_token: bool,
}

impl Api {
    /// A client for `target`; `session` (already checked to belong to `target`) is used for
    /// authenticated calls and saved to `session_path` when refreshed.
    pub fn new(target: Target, session_path: PathBuf, session: Option<Session>) -> Result<Api> {
        let http = target.http_client()?;
        Ok(Api {
            target,
            http,
            session_path,
            session,
            fixed_token: false,
        })
    }

    /// A client that authenticates with a given bearer token (a service or API token) instead
    /// of a stored session; nothing is refreshed or saved.
    pub fn with_token(target: Target, token: String) -> Result<Api> {
        let mut api = Api::new(target.clone(), PathBuf::new(), None)?;
        api.session = Some(Session {
            server: target.server,
            pin_sha256: None,
            ca_file: None,
            insecure_http: false,
            username: String::new(),
            account_id: String::new(),
            session_id: String::new(),
            access_token: token,
            refresh_token: String::new(),
            access_expires_at: u64::MAX,
        });
        api.fixed_token = true;
        Ok(api)
    }

    /// The stored session, if any.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The session file.
    pub fn session_path(&self) -> &Path {
        &self.session_path
    }

    /// The server base URL.
    pub fn target_server(&self) -> String {
        self.target.server.clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.target.server)
    }

    /// One request; a 2xx answer gives its body, others a [`ServerError`].
    async fn send<Q: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&[u8]>,
        token: Option<&str>,
    ) -> Result<Vec<u8>> {
        let mut req = self.http.request(method, self.url(path));
        if let Some(query) = query {
            req = req.query(query);
        }
        if let Some(body) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(&self.target, &e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport_error(&self.target, &e))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let error: Option<ErrorOut> = serde_json::from_slice(&bytes).ok();
        Err(match error {
            Some(e) => ServerError {
                status,
                code: e.error,
                message: e.message,
            },
            None => ServerError {
                status,
                code: "http_error".to_owned(),
                message: status
                    .canonical_reason()
                    .unwrap_or("unexpected answer")
                    .to_owned(),
            },
        }
        .into())
    }

    /// `POST /login`: stores a new session and returns the login answer (whose tokens the
    /// caller must not print).
    pub async fn login(
        &mut self,
        username: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<LoginOut> {
        let body = encode(&LoginBody {
            username: username.to_owned(),
            password: Secret::new(password),
            totp_code: totp.map(str::to_owned),
        })?;
        let bytes = self
            .send::<()>(Method::POST, "/login", None, Some(&body), None)
            .await?;
        let answer: LoginOut = decode(&bytes, "/login")?;
        let (pin_sha256, ca_file, insecure_http) = self.target.trust_record();
        let session = Session {
            server: self.target.server.clone(),
            pin_sha256,
            ca_file,
            insecure_http,
            username: username.to_owned(),
            account_id: answer.account.id.clone(),
            session_id: answer.tokens.session_id.clone(),
            access_token: answer.tokens.access_token.clone(),
            refresh_token: answer.tokens.refresh_token.clone(),
            access_expires_at: now_secs() + answer.tokens.expires_in,
        };
        save_session(&self.session_path, &session)?;
        self.session = Some(session);
        Ok(answer)
    }

    /// `POST /refresh`: rotates the token pair and saves it.
    async fn refresh(&mut self) -> Result<()> {
        if self.fixed_token {
            bail!("the server refused the IAM_TOKEN token");
        }
        let session = self
            .session
            .as_mut()
            .context("not logged in: run `iamctl login USERNAME` first")?;
        let body = encode(&RefreshBody {
            refresh_token: Secret::new(session.refresh_token.clone()),
        })?;
        let bytes = match self
            .send::<()>(Method::POST, "/refresh", None, Some(&body), None)
            .await
        {
            Ok(a) => a,
            Err(e) if e.downcast_ref::<ServerError>().is_some() => {
                return Err(e.context("the session has ended; log in again"));
            }
            Err(e) => return Err(e),
        };
        let answer: TokensOut = decode(&bytes, "/refresh")?;
        let session = self
            .session
            .as_mut()
            .context("not logged in: run `iamctl login USERNAME` first")?;
        session.access_token = answer.access_token;
        session.refresh_token = answer.refresh_token;
        session.session_id = answer.session_id;
        session.access_expires_at = now_secs() + answer.expires_in;
        save_session(&self.session_path, session)
    }

    /// Replaces the stored access token (after an elevation), keeping its expiry estimate.
    pub fn replace_access_token(&mut self, token: String) -> Result<()> {
        if self.fixed_token {
            return Ok(());
        }
        if let Some(session) = self.session.as_mut() {
            session.access_token = token;
            save_session(&self.session_path, session)?;
        }
        Ok(())
    }

    /// An authenticated call: refreshes first when the access token has (nearly) expired, and
    /// once more when the server refuses the token with 401. The answer is decoded as `T`
    /// (`()` for an answer without a body).
    pub async fn call<Q, B, T>(
        &mut self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<T>
    where
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let bytes = self.call_raw(method, path, query, body).await?;
        decode(&bytes, path)
    }

    /// Like [`Api::call`], answering the body as it came (for answers that are not JSON).
    pub async fn call_raw<Q, B>(
        &mut self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<Vec<u8>>
    where
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    {
        let body = body.map(encode).transpose()?;
        let expires = self
            .session
            .as_ref()
            .context("not logged in: run `iamctl login USERNAME` first")?
            .access_expires_at;
        let mut refreshed = false;
        if now_secs() + REFRESH_MARGIN_SECS >= expires {
            self.refresh().await?;
            refreshed = true;
        }
        loop {
            let token = self
                .session
                .as_ref()
                .map(|s| s.access_token.clone())
                .context("not logged in")?;
            match self
                .send(method.clone(), path, query, body.as_deref(), Some(&token))
                .await
            {
                Err(e)
                    if !refreshed
                        && is_status(&e, StatusCode::UNAUTHORIZED)
                        && error_code(&e).is_some_and(token_refused) =>
                {
                    self.refresh().await?;
                    refreshed = true;
                }
                other => return other,
            }
        }
    }

    /// `GET path` without a token (public routes such as `/keys`).
    pub async fn get_anonymous<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let bytes = self.send::<()>(Method::GET, path, None, None, None).await?;
        decode(&bytes, path)
    }

    /// `GET path`.
    pub async fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T> {
        self.call::<(), (), T>(Method::GET, path, None, None).await
    }

    /// `GET path?query`.
    pub async fn get_query<Q: Serialize, T: DeserializeOwned>(
        &mut self,
        path: &str,
        query: &Q,
    ) -> Result<T> {
        self.call::<Q, (), T>(Method::GET, path, Some(query), None)
            .await
    }

    /// `method path` without a body.
    pub async fn act<T: DeserializeOwned>(&mut self, method: Method, path: &str) -> Result<T> {
        self.call::<(), (), T>(method, path, None, None).await
    }

    /// `method path` with a JSON body.
    pub async fn send_json<B: Serialize, T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call::<(), B, T>(method, path, None, Some(body)).await
    }
}

/// A request body as JSON bytes.
fn encode<B: Serialize + ?Sized>(body: &B) -> Result<Vec<u8>> {
    serde_json::to_vec(body).context("encoding the request")
}

/// Decodes the answer to `path` as `T`; an empty body decodes as JSON `null` (so as `()`).
fn decode<T: DeserializeOwned>(bytes: &[u8], path: &str) -> Result<T> {
    let bytes = if bytes.is_empty() { b"null" } else { bytes };
    serde_json::from_slice(bytes)
        .with_context(|| format!("the server's answer to {path} is not what iamctl expects"))
}
