//! iamd: the iam server. Serves the iam REST API (iam-axum) over HTTPS on SQLite by default, or
//! on PostgreSQL with `--store postgres://...`.
//!
//! `cargo run --release -p iamd` starts https://127.0.0.1:8443 with `./iam-data/iam.db`,
//! a self-signed certificate generated into `./iam-data` on first run, and a master key
//! generated into `./iam-data/master.key` (mode 0600) unless one is configured. On an empty
//! database it creates the account `admin` (role `admin`) and prints its initial password (once).

mod settings;
mod tls;

/// mimalloc: the token endpoint allocates per request, and glibc's allocator spends a tenth of
/// the server's time there under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use iam_core::Caller;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::Parser;
use iam_axum::{IamRouter, OAuthRouter, RateLimit};
use iam_core::{Config, Iam, NewAccount, SecureRandom, Store, ADMIN_ROLE};
use iam_store_postgres::{PostgresStore, PostgresStoreOptions};
use iam_store_sqlite::SqliteStore;
use settings::{Args, Settings};

/// How long in-flight requests may finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() -> Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = Settings::load(&args)?;
    if let Some(provider) = &args.seal_upstream_secret {
        return seal_upstream_secret(&settings, provider);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(settings))
}

/// `--seal-upstream-secret ID`: seals the client secret read from standard input under the
/// master key and prints it for `client_secret_sealed` in `[upstream.ID]`.
fn seal_upstream_secret(settings: &Settings, provider: &str) -> Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    let key = settings.master_key()?;
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the client secret from standard input")?;
    let kept = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(kept);
    // Moved into a secret: wiped when dropped.
    let secret = iam_core::SecretString::new(line);
    if secret.expose().is_empty() {
        anyhow::bail!("no client secret on standard input");
    }
    let sealed = iam_core::upstream::SealedClientSecret::seal(&key, provider, &secret)
        .context("sealing the client secret")?;
    println!("{}", sealed.as_sealed());
    Ok(())
}

/// Checks that every upstream provider's sealed client secret opens with the master key.
fn check_upstream_secrets<S: Store>(iam: &Iam<S>) -> Result<()> {
    for p in &iam.config().upstream {
        iam.upstream_client_secret(&p.id).with_context(|| {
            format!(
                "upstream.{}.client_secret_sealed does not open with this master key (seal it \
                 with iamd --seal-upstream-secret {})",
                p.id, p.id
            )
        })?;
    }
    Ok(())
}

async fn serve(settings: Settings) -> Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    let master_key = settings.master_key()?;
    let config = settings.config(master_key);
    match settings.store.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let options = PostgresStoreOptions::new(url).context("parsing the Postgres URL")?;
            let store = PostgresStore::open(options)
                .await
                .context("opening the PostgreSQL store")?;
            tracing::info!(schema = store.schema(), "store: PostgreSQL");
            run(store, config, &settings).await
        }
        Some(other) => {
            let path = other.strip_prefix("sqlite://").unwrap_or(other);
            run(open_sqlite(Path::new(path)).await?, config, &settings).await
        }
        None => {
            let path = settings.data_dir.join("iam.db");
            run(open_sqlite(&path).await?, config, &settings).await
        }
    }
}

async fn open_sqlite(path: &Path) -> Result<SqliteStore> {
    let store = SqliteStore::open(path)
        .await
        .with_context(|| format!("opening the SQLite store {}", path.display()))?;
    tracing::info!(path = %path.display(), "store: SQLite");
    Ok(store)
}

