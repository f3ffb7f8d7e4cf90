#![allow(missing_docs)] // criterion_group! generates undocumented items.
//! Access-token verification beside its baselines (raw Ed25519, jsonwebtoken EdDSA), and login
//! beside a bare Argon2id verify at the same cost. Compare the figures as ratios within one run.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _};
use iam_core::Caller;
use std::sync::Arc;

use iam_core::{
    Config, Iam, LoginRequest, MasterKey, MemoryStore, NewAccount, PasswordPolicy, SecureRandom,
    VERIFIED_TOKEN_CAPACITY,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn open(rt: &tokio::runtime::Runtime, passwords: PasswordPolicy) -> Iam<Arc<MemoryStore>> {
    let key = MasterKey::generate(&SecureRandom::from_entropy());
    open_on(
        rt,
        &Arc::new(MemoryStore::new()),
        &key,
        passwords,
        VERIFIED_TOKEN_CAPACITY,
    )
}

/// An instance over `store` that remembers at most `verified` verified tokens.
fn open_on(
    rt: &tokio::runtime::Runtime,
    store: &Arc<MemoryStore>,
    key: &MasterKey,
    passwords: PasswordPolicy,
    verified: usize,
) -> Iam<Arc<MemoryStore>> {
    let mut config = Config::new(key.clone());
    config.passwords = passwords;
    config.verified_token_capacity = verified;
    rt.block_on(Iam::builder(Arc::clone(store), config).open())
        .expect("open")
}

fn verify(c: &mut Criterion) {
    let rt = runtime();
    let store = Arc::new(MemoryStore::new());
    let key = MasterKey::generate(&SecureRandom::from_entropy());
    let fast = PasswordPolicy::insecure_fast_for_tests;
    let iam = open_on(&rt, &store, &key, fast(), VERIFIED_TOKEN_CAPACITY);
    // A second instance on the same store that remembers no token: every verification is a
    // first one (signature, claims, revocation).
    let cold = open_on(&rt, &store, &key, fast(), 0);
    let token = rt.block_on(async {
        iam.create_account(
            NewAccount::human("bench", "bench password").with_roles(["admin", "ops"]),
            Caller::System,
        )
        .await?;
        iam.login(&LoginRequest::password("bench", "bench password"))
            .await
    });
    let token = token
        .expect("login")
        .tokens
        .access_token
        .expose()
        .to_owned();
    // A few thousand revocations in the cache, as a busy server would hold.
    rt.block_on(async {
        for i in 0..200 {
            let name = format!("user{i}");
            iam.create_account(
                NewAccount::human(name.clone(), "bench password"),
                Caller::System,
            )
            .await?;
            let l = iam
                .login(&LoginRequest::password(name, "bench password"))
                .await?;
            iam.revoke_session(Caller::System, &l.session.id).await?;
        }
        Ok::<_, iam_core::Error>(())
    })
    .expect("revocations");

    // Raw Ed25519 over a message as long as the token's signed pre-authentication encoding.
    let key = SigningKey::from_bytes(&[7; 32]);
    let vk = key.verifying_key();
    let message = vec![0x5a_u8; token.len() * 3 / 4 + 64];
    let sig = key.sign(&message);

    // jsonwebtoken EdDSA with comparable claims.
    let pkcs8 = [
        &hex32("302e020100300506032b657004220420")[..],
        &[7u8; 32][..],
    ]
    .concat();
    let enc = jsonwebtoken::EncodingKey::from_ed_der(&pkcs8);
    let dec = jsonwebtoken::DecodingKey::from_ed_der(vk.as_bytes());
    let claims = serde_json::json!({
        "iss": "iam", "sub": "acc_0123456789abcdefghijkl", "aud": "iam", "exp": 4_102_444_800_u64,
        "nbf": 1_700_000_000_u64, "iat": 1_700_000_000_u64, "jti": "tok_0123456789abcdefghijkl",
        "sid": "ses_0123456789abcdefghijkl", "kind": "human", "roles": ["admin", "ops"],
    });
    let jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &claims,
        &enc,
    )
    .expect("jwt");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["iam"]);
    validation.set_issuer(&["iam"]);

    let mut g = c.benchmark_group("verify");
    g.bench_function("ed25519_dalek_verify", |b| {
        b.iter(|| vk.verify(&message, &sig).is_ok());
    });
    g.bench_function("ed25519_dalek_verify_strict", |b| {
        b.iter(|| vk.verify_strict(&message, &sig).is_ok());
    });
    g.bench_function("jsonwebtoken_eddsa", |b| {
        b.iter(|| jsonwebtoken::decode::<serde_json::Value>(&jwt, &dec, &validation).is_ok());
    });
    g.bench_function("iam_verify_first_use", |b| {
        b.iter(|| cold.verify_cached(&token).is_ok());
    });
    g.bench_function("iam_verify_first_use_async", |b| {
        b.to_async(&rt)
            .iter(|| async { cold.verify(&token).await.is_ok() });
    });
    g.bench_function("iam_verify_repeated", |b| {
        b.iter(|| iam.verify_cached(&token).is_ok());
    });
    g.finish();
}

fn hex32(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn login(c: &mut Criterion) {
    use argon2::password_hash::{
        PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
    };
    let rt = runtime();
    let policy = PasswordPolicy::default();
    let iam = open(&rt, policy.clone());
    rt.block_on(iam.create_account(NewAccount::human("bench", "bench password"), Caller::System))
        .expect("create");
    let params = argon2::Params::new(
        policy.memory_kib,
        policy.iterations,
        policy.parallelism,
        None,
    )
    .expect("params");
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(&[1u8; 16]).expect("salt");
    let phc = argon
        .hash_password(b"bench password", &salt)
        .expect("hash")
        .to_string();
    let parsed = PasswordHash::new(&phc).expect("parse");

    let mut g = c.benchmark_group("login");
    g.sample_size(20);
    let label = format!(
        "m={},t={},p={}",
        policy.memory_kib, policy.iterations, policy.parallelism
    );
    g.bench_function(BenchmarkId::new("argon2id_verify", &label), |b| {
        b.iter(|| argon.verify_password(b"bench password", &parsed).is_ok());
    });
    g.bench_function(BenchmarkId::new("iam_login", &label), |b| {
        b.to_async(&rt).iter(|| async {
            iam.login(&LoginRequest::password("bench", "bench password"))
                .await
                .is_ok()
        });
    });
    g.finish();
}

criterion_group!(benches, verify, login);
criterion_main!(benches);
