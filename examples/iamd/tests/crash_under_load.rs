//! iamd killed with SIGKILL in the middle of client-credentials load loses no acknowledged audit
//! event: every access token the token endpoint answered 200 with has its `oauth.token_issued`
//! event (the token's `sid` is the event's session), and the audit chain verifies, on SQLite and
//! on PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../../iam-store-postgres/tests/common/mod.rs"]
mod pg;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{admin_token, first_admin_password, free_addr, iamd};
use iam_core::{AuditKind, AuditQuery, Caller, Config, Iam, MasterKey, Store};
use iam_store_postgres::{PostgresStore, PostgresStoreOptions};
use iam_store_sqlite::SqliteStore;
use sqlx::{Connection, Executor, PgConnection};

/// Concurrent request loops against the token endpoint.
const LOOPS: usize = 32;
/// Acknowledged tokens after which iamd is killed.
const KILL_AFTER: usize = 600;
/// The longest the load may run before the kill (a slow debug build on a busy machine).
const LOAD_LIMIT: Duration = Duration::from_secs(20);
/// Audit events read per page.
const PAGE: usize = 1000;

/// A started iamd: the process, its base URL, and the first admin's password.
struct Server {
    child: Child,
    base: String,
    admin_password: String,
    /// iamd's standard output after the password, kept open so iamd never writes to a closed pipe.
    _stdout: Box<dyn Iterator<Item = std::io::Result<String>>>,
}

/// Starts iamd over plain HTTP on a fresh data directory, rate limits off, with the extra
/// arguments `args`.
fn start(data: &Path, args: &[&str]) -> (Server, SocketAddr) {
    let config = data.with_extension("toml");
    std::fs::write(&config, "rate_limit_burst = 0\n").unwrap();
    let addr = free_addr();
    let mut child = iamd(
        data,
        addr,
        &["--http", "--config", config.to_str().unwrap()],
    )
    .args(args)
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let (admin_password, lines) = first_admin_password(&mut child);
    let server = Server {
        child,
        base: format!("http://{addr}"),
        admin_password,
        _stdout: Box::new(lines),
    };
    (server, addr)
}

