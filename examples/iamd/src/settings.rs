//! Settings: command line over environment variables over the TOML file over defaults.
//!
//! The core's settings (lifetimes, password cost, back-off, elevation rules, OAuth) are read
//! into the core's own serde types where it has them, bounded key by key in [`core_config`]
//! (one line per key), then checked by [`Config::validate`]. Every refusal names its key.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use iam_axum::WebFingerPublication;
use iam_core::account::validate_role;
use iam_core::config::ElevationPolicy;
use iam_core::upstream::{BootstrapAdmins, ClaimMapping, Provisioning, SealedClientSecret};
use iam_core::{
    Config, MasterKey, OAuthConfig, PasskeyConfig, PasswordPolicy, ThrottlePolicy, UpstreamProvider,
};
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
    /// Seal the client secret of upstream provider PROVIDER_ID (read from standard input)
    /// under the master key, print it for `client_secret_sealed`, and exit.
    #[arg(long, value_name = "PROVIDER_ID")]
    pub seal_upstream_secret: Option<String>,
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
    /// Only as a check: it must equal the public URL, which is the issuer.
    issuer: Option<String>,
    /// Issuers of earlier configurations whose unexpired tokens still verify.
    previous_issuers: Option<Vec<String>>,
    audience: Option<String>,
    // The core's settings: each is bounded and applied by one line of `core_config`.
    access_token_ttl_secs: Option<u64>,
    session_ttl_secs: Option<u64>,
    service_token_ttl_secs: Option<u64>,
    api_token_max_ttl_secs: Option<u64>,
    elevation_request_ttl_secs: Option<u64>,
    deletion_grace_secs: Option<u64>,
    recent_authentication_secs: Option<u64>,
    api_tokens_survive_password_reset: Option<bool>,
    /// Seconds between signed checkpoints of the audit chain; 0 signs only at exports.
    audit_checkpoint_interval_secs: Option<u64>,
    /// Roles whose holders may invite people besides admins.
    inviter_roles: Option<Vec<String>>,
    invitation_ttl_secs: Option<u64>,
    invitation_max_ttl_secs: Option<u64>,
    totp_issuer: Option<String>,
    /// `[password]`: Argon2id cost and length rules (the core's type).
    password: Option<PasswordPolicy>,
    /// `[throttle]`: the per-username login back-off (the core's type).
    throttle: Option<ThrottlePolicy>,
    /// `[default_elevation]`: the rules of roles without an `[elevation.ROLE]` of their own.
    default_elevation: Option<ElevationPolicy>,
    /// `[elevation.ROLE]`: the rules of one role (the core's type; replaces the default whole).
    #[serde(default)]
    elevation: BTreeMap<String, ElevationPolicy>,
    /// `[oauth]`: the OAuth authorization server.
    oauth: Option<OAuthFile>,
    /// `[upstream.ID]`: OpenID Providers people may sign in through.
    #[serde(default)]
    upstream: BTreeMap<String, UpstreamFile>,
    /// `[passkeys]`: passkeys (WebAuthn); off without this section.
    passkeys: Option<PasskeysFile>,
    /// Which accounts `/.well-known/webfinger` publishes: `"off"` or `"all"`.
    webfinger: Option<WebFingerFile>,
    sweep_interval_secs: Option<u64>,
    body_limit: Option<usize>,
    rate_limit_burst: Option<u32>,
    rate_limit_per_second: Option<f64>,
    trusted_proxies: Option<Vec<std::net::IpAddr>>,
    metrics_networks: Option<Vec<iam_axum::IpNet>>,
}

/// The `[oauth]` section.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OAuthFile {
    client_secret_grace_secs: Option<u64>,
    code_ttl_secs: Option<u64>,
    access_token_ttl_secs: Option<u64>,
    refresh_ttl_secs: Option<u64>,
    device_code_ttl_secs: Option<u64>,
    device_poll_interval_secs: Option<u64>,
    verification_uri: Option<String>,
}

/// One `[upstream.ID]` section: an OpenID Provider people may sign in through.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamFile {
    /// The name on the "Sign in with …" button.
    display_name: String,
    /// The issuer URL (its `/.well-known/openid-configuration` is read).
    issuer: String,
    /// iam's client id at the provider.
    client_id: String,
    /// iam's client secret there, sealed under the master key (`iamd --seal-upstream-secret ID`).
    client_secret_sealed: String,
    /// The scopes to ask for (default `openid email profile`).
    scopes: Option<Vec<String>>,
    /// `create_on_first_login`, `link_only` (default) or `invitation_required`.
    provisioning: Option<Provisioning>,
    /// Whether its verified emails may link existing accounts (default false).
    trust_verified_email: Option<bool>,
    /// `[upstream.ID.claims]`: the claim mapping (the core's type).
    claims: Option<ClaimMapping>,
    /// `[upstream.ID.bootstrap_admins]`: subjects and verified emails made admins at their
    /// first login (the core's type).
    bootstrap_admins: Option<BootstrapAdmins>,
}

