//! Plumbing shared by the tests that start the real `iamd` binary.

#![allow(dead_code)] // each test file uses part of it

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};

/// A free port on 127.0.0.1 (free when asked; iamd binds it right after).
pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("a free port")
}

/// The iamd command line, with the environment cleared of settings.
pub fn iamd(data: &Path, addr: SocketAddr, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iamd"));
    command
        .args(["--listen", &addr.to_string(), "--data-dir"])
        .arg(data)
        .args(args)
        .env_remove("IAM_MASTER_KEY")
        .env_remove("IAM_STORE")
        .env_remove("IAM_CONFIG")
        .env("RUST_LOG", "warn");
    command
}

/// Reads the first admin's one-time password from iamd's standard output; the rest of the
/// output stays readable (keep it open so iamd never writes to a closed pipe).
pub fn first_admin_password(
    child: &mut Child,
) -> (String, impl Iterator<Item = std::io::Result<String>>) {
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("iamd's stdout");
        if let Some(p) = line.trim().strip_prefix("password: ") {
            return (p.to_owned(), lines);
        }
    }
    panic!("no one-time admin password on stdout");
}

/// Signs in at `base` as the bootstrap admin with `password`; returns the access token.
pub async fn admin_token(client: &reqwest::Client, base: &str, password: &str) -> String {
    let login: serde_json::Value = client
        .post(format!("{base}/login"))
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .await
        .expect("POST /login")
        .error_for_status()
        .expect("the admin signs in")
        .json()
        .await
        .expect("a JSON answer from /login");
    login["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// iamd started over HTTPS on a fresh data directory with no `--public-url`, so its issuer is
/// its own address, `https://127.0.0.1:PORT`; killed on drop.
pub struct Live {
    /// The base URL, which is the issuer.
    pub base: String,
    /// A client that trusts only iamd's generated certificate and follows no redirects.
    pub http: reqwest::Client,
    /// iamd's generated certificate (PEM).
    pub cert_pem: String,
    /// The first admin's access token.
    pub admin: String,
    child: Child,
    /// iamd's standard output after the password, kept open so iamd never writes to a closed pipe.
    _stdout: Box<dyn Iterator<Item = std::io::Result<String>> + Send>,
    _dir: tempfile::TempDir,
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Live {
    /// Starts iamd with the extra arguments `args` and waits until it answers; signs in the
    /// first admin.
    pub async fn start(args: &[&str]) -> Live {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let data = dir.path().join("data");
        let addr = free_addr();
        let mut child = iamd(&data, addr, args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("iamd starts");
        let (password, lines) = first_admin_password(&mut child);
        let base = format!("https://{addr}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let cert = data.join("cert.pem");
        while !cert.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "no certificate generated"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let cert_pem = std::fs::read_to_string(&cert).expect("the certificate");
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("a PEM certificate"),
            )
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        while !http
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(std::time::Instant::now() < deadline, "iamd did not come up");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let admin = admin_token(&http, &base, &password).await;
        Live {
            base,
            http,
            cert_pem,
            admin,
            child,
            _stdout: Box::new(lines),
            _dir: dir,
        }
    }

    /// POSTs `body` to the REST path `path` as the admin; the JSON answer, which must be
    /// `201 Created`.
    async fn create(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .expect("the REST call");
        let status = r.status();
        let answer: serde_json::Value = r.json().await.expect("a JSON answer");
        assert_eq!(status, 201, "POST {path}: {answer}");
        answer
    }

    /// Registers an OAuth client over REST (`POST /clients`, the JSON `registration`): its id
    /// and secret.
    pub async fn register_client(&self, registration: serde_json::Value) -> (String, String) {
        let answer = self.create("/clients", registration).await;
        let field = |v: &serde_json::Value| v.as_str().expect("a string").to_owned();
        (
            field(&answer["client"]["id"]),
            field(&answer["client_secret"]),
        )
    }

    /// Creates a human account over REST (`POST /accounts`): its id.
    pub async fn create_user(&self, username: &str, password: &str) -> String {
        let answer = self
            .create(
                "/accounts",
                serde_json::json!({ "username": username, "password": password }),
            )
            .await;
        answer["id"].as_str().expect("an account id").to_owned()
    }
}
