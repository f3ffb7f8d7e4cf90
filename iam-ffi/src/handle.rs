//! [`iam_t`]: the handle that owns an `Iam` over a store and the tokio runtime that drives it
//! ([`Instance`]), with the JSON configuration it is opened from.

use std::collections::BTreeMap;
use std::ffi::c_char;
use std::time::Duration;

use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::{
    Config, Iam, MasterKey, MemoryStore, PasskeyConfig, PasswordPolicy, ThrottlePolicy,
};
use iam_store_sqlite::SqliteStore;
use serde::Deserialize;
use tokio::runtime::Runtime;
use zeroize::Zeroize;

use crate::args::{arg_out_ptr, arg_str};
use crate::boundary::ffi_panic_boundary;
use crate::castable::{set_boxed_mut_ptr, try_box_from_ptr, Castable, OwnershipBox};
use crate::error::FfiError;
use crate::status::iam_status;

/// Most runtime worker threads a configuration may ask for.
const MAX_WORKER_THREADS: usize = 256;

/// Longest window `recent_authentication_secs` may set: a day.
const MAX_RECENT_AUTHENTICATION_SECS: u64 = 24 * 60 * 60;

/// An open iam instance: opaque to C. Create it with `iam_open_memory` or `iam_open_sqlite`,
/// free it with `iam_free`. Safe to use from several threads at once.
#[allow(non_camel_case_types)]
pub struct iam_t {
    _private: [u8; 0],
}

impl Castable for iam_t {
    type Ownership = OwnershipBox;
    type RustType = Instance;
}

/// What an [`iam_t`] points to: an `Iam` over its store and the runtime that drives it.
pub(crate) struct Instance {
    pub(crate) backend: Backend,
    pub(crate) runtime: Runtime,
}

/// The store an [`Instance`] runs over.
pub(crate) enum Backend {
    /// In memory: everything is lost when the handle is freed.
    Memory(Iam<MemoryStore>),
    /// One SQLite file.
    Sqlite(Iam<SqliteStore>),
}

/// Runs `$body` (an expression using `$iam`, an `&Iam<_>`) on the handle's runtime, whatever
/// store the handle has, blocking the calling thread until it completes.
macro_rules! on_iam {
    ($handle:expr, |$iam:ident| $body:expr) => {{
        let handle: &$crate::handle::Instance = $handle;
        $crate::handle::ensure_outside_runtime()?;
        match &handle.backend {
            $crate::handle::Backend::Memory($iam) => handle.runtime.block_on(async { $body }),
            $crate::handle::Backend::Sqlite($iam) => handle.runtime.block_on(async { $body }),
        }
    }};
}
pub(crate) use on_iam;

/// Fails if the calling thread is inside a tokio runtime, where blocking would panic.
pub(crate) fn ensure_outside_runtime() -> Result<(), FfiError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(FfiError::Runtime(
            "iam functions block; do not call them from a thread that runs an async runtime".into(),
        ));
    }
    Ok(())
}

/// The master key as read from JSON, wiped when dropped.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(KeyText)
    }
}

impl Drop for KeyText {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The JSON configuration accepted by `iam_open_*`. Unknown fields are refused, so a typo
/// cannot silently fall back to a default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FfiConfig {
    /// 32 bytes in base64url (no padding); required.
    master_key: KeyText,
    issuer: Option<String>,
    audience: Option<String>,
    totp_issuer: Option<String>,
    access_token_ttl_secs: Option<u64>,
    session_ttl_secs: Option<u64>,
    service_token_ttl_secs: Option<u64>,
    /// Longest lifetime a personal API token may be given.
    api_token_max_ttl_secs: Option<u64>,
    /// Elevation rules per role.
    elevation: Option<BTreeMap<String, FfiElevationPolicy>>,
    /// Elevation rules for roles without their own entry.
    default_elevation: Option<FfiElevationPolicy>,
    /// How long an elevation request waits for approval.
    elevation_request_ttl_secs: Option<u64>,
    /// How recent a sign-in must be for sensitive self-service (1 s to 1 day).
    recent_authentication_secs: Option<u64>,
    /// Whether personal API tokens survive a reset of their owner's password.
    api_tokens_survive_password_reset: Option<bool>,
    /// How long a scheduled deletion waits before `iam_sweep` carries it out.
    deletion_grace_secs: Option<u64>,
    /// Argon2id cost and length rules (`memory_kib`, `iterations`, `parallelism`, ...).
    password: Option<PasswordPolicy>,
    /// Login back-off (`free_failures`, `base_delay`, `max_delay` in seconds).
    throttle: Option<ThrottlePolicy>,
    /// Tokio worker threads (default: one per CPU).
    worker_threads: Option<usize>,
    /// The relying party passkeys are bound to (default: passkeys off).
    passkeys: Option<FfiPasskeys>,
}

