//! Compiles the C test program (`tests/c/*.c`, `main` in `iam_test.c`) with gcc against
//! `include/iam.h` and the freshly built cdylib, runs it, and runs it again under valgrind
//! memcheck. Without gcc or valgrind the check is skipped with a note, except when `CI=true`,
//! where a missing tool is a failure.
//!
//! The C API has no OAuth flows, so an OpenID Connect sign-in is made here first, in a SQLite
//! database of its own under the C test's configuration, and its tokens are handed to the
//! program, which verifies them through `iam_verify_id_token`, `iam_verify` and
//! `iam_verify_for`, and introspects them with the client's secret.
//!
//! The C program is every `.c` file under `tests/c`, compiled together.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{crate_dir, library_dir, oidc_sign_in, tool_available, CC_RESOURCE};

/// The master key of `tests/c/iam_test.c`'s configuration.
const C_TEST_MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

/// The C test's arguments: its SQLite path, then the OpenID Connect sign-in's database,
/// client, tokens and client secret, and a client-credentials token bound to a resource.
fn program_args(dir: &Path) -> Vec<std::ffi::OsString> {
    let oidc = oidc_sign_in(&dir.join("oidc.db"), C_TEST_MASTER_KEY, "c-test");
    vec![
        dir.join("iam.db").into(),
        oidc.db.into(),
        oidc.client_id.into(),
        oidc.id_token.into(),
        oidc.access_token.into(),
        oidc.client_secret.into(),
        oidc.client_credentials_token.into(),
        CC_RESOURCE.into(),
    ]
}

/// The C sources of the test program, in a stable order.
fn c_sources() -> Vec<PathBuf> {
    let mut sources: Vec<PathBuf> = std::fs::read_dir(crate_dir().join("tests/c"))
        .expect("tests/c is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    sources.sort();
    sources
}

/// Compiles the C test into `dir` and returns the executable's path. The program runs with
/// `LD_LIBRARY_PATH` set to the library's directory, so that it loads the very library it was
/// linked against rather than another copy on cargo's search path (cargo uplifts the cdylib to
/// `<target>/<profile>` as well, and a build of another checkout sharing the target directory may
/// have left an older one there).
fn compile(dir: &Path) -> PathBuf {
    let lib = library_dir();
    let exe = dir.join("iam_test");
    let output = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .args(c_sources())
        .arg("-L")
        .arg(&lib)
        .arg("-liam_ffi")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lpthread")
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("gcc runs");
    assert_success("gcc", &output);
    exe
}

fn assert_success(what: &str, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        output.status.success(),
        "{what} failed with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
}

#[test]
fn c_program_passes() {
    if !tool_available("gcc") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = compile(dir.path());
    let output = Command::new(&exe)
        .args(program_args(dir.path()))
        .env("LD_LIBRARY_PATH", library_dir())
        .output()
        .expect("the C test runs");
    assert_success("the C test", &output);
    assert!(String::from_utf8_lossy(&output.stdout).contains(" 0 failed"));
}

#[test]
fn c_program_is_clean_under_valgrind() {
    if !tool_available("gcc") || !tool_available("valgrind") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = compile(dir.path());
    let output = Command::new("valgrind")
        .args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--quiet",
        ])
        .arg(&exe)
        .args(program_args(dir.path()))
        .env("LD_LIBRARY_PATH", library_dir())
        .output()
        .expect("valgrind runs");
    assert_success("the C test under valgrind memcheck", &output);
}
