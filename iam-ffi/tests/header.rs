//! The committed header `include/iam.h` must match what cbindgen generates from the source.
//! Set `IAM_FFI_UPDATE_HEADER=1` to rewrite it.

use std::path::Path;

#[test]
fn committed_header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is readable");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);

    let path = crate_dir.join("include/iam.h");
    if std::env::var_os("IAM_FFI_UPDATE_HEADER").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("include/iam.h is writable");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/iam.h is stale; regenerate it with \
         IAM_FFI_UPDATE_HEADER=1 cargo test -p iam-ffi --test header"
    );
}

/// The names of the functions `include/iam.h` declares: each declaration starts a line (after
/// its return type) with `iam_…(`.
fn declared_functions() -> Vec<String> {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/iam.h"))
            .expect("include/iam.h is readable");
    header
        .lines()
        .filter(|line| !line.starts_with(char::is_whitespace) && !line.starts_with("//"))
        .filter_map(|line| {
            let (before, _) = line.split_once('(')?;
            let name = before.rsplit([' ', '*']).next()?;
            name.starts_with("iam_").then(|| name.to_owned())
        })
        .collect()
}

/// The text of every C source of the C test program.
fn c_test_sources() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c");
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).expect("tests/c is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|ext| ext == "c") {
            text.push_str(&std::fs::read_to_string(&path).expect("a C source is readable"));
        }
    }
    text
}

#[test]
fn every_function_is_called_from_c_and_documented() {
    let functions = declared_functions();
    assert!(functions.len() > 100, "the parser found only {functions:?}");
    let sources = c_test_sources();
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ffi.md"))
            .expect("docs/ffi.md is readable");
    let uncalled: Vec<&String> = functions
        .iter()
        .filter(|f| !sources.contains(&format!("{f}(")))
        .collect();
    assert!(uncalled.is_empty(), "not called by tests/c: {uncalled:?}");
    let undocumented: Vec<&String> = functions
        .iter()
        .filter(|f| !docs.contains(&format!("`{f}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/ffi.md's ownership table: {undocumented:?}"
    );
}