/// Waits until iamd answers `/health`.
async fn wait_up(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if http
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        assert!(Instant::now() < deadline, "iamd did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs in as the first admin and registers a confidential client allowed the
/// client-credentials grant; returns its id and secret.
async fn register_client(http: &reqwest::Client, server: &Server) -> (String, String) {
    let base = &server.base;
    let admin = &admin_token(http, base, &server.admin_password).await;
    let registered: serde_json::Value = http
        .post(format!("{base}/clients"))
        .bearer_auth(admin)
        .json(&serde_json::json!({
            "name": "crash",
            "kind": "confidential",
            "grant_types": ["client_credentials"],
        }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        registered["client"]["id"].as_str().unwrap().to_owned(),
        registered["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// The `sid` claim of a PASETO v4.public token, read without verifying the signature: the
/// body is base64url of the JSON claims followed by a 64-byte Ed25519 signature.
fn sid_of(token: &str) -> String {
    let body = token
        .strip_prefix("v4.public.")
        .unwrap_or_else(|| panic!("not a v4.public token: {token}"));
    let body = body.split('.').next().unwrap();
    let raw = URL_SAFE_NO_PAD.decode(body).unwrap();
    assert!(raw.len() > 64, "token body too short");
    let claims: serde_json::Value = serde_json::from_slice(&raw[..raw.len() - 64]).unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

/// Drives the token endpoint with [`LOOPS`] concurrent loops, SIGKILLs iamd once [`KILL_AFTER`]
/// tokens were answered 200 (requests are still in flight then), and returns the `sid` of
/// every acknowledged token.
async fn load_then_kill(server: &mut Server) -> HashSet<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(LOOPS)
        .build()
        .unwrap();
    wait_up(&http, &server.base).await;
    let (id, secret) = register_client(&http, server).await;
    let meta: serde_json::Value = http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = meta["token_endpoint"].as_str().unwrap().to_owned();

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let shed = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for _ in 0..LOOPS {
        let (http, url, id, secret) = (http.clone(), url.clone(), id.clone(), secret.clone());
        let (acknowledged, killed, shed) = (acknowledged.clone(), killed.clone(), shed.clone());
        loops.push(tokio::spawn(async move {
            loop {
                let answer = http
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                let response = match answer {
                    Ok(r) => r,
                    // Refused or cut off: only expected once iamd is dead.
                    Err(e) => {
                        assert!(killed.load(Ordering::SeqCst), "before the kill: {e}");
                        return;
                    }
                };
                // Shedding load (503) acknowledges nothing; any other refusal is a failure.
                if response.status() == 503 {
                    shed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                assert_eq!(response.status(), 200, "the token endpoint refused");
                // Acknowledged only once the whole answer is read.
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    assert!(
                        killed.load(Ordering::SeqCst),
                        "answer cut off before the kill"
                    );
                    return;
                };
                let token = body["access_token"].as_str().unwrap().to_owned();
                acknowledged.lock().unwrap().push(token);
            }
        }));
    }

    let deadline = Instant::now() + LOAD_LIMIT;
    while acknowledged.lock().unwrap().len() < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "only {} tokens in {LOAD_LIMIT:?}",
            acknowledged.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    killed.store(true, Ordering::SeqCst);
    // std's Child::kill sends SIGKILL on Unix.
    server.child.kill().unwrap();
    let status = server.child.wait().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(status.signal(), Some(9), "iamd was not killed: {status}");
    }
    #[cfg(not(unix))]
    assert!(!status.success());
    for l in loops {
        l.await.unwrap();
    }
    let tokens = std::mem::take(&mut *acknowledged.lock().unwrap());
    eprintln!(
        "{} tokens acknowledged, {} answers 503 (load shed)",
        tokens.len(),
        shed.load(Ordering::Relaxed)
    );
    assert!(tokens.len() >= KILL_AFTER);
    let sids: HashSet<String> = tokens.iter().map(|t| sid_of(t)).collect();
    assert_eq!(sids.len(), tokens.len(), "every token is its own grant");
    sids
}

/// Opens iam on the store iamd left behind (with its master key) and checks that the audit
/// chain verifies and that every sid in `acknowledged` has its `oauth.token_issued` event.
async fn check_audit<S: Store>(store: S, data: &Path, acknowledged: &HashSet<String>) {
    let key = std::fs::read_to_string(data.join("master.key")).unwrap();
    let key = MasterKey::from_base64(key.trim()).unwrap();
    let iam = Iam::builder(store, Config::new(key)).open().await.unwrap();
    let events = iam.verify_audit_chain(Caller::System).await.unwrap();
    let mut issued = HashSet::new();
    let mut after = None;
    loop {
        let query = AuditQuery {
            kind: Some(AuditKind::OAuthTokenIssued),
            after_seq: after,
            limit: Some(PAGE),
            ..AuditQuery::default()
        };
        let page = iam.audit_events(Caller::System, &query).await.unwrap();
        issued.extend(page.iter().filter_map(|e| e.draft.session.clone()));
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.seq),
            _ => break,
        }
    }
    let lost: Vec<&String> = acknowledged.difference(&issued).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged tokens have no oauth.token_issued event (chain of {events}, \
         {} issued events), e.g. {:?}",
        lost.len(),
        acknowledged.len(),
        issued.len(),
        lost.first()
    );
    eprintln!(
        "{} acknowledged tokens, {} oauth.token_issued events, chain of {events} intact",
        acknowledged.len(),
        issued.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_token_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, _) = start(&data, &[]);
    let acknowledged = load_then_kill(&mut server).await;
    let store = SqliteStore::open(data.join("iam.db")).await.unwrap();
    check_audit(store, &data, &acknowledged).await;
}

/// A fresh database on the test server, dropped (with iamd's `iam` schema in it) when this
/// guard drops, even when the test panics. iamd has no schema setting, so a database it is.
struct TestDatabase {
    name: String,
    admin: String,
}

impl TestDatabase {
    async fn create() -> Self {
        let admin = pg::url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("iam_crash_{}_{nanos}", std::process::id());
        let mut conn = PgConnection::connect(&admin).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
        TestDatabase { name, admin }
    }

    /// The URL of this database (the test server's URL with its database name replaced).
    fn url(&self) -> String {
        let (server, _) = self.admin.rsplit_once('/').unwrap();
        format!("{server}/{}", self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut conn = PgConnection::connect(&admin).await?;
                conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {done:?}", self.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_token_on_postgres() {
    if !pg::server_available("sigkill_under_load_loses_no_acknowledged_token_on_postgres").await {
        return;
    }
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, _) = start(&data, &["--store", &db.url()]);
    let acknowledged = load_then_kill(&mut server).await;
    let store = PostgresStore::open(PostgresStoreOptions::new(&db.url()).unwrap())
        .await
        .unwrap();
    check_audit(store, &data, &acknowledged).await;
}
