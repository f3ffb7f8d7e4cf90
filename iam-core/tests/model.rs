//! Property-based model test: random operation sequences against the real service, compared
//! step by step with a plain reference model. Above all it shows that no access token verifies
//! after its session is revoked, its account disabled, or its expiry passed; that a replaced
//! or revoked service token never verifies; and that no token carries an elevated role after
//! the elevation ended.

mod common;

use iam_core::Caller;
use std::collections::HashMap;
use std::time::Duration;

use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::{
    Clock, Config, Denial, ElevationOutcome, Error, InvalidInput, LoginRequest, NewAccount,
    Principal, StepUpProof, ThrottlePolicy, Timestamp,
};
use proptest::prelude::*;

const PW: &str = "model password";
const USERS: [&str; 3] = ["ann", "ben", "cat"];

#[derive(Clone, Debug)]
enum Op {
    Create(usize),
    Login {
        user: usize,
        right_password: bool,
    },
    Refresh(usize),
    Revoke(usize),
    Disable(usize),
    Enable(usize),
    RotateKey,
    Advance(u64),
    Verify(usize),
    /// Opens the elevatable role for a session, for this many seconds.
    Elevate {
        session: usize,
        secs: u64,
    },
    EndElevation(usize),
    IssueServiceToken,
    RevokeServiceToken,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..3usize).prop_map(Op::Create),
        4 => (0..3usize, prop::bool::weighted(0.85)).prop_map(|(user, right_password)| Op::Login { user, right_password }),
        4 => (0..64usize).prop_map(Op::Refresh),
        1 => (0..64usize).prop_map(Op::Revoke),
        1 => (0..3usize).prop_map(Op::Disable),
        1 => (0..3usize).prop_map(Op::Enable),
        1 => Just(Op::RotateKey),
        3 => prop_oneof![Just(0u64), 1..5u64, 60..1200u64].prop_map(Op::Advance),
        6 => (0..64usize).prop_map(Op::Verify),
        2 => (0..64usize, prop_oneof![1..600u64, 590..700u64]).prop_map(|(session, secs)| Op::Elevate { session, secs }),
        1 => (0..64usize).prop_map(Op::EndElevation),
        1 => Just(Op::IssueServiceToken),
        1 => Just(Op::RevokeServiceToken),
    ]
}

#[derive(Default)]
struct ModelAccount {
    id: String,
    disabled: bool,
    /// Tokens minted before this step are void (the account was disabled, then enabled).
    not_before: Option<usize>,
}

struct ModelSession {
    user: usize,
    revoked: bool,
    expires_at: Timestamp,
    /// The open elevation of `ELEVATED` ends then.
    elevated_until: Option<Timestamp>,
    /// Tokens of this session minted before this step are void (an elevation ended early).
    cut: Option<usize>,
}

impl ModelSession {
    fn elevation_open(&self, now: Timestamp) -> bool {
        self.elevated_until.is_some_and(|u| u > now)
    }

    /// The expiry of an access token minted at `now`.
    fn token_exp(&self, now: Timestamp) -> Timestamp {
        let exp = now.plus(ACCESS_TTL).min(self.expires_at);
        match self.elevated_until {
            Some(u) if u > now => exp.min(u),
            _ => exp,
        }
    }
}

struct ModelServiceToken {
    token: String,
    exp: Timestamp,
    revoked: bool,
}

struct ModelRefresh {
    token: String,
    session: String,
    used: bool,
}

struct ModelAccess {
    token: String,
    session: String,
    user: usize,
    /// The step that minted it. Cut-offs and mints are ordered by step, not by clock: the
    /// clock often stands still across steps, and a token minted after a cut-off in the same
    /// millisecond must live.
    step: usize,
    exp: Timestamp,
}

#[derive(Default)]
struct Model {
    accounts: HashMap<usize, ModelAccount>,
    sessions: HashMap<String, ModelSession>,
    refresh: Vec<ModelRefresh>,
    access: Vec<ModelAccess>,
    service: Vec<ModelServiceToken>,
}

