//! Starts the real `iamd` binary: first run generates the master key (0600), the certificate
//! and the first admin; the admin logs in over HTTPS; SIGTERM stops it cleanly; a second run
//! keeps the data and prints no new password.

#![allow(clippy::unwrap_used)]

#[path = "../../../iam-axum/tests/interop/browser.rs"]
mod browser;
mod common;

use browser::{jwt_claims, paseto_claims, pkce, query_params, Browser};
use common::{admin_token, first_admin_password, free_addr, iamd, Live};
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(data: &Path, addr: SocketAddr) -> Child {
    start_with(data, addr, &[])
}

/// Starts iamd on `addr` with its data in `data` and the extra arguments `args`.
fn start_with(data: &Path, addr: SocketAddr, args: &[&str]) -> Child {
    iamd(data, addr, args)
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
    let (password, lines) = first_admin_password(&mut child);
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

    // Second run: same data and address (the issuer is iamd's own URL), tokens still verify
    // (same master key and signing key), no new admin.
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

/// The example configuration puts the role `dba` under a two-person rule with a password and
/// TOTP step-up: iamd started with it refuses an activation without TOTP, and with both proofs
/// files a request for approval instead of opening the role (the default rules would open it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_configuration_puts_dba_under_two_person_approval() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let addr = free_addr();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/iamd.example.toml");
    let mut child = start_with(&data, addr, &["--config", example]);
    let (password, lines) = first_admin_password(&mut child);
    let client = connect(&data, addr).await;
    let base = format!("https://localhost:{}", addr.port());
    let post = |path: &str, token: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };

    let token = admin_token(&client, &base, &password).await;
    let who: serde_json::Value = client
        .get(format!("{base}/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = who["account_id"].as_str().unwrap();
    let grant = client
        .put(format!("{base}/accounts/{id}/elevatable-roles/dba"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(grant.status().is_success(), "{}", grant.status());

    let elevate = serde_json::json!({ "role": "dba", "password": password });
    let refused = post("/elevation", &token, elevate.clone()).await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "step_up_required", "{body}");

    // Enrol TOTP; confirm with this step's code and step up with the next one (within the
    // one-step skew window; each step is accepted only once).
    let enrolment: serde_json::Value = post("/totp/enrol", &token, serde_json::json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let totp = totp_rs::TOTP::from_url_unchecked(enrolment["uri"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let confirm = post(
        "/totp/confirm",
        &token,
        serde_json::json!({ "code": totp.generate(now) }),
    )
    .await
    .unwrap();
    assert_eq!(confirm.status(), 200);
    let mut elevate = elevate;
    elevate["totp_code"] = totp.generate(now + 30).into();
    let pending = post("/elevation", &token, elevate).await.unwrap();
    assert_eq!(pending.status(), 202);
    let body: serde_json::Value = pending.json().await.unwrap();
    assert_eq!(body["status"], "pending", "{body}");
    drop(lines);
    terminate(child);
}

/// A configuration value out of range stops iamd at start, before it touches the data
/// directory, with an error that names the key.
#[test]
fn an_out_of_range_setting_stops_iamd_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("iamd.toml");
    std::fs::write(&config, "[elevation.dba]\nmax_duration_secs = 90000\n").unwrap();
    let data = dir.path().join("data");
    let out = iamd(&data, free_addr(), &["--config", config.to_str().unwrap()])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("elevation.dba.max_duration_secs: must be at most 86400"),
        "{stderr}"
    );
    assert!(
        !data.exists(),
        "nothing is created for a refused configuration"
    );
}

/// `webfinger = "all"` reaches the OAuth router: WebFinger names the first admin's issuer; by
/// default it names nobody (404, as for a missing account).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webfinger_publishes_accounts_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let finger = |port: u16, user: &str| {
        format!("https://localhost:{port}/.well-known/webfinger?resource=acct:{user}@127.0.0.1")
    };

    let data = dir.path().join("default");
    let addr = free_addr();
    let child = start(&data, addr);
    let client = connect(&data, addr).await;
    let off = client
        .get(finger(addr.port(), "admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 404);
    terminate(child);

    let config = dir.path().join("iamd.toml");
    std::fs::write(&config, "webfinger = \"all\"\n").unwrap();
    let data = dir.path().join("all");
    let addr = free_addr();
    let child = start_with(&data, addr, &["--config", config.to_str().unwrap()]);
    let client = connect(&data, addr).await;
    let found = client
        .get(finger(addr.port(), "admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    let jrd: serde_json::Value = found.json().await.unwrap();
    assert_eq!(jrd["subject"], "acct:admin@127.0.0.1");
    assert_eq!(
        jrd["links"][0]["href"],
        format!("https://127.0.0.1:{}", addr.port())
    );
    let missing = client
        .get(finger(addr.port(), "nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    terminate(child);
}

/// Without `--public-url` the issuer is iamd's own address, `https://127.0.0.1:PORT`, and it
/// is one issuer everywhere: both discovery documents, the authorization response's `iss`, and
/// the `iss` of access tokens (REST login and OAuth) and of ID tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_public_url_the_issuer_is_iamds_own_address_everywhere() {
    const REDIRECT: &str = "https://rp.example/cb";
    let iamd = Live::start(&[]).await;
    let port = iamd.base.rsplit(':').next().unwrap();
    let issuer = format!("https://127.0.0.1:{port}");
    for doc in ["openid-configuration", "oauth-authorization-server"] {
        let meta: serde_json::Value = iamd
            .http
            .get(format!("{issuer}/.well-known/{doc}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(meta["issuer"], issuer.as_str(), "{doc}");
    }
    assert_eq!(paseto_claims(&iamd.admin)["iss"], issuer.as_str());

    let (client_id, secret) = iamd
        .register_client(serde_json::json!({
            "name": "Wiki",
            "kind": "confidential",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code"],
            "scopes": ["openid", "profile"],
        }))
        .await;
    let carol = iamd.create_user("carol", "carol password 1").await;
    let mut b = Browser::with_client(&issuer, iamd.http.clone());
    let (verifier, challenge) = pkce();
    let login = b
        .get(&format!(
            "/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={}\
&scope=openid%20profile&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
            browser::enc(REDIRECT)
        ))
        .await;
    let consent = b.login(&login, "carol", "carol password 1").await;
    let done = b.submit(&consent, &[("decision", "allow")]).await;
    let callback = query_params(&done.location());
    assert_eq!(callback["iss"], issuer, "{}", done.location());
    let tokens: serde_json::Value = iamd
        .http
        .post(format!("{issuer}/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", callback["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["iss"], issuer.as_str());
    assert_eq!(id_token["sub"], carol.as_str());
    let access = paseto_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["iss"], issuer.as_str());
    assert_eq!(access["sub"], carol.as_str());
}