/// The `[passkeys]` section: the relying party passkeys are bound to.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PasskeysFile {
    /// The relying-party id, a domain (default: the public URL's host).
    rp_id: Option<String>,
    /// The origins pages run ceremonies from (default: the public URL's origin).
    origins: Option<Vec<String>>,
    /// The name authenticators show (default: the RP id).
    rp_name: Option<String>,
    /// Only these authenticator models (AAGUIDs) may register; self-asserted without attestation.
    allowed_aaguids: Option<Vec<String>>,
    ceremony_ttl_secs: Option<u64>,
}

/// The passkey settings of `[passkeys]`, defaulting to the public URL's host and origin.
fn passkey_config(p: &PasskeysFile, public_url: &str) -> Result<PasskeyConfig> {
    let url = iam_core::passkey::Url::parse(public_url).context("public_url")?;
    let host = url
        .host_str()
        .ok_or_else(|| anyhow!("passkeys: the public URL has no host"))?;
    let rp_id = p.rp_id.clone().unwrap_or_else(|| host.to_owned());
    let mut c = PasskeyConfig::new(rp_id, url.origin().ascii_serialization());
    if let Some(origins) = &p.origins {
        c.rp_origins.clone_from(origins);
    }
    if let Some(name) = &p.rp_name {
        c.rp_name.clone_from(name);
    }
    if let Some(list) = &p.allowed_aaguids {
        let parsed = list
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|_| anyhow!("passkeys.allowed_aaguids: {a:?} is no UUID"))
            })
            .collect::<Result<Vec<_>>>()?;
        c.allowed_aaguids = Some(parsed);
    }
    if let Some(secs) = p.ceremony_ttl_secs {
        c.ceremony_ttl =
            Duration::from_secs(in_range("passkeys.ceremony_ttl_secs", secs, 30..=3600)?);
    }
    Ok(c)
}

/// The `webfinger` key: which accounts `/.well-known/webfinger` publishes.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum WebFingerFile {
    /// None (every query is answered 404).
    Off,
    /// Every existing, enabled account of the issuer's host.
    All,
}

impl From<WebFingerFile> for WebFingerPublication {
    fn from(w: WebFingerFile) -> Self {
        match w {
            WebFingerFile::Off => WebFingerPublication::Off,
            WebFingerFile::All => WebFingerPublication::All,
        }
    }
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
            KeySource::File(path) if path.exists() => {
                // Held as a secret so the key's text is wiped once parsed.
                let text = iam_core::SecretString::new(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?,
                );
                MasterKey::from_base64(text.expose().trim())
                    .with_context(|| format!("the master key in {} is invalid", path.display()))
            }
            // A mistyped path must not quietly become a new key.
            KeySource::File(path) => bail!(
                "master_key_file {} does not exist; create it with 32 random bytes in base64url \
                 (see docs/operations.md), or leave master_key_file out to have one generated \
                 in the data directory",
                path.display()
            ),
            KeySource::DefaultFile(path) => default_key_file(path),
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
    pub sweep_interval: Duration,
    pub body_limit: usize,
    pub rate_limit_burst: u32,
    pub rate_limit_per_second: f64,
    /// Reverse proxies whose `X-Forwarded-For` the per-address limit believes.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Client networks (CIDR) `/metrics` is served to without a token.
    pub metrics_networks: Vec<iam_axum::IpNet>,
    /// Which accounts `/.well-known/webfinger` publishes.
    pub webfinger: WebFingerPublication,
    master_key: KeySource,
    /// The core configuration, checked, with a placeholder master key (see [`Settings::config`]).
    core: Config,
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
        let configured_public_url = args.public_url.clone().or(file.public_url.clone());
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
        let http = args.http || file.http.unwrap_or(false);
        let prefix = mount_prefix(file.prefix.as_deref().unwrap_or_default())?;
        let public_url = configured_public_url.unwrap_or_else(|| {
            let scheme = if http { "http" } else { "https" };
            format!("{scheme}://{listen}{prefix}")
        });
        let core = core_config(&file, &public_url)?;
        warn_if_weak(&core);
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
        Ok(Settings {
            listen,
            http,
            cert,
            key,
            store: args.store.clone().or(file.store),
            data_dir,
            prefix,
            public_url,
            sweep_interval: Duration::from_secs(file.sweep_interval_secs.unwrap_or(300).max(1)),
            body_limit: file.body_limit.unwrap_or(iam_axum::DEFAULT_BODY_LIMIT),
            rate_limit_burst: file.rate_limit_burst.unwrap_or(20),
            rate_limit_per_second: file.rate_limit_per_second.unwrap_or(2.0),
            trusted_proxies: file.trusted_proxies.unwrap_or_default(),
            metrics_networks: file
                .metrics_networks
                .unwrap_or_else(iam_axum::metrics::default_networks),
            webfinger: file.webfinger.map(Into::into).unwrap_or_default(),
            master_key,
            core,
        })
    }

    /// The master key: configured, read from its file, or generated into the file on first run.
    pub fn master_key(&self) -> Result<MasterKey> {
        self.master_key.load()
    }

    /// The core configuration in force, with the real master key.
    pub fn config(&self, master_key: MasterKey) -> Config {
        Config {
            master_key,
            ..self.core.clone()
        }
    }
}

