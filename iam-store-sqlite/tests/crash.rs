//! Crash safety: a process killed with SIGKILL in the middle of logins and refresh rotations
//! loses nothing it reported as committed, and leaves an audit chain that verifies.
//!
//! The parent test re-runs this test binary with [`CHILD_DB`] set, selecting [`crash_child`]
//! (ignored in ordinary runs). The child logs in and rotates refresh tokens forever, printing
//! each result once its commit has returned. The parent reads some lines, kills the child
//! mid-stream, reopens the file and checks every reported commit.

use iam_core::Caller;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use iam_core::{
    AuditKind, AuditQuery, Config, Denial, Iam, LoginRequest, MasterKey, NewAccount,
    PasswordPolicy, ThrottlePolicy,
};
use iam_store_sqlite::SqliteStore;

/// The environment variable that holds the database path and selects child mode.
const CHILD_DB: &str = "IAM_SQLITE_CRASH_CHILD_DB";
/// Refresh rotations per session before the child logs in again.
const ROTATIONS: usize = 4;
/// Concurrent workers in the child.
const WORKERS: usize = 2;
/// Lines the parent reads before it kills the child.
const LINES_BEFORE_KILL: usize = 120;
const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

fn config() -> Config {
    // A fixed key: parent and child must derive the same token hashes and unseal the same keys.
    let mut config = Config::new(MasterKey::from_bytes([42; 32]));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.throttle = ThrottlePolicy {
        free_failures: 1_000_000,
        ..ThrottlePolicy::default()
    };
    config
}

async fn open_iam(path: &Path) -> Iam<SqliteStore> {
    let store = SqliteStore::open(path).await.expect("open the database");
    Iam::builder(store, config())
        .open()
        .await
        .expect("open iam over the database")
}

/// Child mode: logs in and rotates forever, reporting each committed result on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of crash_mid_stream_loses_no_reported_commit"]
async fn crash_child() {
    let path = std::env::var_os(CHILD_DB).expect("run only by the crash test");
    let iam = std::sync::Arc::new(open_iam(Path::new(&path)).await);
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let report = move |line: String| {
        let mut out = out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        writeln!(out, "{line}").expect("report");
        out.flush().expect("flush");
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (iam, report) = (std::sync::Arc::clone(&iam), report.clone());
            tokio::spawn(async move {
                loop {
                    let login = iam
                        .login(&LoginRequest::password(USERNAME, PASSWORD))
                        .await
                        .expect("login");
                    let mut refresh = login.tokens.refresh_token;
                    report(format!("login {} {}", login.session.id, refresh.expose()));
                    for _ in 0..ROTATIONS {
                        let pair = iam.refresh(refresh.expose()).await.expect("refresh");
                        refresh = pair.refresh_token;
                        report(format!("refresh {} {}", pair.session_id, refresh.expose()));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
}

/// A pause of 0 to 30 ms, different from run to run.
fn jitter() -> std::time::Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::time::Duration::from_micros(u64::from(nanos % 30_000))
}

/// What the child reported about one session.
#[derive(Default)]
struct Reported {
    refreshes: usize,
    last_refresh_token: String,
}

#[test]
fn crash_mid_stream_loses_no_reported_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("iam.db");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let iam = open_iam(&path).await;
        iam.create_account(NewAccount::human(USERNAME, PASSWORD), Caller::System)
            .await
            .expect("create the account");
        iam.store().close().await;
    });

    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--quiet",
        ])
        .arg("--test-threads=1")
        .env(CHILD_DB, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut sessions: BTreeMap<String, Reported> = BTreeMap::new();
    let mut logins = 0;
    let mut read = 0;
    let mut killed = false;
    loop {
        let line = match lines.next() {
            Some(line) => line.expect("read a line from the child"),
            None if killed => break,
            None => panic!("the child stopped after {read} lines: {:?}", child.wait()),
        };
        let fields: Vec<&str> = line.split(' ').collect();
        let (kind, session, token) = match fields.as_slice() {
            [kind @ ("login" | "refresh"), session, token] => (*kind, *session, *token),
            // The test harness prints its own lines ("running 1 test"): skip them.
            _ => continue,
        };
        read += 1;
        let entry = sessions.entry(session.to_owned()).or_default();
        if kind == "login" {
            logins += 1;
        } else {
            entry.refreshes += 1;
        }
        entry.last_refresh_token = token.to_owned();
        if read == LINES_BEFORE_KILL {
            // Let the child run on for a moment so the kill lands at an arbitrary point of a
            // login or rotation, then kill it. Whatever it printed before dying is still in the
            // pipe and counts as reported.
            std::thread::sleep(jitter());
            child.kill().expect("SIGKILL the child");
            killed = true;
        }
    }
    let status = child.wait().expect("reap the child");
    assert_eq!(
        status.signal(),
        Some(9),
        "the child must die by SIGKILL mid-stream, not exit: {status:?}"
    );
    assert!(logins >= 2 && sessions.values().any(|s| s.refreshes == ROTATIONS));

    runtime.block_on(async {
        let iam = open_iam(&path).await;
        let chain = iam
            .verify_audit_chain(Caller::System)
            .await
            .expect("the audit chain verifies after a crash");
        assert!(chain >= 2 + read as u64, "every reported commit wrote one event");
        let mut unreported = 0;
        for (session, reported) in &sessions {
            iam.session(session)
                .await
                .expect("every reported session is stored");
            let events = |kind| AuditQuery {
                kind: Some(kind),
                ..AuditQuery::default()
            };
            let count = |events: Vec<iam_core::AuditEvent>| {
                events
                    .iter()
                    .filter(|e| e.draft.session.as_deref() == Some(session.as_str()))
                    .count()
            };
            let logged_in = count(
                iam.audit_events(Caller::System, &events(AuditKind::LoginSucceeded))
                    .await
                    .expect("audit"),
            );
            assert_eq!(logged_in, 1, "the login of {session} is audited once");
            let refreshed = count(
                iam.audit_events(Caller::System, &events(AuditKind::TokenRefreshed))
                    .await
                    .expect("audit"),
            );
            assert!(
                refreshed >= reported.refreshes,
                "{session}: {} refreshes reported, {refreshed} stored",
                reported.refreshes
            );
            let again = iam.refresh(&reported.last_refresh_token).await;
            if refreshed == reported.refreshes {
                // Nothing happened after the last report: its token is the live one.
                let pair = again.unwrap_or_else(|e| {
                    panic!("{session}: the last reported refresh token must work: {e}")
                });
                assert_eq!(&pair.session_id, session);
            } else {
                // One more rotation committed before the kill but was never reported: the
                // reported token is spent, and presenting it is a reuse.
                assert_eq!(refreshed, reported.refreshes + 1, "{session}");
                unreported += 1;
                let err = again.expect_err("a spent token must not refresh");
                assert_eq!(err.denial(), Some(&Denial::RefreshTokenReused), "{session}");
            }
        }
        iam.verify_audit_chain(Caller::System)
            .await
            .expect("the chain still verifies after the checks");
        println!(
            "checked {} sessions and {chain} audit events; {unreported} rotation(s) committed but unreported at the kill",
            sessions.len()
        );
    });
}
