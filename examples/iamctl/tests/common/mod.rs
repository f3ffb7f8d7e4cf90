//! What the iamctl tests share: the real `iamd` binary started on a free port with a temp data
//! dir (self-signed certificate, one-time admin password on stdout), trusted by the pinned
//! SHA-256 fingerprint of its certificate, and iamctl run as a child process.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The iamd binary next to iamctl, built first (`IAMD_BIN` names another one).
pub fn iamd_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("IAMD_BIN") {
        return PathBuf::from(bin);
    }
    let iamctl = PathBuf::from(env!("CARGO_BIN_EXE_iamctl"));
    let dir = iamctl.parent().unwrap().to_owned();
    let profile = dir.file_name().unwrap().to_string_lossy().into_owned();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "-p", "iamd", "--manifest-path"])
        .arg(&manifest);
    // What cargo set for this test process must not reach the inner build: build scripts that
    // watch these variables (ring's watches CARGO_MANIFEST_DIR) would rebuild, and so would the
    // next outer build.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
            ]
            .contains(&k.as_ref())
        {
            cmd.env_remove(k.as_ref());
        }
    }
    if profile == "release" {
        cmd.arg("--release");
    } else if profile != "debug" {
        cmd.args(["--profile", &profile]);
    }
    let status = cmd.status().expect("running cargo build -p iamd");
    assert!(status.success(), "cargo build -p iamd failed");
    let bin = dir.join(format!("iamd{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    data: PathBuf,
    /// The first admin's one-time password.
    pub password: String,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        let addr = free_addr();
        let mut child = Command::new(iamd_binary())
            .args(["--listen", &addr.to_string(), "--data-dir"])
            .arg(data)
            .env_remove("IAM_MASTER_KEY")
            .env_remove("IAM_STORE")
            .env_remove("IAM_CONFIG")
            .env_remove("IAM_LISTEN")
            .env_remove("IAM_DATA_DIR")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
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
        // Keep draining stdout so that iamd never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let password = password.expect("a one-time admin password on stdout");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "iamd did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        Server {
            child,
            addr,
            data: data.to_owned(),
            password,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    pub fn cert_path(&self) -> PathBuf {
        self.data.join("cert.pem")
    }

    /// SHA-256 of the DER of the first certificate in the PEM file.
    pub fn fingerprint(&self) -> String {
        let pem = std::fs::read_to_string(self.cert_path()).unwrap();
        let b64: String = pem
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap();
        Sha256::digest(der).iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command `program args`, with `env` added and the caller's IAM_* and XDG_CONFIG_HOME
/// cleared (HOME is `home`).
pub fn clean_command(program: &str, home: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME");
    for (k, _) in std::env::vars() {
        if k.starts_with("IAM_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs iamctl with `args`, `stdin` on standard input and `env` added (IAM_* and HOME cleared).
pub fn iamctl(home: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut cmd = clean_command(env!("CARGO_BIN_EXE_iamctl"), home, args, env);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts success and returns stdout.
#[track_caller]
pub fn ok(out: &Output) -> String {
    let (o, e) = text(out);
    assert!(out.status.success(), "iamctl failed: {e}\nstdout: {o}");
    o
}

#[track_caller]
pub fn ok_json(out: &Output) -> Value {
    let o = ok(out);
    serde_json::from_str(&o).unwrap_or_else(|e| panic!("not JSON ({e}): {o}"))
}