/// Applies one key in whole seconds: `secs!(section.key => target, bounds[, "prefix."])`.
/// A refusal names the key (`prefix.key`).
macro_rules! secs {
    ($file:ident . $key:ident => $target:expr, $bounds:expr) => {
        secs!($file.$key => $target, $bounds, "")
    };
    ($file:ident . $key:ident => $target:expr, $bounds:expr, $prefix:literal) => {
        set_secs(&mut $target, concat!($prefix, stringify!($key)), $file.$key, $bounds)?
    };
}

/// Seconds in a minute, an hour, a day and a year: the bounds of the duration keys.
const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const YEAR: u64 = 365 * DAY;

/// The core configuration the file describes: every key bounded (a refusal names the key),
/// then [`Config::validate`]. The master key is a placeholder that [`Settings::config`]
/// replaces; it is never used. To add a key: a field in [`FileSettings`] and one line here.
fn core_config(file: &FileSettings, public_url: &str) -> Result<Config> {
    let mut c = Config::new(MasterKey::from_bytes([0; 32]));
    // One issuer everywhere: tokens, ID tokens and the metadata name the public URL.
    public_url.trim_end_matches('/').clone_into(&mut c.issuer);
    if let Some(issuer) = &file.issuer {
        if issuer.trim_end_matches('/') != c.issuer {
            bail!(
                "issuer: must equal the public URL {} (the issuer of tokens, ID tokens and the \
OpenID metadata); set public_url instead, and list the old issuer in previous_issuers",
                c.issuer
            );
        }
    }
    // Tokens of the earlier default issuer ("iam") keep verifying until they expire.
    c.previous_issuers = file
        .previous_issuers
        .clone()
        .unwrap_or_else(|| vec!["iam".to_owned()]);
    set_text(&mut c.audience, "audience", file.audience.as_ref())?;
    set_text(&mut c.totp_issuer, "totp_issuer", file.totp_issuer.as_ref())?;
    if c.totp_issuer.contains(':') {
        bail!("totp_issuer: must not contain ':' (authenticator apps split the label there)");
    }
    secs!(file.access_token_ttl_secs => c.access_token_ttl, 1..=DAY);
    secs!(file.session_ttl_secs => c.session_ttl, 1..=YEAR);
    secs!(file.service_token_ttl_secs => c.service_token_ttl, 1..=YEAR);
    secs!(file.api_token_max_ttl_secs => c.api_token_max_ttl, 1..=10 * YEAR);
    secs!(file.elevation_request_ttl_secs => c.elevation_request_ttl, 1..=DAY);
    secs!(file.deletion_grace_secs => c.deletion_grace, 0..=YEAR);
    // Below 30 s, sensitive self-service would need a sign-in per click; beyond a day,
    // a stolen session could mint role-carrying API tokens or delete the account for long.
    secs!(file.recent_authentication_secs => c.recent_authentication, 30..=DAY);
    if let Some(v) = file.api_tokens_survive_password_reset {
        c.api_tokens_survive_password_reset = v;
    }
    // A minute at least: each checkpoint is a signature and a stored record.
    c.audit_checkpoint_interval = match file.audit_checkpoint_interval_secs {
        Some(0) => None,
        Some(v) => Some(Duration::from_secs(in_range(
            "audit_checkpoint_interval_secs",
            v,
            MINUTE..=7 * DAY,
        )?)),
        None => c.audit_checkpoint_interval,
    };
    secs!(file.invitation_ttl_secs => c.invitation_ttl, 60..=YEAR);
    secs!(file.invitation_max_ttl_secs => c.invitation_max_ttl, 60..=YEAR);
    if let Some(roles) = &file.inviter_roles {
        for role in roles {
            validate_role(role).map_err(|err| anyhow!("inviter_roles: {err}"))?;
        }
        c.inviter_roles.clone_from(roles);
    }
    if let Some(p) = &file.password {
        c.passwords = password_policy(p)?;
    }
    if let Some(t) = &file.throttle {
        c.throttle = throttle_policy(t)?;
    }
    if let Some(e) = &file.default_elevation {
        c.default_elevation = elevation_policy("default_elevation", e)?;
    }
    for (role, e) in &file.elevation {
        let key = format!("elevation.{role}");
        validate_role(role).map_err(|err| anyhow!("{key}: {err}"))?;
        c.elevation.insert(role.clone(), elevation_policy(&key, e)?);
    }
    if let Some(o) = &file.oauth {
        oauth_config(&mut c.oauth, o)?;
    }
    for (id, u) in &file.upstream {
        c.upstream.push(upstream_provider(id, u)?);
    }
    if let Some(p) = &file.passkeys {
        c.passkeys = Some(passkey_config(p, public_url)?);
    }
    c.validate().context("the configuration is inconsistent")?;
    Ok(c)
}

