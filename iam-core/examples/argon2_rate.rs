//! The bare Argon2id verify rate at the cost of the default [`PasswordPolicy`], with every core
//! busy: hashes one password, then verifies it in a loop on one thread per available CPU for the
//! given number of seconds, and prints the verifies per second. The ceiling for password logins
//! (examples/peer-bench/run.sh compares iamd's `POST /login` rate with it).
//!
//! `cargo run --release -p iam-core --example argon2_rate -- [SECONDS]` (default 10).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use iam_core::{PasswordPolicy, SecureRandom};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = match std::env::args().nth(1) {
        Some(s) => s
            .parse()
            .map_err(|_| format!("not a number of seconds: {s}"))?,
        None => 10,
    };
    let policy = PasswordPolicy::default();
    let params = Params::new(
        policy.memory_kib,
        policy.iterations,
        policy.parallelism,
        None,
    )
    .map_err(|e| format!("the default policy's parameters: {e}"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(&SecureRandom::from_entropy().bytes::<16>())
        .map_err(|e| format!("salt: {e}"))?;
    let password = b"correct horse battery staple";
    let phc = argon
        .hash_password(password, &salt)
        .map_err(|e| format!("hashing: {e}"))?
        .to_string();

    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let stop = Arc::new(AtomicBool::new(false));
    let verified = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (argon, phc) = (argon.clone(), phc.clone());
            let (stop, verified) = (stop.clone(), verified.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let parsed = PasswordHash::new(&phc).map_err(|e| e.to_string())?;
                while !stop.load(Ordering::Relaxed) {
                    argon
                        .verify_password(password, &parsed)
                        .map_err(|e| format!("the password did not verify: {e}"))?;
                    verified.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().map_err(|_| "a verifying thread panicked")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = verified.load(Ordering::Relaxed);
    println!(
        "Argon2id m={} KiB t={} p={}: {n} verifies in {elapsed:.2} s on {threads} thread(s)",
        policy.memory_kib, policy.iterations, policy.parallelism
    );
    // Last line, for scripts: verifies per second.
    println!("{:.1}", f64::from(n) / elapsed);
    Ok(())
}
