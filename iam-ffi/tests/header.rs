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
