//! Runs the Python binding's pytest suite (examples/python/tests), with the tokens of an OpenID
//! Connect sign-in and a client-credentials token (`IAM_OIDC_*`), in one of two ways:
//!
//! - `IAM_FFI_PYTHON` names the python of a virtualenv into which the wheel was installed
//!   (`examples/python/build-wheel.sh` makes one; `.ci/run` does): the suite runs against the
//!   installed package and the library bundled in it, from a folder where the source package
//!   cannot be imported, and its `test_package.py` checks that it did.
//! - Otherwise `python3` runs it against the source package and the cdylib this `cargo test`
//!   run built (`IAM_FFI_LIB`). Without python3 and pytest the test is skipped with a note,
//!   except when `CI=true`, where a missing tool is a failure.
//!
//! A second test checks that every function of the C header has a Python signature.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{crate_dir, in_ci, library_dir, oidc_sign_in, CC_RESOURCE};

/// The master key of the OpenID Connect sign-in handed to the Python tests.
const OIDC_MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

/// The Python package's folder.
fn python_dir() -> PathBuf {
    crate_dir().join("../examples/python")
}

/// How the suite is run: which python, and whether against the installed package.
struct Runner {
    python: PathBuf,
    installed: bool,
}

/// The runner `IAM_FFI_PYTHON` asks for, else python3 with the source package, else None
/// (python3 or pytest is missing outside CI).
fn runner() -> Option<Runner> {
    if let Some(python) = std::env::var_os("IAM_FFI_PYTHON") {
        return Some(Runner {
            python: PathBuf::from(python),
            installed: true,
        });
    }
    let pytest = Command::new("python3")
        .args(["-m", "pytest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !pytest {
        assert!(!in_ci(), "python3 with pytest is required when CI=true");
        eprintln!("note: python3 -m pytest not available; skipping the Python binding tests");
        return None;
    }
    Some(Runner {
        python: PathBuf::from("python3"),
        installed: false,
    })
}

#[test]
fn python_binding_passes_its_tests() {
    let Some(runner) = runner() else { return };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let oidc = oidc_sign_in(&dir.path().join("oidc.db"), OIDC_MASTER_KEY, "py-oidc");
    let tests = python_dir().join("tests");
    let mut pytest = Command::new(&runner.python);
    pytest
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .arg(&tests)
        .env("IAM_OIDC_DB", &oidc.db)
        .env("IAM_OIDC_MASTER_KEY", OIDC_MASTER_KEY)
        .env("IAM_OIDC_ISSUER", "py-oidc")
        .env("IAM_OIDC_CLIENT_ID", &oidc.client_id)
        .env("IAM_OIDC_ID_TOKEN", &oidc.id_token)
        .env("IAM_OIDC_ACCESS_TOKEN", &oidc.access_token)
        .env("IAM_OIDC_CLIENT_SECRET", &oidc.client_secret)
        .env("IAM_OIDC_CC_TOKEN", &oidc.client_credentials_token)
        .env("IAM_OIDC_CC_RESOURCE", CC_RESOURCE);
    if runner.installed {
        // From an empty folder (python -m puts the working folder first on sys.path), with no
        // library override: only the installed package and its bundled library can be used.
        let cwd = dir.path().join("cwd");
        std::fs::create_dir(&cwd).expect("a working folder");
        pytest
            .current_dir(&cwd)
            .env("IAM_FFI_EXPECT_INSTALLED", "1")
            .env_remove("IAM_FFI_LIB")
            .env_remove("PYTHONPATH");
    } else {
        pytest
            .current_dir(python_dir())
            .env("PYTHONPATH", python_dir())
            .env("IAM_FFI_LIB", library_dir().join("libiam_ffi.so"));
    }
    let output = pytest.output().expect("pytest runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(output.status.success(), "pytest failed:\n{text}");
    assert!(text.contains("passed"), "pytest ran no tests:\n{text}");
    if runner.installed {
        // Nothing may skip against the installed package: its dependencies are installed and
        // the OpenID Connect sign-in is provided.
        assert!(!text.contains("skipped"), "tests skipped:\n{text}");
    }
}

/// C functions the Python package does not wrap yet. Empty: every function of `iam.h` has its
/// Python wrapper. A C function added later may be listed here until its wrapper lands; a name
/// still listed once it is wrapped fails the test, so the list only shrinks.
const NOT_YET_WRAPPED: &[&str] = &[];

/// The names of the functions `iam.h` declares.
fn header_functions(header: &str) -> BTreeSet<String> {
    header
        .lines()
        .filter(|line| !line.starts_with("//") && !line.starts_with('#'))
        .filter_map(|line| {
            let (before, _) = line.split_once('(')?;
            let name = before.rsplit([' ', '*']).next()?;
            name.starts_with("iam_").then(|| name.to_owned())
        })
        .collect()
}

/// The C functions the Python package's modules declare: every `"iam_...": (` (an entry of a
/// `declare({...})` table of signatures).
fn python_declared(dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("the package folder") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "py") {
            let source = std::fs::read_to_string(&path).expect("a module");
            for (start, _) in source.match_indices("\"iam_") {
                let rest = &source[start + 1..];
                if let Some((name, after)) = rest.split_once('"') {
                    if after.starts_with(": (") {
                        names.insert(name.to_owned());
                    }
                }
            }
        }
    }
    names
}

#[test]
fn every_c_function_has_a_python_signature() {
    let header = std::fs::read_to_string(crate_dir().join("include/iam.h")).expect("iam.h");
    let declared = header_functions(&header);
    assert!(declared.len() >= 60, "the parser found {declared:?}");
    assert!(declared.contains("iam_open_memory") && declared.contains("iam_principal_has_role"));
    let python = python_declared(&python_dir().join("iam_ffi"));
    let pending: BTreeSet<String> = NOT_YET_WRAPPED.iter().map(|s| (*s).to_owned()).collect();
    let wrapped_but_listed: Vec<_> = pending.intersection(&python).collect();
    assert!(
        wrapped_but_listed.is_empty(),
        "wrapped now: remove from NOT_YET_WRAPPED: {wrapped_but_listed:?}"
    );
    let missing: Vec<_> = declared
        .difference(&python)
        .filter(|name| !pending.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "C functions without a Python signature in examples/python/iam_ffi (declare them in \
         the module of their area and wrap them): {missing:?}"
    );
    let unknown: Vec<_> = python.difference(&declared).collect();
    assert!(
        unknown.is_empty(),
        "Python declares functions iam.h lacks: {unknown:?}"
    );
}
