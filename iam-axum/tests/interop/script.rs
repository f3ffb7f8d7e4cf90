//! External programs the interop tests drive (Node and Python relying parties and
//! verifiers): whether their tools are installed (a skip outside CI, a failure under
//! `CI=true`), and a child process that speaks one JSON object per line.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// How long a script may take to answer one line.
const STEP: Duration = Duration::from_secs(60);

/// The folder of the interop scripts (`iam-axum/tests/interop/rp`), beside this file: found
/// from whichever crate includes it (iam-axum, or iamd by `#[path]`), since `file!()` is
/// relative to the workspace root, an ancestor of the including crate.
pub fn script_dir() -> PathBuf {
    let here = Path::new(file!());
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|root| root.join(here))
        .find(|p| p.is_file())
        .and_then(|p| p.parent().map(|dir| dir.join("rp")))
        .expect("the interop scripts beside script.rs")
}

/// Whether `program args` runs successfully in [`script_dir`].
pub fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .current_dir(script_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `true` when nothing is `missing`; otherwise the test is skipped with the reason, except
/// under `CI=true`, where a missing tool fails it.
pub fn available(what: &str, missing: Option<String>) -> bool {
    let Some(why) = missing else {
        return true;
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what}: {why}; CI must install it"
    );
    eprintln!("skipped: {what}: {why}");
    false
}

/// A running script, killed on drop.
pub struct Script {
    child: Child,
    stdin: ChildStdin,
    stdout: Option<BufReader<ChildStdout>>,
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Script {
    /// Starts `cmd` in [`script_dir`] with piped stdin and stdout, proxies off for loopback.
    pub fn spawn(mut cmd: Command) -> Script {
        let mut child = cmd
            .current_dir(script_dir())
            .env("NO_PROXY", "localhost,127.0.0.1")
            .env("no_proxy", "localhost,127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Script {
            stdin: child.stdin.take().unwrap(),
            stdout: Some(BufReader::new(child.stdout.take().unwrap())),
            child,
        }
    }

    /// The next JSON line of the script.
    pub async fn line(&mut self) -> Value {
        let mut out = self.stdout.take().unwrap();
        let read = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let n = out.read_line(&mut line).unwrap();
            (out, line, n)
        });
        let (out, line, n) = tokio::time::timeout(STEP, read)
            .await
            .expect("the script answers in time")
            .unwrap();
        self.stdout = Some(out);
        assert!(n > 0, "the script ended without answering");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends one line and reads the answer.
    pub async fn ask(&mut self, text: &str) -> Value {
        writeln!(self.stdin, "{text}").unwrap();
        self.stdin.flush().unwrap();
        self.line().await
    }

    /// Waits for the script to end; whether it succeeded.
    pub fn exited_ok(&mut self) -> bool {
        self.child.wait().unwrap().success()
    }
}
