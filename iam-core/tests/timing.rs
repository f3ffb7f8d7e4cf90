//! Login must not reveal whether a username exists: with the real Argon2id cost, a login with
//! an unknown username and one with a known username and a wrong password take the same time
//! (medians within 5 %). Trials are interleaved so drift in machine load hits both sides alike.
//! A busy machine can skew one round, so up to three rounds run and one must hold; a real
//! difference (such as skipping the dummy hash for unknown names) fails every round.

mod common;

use iam_core::Caller;
use std::time::{Duration, Instant};

use iam_core::{Denial, Error, LoginRequest, NewAccount, PasswordPolicy, ThrottlePolicy};

const TRIALS: usize = 41;
const ROUNDS: usize = 3;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_known_usernames_take_the_same_time() {
    let (iam, _) = common::iam_with(|c| {
        c.passwords = PasswordPolicy::default();
        c.throttle = ThrottlePolicy {
            free_failures: u32::MAX,
            ..ThrottlePolicy::default()
        };
    })
    .await;
    iam.create_account(
        NewAccount::human("known", "the right password"),
        Caller::System,
    )
    .await
    .expect("create");
    let unknown = LoginRequest::password("unknown", "some wrong password");
    let known = LoginRequest::password("known", "some wrong password");
    for req in [&unknown, &known] {
        let _ = iam.login(req).await; // warm up both paths
    }
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let mut t_unknown = Vec::with_capacity(TRIALS);
        let mut t_known = Vec::with_capacity(TRIALS);
        for i in 0..TRIALS {
            let order = if i % 2 == 0 {
                [(&unknown, true), (&known, false)]
            } else {
                [(&known, false), (&unknown, true)]
            };
            for (req, is_unknown) in order {
                let start = Instant::now();
                let r = iam.login(req).await;
                let took = start.elapsed();
                assert!(
                    matches!(r, Err(Error::Denied(Denial::BadCredentials))),
                    "both fail alike: {r:?}"
                );
                if is_unknown {
                    t_unknown.push(took);
                } else {
                    t_known.push(took);
                }
            }
        }
        let (a, b) = (median(t_unknown), median(t_known));
        let ratio = a.as_secs_f64() / b.as_secs_f64();
        println!(
            "median login time: unknown username {a:?}, known username {b:?}, ratio {ratio:.3}"
        );
        rounds.push(ratio);
        if (0.95..=1.05).contains(&ratio) {
            return;
        }
    }
    panic!("login time reveals whether a username exists: unknown/known ratios {rounds:?}");
}