/// The `[password]` section, bounded.
fn password_policy(p: &PasswordPolicy) -> Result<PasswordPolicy> {
    in_range("password.memory_kib", p.memory_kib, 8..=4 * 1024 * 1024)?;
    in_range("password.iterations", p.iterations, 1..=64)?;
    in_range("password.parallelism", p.parallelism, 1..=64)?;
    in_range("password.max_length", p.max_length, 1..=4096)?;
    in_range("password.min_length", p.min_length, 1..=p.max_length)?;
    in_range(
        "password.max_concurrent_hashes",
        p.max_concurrent_hashes,
        1..=1024,
    )?;
    p.validate().map_err(|e| anyhow!("password: {e}"))?;
    Ok(p.clone())
}

/// The `[throttle]` section, bounded: the back-off cannot be turned off (`base_delay` 0).
fn throttle_policy(t: &ThrottlePolicy) -> Result<ThrottlePolicy> {
    in_range("throttle.free_failures", t.free_failures, 0..=100)?;
    in_range("throttle.base_delay", t.base_delay.as_secs(), 1..=HOUR)?;
    in_range(
        "throttle.max_delay",
        t.max_delay.as_secs(),
        t.base_delay.as_secs()..=DAY,
    )?;
    Ok(t.clone())
}

/// One elevation policy (`key` is its section), bounded.
fn elevation_policy(key: &str, e: &ElevationPolicy) -> Result<ElevationPolicy> {
    in_range(
        &format!("{key}.max_duration_secs"),
        e.max_duration.as_secs(),
        1..=DAY,
    )?;
    if let Some(role) = &e.approver_role {
        validate_role(role).map_err(|err| anyhow!("{key}.approver_role: {err}"))?;
    }
    Ok(e.clone())
}

/// Applies the `[oauth]` section.
fn oauth_config(c: &mut OAuthConfig, o: &OAuthFile) -> Result<()> {
    secs!(o.client_secret_grace_secs => c.client_secret_grace, 0..=30 * DAY, "oauth.");
    // RFC 6749, 4.1.2: a maximum code lifetime of 10 minutes is recommended.
    secs!(o.code_ttl_secs => c.code_ttl, 1..=10 * MINUTE, "oauth.");
    secs!(o.access_token_ttl_secs => c.access_token_ttl, 1..=DAY, "oauth.");
    secs!(o.refresh_ttl_secs => c.refresh_ttl, 1..=YEAR, "oauth.");
    secs!(o.device_code_ttl_secs => c.device_code_ttl, 1..=DAY, "oauth.");
    secs!(o.device_poll_interval_secs => c.device_poll_interval, 1..=MINUTE, "oauth.");
    if c.device_poll_interval >= c.device_code_ttl {
        bail!("oauth.device_poll_interval_secs: must be shorter than oauth.device_code_ttl_secs");
    }
    if let Some(uri) = &o.verification_uri {
        if !(uri.starts_with('/') || uri.starts_with("https://") || uri.starts_with("http://")) {
            bail!("oauth.verification_uri: must be a path like \"/device\" or an absolute http(s) URL");
        }
        c.verification_uri.clone_from(uri);
    }
    Ok(())
}

