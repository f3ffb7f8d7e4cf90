//! Drives the core state machine with arbitrary operation sequences and checks the invariants
//! after every step: no access token verifies after its session was revoked, its account
//! disabled, its elevation ended early, or its expiry passed; every other token verifies (also
//! one minted in the same millisecond as a cut-off that came before it); a used refresh token
//! never refreshes again.
#![no_main]

use iam_core::Caller;
use std::time::Duration;

use arbitrary::Arbitrary;
use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::{
    Clock, Config, ElevationOutcome, Iam, LoginRequest, ManualClock, MasterKey, MemoryStore,
    NewAccount, PasswordPolicy, StepUpProof, ThrottlePolicy, Timestamp,
};
use libfuzzer_sys::fuzz_target;

const PW: &str = "fuzz password";
const USERS: [&str; 2] = ["ann", "ben"];

#[derive(Arbitrary, Debug)]
enum Op {
    Create(u8),
    Login(u8),
    Refresh(u8),
    Revoke(u8),
    Disable(u8),
    Enable(u8),
    Elevate(u8, u16),
    EndElevation(u8),
    RotateKey,
    Advance(u16),
}

/// A token and why it must die.
struct Issued {
    token: String,
    account: usize,
    session: String,
    exp: Timestamp,
    /// The step that minted it: cut-offs are ordered by step, not by clock (the clock often
    /// stands still across several steps).
    step: usize,
}

struct Refresh {
    token: String,
    session: String,
    used: bool,
}

fuzz_target!(|ops: Vec<Op>| {
    if ops.len() > 64 {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(ops));
});

