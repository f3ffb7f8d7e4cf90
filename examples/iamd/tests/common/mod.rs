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