/// The passkey settings, as written in the JSON configuration. Unknown fields are refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FfiPasskeys {
    /// The relying-party id: the site's domain (`example.com`).
    rp_id: String,
    /// The origins ceremonies may run from (`https://login.example.com`); the first is the main one.
    rp_origins: Vec<String>,
    /// The name authenticators show (default: the RP id).
    rp_name: Option<String>,
    /// How long a ceremony stays open (default 300, at most 3600).
    ceremony_ttl_secs: Option<u64>,
}

impl FfiPasskeys {
    fn into_config(self) -> PasskeyConfig {
        let mut config = PasskeyConfig::new(self.rp_id, String::new());
        config.rp_origins = self.rp_origins;
        if let Some(name) = self.rp_name {
            config.rp_name = name;
        }
        if let Some(v) = self.ceremony_ttl_secs {
            config.ceremony_ttl = Duration::from_secs(v);
        }
        config
    }
}

/// How one role may be elevated to, as written in the JSON configuration. Unknown fields are
/// refused; absent ones keep the core's defaults (password step-up, no approval, 30 minutes).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FfiElevationPolicy {
    /// `"none"`, `"password"`, `"totp"` or `"password_and_totp"`.
    step_up: Option<StepUp>,
    /// Another account holding this role must approve each activation.
    approver_role: Option<String>,
    /// The longest an activation may last.
    max_duration_secs: Option<u64>,
}

/// A role named in the configuration, which must be a valid role name.
fn config_role(role: &str) -> Result<(), FfiError> {
    iam_core::account::validate_role(role)
        .map_err(|e| FfiError::Config(format!("the elevation role {role:?}: {e}")))
}

impl FfiElevationPolicy {
    fn into_policy(self) -> Result<ElevationPolicy, FfiError> {
        let mut policy = ElevationPolicy::default();
        if let Some(v) = self.step_up {
            policy.step_up = v;
        }
        if let Some(role) = self.approver_role {
            config_role(&role)?;
            policy.approver_role = Some(role);
        }
        if let Some(v) = self.max_duration_secs {
            if v == 0 {
                return Err(FfiError::Config(
                    "an elevation's max_duration_secs must be positive".into(),
                ));
            }
            policy.max_duration = Duration::from_secs(v);
        }
        Ok(policy)
    }
}

/// A parsed configuration: the core's, plus how to build the runtime.
struct Settings {
    config: Config,
    worker_threads: Option<usize>,
}