async fn run<S: Store>(store: S, config: Config, settings: &Settings) -> Result<()> {
    let iam = Iam::builder(store, config)
        .open()
        .await
        .context("opening iam")?;
    check_upstream_secrets(&iam)?;
    bootstrap_admin(&iam).await?;

    let app = IamRouter::new(iam.clone())
        .prefix(settings.prefix.clone())
        .json_fallback(true)
        .body_limit(settings.body_limit)
        .rate_limit(RateLimit {
            burst: settings.rate_limit_burst,
            per_second: settings.rate_limit_per_second,
            ..RateLimit::default()
        })
        .trusted_proxies(settings.trusted_proxies.clone())
        .metrics_networks(settings.metrics_networks.clone())
        .describe_oauth(true)
        .build();
    // `rate_limit_burst = 0` turns every limit off, the token endpoints' too (for load tests).
    let (token_limit, client_limit) = if settings.rate_limit_burst == 0 {
        (RateLimit::off(), RateLimit::off())
    } else {
        (
            RateLimit::token_endpoint_default(),
            RateLimit::per_client_default(),
        )
    };
    // The ID-token keys (RSA generation takes a moment) are made now, not on a first request.
    iam.ensure_jose_keys()
        .await
        .context("making the ID-token signing keys")?;
    let oauth = OAuthRouter::new(iam.clone(), &settings.public_url)
        .context("the public URL (OAuth issuer)")?
        .rate_limit(RateLimit {
            burst: settings.rate_limit_burst,
            per_second: settings.rate_limit_per_second,
            ..RateLimit::default()
        })
        .token_rate_limit(token_limit)
        .client_rate_limit(client_limit)
        .trusted_proxies(settings.trusted_proxies.clone())
        .webfinger(settings.webfinger)
        .build();
    // The OAuth endpoints sit beside the REST API, under the same prefix.
    let app = if settings.prefix.is_empty() {
        oauth.merge(app)
    } else {
        Router::new().nest(&settings.prefix, oauth).merge(app)
    };

    let sweeper = tokio::spawn(sweep_forever(iam.clone(), settings.sweep_interval));
    // Back-channel logout: Logout Tokens queued by ended sessions are POSTed in the background.
    let logouts = iam_axum::backchannel::spawn_deliveries(
        iam.clone(),
        iam_axum::backchannel::logout_http_client().context("the back-channel logout client")?,
    );
    let handle = axum_server::Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone()));
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    let addr = settings.listen;
    if settings.http {
        tracing::warn!(%addr, "serving plain HTTP (--http): put a TLS proxy in front");
        axum_server::bind(addr)
            .handle(handle)
            .serve(service)
            .await
            .with_context(|| format!("serving on {addr}"))?;
    } else {
        let tls = tls::server_config(settings).await?;
        tracing::info!(url = %format!("https://{addr}{}", settings.prefix), "serving HTTPS");
        axum_server::bind_rustls(addr, tls)
            .handle(handle)
            .serve(service)
            .await
            .with_context(|| format!("serving on {addr}"))?;
    }
    sweeper.abort();
    logouts.abort();
    tracing::info!("stopped");
    Ok(())
}

/// On an empty database, creates `admin` with a random initial password printed once.
async fn bootstrap_admin<S: Store>(iam: &Iam<S>) -> Result<()> {
    if !iam
        .list_accounts(Caller::System, None, 1)
        .await
        .context("listing accounts")?
        .is_empty()
    {
        return Ok(());
    }
    let mut raw = [0u8; 18];
    SecureRandom::from_entropy().fill(&mut raw);
    let password = iam_core::SecretString::new(URL_SAFE_NO_PAD.encode(raw));
    iam.create_account(
        NewAccount::human("admin", password.clone()).with_roles([ADMIN_ROLE]),
        Caller::System,
    )
    .await
    .context("creating the first admin")?;
    tracing::warn!("empty database: created the account 'admin'; its initial password is printed once on standard output; set your own");
    // Printed once, to stdout only (never to the log).
    println!(
        "iamd: first admin created\n  username: admin\n  password: {}\n  (shown once; log in and change it)",
        password.expose()
    );
    Ok(())
}

/// Runs [`Iam::sweep`] every `interval` (scheduled deletions, pruning, audit checkpoints).
async fn sweep_forever<S: Store>(iam: Iam<S>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match iam.sweep().await {
            Ok(report) => tracing::info!(
                deleted_accounts = report.deleted_accounts.len(),
                pruned_throttles = report.pruned.throttles,
                pruned_revocations = report.pruned.revocations,
                audit_checkpoint = report.audit_checkpoint,
                "sweep done"
            ),
            Err(e) => tracing::error!(error = %e, "sweep failed"),
        }
    }
}

/// Starts a graceful shutdown on Ctrl-C or SIGTERM.
async fn shutdown_on_signal(handle: axum_server::Handle) {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
}