/// One `[upstream.ID]` section, checked (a refusal names the section). Its sealed secret is
/// checked against the master key at start.
fn upstream_provider(id: &str, u: &UpstreamFile) -> Result<UpstreamProvider> {
    let mut p = UpstreamProvider::new(
        id,
        u.display_name.clone(),
        u.issuer.clone(),
        u.client_id.clone(),
        SealedClientSecret::from_sealed(u.client_secret_sealed.trim()),
    );
    if let Some(scopes) = &u.scopes {
        p.scopes.clone_from(scopes);
    }
    if let Some(v) = u.provisioning {
        p.provisioning = v;
    }
    if let Some(v) = u.trust_verified_email {
        p.trust_verified_email = v;
    }
    if let Some(claims) = &u.claims {
        p.claims = claims.clone();
    }
    if let Some(b) = &u.bootstrap_admins {
        p.bootstrap_admins = b.clone();
    }
    p.validate().map_err(|e| anyhow!("upstream.{id}: {e}"))?;
    Ok(p)
}

/// `value`, if it lies within `bounds`; else an error naming `key`.
fn in_range<T: PartialOrd + Display + Copy>(
    key: &str,
    value: T,
    bounds: RangeInclusive<T>,
) -> Result<T> {
    if value < *bounds.start() {
        bail!("{key}: must be at least {} (got {value})", bounds.start());
    }
    if value > *bounds.end() {
        bail!("{key}: must be at most {} (got {value})", bounds.end());
    }
    Ok(value)
}

/// Sets `target` from a key in whole seconds, if given and within `bounds`.
fn set_secs(
    target: &mut Duration,
    key: &str,
    value: Option<u64>,
    bounds: RangeInclusive<u64>,
) -> Result<()> {
    if let Some(v) = value {
        *target = Duration::from_secs(in_range(key, v, bounds)?);
    }
    Ok(())
}

/// Sets `target` from a text key, if given and not empty.
fn set_text(target: &mut String, key: &str, value: Option<&String>) -> Result<()> {
    match value {
        Some(v) if v.is_empty() => bail!("{key}: must not be empty"),
        Some(v) => target.clone_from(v),
        None => {}
    }
    Ok(())
}

/// Logs settings that work but are weaker than the usual recommendations.
fn warn_if_weak(c: &Config) {
    let p = &c.passwords;
    // OWASP's table of equivalent Argon2id costs ends at m = 7168 KiB with t = 5; every row
    // has m * t of at least 35840.
    if u64::from(p.memory_kib) * u64::from(p.iterations) < 35_840 {
        tracing::warn!(
            memory_kib = p.memory_kib,
            iterations = p.iterations,
            "password: Argon2id cost below OWASP's minimum (e.g. memory_kib = 19456 with \
             iterations = 2); stolen hashes are cheap to attack"
        );
    }
    if p.min_length < 8 {
        tracing::warn!(
            min_length = p.min_length,
            "password.min_length below 8, NIST SP 800-63B's minimum"
        );
    }
}

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