fn parse_config(json: &str) -> Result<Settings, FfiError> {
    let raw: FfiConfig = serde_json::from_str(json).map_err(|e| FfiError::Config(e.to_string()))?;
    let master_key = MasterKey::from_base64(&raw.master_key.0)?;
    let mut config = Config::new(master_key);
    if let Some(v) = raw.issuer {
        config.issuer = v;
    }
    if let Some(v) = raw.audience {
        config.audience = v;
    }
    if let Some(v) = raw.totp_issuer {
        config.totp_issuer = v;
    }
    if let Some(v) = raw.access_token_ttl_secs {
        config.access_token_ttl = Duration::from_secs(v);
    }
    if let Some(v) = raw.session_ttl_secs {
        config.session_ttl = Duration::from_secs(v);
    }
    if let Some(v) = raw.service_token_ttl_secs {
        config.service_token_ttl = Duration::from_secs(v);
    }
    if let Some(v) = raw.api_token_max_ttl_secs {
        config.api_token_max_ttl = Duration::from_secs(v);
    }
    if let Some(map) = raw.elevation {
        for (role, policy) in map {
            config_role(&role)?;
            config.elevation.insert(role, policy.into_policy()?);
        }
    }
    if let Some(v) = raw.default_elevation {
        config.default_elevation = v.into_policy()?;
    }
    if let Some(v) = raw.elevation_request_ttl_secs {
        config.elevation_request_ttl = Duration::from_secs(v);
    }
    if let Some(v) = raw.recent_authentication_secs {
        if v == 0 || v > MAX_RECENT_AUTHENTICATION_SECS {
            return Err(FfiError::Config(format!(
                "recent_authentication_secs must be between 1 and {MAX_RECENT_AUTHENTICATION_SECS}"
            )));
        }
        config.recent_authentication = Duration::from_secs(v);
    }
    if let Some(v) = raw.api_tokens_survive_password_reset {
        config.api_tokens_survive_password_reset = v;
    }
    if let Some(v) = raw.deletion_grace_secs {
        config.deletion_grace = Duration::from_secs(v);
    }
    if let Some(v) = raw.password {
        config.passwords = v;
    }
    if let Some(v) = raw.throttle {
        config.throttle = v;
    }
    if let Some(v) = raw.passkeys {
        config.passkeys = Some(v.into_config());
    }
    if let Some(n) = raw.worker_threads {
        if n == 0 || n > MAX_WORKER_THREADS {
            return Err(FfiError::Config(format!(
                "worker_threads must be between 1 and {MAX_WORKER_THREADS}"
            )));
        }
    }
    config.validate().map_err(iam_core::Error::from)?;
    Ok(Settings {
        config,
        worker_threads: raw.worker_threads,
    })
}

fn runtime(worker_threads: Option<usize>) -> Result<Runtime, FfiError> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("iam-ffi");
    if let Some(n) = worker_threads {
        builder.worker_threads(n);
    }
    builder
        .build()
        .map_err(|e| FfiError::Runtime(format!("cannot start the async runtime: {e}")))
}

/// Runs password hashing on the handle's runtime's blocking pool, whose threads end with the
/// handle (`iam_free`), so a C program that frees its handles leaves no thread behind.
#[derive(Clone)]
struct RuntimeBlocking(tokio::runtime::Handle);

impl iam_core::Offload for RuntimeBlocking {
    fn spawn(&self, job: iam_core::offload::Job) {
        // The join handle is not needed: the job reports its own result.
        drop(self.0.spawn_blocking(job));
    }
}

/// Opens an iam instance over a store made by `store` on a fresh runtime.
fn open(json: &str, sqlite_path: Option<&str>) -> Result<Instance, FfiError> {
    ensure_outside_runtime()?;
    let settings = parse_config(json)?;
    let runtime = runtime(settings.worker_threads)?;
    let config = settings.config;
    let blocking = RuntimeBlocking(runtime.handle().clone());
    let backend = runtime.block_on(async {
        Ok::<_, FfiError>(match sqlite_path {
            None => Backend::Memory(
                Iam::builder(MemoryStore::new(), config)
                    .offload(blocking.clone())
                    .open()
                    .await?,
            ),
            Some(path) => {
                let store = SqliteStore::open(path).await?;
                Backend::Sqlite(Iam::builder(store, config).offload(blocking).open().await?)
            }
        })
    })?;
    Ok(Instance { backend, runtime })
}

