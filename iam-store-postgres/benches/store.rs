//! Throughput of the operations that hit the store hardest, on a real PostgreSQL server:
//! refresh-token rotations and password logins.
//!
//! Run with `cargo bench -p iam-store-postgres --bench store`. The server is
//! `postgres://postgres@127.0.0.1:5432/test` unless `IAM_TEST_POSTGRES_URL` says otherwise; the
//! bench works in a fresh schema that it drops at the end, and skips with a message when the
//! server is unreachable.
//!
//! Password hashing uses `PasswordPolicy::insecure_fast_for_tests()` (a tiny Argon2id cost), so
//! the login figures measure iam and the store, not Argon2; with production costs a login is
//! dominated by the hash.

use iam_core::Caller;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use iam_core::{Config, Iam, LoginRequest, MasterKey, NewAccount, PasswordPolicy, SecureRandom};
use iam_store_postgres::{PostgresStore, PostgresStoreOptions};

const PASSWORD: &str = "correct horse battery";
/// Tasks running at once in the concurrent variants.
const CONCURRENCY: u64 = 16;

fn url() -> String {
    std::env::var("IAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn schema_name() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    std::process::id().hash(&mut h);
    std::time::SystemTime::now().hash(&mut h);
    format!("iam_bench_{:016x}", h.finish())
}

async fn open(schema: &str) -> Result<Iam<PostgresStore>, String> {
    let options = PostgresStoreOptions::new(&url())
        .map_err(|e| e.to_string())?
        .schema(schema)
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5));
    let store = PostgresStore::open(options)
        .await
        .map_err(|e| e.to_string())?;
    let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    let iam = Iam::builder(store, config)
        .open()
        .await
        .map_err(|e| e.to_string())?;
    iam.create_account(NewAccount::human("bench", PASSWORD), Caller::System)
        .await
        .map_err(|e| e.to_string())?;
    Ok(iam)
}

async fn login(iam: &Iam<PostgresStore>) -> String {
    iam.login(&LoginRequest::password("bench", PASSWORD))
        .await
        .expect("login")
        .tokens
        .refresh_token
        .expose()
        .to_owned()
}

fn bench_refresh(c: &mut Criterion, rt: &tokio::runtime::Runtime, iam: &Iam<PostgresStore>) {
    let mut group = c.benchmark_group("refresh_rotation");
    group.throughput(Throughput::Elements(1));
    let current = Arc::new(Mutex::new(rt.block_on(login(iam))));
    group.bench_function("sequential", |b| {
        b.to_async(rt).iter(|| {
            let current = Arc::clone(&current);
            async move {
                let token = current
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                let next = iam.refresh(&token).await.expect("rotation");
                next.refresh_token
                    .expose()
                    .clone_into(&mut current.lock().unwrap_or_else(PoisonError::into_inner));
            }
        });
    });
    group.bench_function(format!("concurrent_{CONCURRENCY}"), |b| {
        b.to_async(rt).iter_custom(|iters| async move {
            let mut tokens = Vec::new();
            for _ in 0..CONCURRENCY {
                tokens.push(login(iam).await);
            }
            let start = Instant::now();
            let tasks: Vec<_> = tokens
                .into_iter()
                .enumerate()
                .map(|(i, mut token)| {
                    let iam = iam.clone();
                    let n = iters / CONCURRENCY + u64::from((i as u64) < iters % CONCURRENCY);
                    tokio::spawn(async move {
                        for _ in 0..n {
                            let next = iam.refresh(&token).await.expect("rotation");
                            next.refresh_token.expose().clone_into(&mut token);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("rotation task");
            }
            start.elapsed()
        });
    });
    group.finish();
}

fn bench_login(c: &mut Criterion, rt: &tokio::runtime::Runtime, iam: &Iam<PostgresStore>) {
    let mut group = c.benchmark_group("login_fast_argon2");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sequential", |b| {
        b.to_async(rt).iter(|| async {
            login(iam).await;
        });
    });
    group.bench_function(format!("concurrent_{CONCURRENCY}"), |b| {
        b.to_async(rt).iter_custom(|iters| async move {
            let start = Instant::now();
            let tasks: Vec<_> = (0..CONCURRENCY)
                .map(|i| {
                    let iam = iam.clone();
                    let n = iters / CONCURRENCY + u64::from(i < iters % CONCURRENCY);
                    tokio::spawn(async move {
                        for _ in 0..n {
                            login(&iam).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("login task");
            }
            start.elapsed()
        });
    });
    group.finish();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let schema = schema_name();
    let iam = match rt.block_on(open(&schema)) {
        Ok(iam) => iam,
        Err(e) => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but PostgreSQL at {} is unusable: {e}",
                url()
            );
            eprintln!("SKIPPED: PostgreSQL at {} is unusable: {e}", url());
            return;
        }
    };
    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5));
    bench_refresh(&mut c, &rt, &iam);
    bench_login(&mut c, &rt, &iam);
    c.final_summary();
    let pool = iam.store().pool().clone();
    rt.block_on(async {
        if let Err(e) = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .execute(&pool)
            .await
        {
            eprintln!("could not drop bench schema {schema}: {e}");
        }
    });
    drop(iam);
}
