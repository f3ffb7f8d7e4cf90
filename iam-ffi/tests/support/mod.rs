//! What the tests that drive the built library from other languages share.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether this run is CI (`CI=true`), where missing tools are failures.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Whether `tool` runs; if not, fails under CI and returns false elsewhere.
pub fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !in_ci(),
            "{tool} is required when CI=true but was not found"
        );
        eprintln!("note: {tool} not found; skipping this test");
    }
    found
}

/// The directory holding `libiam_ffi.so` built by this `cargo test` run: the test binary lives
/// in `<target>/<profile>/deps`, where cargo also places the cdylib (and uplifts a copy to
/// `<target>/<profile>`).
pub fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let deps = exe.parent().expect("the test binary is in a directory");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        if dir.join("libiam_ffi.so").is_file() {
            return dir.to_path_buf();
        }
    }
    panic!(
        "libiam_ffi.so not found next to {}; build it with `cargo build -p iam-ffi`",
        exe.display()
    );
}

pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