impl Model {
    fn access_valid(&self, a: &ModelAccess, now: Timestamp) -> bool {
        let acc = &self.accounts[&a.user];
        let s = &self.sessions[&a.session];
        now < a.exp
            && !s.revoked
            && !acc.disabled
            && acc.not_before.is_none_or(|nb| a.step >= nb)
            && s.cut.is_none_or(|c| a.step >= c)
    }

    /// The principal of the newest access token of the `i`-th refresh token's session that
    /// is still valid, if any.
    fn session_principal(&self, i: usize, now: Timestamp) -> Option<(String, &ModelAccess)> {
        if self.refresh.is_empty() {
            return None;
        }
        let sid = &self.refresh[i % self.refresh.len()].session;
        self.access
            .iter()
            .rev()
            .find(|a| &a.session == sid && self.access_valid(a, now))
            .map(|a| (sid.clone(), a))
    }
}

/// The role every model account may elevate to.
const ELEVATED: &str = "ops";
const ELEVATION_MAX: Duration = Duration::from_secs(600);
const SERVICE_TTL: Duration = Duration::from_secs(3600);

async fn principal_of<S: iam_core::Store, C: Clock>(
    iam: &iam_core::Iam<S, C>,
    token: &str,
) -> Result<Principal, TestCaseError> {
    iam.verify(token)
        .await
        .map_err(|d| TestCaseError::fail(format!("model says valid, verify says {d:?}")))
}