/// Opens an iam instance over an in-memory store (everything is lost at `iam_free`), configured
/// by `config_json`. On success `*out` holds the new handle; on failure it is NULL.
///
/// `config_json` is a JSON object. Required: `"master_key"` (32 bytes, base64url without
/// padding). Optional: `"issuer"`, `"audience"`, `"totp_issuer"` (strings),
/// `"access_token_ttl_secs"`, `"session_ttl_secs"`, `"service_token_ttl_secs"`,
/// `"api_token_max_ttl_secs"`, `"elevation_request_ttl_secs"`, `"deletion_grace_secs"`
/// (integers),
/// `"recent_authentication_secs"` (1-86400: how recent a sign-in sensitive self-service needs),
/// `"api_tokens_survive_password_reset"` (boolean), `"elevation"` (an
/// object mapping a role to its policy) and `"default_elevation"` (the policy of other roles),
/// a policy being `{"step_up": "none" | "password" | "totp" | "password_and_totp",
/// "approver_role", "max_duration_secs"}`, `"password"` (`{"memory_kib", "iterations", "parallelism", "min_length", "max_length",
/// "max_concurrent_hashes"}`), `"throttle"` (`{"free_failures", "base_delay", "max_delay"}`,
/// delays in seconds), `"worker_threads"` (1-256), `"passkeys"` (`{"rp_id", "rp_origins",
/// "rp_name", "ceremony_ttl_secs"}`: the relying party passkeys are bound to, its domain and the
/// origins ceremonies run from; without it passkeys are off). Unknown fields are refused.
///
/// # Safety
/// `config_json` must be NULL or a NUL-terminated string; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_open_memory(
    config_json: *const c_char,
    out: *mut *mut iam_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out, "out") }?;
        // SAFETY: as above.
        let json = unsafe { arg_str(config_json, "config_json") }?;
        set_boxed_mut_ptr(out, open(json, None)?);
        Ok(())
    }
}

/// Opens an iam instance over the SQLite database at `path` (created, and migrated, if needed),
/// configured by `config_json` as for `iam_open_memory`. On failure `*out` is NULL.
///
/// # Safety
/// `path` and `config_json` must be NULL or NUL-terminated strings; `out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn iam_open_sqlite(
    path: *const c_char,
    config_json: *const c_char,
    out: *mut *mut iam_t,
) -> iam_status {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those of this function.
        let out = unsafe { arg_out_ptr(out, "out") }?;
        // SAFETY: as above.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: as above.
        let json = unsafe { arg_str(config_json, "config_json") }?;
        set_boxed_mut_ptr(out, open(json, Some(path))?);
        Ok(())
    }
}

impl Instance {
    /// Closes the store and stops the runtime. Outside any async runtime this waits for the
    /// runtime's threads; inside one (a misuse) it leaves them to finish in the background.
    fn shutdown(self) {
        let Instance { backend, runtime } = self;
        let blocking_allowed = ensure_outside_runtime().is_ok();
        if let (Backend::Sqlite(iam), true) = (&backend, blocking_allowed) {
            runtime.block_on(iam.store().close());
        }
        {
            // Store resources may need the runtime while they are dropped.
            let _entered = runtime.enter();
            drop(backend);
        }
        if blocking_allowed {
            drop(runtime);
        } else {
            runtime.shutdown_background();
        }
    }
}

/// Frees a handle made by `iam_open_*` and sets `*iam` to NULL. NULL, or a pointer to NULL, is
/// ignored, so calling it twice on the same variable is harmless. No other thread may be using
/// the handle; every object it handed out (tokens, principals, strings) stays valid and must
/// still be freed.
///
/// # Safety
/// `iam` must be NULL or point to a pointer that is NULL or came from `iam_open_*` and was not
/// freed through another copy.
#[no_mangle]
pub unsafe extern "C" fn iam_free(iam: *mut *mut iam_t) {
    ffi_panic_boundary! {
        // SAFETY: the caller's promises are those `try_box_from_ptr` needs.
        if let Some(instance) = unsafe { try_box_from_ptr(iam) } {
            instance.shutdown();
        }
    }
}
