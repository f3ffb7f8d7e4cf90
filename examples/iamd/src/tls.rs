//! TLS: certificate files, or a self-signed development certificate generated on first run.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use axum_server::tls_rustls::RustlsConfig;

use crate::settings::Settings;

/// The rustls server configuration for `settings`.
pub async fn server_config(settings: &Settings) -> Result<RustlsConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (cert, key) = if let (Some(c), Some(k)) = (&settings.cert, &settings.key) {
        (c.clone(), k.clone())
    } else {
        let cert = settings.data_dir.join("cert.pem");
        let key = settings.data_dir.join("key.pem");
        if !cert.exists() || !key.exists() {
            generate_self_signed(&cert, &key)?;
        }
        (cert, key)
    };
    RustlsConfig::from_pem_file(&cert, &key)
        .await
        .with_context(|| format!("loading {} and {}", cert.display(), key.display()))
}

/// Generates a self-signed certificate for localhost, 127.0.0.1 and ::1.
fn generate_self_signed(cert_path: &Path, key_path: &Path) -> Result<()> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let generated =
        rcgen::generate_simple_self_signed(names).context("generating a certificate")?;
    std::fs::write(cert_path, generated.cert.pem())
        .with_context(|| format!("writing {}", cert_path.display()))?;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(key_path)
        .and_then(|mut f| f.write_all(generated.key_pair.serialize_pem().as_bytes()))
        .with_context(|| format!("writing {}", key_path.display()))?;
    tracing::warn!(
        cert = %cert_path.display(),
        "generated a self-signed certificate for development; clients must trust it explicitly"
    );
    Ok(())
}