const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
const SESSION_TTL: Duration = Duration::from_secs(45 * 60);

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (iam, clock) = common::iam_with(|c: &mut Config| {
            c.session_ttl = SESSION_TTL;
            c.access_token_ttl = ACCESS_TTL;
            c.throttle = ThrottlePolicy {
                free_failures: u32::MAX,
                ..ThrottlePolicy::default()
            };
            c.service_token_ttl = SERVICE_TTL;
            c.default_elevation = ElevationPolicy {
                step_up: StepUp::None,
                approver_role: None,
                max_duration: ELEVATION_MAX,
            };
        })
        .await;
        let fail = |e: Error| TestCaseError::fail(e.to_string());
        let admin = iam
            .create_account(
                NewAccount::human("root", PW).with_roles(["admin"]),
                Caller::System,
            )
            .await
            .map_err(fail)?;
        let login = iam
            .login(&LoginRequest::password("root", PW))
            .await
            .map_err(fail)?;
        let admin_principal = principal_of(&iam, login.tokens.access_token.expose()).await?;
        prop_assert_eq!(&admin_principal.account_id, &admin.id);
        let service = iam
            .create_account(NewAccount::system("svc"), Caller::System)
            .await
            .map_err(fail)?;
        let mut m = Model::default();
        for (step, op) in ops.into_iter().enumerate() {
            let now = clock.now();
            match op {
                Op::Create(u) => {
                    let r = iam
                        .create_account(NewAccount::human(USERS[u], PW), Caller::System)
                        .await;
                    if let std::collections::hash_map::Entry::Vacant(e) = m.accounts.entry(u) {
                        let acc = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        iam.grant_elevatable_role(Caller::System, &acc.id, ELEVATED)
                            .await
                            .map_err(fail)?;
                        e.insert(ModelAccount {
                            id: acc.id,
                            ..ModelAccount::default()
                        });
                    } else {
                        prop_assert!(matches!(r, Err(Error::UsernameTaken)));
                    }
                }
                Op::Login {
                    user,
                    right_password,
                } => {
                    let pw = if right_password { PW } else { "wrong password" };
                    let r = iam.login(&LoginRequest::password(USERS[user], pw)).await;
                    match m.accounts.get(&user) {
                        Some(acc) if right_password && !acc.disabled => {
                            let ok = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
                            let exp = now.plus(ACCESS_TTL);
                            m.sessions.insert(
                                ok.session.id.clone(),
                                ModelSession {
                                    user,
                                    revoked: false,
                                    expires_at: now.plus(SESSION_TTL),
                                    elevated_until: None,
                                    cut: None,
                                },
                            );
                            m.refresh.push(ModelRefresh {
                                token: ok.tokens.refresh_token.expose().to_owned(),
                                session: ok.session.id.clone(),
                                used: false,
                            });
                            m.access.push(ModelAccess {
                                token: ok.tokens.access_token.expose().to_owned(),
                                session: ok.session.id,
                                user,
                                step,
                                exp,
                            });
                        }
                        Some(acc) if right_password && acc.disabled => {
                            prop_assert_eq!(
                                r.err().and_then(|e| e.denial().cloned()),
                                Some(Denial::AccountDisabled)
                            );
                        }
                        _ => prop_assert_eq!(
                            r.err().and_then(|e| e.denial().cloned()),
                            Some(Denial::BadCredentials)
                        ),
                    }
                }
                Op::Refresh(i) => {
                    if m.refresh.is_empty() {
                        continue;
                    }
                    let i = i % m.refresh.len();
                    let (token, sid, used) = (
                        m.refresh[i].token.clone(),
                        m.refresh[i].session.clone(),
                        m.refresh[i].used,
                    );
                    let r = iam.refresh(&token).await;
                    let s = &m.sessions[&sid];
                    let user = s.user;
                    let expected = if used {
                        Some(Denial::RefreshTokenReused)
                    } else if s.revoked {
                        Some(Denial::SessionRevoked)
                    } else if now >= s.expires_at {
                        Some(Denial::SessionExpired)
                    } else if m.accounts[&user].disabled {
                        Some(Denial::AccountDisabled)
                    } else {
                        None
                    };
                    if used {
                        if let Some(s) = m.sessions.get_mut(&sid) {
                            s.revoked = true;
                        }
                    }
                    if let Some(d) = expected {
                        prop_assert_eq!(r.err().and_then(|e| e.denial().cloned()), Some(d));
                    } else {
                        let pair = r.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        m.refresh[i].used = true;
                        let exp = m.sessions[&sid].token_exp(now);
                        m.refresh.push(ModelRefresh {
                            token: pair.refresh_token.expose().to_owned(),
                            session: sid.clone(),
                            used: false,
                        });
                        m.access.push(ModelAccess {
                            token: pair.access_token.expose().to_owned(),
                            session: sid,
                            user,
                            step,
                            exp,
                        });
                    }
                }
                Op::Revoke(i) => {
                    if m.refresh.is_empty() {
                        continue;
                    }
                    let sid = m.refresh[i % m.refresh.len()].session.clone();
                    iam.revoke_session(Caller::System, &sid)
                        .await
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    if let Some(s) = m.sessions.get_mut(&sid) {
                        s.revoked = true;
                    }
                }
                Op::Disable(u) => {
                    if let Some(acc) = m.accounts.get_mut(&u) {
                        iam.disable_account(Caller::System, &acc.id)
                            .await
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        acc.disabled = true;
                    }
                }
                Op::Enable(u) => {
                    if let Some(acc) = m.accounts.get_mut(&u) {
                        iam.enable_account(Caller::System, &acc.id)
                            .await
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        if acc.disabled {
                            acc.disabled = false;
                            acc.not_before = Some(step);
                        }
                    }
                }
                Op::RotateKey => {
                    iam.rotate_signing_key(Caller::System)
                        .await
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
                Op::Advance(secs) => clock.advance(Duration::from_millis(secs * 1000 + 1)),
                Op::Elevate { session, secs } => {
                    let Some((sid, newest)) = m.session_principal(session, now) else {
                        continue;
                    };
                    let user = newest.user;
                    let principal = principal_of(&iam, &newest.token).await?;
                    let wanted = Duration::from_secs(secs);
                    let r = iam
                        .elevate(&principal, ELEVATED, Some(wanted), &StepUpProof::default())
                        .await;
                    if wanted > ELEVATION_MAX {
                        prop_assert!(
                            matches!(r, Err(Error::Invalid(InvalidInput::DurationTooLong { .. }))),
                            "over-long elevation: {:?}",
                            r
                        );
                        continue;
                    }
                    let Ok(ElevationOutcome::Active {
                        elevation,
                        access_token,
                    }) = r
                    else {
                        return Err(TestCaseError::fail(format!("elevate failed: {r:?}")));
                    };
                    let s = m
                        .sessions
                        .get_mut(&sid)
                        .ok_or_else(|| TestCaseError::fail("no session"))?;
                    // Re-opening an open elevation never shortens it.
                    let until = now.plus(wanted).min(s.expires_at).max(
                        s.elevated_until
                            .filter(|u| *u > now)
                            .unwrap_or(Timestamp::MIN),
                    );
                    prop_assert_eq!(elevation.until, until);
                    s.elevated_until = Some(until);
                    let exp = s.token_exp(now);
                    m.access.push(ModelAccess {
                        token: access_token.expose().to_owned(),
                        session: sid,
                        user,
                        step,
                        exp,
                    });
                }
                Op::EndElevation(session) => {
                    let Some((sid, newest)) = m.session_principal(session, now) else {
                        continue;
                    };
                    let principal = principal_of(&iam, &newest.token).await?;
                    iam.end_elevation(&principal, ELEVATED)
                        .await
                        .map_err(fail)?;
                    let s = m
                        .sessions
                        .get_mut(&sid)
                        .ok_or_else(|| TestCaseError::fail("no session"))?;
                    if s.elevation_open(now) {
                        s.cut = Some(step);
                    }
                    s.elevated_until = None;
                }
                Op::IssueServiceToken => {
                    let issued = iam
                        .issue_service_token(&admin_principal, &service.id)
                        .await
                        .map_err(fail)?;
                    prop_assert_eq!(issued.expires_at, now.plus(SERVICE_TTL));
                    for t in &mut m.service {
                        t.revoked = true;
                    }
                    m.service.push(ModelServiceToken {
                        token: issued.token.expose().to_owned(),
                        exp: issued.expires_at,
                        revoked: false,
                    });
                }
                Op::RevokeServiceToken => {
                    iam.revoke_service_token(&admin_principal, &service.id)
                        .await
                        .map_err(fail)?;
                    for t in &mut m.service {
                        t.revoked = true;
                    }
                }
                Op::Verify(i) => {
                    if m.access.is_empty() {
                        continue;
                    }
                    let a = &m.access[i % m.access.len()];
                    let r = iam.verify(&a.token).await;
                    let valid = m.access_valid(a, now);
                    prop_assert_eq!(
                        r.is_ok(),
                        valid,
                        "verify {:?} with model valid={}",
                        r,
                        valid
                    );
                }
            }
            // The safety invariants, over every token ever issued, after every step.
            let now = clock.now();
            for a in &m.access {
                match iam.verify_cached(&a.token) {
                    Ok(p) => {
                        prop_assert!(m.access_valid(a, now), "a dead token verified");
                        prop_assert!(
                            !p.has_role(ELEVATED) || m.sessions[&a.session].elevation_open(now),
                            "a token carries an elevated role after the elevation ended"
                        );
                    }
                    Err(_) => prop_assert!(!m.access_valid(a, now), "a live token was refused"),
                }
            }
            for t in &m.service {
                let valid = !t.revoked && now < t.exp;
                prop_assert_eq!(
                    iam.verify_cached(&t.token).is_ok(),
                    valid,
                    "service token validity"
                );
            }
        }
        let chain = iam
            .verify_audit_chain(Caller::System)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(chain > 0);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn service_matches_the_reference_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}
