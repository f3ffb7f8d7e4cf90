//! Starts the real `iamd` binary: first run generates the master key (0600), the certificate
//! and the first admin; the admin logs in over HTTPS; SIGTERM stops it cleanly; a second run
//! keeps the data and prints no new password.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn start(data: &Path, addr: SocketAddr) -> Child {
    Command::new(env!("CARGO_BIN_EXE_iamd"))
        .args(["--listen", &addr.to_string(), "--data-dir"])
        .arg(data)
        .env_remove("IAM_MASTER_KEY")
        .env_remove("IAM_STORE")
        .env_remove("IAM_CONFIG")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn terminate(mut child: Child) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "iamd exited with {status}");
            break;
        }
        assert!(Instant::now() < deadline, "iamd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut rest = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut rest).unwrap();
    }
    rest
}

async fn connect(data: &Path, addr: SocketAddr) -> reqwest::Client {
    let cert_path = data.join("cert.pem");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cert_path.exists() {
        assert!(Instant::now() < deadline, "no certificate generated");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pem = std::fs::read(&cert_path).unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/health", addr.port());
    loop {
        if client
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return client;
        }
        assert!(Instant::now() < deadline, "iamd did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_bootstrap_login_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let addr = free_addr();
    let mut child = start(&data, addr);

    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut password = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(p) = line.trim().strip_prefix("password: ") {
            password = Some(p.to_owned());
            break;
        }
    }
    let password = password.expect("a one-time admin password on stdout");
    assert!(password.len() >= 20);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let client = connect(&data, addr).await;
    let base = format!("https://localhost:{}", addr.port());
    let login = client
        .post(format!("{base}/login"))
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let body: serde_json::Value = login.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let who: serde_json::Value = client
        .get(format!("{base}/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["roles"], serde_json::json!(["admin"]));
    drop(lines);
    terminate(child);

    // Second run: same data, tokens still verify (same master key and signing key), no new admin.
    let addr = free_addr();
    let child = start(&data, addr);
    let client = connect(&data, addr).await;
    let who = client
        .get(format!("https://localhost:{}/whoami", addr.port()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(who.status(), 200);
    let out = terminate(child);
    assert!(!out.contains("password"), "{out}");
}