/// Reads the key in the data directory's `master.key`, or generates it there on first run
/// (mode 0600, never overwriting a file; refused when others may read or write it).
fn default_key_file(path: &Path) -> Result<MasterKey> {
    let existed = path.exists();
    let key = MasterKey::load_or_create(path)?;
    if !existed {
        tracing::warn!(
            path = %path.display(),
            "GENERATED A NEW MASTER KEY (mode 0600). Back it up: without it, stored credentials, \
             TOTP secrets and signing keys cannot be opened, and every token becomes invalid"
        );
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iam_core::config::StepUp;

    /// The example configuration shipped beside the binary.
    const EXAMPLE: &str = include_str!("../iamd.example.toml");

    /// The core configuration a file's text describes, as `Settings::load` builds it.
    fn core_of(text: &str) -> Result<Config> {
        let file: FileSettings = toml::from_str(text)?;
        core_config(&file, "https://id.example.com")
    }

    /// The error a file's text is refused with, with its causes.
    fn refusal(text: &str) -> String {
        match core_of(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn the_example_file_turns_on_two_person_approval_and_otherwise_keeps_the_defaults() {
        let c = core_of(EXAMPLE).expect("the example parses");
        assert_eq!(
            c.elevation_policy("dba"),
            &ElevationPolicy {
                step_up: StepUp::PasswordAndTotp,
                approver_role: Some("dba-approver".into()),
                max_duration: Duration::from_secs(3600),
            }
        );
        assert_eq!(c.elevation.len(), 1);
        assert_eq!(c.elevation_policy("other"), &ElevationPolicy::default());
        // Everything else the example spells out is the core's default.
        let d = Config::new(MasterKey::from_bytes([0; 32]));
        assert_eq!(c.passwords, d.passwords);
        assert_eq!(c.throttle, d.throttle);
        assert_eq!(c.oauth, d.oauth);
        assert_eq!(c.default_elevation, d.default_elevation);
        assert_eq!((&c.audience, &c.totp_issuer), (&d.audience, &d.totp_issuer));
        assert_eq!(c.issuer, "https://id.example.com");
        assert_eq!(
            [
                c.access_token_ttl,
                c.session_ttl,
                c.service_token_ttl,
                c.api_token_max_ttl,
                c.elevation_request_ttl,
                c.deletion_grace,
                c.recent_authentication,
            ],
            [
                d.access_token_ttl,
                d.session_ttl,
                d.service_token_ttl,
                d.api_token_max_ttl,
                d.elevation_request_ttl,
                d.deletion_grace,
                d.recent_authentication,
            ]
        );
        assert_eq!(
            c.api_tokens_survive_password_reset,
            d.api_tokens_survive_password_reset
        );
        assert_eq!(c.audit_checkpoint_interval, d.audit_checkpoint_interval);
    }

    #[test]
    fn upstream_sections_become_providers_and_bad_ones_are_refused_by_name() {
        let c = core_of(
            r#"
            [upstream.corp]
            display_name = "Corp SSO"
            issuer = "https://sso.example.com"
            client_id = "iam"
            client_secret_sealed = "sealed-text"
            provisioning = "create_on_first_login"
            trust_verified_email = true
            [upstream.corp.claims]
            groups = "groups"
            group_roles = { ops = ["deploy", "reports"] }
            [upstream.corp.bootstrap_admins]
            subjects = ["root-sub"]
            "#,
        )
        .expect("parses");
        let p = &c.upstream[0];
        assert_eq!(c.upstream.len(), 1);
        assert_eq!(
            (p.id.as_str(), p.display_name.as_str()),
            ("corp", "Corp SSO")
        );
        assert_eq!(p.issuer, "https://sso.example.com");
        assert_eq!(p.client_secret.as_sealed(), "sealed-text");
        assert_eq!(p.provisioning, Provisioning::CreateOnFirstLogin);
        assert!(p.trust_verified_email);
        assert_eq!(p.scopes, ["openid", "email", "profile"]);
        assert_eq!(p.claims.username, "preferred_username", "defaults kept");
        assert_eq!(p.claims.group_roles["ops"], ["deploy", "reports"]);
        assert_eq!(p.bootstrap_admins.subjects, ["root-sub"]);
        let base = "display_name = \"X\"\nissuer = \"https://x.example\"\nclient_id = \"c\"\nclient_secret_sealed = \"s\"\n";
        for (bad, says) in [
            ("[upstream.Bad]\n", "upstream.Bad"),
            ("[upstream.x]\nscopes = [\"email\"]\n", "openid"),
            ("[upstream.x]\nprovisioning = \"always\"\n", "always"),
            ("[upstream.x]\ncolour = \"red\"\n", "colour"),
            (
                "[upstream.x]\n[upstream.x.claims]\ngroup_roles = { g = [\"Not A Role\"] }\n",
                "Not A Role",
            ),
        ] {
            let (head, tail) = bad.split_once('\n').expect("a section line");
            let text = format!("{head}\n{base}{tail}");
            let err = refusal(&text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn every_core_key_reaches_its_setting() {
        let c = core_of(
            r#"
            issuer = "https://id.example.com"
            audience = "apps"
            totp_issuer = "Example"
            access_token_ttl_secs = 301
            session_ttl_secs = 302
            service_token_ttl_secs = 303
            api_token_max_ttl_secs = 304
            elevation_request_ttl_secs = 305
            deletion_grace_secs = 0
            recent_authentication_secs = 313
            api_tokens_survive_password_reset = true
            audit_checkpoint_interval_secs = 314
            [password]
            memory_kib = 65536
            iterations = 3
            parallelism = 2
            min_length = 12
            max_length = 256
            max_concurrent_hashes = 3
            [throttle]
            free_failures = 3
            base_delay = 2
            max_delay = 60
            [oauth]
            client_secret_grace_secs = 306
            code_ttl_secs = 307
            access_token_ttl_secs = 308
            refresh_ttl_secs = 309
            device_code_ttl_secs = 310
            device_poll_interval_secs = 11
            verification_uri = "https://id.example.com/activate"
            [default_elevation]
            step_up = "totp"
            approver_role = "admin"
            max_duration_secs = 312
            [elevation.breakglass]
            step_up = "none"
            "#,
        )
        .expect("parses");
        let secs = Duration::from_secs;
        assert_eq!(
            (
                c.issuer.as_str(),
                c.audience.as_str(),
                c.totp_issuer.as_str()
            ),
            ("https://id.example.com", "apps", "Example")
        );
        assert_eq!(
            [
                c.access_token_ttl,
                c.session_ttl,
                c.service_token_ttl,
                c.api_token_max_ttl,
                c.elevation_request_ttl,
                c.deletion_grace,
                c.recent_authentication,
            ],
            [
                secs(301),
                secs(302),
                secs(303),
                secs(304),
                secs(305),
                secs(0),
                secs(313),
            ]
        );
        assert!(c.api_tokens_survive_password_reset);
        assert_eq!(c.audit_checkpoint_interval, Some(secs(314)));
        assert_eq!(
            core_of("audit_checkpoint_interval_secs = 0")
                .expect("parses")
                .audit_checkpoint_interval,
            None,
            "0 turns periodic checkpoints off"
        );
        assert_eq!(
            core_of("").expect("parses").audit_checkpoint_interval,
            Some(secs(3600))
        );
        assert_eq!(
            c.passwords,
            PasswordPolicy {
                memory_kib: 65536,
                iterations: 3,
                parallelism: 2,
                min_length: 12,
                max_length: 256,
                max_concurrent_hashes: 3,
            }
        );
        assert_eq!(
            c.throttle,
            ThrottlePolicy {
                free_failures: 3,
                base_delay: secs(2),
                max_delay: secs(60),
            }
        );
        assert_eq!(
            c.oauth,
            OAuthConfig {
                client_secret_grace: secs(306),
                code_ttl: secs(307),
                access_token_ttl: secs(308),
                refresh_ttl: secs(309),
                device_code_ttl: secs(310),
                device_poll_interval: secs(11),
                verification_uri: "https://id.example.com/activate".into(),
                ..OAuthConfig::default()
            }
        );
        assert_eq!(
            c.default_elevation,
            ElevationPolicy {
                step_up: StepUp::Totp,
                approver_role: Some("admin".into()),
                max_duration: secs(312),
            }
        );
        // A role's own section replaces the default whole: absent fields are the built-in ones.
        assert_eq!(
            c.elevation_policy("breakglass"),
            &ElevationPolicy {
                step_up: StepUp::None,
                ..ElevationPolicy::default()
            }
        );
    }

    #[test]
    fn the_public_url_is_the_issuer() {
        let file = FileSettings::default();
        let url = "https://id.example.com/iam";
        let c = core_config(&file, url).expect("ok");
        assert_eq!(c.issuer, url);
        assert_eq!(
            c.previous_issuers,
            ["iam"],
            "tokens of the old default still verify"
        );
        let same: FileSettings =
            toml::from_str(r#"issuer = "https://id.example.com/iam/""#).expect("parses");
        assert_eq!(core_config(&same, url).expect("ok").issuer, url);
        let other: FileSettings = toml::from_str(r#"issuer = "tokens""#).expect("parses");
        assert!(format!("{:#}", core_config(&other, url).expect_err("refused")).contains("issuer"));
        let listed: FileSettings =
            toml::from_str(r#"previous_issuers = ["https://old.example"]"#).expect("parses");
        assert_eq!(
            core_config(&listed, url).expect("ok").previous_issuers,
            ["https://old.example"]
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        for (text, key) in [
            ("access_token_ttl = 60", "access_token_ttl"),
            ("[oauth]\ncode_ttl = 60", "code_ttl"),
            ("[password]\nmemory = 65536", "memory"),
            ("[throttle]\nbase_delay_secs = 1", "base_delay_secs"),
            ("[default_elevation]\napprover = \"admin\"", "approver"),
            ("[elevation.dba]\nmax_duration = 3600", "max_duration"),
        ] {
            let err = refusal(text);
            assert!(
                err.contains(&format!("unknown field `{key}`")),
                "{text}: {err}"
            );
        }
        let err = refusal("api_tokens_survive_password_reset = \"yes\"");
        assert!(
            err.contains("api_tokens_survive_password_reset") && err.contains("bool"),
            "{err}"
        );
        let err = refusal("[elevation.dba]\nstep_up = \"either\"");
        assert!(
            err.contains("either") && err.contains("password_and_totp"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_values_are_refused_naming_the_key() {
        for (text, want) in [
            (
                "[elevation.dba]\nmax_duration_secs = 90000",
                "elevation.dba.max_duration_secs: must be at most 86400 (got 90000)",
            ),
            (
                "[default_elevation]\nmax_duration_secs = 0",
                "default_elevation.max_duration_secs: must be at least 1",
            ),
            (
                "[elevation.dba]\napprover_role = \"DBA Approvers\"",
                "elevation.dba.approver_role: ",
            ),
            ("[elevation.\"Not A Role\"]", "elevation.Not A Role: "),
            (
                "access_token_ttl_secs = 0",
                "access_token_ttl_secs: must be at least 1",
            ),
            (
                "audit_checkpoint_interval_secs = 5",
                "audit_checkpoint_interval_secs: must be at least 60",
            ),
            (
                "[password]\nmin_length = 2000",
                "password.min_length: must be at most 1024",
            ),
            (
                "[password]\niterations = 0",
                "password.iterations: must be at least 1",
            ),
            // Argon2id needs 8 KiB per lane.
            ("[password]\nmemory_kib = 8\nparallelism = 2", "password: "),
            (
                "[throttle]\nbase_delay = 0",
                "throttle.base_delay: must be at least 1",
            ),
            (
                "[throttle]\nbase_delay = 10\nmax_delay = 5",
                "throttle.max_delay: must be at least 10",
            ),
            ("totp_issuer = \"a:b\"", "totp_issuer: must not contain ':'"),
            ("issuer = \"\"", "issuer: must equal the public URL"),
            (
                "recent_authentication_secs = 29",
                "recent_authentication_secs: must be at least 30 (got 29)",
            ),
            (
                "recent_authentication_secs = 86401",
                "recent_authentication_secs: must be at most 86400 (got 86401)",
            ),
            (
                "[oauth]\ncode_ttl_secs = 3600",
                "oauth.code_ttl_secs: must be at most 600",
            ),
            (
                "[oauth]\ndevice_code_ttl_secs = 30\ndevice_poll_interval_secs = 30",
                "oauth.device_poll_interval_secs: must be shorter",
            ),
            (
                "[oauth]\nverification_uri = \"device\"",
                "oauth.verification_uri: ",
            ),
        ] {
            let err = refusal(text);
            assert!(err.starts_with(want), "{text}: {err}");
        }
        // Every duration key has an upper bound, and its refusal names it in full.
        for key in [
            "access_token_ttl_secs",
            "session_ttl_secs",
            "service_token_ttl_secs",
            "api_token_max_ttl_secs",
            "elevation_request_ttl_secs",
            "deletion_grace_secs",
            "recent_authentication_secs",
            "oauth.client_secret_grace_secs",
            "oauth.code_ttl_secs",
            "oauth.access_token_ttl_secs",
            "oauth.refresh_ttl_secs",
            "oauth.device_code_ttl_secs",
            "oauth.device_poll_interval_secs",
            "default_elevation.max_duration_secs",
            "elevation.dba.max_duration_secs",
        ] {
            let text = match key.rsplit_once('.') {
                Some((section, name)) => format!("[{section}]\n{name} = 1000000000000"),
                None => format!("{key} = 1000000000000"),
            };
            let err = refusal(&text);
            assert!(err.starts_with(&format!("{key}: must be at most")), "{err}");
        }
    }

    /// The settings `Settings::load` makes of a file with `text` (and no command-line flags).
    fn settings_of(text: &str) -> Result<Settings> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("iamd.toml");
        std::fs::write(&path, text).expect("written");
        let args = [
            std::ffi::OsStr::new("iamd"),
            std::ffi::OsStr::new("--config"),
            path.as_os_str(),
        ];
        Settings::load(&Args::parse_from(args))
    }

    #[test]
    fn webfinger_publication_is_off_unless_set_to_all() {
        assert_eq!(
            settings_of("").expect("loads").webfinger,
            WebFingerPublication::Off
        );
        assert_eq!(
            settings_of("webfinger = \"off\"").expect("loads").webfinger,
            WebFingerPublication::Off
        );
        assert_eq!(
            settings_of("webfinger = \"all\"").expect("loads").webfinger,
            WebFingerPublication::All
        );
        for bad in ["webfinger = \"some\"", "webfinger = true"] {
            let err = format!("{:#}", settings_of(bad).err().expect(bad));
            assert!(err.contains("webfinger"), "{bad}: {err}");
        }
        let err = format!(
            "{:#}",
            settings_of("webfinger = \"some\"").err().expect("refused")
        );
        assert!(err.contains("`off`") && err.contains("`all`"), "{err}");
    }

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