async fn run(ops: Vec<Op>) {
    let clock = ManualClock::new(Timestamp::from_secs(1_767_225_600));
    let mut config = Config::new(MasterKey::from_bytes([3; 32]));
    config.passwords = PasswordPolicy::insecure_fast_for_tests();
    config.throttle = ThrottlePolicy {
        free_failures: u32::MAX,
        ..ThrottlePolicy::default()
    };
    config.default_elevation = ElevationPolicy {
        step_up: StepUp::None,
        approver_role: None,
        max_duration: Duration::from_secs(600),
    };
    let iam = Iam::builder(MemoryStore::new(), config)
        .clock(clock.clone())
        .open()
        .await
        .expect("open");
    let mut accounts: [Option<String>; 2] = [None, None];
    // Tokens minted before these steps are dead: per account (disable, then enable), per
    // session (revoke: every token; early end of an elevation).
    let mut account_dead_before: [Option<usize>; 2] = [None, None];
    let mut disabled = [false; 2];
    let mut session_dead: std::collections::HashMap<String, usize> = Default::default();
    let mut issued: Vec<Issued> = Vec::new();
    let mut refresh: Vec<Refresh> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let now = clock.now();
        match op {
            Op::Create(u) => {
                let u = usize::from(u) % 2;
                if let Ok(a) = iam
                    .create_account(NewAccount::human(USERS[u], PW), Caller::System)
                    .await
                {
                    let _ = iam.grant_elevatable_role(Caller::System, &a.id, "ops").await;
                    accounts[u] = Some(a.id);
                }
            }
            Op::Login(u) => {
                let u = usize::from(u) % 2;
                if let Ok(l) = iam.login(&LoginRequest::password(USERS[u], PW)).await {
                    assert!(!disabled[u], "a disabled account logged in");
                    let p = iam
                        .verify(l.tokens.access_token.expose())
                        .await
                        .expect("a fresh token verifies");
                    issued.push(Issued {
                        token: l.tokens.access_token.expose().to_owned(),
                        account: u,
                        session: p.session_id.clone(),
                        exp: p.expires_at,
                        step,
                    });
                    refresh.push(Refresh {
                        token: l.tokens.refresh_token.expose().to_owned(),
                        session: p.session_id.clone(),
                        used: false,
                    });
                }
            }
            Op::Refresh(i) => {
                if refresh.is_empty() {
                    continue;
                }
                let i = usize::from(i) % refresh.len();
                let r = iam.refresh(&refresh[i].token).await;
                if let Ok(pair) = r {
                    assert!(!refresh[i].used, "a used refresh token refreshed again");
                    refresh[i].used = true;
                    refresh.push(Refresh {
                        token: pair.refresh_token.expose().to_owned(),
                        session: refresh[i].session.clone(),
                        used: false,
                    });
                    let p = iam
                        .verify(pair.access_token.expose())
                        .await
                        .expect("a refreshed token verifies");
                    let account = accounts
                        .iter()
                        .position(|a| a.as_deref() == Some(p.account_id.as_str()))
                        .expect("known account");
                    issued.push(Issued {
                        token: pair.access_token.expose().to_owned(),
                        account,
                        session: p.session_id,
                        exp: p.expires_at,
                        step,
                    });
                } else if refresh[i].used {
                    // Reuse of a rotated refresh token revokes its whole session.
                    session_dead.insert(refresh[i].session.clone(), usize::MAX);
                }
            }
            Op::Revoke(i) => {
                if issued.is_empty() {
                    continue;
                }
                let sid = issued[usize::from(i) % issued.len()].session.clone();
                iam.revoke_session(Caller::System, &sid).await.expect("revoke");
                session_dead.insert(sid, usize::MAX);
            }
            Op::Disable(u) | Op::Enable(u) if accounts[usize::from(u) % 2].is_none() => {}
            Op::Disable(u) => {
                let u = usize::from(u) % 2;
                let id = accounts[u].clone().expect("exists");
                iam.disable_account(Caller::System, &id).await.expect("disable");
                disabled[u] = true;
            }
            Op::Enable(u) => {
                let u = usize::from(u) % 2;
                let id = accounts[u].clone().expect("exists");
                iam.enable_account(Caller::System, &id).await.expect("enable");
                if disabled[u] {
                    disabled[u] = false;
                    account_dead_before[u] = Some(step);
                }
            }
            Op::Elevate(i, secs) => {
                if issued.is_empty() {
                    continue;
                }
                let a = &issued[usize::from(i) % issued.len()];
                let Ok(p) = iam.verify(&a.token).await else {
                    continue;
                };
                let wanted = Duration::from_secs(u64::from(secs % 700) + 1);
                if let Ok(ElevationOutcome::Active {
                    access_token,
                    elevation,
                }) = iam
                    .elevate(&p, "ops", Some(wanted), &StepUpProof::default())
                    .await
                {
                    assert!(
                        wanted <= Duration::from_secs(600),
                        "over-long elevation opened"
                    );
                    let q = iam
                        .verify(access_token.expose())
                        .await
                        .expect("a fresh elevated token verifies");
                    assert!(
                        q.expires_at <= elevation.until,
                        "token outlives its elevation"
                    );
                    issued.push(Issued {
                        token: access_token.expose().to_owned(),
                        account: a.account,
                        session: q.session_id,
                        exp: q.expires_at,
                        step,
                    });
                }
            }
            Op::EndElevation(i) => {
                if issued.is_empty() {
                    continue;
                }
                let a = &issued[usize::from(i) % issued.len()];
                let Ok(p) = iam.verify(&a.token).await else {
                    continue;
                };
                let session = iam.session(&p.session_id).await.expect("session");
                let open = session.active_elevations(now).any(|e| e.role == "ops");
                iam.end_elevation(&p, "ops").await.expect("end elevation");
                if open {
                    let cut = session_dead.entry(p.session_id).or_insert(step);
                    if *cut != usize::MAX {
                        *cut = step;
                    }
                }
            }
            Op::RotateKey => {
                iam.rotate_signing_key(Caller::System).await.expect("rotate");
            }
            Op::Advance(secs) => clock.advance(Duration::from_millis(u64::from(secs) * 100 + 1)),
        }
        let now = clock.now();
        for t in &issued {
            let dead = now >= t.exp
                || disabled[t.account]
                || account_dead_before[t.account].is_some_and(|b| t.step < b)
                || session_dead.get(&t.session).is_some_and(|b| t.step < *b);
            assert_eq!(
                iam.verify_cached(&t.token).is_ok(),
                !dead,
                "a dead token verified, or a live one was refused"
            );
            if let Ok(p) = iam.verify_cached(&t.token) {
                if p.has_role("ops") {
                    let s = iam.session(&p.session_id).await.expect("session");
                    assert!(
                        s.active_elevations(now).any(|e| e.role == "ops"),
                        "a token carries an elevated role after the elevation ended"
                    );
                }
            }
        }
    }
}
