#![allow(missing_docs)] // criterion_group! generates undocumented items.
//! Refresh rotations and logins per second through `iam_core::Iam`, on [`MemoryStore`] and on
//! SQLite side by side in one group, so the figures compare as ratios within one run: one
//! caller at a time, and 16 callers at once (where SQLite commits share transactions).
//!
//! Passwords use `PasswordPolicy::insecure_fast_for_tests()` (Argon2id, m = 64 KiB, t = 1,
//! p = 1), so the login figures show the store's share rather than the hash; a production cost
//! makes every login far slower on any store. SQLite runs on a file in a temporary directory,
//! once with the default `Durability::Full` (an fsync per commit) and once with
//! `Durability::Normal`.

use iam_core::Caller;
use std::sync::{Arc, Mutex};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use iam_core::{
    Config, Iam, LoginRequest, MasterKey, MemoryStore, NewAccount, PasswordPolicy, SecretString,
    SecureRandom, Store, ThrottlePolicy,
};
use iam_store_sqlite::{Durability, SqliteStore, SqliteStoreOptions};

const USERNAME: &str = "bench";
const PASSWORD: &str = "bench password";
/// Callers at once in the concurrent benchmarks.
const CONCURRENT: usize = 16;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn config() -> Config {
    let mut config = Config::new(MasterKey::generate(&SecureRandom::from_entropy()));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.throttle = ThrottlePolicy {
        free_failures: 1_000_000,
        ..ThrottlePolicy::default()
    };
    config
}

/// An `Iam` over `store` with one account, and that account's first refresh token.
fn setup<S: Store>(rt: &tokio::runtime::Runtime, store: S) -> (Iam<S>, SecretString) {
    rt.block_on(async {
        let iam = Iam::builder(store, config()).open().await?;
        iam.create_account(NewAccount::human(USERNAME, PASSWORD), Caller::System)
            .await?;
        let login = iam
            .login(&LoginRequest::password(USERNAME, PASSWORD))
            .await?;
        Ok::<_, iam_core::Error>((iam, login.tokens.refresh_token))
    })
    .expect("setup")
}

fn bench_store<S: Store>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: S,
) {
    let (iam, first) = setup(rt, store);
    let iam = Arc::new(iam);

    // One caller at a time: the latency of one operation, as ops/s.
    c.throughput(Throughput::Elements(1));
    let current = Mutex::new(first);
    c.bench_function(BenchmarkId::new("refresh_rotation", name), |b| {
        b.to_async(rt).iter(|| async {
            let token = current.lock().expect("lock").expose().to_owned();
            let pair = iam.refresh(&token).await.expect("refresh");
            *current.lock().expect("lock") = pair.refresh_token;
        });
    });
    let request = LoginRequest::password(USERNAME, PASSWORD);
    c.bench_function(BenchmarkId::new("login", name), |b| {
        b.to_async(rt)
            .iter(|| async { iam.login(&request).await.expect("login") });
    });

    // CONCURRENT callers at once, as a busy server sees them (commits may share a transaction).
    c.throughput(Throughput::Elements(CONCURRENT as u64));
    let sessions: Arc<Vec<Mutex<SecretString>>> = Arc::new(
        rt.block_on(async {
            let mut tokens = Vec::new();
            for _ in 0..CONCURRENT {
                let login = iam.login(&request).await?;
                tokens.push(Mutex::new(login.tokens.refresh_token));
            }
            Ok::<_, iam_core::Error>(tokens)
        })
        .expect("logins"),
    );
    c.bench_function(
        BenchmarkId::new(format!("refresh_rotation_x{CONCURRENT}"), name),
        |b| {
            b.to_async(rt).iter(|| async {
                let mut tasks = tokio::task::JoinSet::new();
                for i in 0..CONCURRENT {
                    let (iam, sessions) = (Arc::clone(&iam), Arc::clone(&sessions));
                    tasks.spawn(async move {
                        let token = sessions[i].lock().expect("lock").expose().to_owned();
                        let pair = iam.refresh(&token).await.expect("refresh");
                        *sessions[i].lock().expect("lock") = pair.refresh_token;
                    });
                }
                while let Some(done) = tasks.join_next().await {
                    done.expect("refresh task");
                }
            });
        },
    );
    c.bench_function(
        BenchmarkId::new(format!("login_x{CONCURRENT}"), name),
        |b| {
            b.to_async(rt).iter(|| async {
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..CONCURRENT {
                    let iam = Arc::clone(&iam);
                    tasks.spawn(async move {
                        iam.login(&LoginRequest::password(USERNAME, PASSWORD))
                            .await
                            .expect("login");
                    });
                }
                while let Some(done) = tasks.join_next().await {
                    done.expect("login task");
                }
            });
        },
    );
}

fn store_throughput(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = |name: &str, durability| {
        let mut options = SqliteStoreOptions::new(dir.path().join(name));
        options.durability = durability;
        rt.block_on(SqliteStore::open_with(options))
            .expect("open sqlite")
    };
    let mut group = c.benchmark_group("store");
    group.sample_size(30);
    group.measurement_time(std::time::Duration::from_secs(4));
    group.warm_up_time(std::time::Duration::from_secs(1));
    bench_store(&mut group, &rt, "memory", MemoryStore::new());
    bench_store(
        &mut group,
        &rt,
        "sqlite_full",
        sqlite("full.db", Durability::Full),
    );
    bench_store(
        &mut group,
        &rt,
        "sqlite_normal",
        sqlite("normal.db", Durability::Normal),
    );
    group.finish();
}

criterion_group!(benches, store_throughput);
criterion_main!(benches);
