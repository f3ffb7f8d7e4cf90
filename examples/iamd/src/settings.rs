//! Settings: command line over environment variables over the TOML file over defaults.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use iam_core::{Config, MasterKey, SecureRandom};
use serde::Deserialize;

/// The iam server.
#[derive(Parser, Debug)]
#[command(name = "iamd", version, about)]
pub struct Args {
    /// A TOML configuration file.
    #[arg(long, env = "IAM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443].
    #[arg(long, env = "IAM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve plain HTTP (only behind a TLS-terminating proxy).
    #[arg(long)]
    pub http: bool,
    /// PEM certificate chain file (with --key); otherwise a self-signed one is generated.
    #[arg(long, env = "IAM_TLS_CERT", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key file (with --cert).
    #[arg(long, env = "IAM_TLS_KEY", requires = "cert")]
    pub key: Option<PathBuf>,
    /// The store: `postgres://...`, or a SQLite file path [default: DATA_DIR/iam.db].
    #[arg(long, env = "IAM_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Directory for the SQLite database, the generated certificate and master key [default: ./iam-data].
    #[arg(long, env = "IAM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The absolute URL clients reach this server at, the OAuth issuer
    /// [default: https://LISTEN/PREFIX, or http:// with --http].
    #[arg(long, env = "IAM_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// The TOML file's shape (every key optional).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    http: Option<bool>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    store: Option<String>,
    data_dir: Option<PathBuf>,
    /// The master key, base64 (prefer `IAM_MASTER_KEY` or the key file).
    master_key: Option<String>,
    /// A file holding the master key in base64.
    master_key_file: Option<PathBuf>,
    prefix: Option<String>,
    public_url: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    access_token_ttl_secs: Option<u64>,
    session_ttl_secs: Option<u64>,
    sweep_interval_secs: Option<u64>,
    body_limit: Option<usize>,
    rate_limit_burst: Option<u32>,
    rate_limit_per_second: Option<f64>,
    trusted_proxies: Option<Vec<std::net::IpAddr>>,
    metrics_networks: Option<Vec<iam_axum::IpNet>>,
}

/// Where the master key comes from.
enum KeySource {
    Value(String),
    /// A file named in the configuration: it must exist.
    File(PathBuf),
    /// The default file in the data directory: generated on first run.
    DefaultFile(PathBuf),
}

impl KeySource {
    /// Reads (or, for the default file on first run, generates) the key.
    fn load(&self) -> Result<MasterKey> {
        match self {
            KeySource::Value(v) => {
                MasterKey::from_base64(v.trim()).context("the configured master key is invalid")
            }
            KeySource::File(path) | KeySource::DefaultFile(path) if path.exists() => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                MasterKey::from_base64(text.trim())
                    .with_context(|| format!("the master key in {} is invalid", path.display()))
            }
            // A mistyped path must not quietly become a new key.
            KeySource::File(path) => bail!(
                "master_key_file {} does not exist; create it with 32 random bytes in base64url \
                 (see docs/operations.md), or leave master_key_file out to have one generated \
                 in the data directory",
                path.display()
            ),
            KeySource::DefaultFile(path) => generate_key_file(path),
        }
    }
}

/// The settings in force.
pub struct Settings {
    pub listen: SocketAddr,
    pub http: bool,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub store: Option<String>,
    pub data_dir: PathBuf,
    pub prefix: String,
    /// The OAuth issuer: the absolute URL the server is reached at.
    pub public_url: String,
    /// The public URL when it was configured (then also the tokens' issuer).
    configured_public_url: Option<String>,
    pub sweep_interval: Duration,
    pub body_limit: usize,
    pub rate_limit_burst: u32,
    pub rate_limit_per_second: f64,
    /// Reverse proxies whose `X-Forwarded-For` the per-address limit believes.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Client networks (CIDR) `/metrics` is served to without a token.
    pub metrics_networks: Vec<iam_axum::IpNet>,
    master_key: KeySource,
    issuer: Option<String>,
    audience: Option<String>,
    access_token_ttl: Option<Duration>,
    session_ttl: Option<Duration>,
}

