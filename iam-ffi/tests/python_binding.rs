//! Runs the Python binding's pytest suite (examples/python) against the cdylib this
//! `cargo test` run built. Without python3 and pytest the test is skipped with a note, except
//! when `CI=true`, where a missing tool is a failure.

mod support;

use std::process::Command;

use support::{crate_dir, in_ci, library_dir};

#[test]
fn python_binding_passes_its_tests() {
    let pytest = Command::new("python3")
        .args(["-m", "pytest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !pytest {
        assert!(!in_ci(), "python3 with pytest is required when CI=true");
        eprintln!("note: python3 -m pytest not available; skipping the Python binding tests");
        return;
    }
    let python_dir = crate_dir().join("../examples/python");
    let output = Command::new("python3")
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .current_dir(&python_dir)
        .env("IAM_FFI_LIB", library_dir().join("libiam_ffi.so"))
        .output()
        .expect("pytest runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "pytest failed:\n{text}");
    assert!(text.contains("passed"), "pytest ran no tests:\n{text}");
}