impl Settings {
    /// Reads the file named by `--config` (if any) and merges the command line and environment.
    pub fn load(args: &Args) -> Result<Settings> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str::<FileSettings>(&text)
                    .with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileSettings::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("iam-data"));
        let master_key = match std::env::var("IAM_MASTER_KEY") {
            Ok(v) if !v.trim().is_empty() => KeySource::Value(v),
            _ => match (file.master_key, file.master_key_file) {
                (Some(v), _) => KeySource::Value(v),
                (None, Some(p)) => KeySource::File(p),
                (None, None) => KeySource::DefaultFile(data_dir.join("master.key")),
            },
        };
        let (cert, key) = match (&args.cert, &args.key) {
            (Some(c), Some(k)) => (Some(c.clone()), Some(k.clone())),
            _ => (file.cert, file.key),
        };
        if cert.is_some() != key.is_some() {
            bail!("give both cert and key, or neither");
        }
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
        let http = args.http || file.http.unwrap_or(false);
        let prefix = mount_prefix(&file.prefix.unwrap_or_default())?;
        let configured_public_url = args.public_url.clone().or(file.public_url);
        let public_url = configured_public_url.clone().unwrap_or_else(|| {
            let scheme = if http { "http" } else { "https" };
            format!("{scheme}://{listen}{prefix}")
        });
        Ok(Settings {
            listen,
            http,
            cert,
            key,
            store: args.store.clone().or(file.store),
            data_dir,
            prefix,
            public_url,
            configured_public_url,
            sweep_interval: Duration::from_secs(file.sweep_interval_secs.unwrap_or(300).max(1)),
            body_limit: file.body_limit.unwrap_or(iam_axum::DEFAULT_BODY_LIMIT),
            rate_limit_burst: file.rate_limit_burst.unwrap_or(20),
            rate_limit_per_second: file.rate_limit_per_second.unwrap_or(2.0),
            trusted_proxies: file.trusted_proxies.unwrap_or_default(),
            metrics_networks: file
                .metrics_networks
                .unwrap_or_else(iam_axum::metrics::default_networks),
            master_key,
            issuer: file.issuer,
            audience: file.audience,
            access_token_ttl: file.access_token_ttl_secs.map(Duration::from_secs),
            session_ttl: file.session_ttl_secs.map(Duration::from_secs),
        })
    }

    /// The master key: configured, read from its file, or generated into the file on first run.
    pub fn master_key(&self) -> Result<MasterKey> {
        self.master_key.load()
    }

    /// Applies the settings that touch the core configuration.
    pub fn apply(&self, config: &mut Config) {
        // Tokens name the server by the URL its OAuth metadata gives as issuer when that URL
        // is configured; the default URL follows the listen address, which must not void
        // tokens when only the port changes.
        if let Some(i) = self.issuer.as_ref().or(self.configured_public_url.as_ref()) {
            config.issuer.clone_from(i);
        }
        if let Some(a) = &self.audience {
            config.audience.clone_from(a);
        }
        if let Some(t) = self.access_token_ttl {
            config.access_token_ttl = t;
        }
        if let Some(t) = self.session_ttl {
            config.session_ttl = t;
        }
    }
}

/// Writes a new random master key to `path` with mode 0600 (never overwriting a file).
/// The mount prefix: empty for the root, else `/segment[/segment...]` without a trailing `/`.
fn mount_prefix(raw: &str) -> Result<String> {
    let trimmed = raw.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let valid = trimmed.starts_with('/')
        && trimmed[1..].split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        });
    if !valid {
        bail!(
            "prefix {raw:?} is not a path like \"/iam\" (segments of letters, digits, '-', '.', \
             '_' or '~')"
        );
    }
    Ok(trimmed.to_owned())
}

fn generate_key_file(path: &Path) -> Result<MasterKey> {
    let key = MasterKey::generate(&SecureRandom::from_entropy());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(key.to_base64().expose().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "GENERATED A NEW MASTER KEY (mode 0600). Back it up: without it, stored credentials, \
         TOTP secrets and signing keys cannot be opened, and every token becomes invalid"
    );
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_normalized_or_refused() {
        for (raw, want) in [
            ("", ""),
            ("/", ""),
            ("/iam", "/iam"),
            ("/iam/", "/iam"),
            ("/a/b-c", "/a/b-c"),
        ] {
            assert_eq!(mount_prefix(raw).expect(raw), want);
        }
        for bad in ["iam", "/a//b", "/a b", "/{x}", "/*", "/a?b"] {
            assert!(mount_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses() {
        let f: FileSettings =
            toml::from_str(r#"trusted_proxies = ["10.0.0.2", "::1"]"#).expect("parses");
        assert_eq!(
            f.trusted_proxies,
            Some(vec![
                "10.0.0.2".parse().expect("v4"),
                "::1".parse().expect("v6")
            ])
        );
        assert!(toml::from_str::<FileSettings>(r#"trusted_proxies = ["proxy.local"]"#).is_err());
    }

    #[test]
    fn a_named_key_file_must_exist_and_the_default_one_is_generated() {
        let dir = tempfile::tempdir().expect("temp dir");
        let named = dir.path().join("typo.key");
        let err = KeySource::File(named.clone())
            .load()
            .expect_err("missing file");
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!named.exists(), "nothing is generated for a named file");

        let default = dir.path().join("master.key");
        let first = KeySource::DefaultFile(default.clone())
            .load()
            .expect("generated");
        assert!(default.exists());
        let again = KeySource::File(default).load().expect("read back");
        assert_eq!(first.to_base64().expose(), again.to_base64().expose());
    }
}
