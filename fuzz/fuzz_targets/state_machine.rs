//! Drives the core state machine with arbitrary operation sequences and checks the invariants
//! after every step: no access token verifies after its session was revoked, its account
//! disabled, its elevation ended early, or its expiry passed; every other token verifies (also
//! one minted in the same millisecond as a cut-off that came before it); a used refresh token
//! never refreshes again.
//!
//! With credential kinds: personal API tokens and client-credentials tokens of clients acting
//! for their owner attempt privileged actions, and each attempt must be allowed or denied as
//! the model's oracle (shared with iam-core's model test) says; tokens acting for an account
//! die with its sign-out-everywhere, its disabling and the removal of a role, and no token
//! carries a role its account no longer holds.
#![no_main]

use iam_core::Caller;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use arbitrary::Arbitrary;
use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::{
    ClientAuth, Clock, Config, Denial, ElevationOutcome, Error, GrantType, Iam, LoginRequest,
    ManualClock, MasterKey, MemoryStore, NewAccount, NewClient, PasswordPolicy, StepUpProof,
    ThrottlePolicy, Timestamp, TokenRequest,
};
use libfuzzer_sys::fuzz_target;

#[path = "../../iam-core/tests/oracle/mod.rs"]
mod oracle;
use oracle::{Attempt, Holder, Kind};

/// Standing roles the target grants and removes.
const ROLES: [&str; 2] = [oracle::ADMIN, "dev"];
const API_TTL: Duration = Duration::from_secs(3600);
/// See `KNOWN_ISSUE_SAME_MS_ACTING_TOKEN` in iam-core/tests/model.rs: while the core voids an
/// acting-for-owner token minted in the millisecond of its owner's cut-off, such a token is
/// accepted as dead at birth (only when its owner had a cut-off within this many ms).
const KNOWN_ISSUE_CUTOFF_SLACK_MS: Option<i64> = None;

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
    /// Grant (true) or remove one of [`ROLES`] (by the first bool) for a user.
    Role(u8, bool, bool),
    SignOutEverywhere(u8),
    /// A credential (kind, index) attempts action `act` with scope set `scopes` (its top bit:
    /// first-party client).
    Attempt {
        kind: u8,
        index: u8,
        act: u8,
        scopes: u8,
    },
    ClientToken(u8),
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
    /// The standing roles it carries.
    roles: BTreeSet<String>,
}

struct ApiToken {
    secret: String,
    account: usize,
    scopes: BTreeSet<String>,
    exp: Timestamp,
}

struct Client {
    id: String,
    secret: String,
    owner: Option<usize>,
    scopes: BTreeSet<String>,
}

struct ClientToken {
    token: String,
    owner: usize,
    step: usize,
    exp: Timestamp,
    roles: BTreeSet<String>,
    scopes: BTreeSet<String>,
    born_dead: bool,
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
    pollster::block_on(run(ops));
});

/// What the target knows of one account.
#[derive(Default)]
struct Account {
    id: Option<String>,
    disabled: bool,
    /// Its tokens (and tokens acting for it) minted before this step are dead (enabled again
    /// after a disable, signed out everywhere, lost a role).
    dead_before: Option<usize>,
    /// Tokens acting for it minted before this step are dead (disabled, signed out
    /// everywhere, lost a role).
    delegation_dead_before: Option<usize>,
    /// The clock when its latest cut-off was made.
    cut_at: Option<Timestamp>,
    roles: BTreeSet<String>,
}

impl Account {
    fn cut(&mut self, step: usize, now: Timestamp) {
        if !self.disabled {
            self.dead_before = Some(step);
        }
        self.delegation_dead_before = Some(step);
        self.cut_at = Some(now);
    }

    fn admits(&self, step: usize, delegated: bool) -> bool {
        !self.disabled
            && self.dead_before.is_none_or(|b| step >= b)
            && (!delegated || self.delegation_dead_before.is_none_or(|b| step >= b))
    }
}

/// Everything the target tracks.
#[derive(Default)]
struct State {
    accounts: [Account; 2],
    /// Tokens of a session minted before this step are dead (`usize::MAX`: revoked).
    session_dead: HashMap<String, usize>,
    session_account: HashMap<String, usize>,
    session_auth: HashMap<String, Timestamp>,
    issued: Vec<Issued>,
    refresh: Vec<Refresh>,
    api: Vec<ApiToken>,
    clients: Vec<Client>,
    client_tokens: Vec<ClientToken>,
}

impl State {
    fn issued_live(&self, t: &Issued, now: Timestamp) -> bool {
        now < t.exp
            && self.accounts[t.account].admits(t.step, false)
            && self
                .session_dead
                .get(&t.session)
                .is_none_or(|b| t.step >= *b)
    }

    fn api_live(&self, t: &ApiToken, now: Timestamp) -> bool {
        now < t.exp && !self.accounts[t.account].disabled
    }

    fn client_token_live(&self, t: &ClientToken, now: Timestamp) -> bool {
        !t.born_dead && now < t.exp && self.accounts[t.owner].admits(t.step, true)
    }

    fn sign_out_everywhere(&mut self, u: usize, step: usize, now: Timestamp) {
        for (sid, _) in self.session_account.iter().filter(|(_, a)| **a == u) {
            self.session_dead.insert(sid.clone(), usize::MAX);
        }
        self.accounts[u].cut(step, now);
    }

    /// The `index`-th live credential of `kind`: its token, what the oracle knows of it,
    /// the account it stands for, and whether that is its subject.
    fn credential(
        &self,
        kind: u8,
        index: u8,
        now: Timestamp,
    ) -> Option<(String, Holder, usize, bool)> {
        fn pick<T>(v: &[T], i: u8, live: impl Fn(&T) -> bool) -> Option<&T> {
            let l: Vec<&T> = v.iter().filter(|t| live(t)).collect();
            (!l.is_empty()).then(|| l[usize::from(i) % l.len()])
        }
        match kind % 3 {
            0 => {
                let t = pick(&self.issued, index, |t| self.issued_live(t, now))?;
                let holder = Holder {
                    kind: Kind::Session,
                    roles: t.roles.clone(),
                    scopes: BTreeSet::new(),
                    signed_in_at: *self.session_auth.get(&t.session)?,
                };
                Some((t.token.clone(), holder, t.account, true))
            }
            1 => {
                let t = pick(&self.api, index, |t| self.api_live(t, now))?;
                let (roles, scopes) =
                    oracle::api_token_carries(&self.accounts[t.account].roles, &t.scopes);
                let holder = Holder {
                    kind: Kind::ApiToken,
                    roles,
                    scopes,
                    signed_in_at: Timestamp::MIN,
                };
                Some((t.secret.clone(), holder, t.account, true))
            }
            _ => {
                let t = pick(&self.client_tokens, index, |t| {
                    self.client_token_live(t, now)
                })?;
                let holder = Holder {
                    kind: Kind::ClientToken,
                    roles: t.roles.clone(),
                    scopes: t.scopes.clone(),
                    signed_in_at: Timestamp::MIN,
                };
                Some((t.token.clone(), holder, t.owner, false))
            }
        }
    }
}

/// Checks the service's answer to an attempt against the oracle; returns the success.
fn expect<T: std::fmt::Debug>(what: &str, allowed: bool, r: Result<T, Error>) -> Option<T> {
    match (allowed, r) {
        (true, Ok(v)) => Some(v),
        (false, Err(Error::Denied(_))) => None,
        (_, r) => panic!("{what}: the oracle says allowed={allowed}, the service answered {r:?}"),
    }
}

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
    let recent = config.recent_authentication;
    let client_ttl = config.oauth.access_token_ttl;
    let iam = Iam::builder(MemoryStore::new(), config)
        .clock(clock.clone())
        .offload(iam_core::Inline)
        .open()
        .await
        .expect("open");
    let mut st = State::default();
    for (step, op) in ops.into_iter().enumerate() {
        let now = clock.now();
        match op {
            Op::Create(u) => {
                let u = usize::from(u) % 2;
                if let Ok(a) = iam
                    .create_account(NewAccount::human(USERS[u], PW), Caller::System)
                    .await
                {
                    let _ = iam
                        .grant_elevatable_role(Caller::System, &a.id, "ops")
                        .await;
                    st.accounts[u].id = Some(a.id);
                }
            }
            Op::Login(u) => {
                let u = usize::from(u) % 2;
                if let Ok(l) = iam.login(&LoginRequest::password(USERS[u], PW)).await {
                    assert!(!st.accounts[u].disabled, "a disabled account logged in");
                    let p = iam
                        .verify(l.tokens.access_token.expose())
                        .await
                        .expect("a fresh token verifies");
                    st.session_account.insert(p.session_id.clone(), u);
                    st.session_auth.insert(p.session_id.clone(), now);
                    st.issued.push(Issued {
                        token: l.tokens.access_token.expose().to_owned(),
                        account: u,
                        session: p.session_id.clone(),
                        exp: p.expires_at,
                        step,
                        roles: st.accounts[u].roles.clone(),
                    });
                    st.refresh.push(Refresh {
                        token: l.tokens.refresh_token.expose().to_owned(),
                        session: p.session_id.clone(),
                        used: false,
                    });
                }
            }
            Op::Refresh(i) => {
                if st.refresh.is_empty() {
                    continue;
                }
                let i = usize::from(i) % st.refresh.len();
                let r = iam.refresh(&st.refresh[i].token).await;
                if let Ok(pair) = r {
                    assert!(!st.refresh[i].used, "a used refresh token refreshed again");
                    st.refresh[i].used = true;
                    st.refresh.push(Refresh {
                        token: pair.refresh_token.expose().to_owned(),
                        session: st.refresh[i].session.clone(),
                        used: false,
                    });
                    let p = iam
                        .verify(pair.access_token.expose())
                        .await
                        .expect("a refreshed token verifies");
                    let account = st
                        .accounts
                        .iter()
                        .position(|a| a.id.as_deref() == Some(p.account_id.as_str()))
                        .expect("known account");
                    st.issued.push(Issued {
                        token: pair.access_token.expose().to_owned(),
                        account,
                        session: p.session_id,
                        exp: p.expires_at,
                        step,
                        roles: st.accounts[account].roles.clone(),
                    });
                } else if st.refresh[i].used {
                    // Reuse of a rotated refresh token revokes its whole session.
                    st.session_dead
                        .insert(st.refresh[i].session.clone(), usize::MAX);
                }
            }
            Op::Revoke(i) => {
                if st.issued.is_empty() {
                    continue;
                }
                let sid = st.issued[usize::from(i) % st.issued.len()].session.clone();
                iam.revoke_session(Caller::System, &sid)
                    .await
                    .expect("revoke");
                st.session_dead.insert(sid, usize::MAX);
            }
            Op::Disable(u) | Op::Enable(u) | Op::SignOutEverywhere(u) | Op::Role(u, _, _)
                if st.accounts[usize::from(u) % 2].id.is_none() => {}
            Op::Disable(u) => {
                let u = usize::from(u) % 2;
                let id = st.accounts[u].id.clone().expect("exists");
                iam.disable_account(Caller::System, &id)
                    .await
                    .expect("disable");
                let a = &mut st.accounts[u];
                a.disabled = true;
                a.delegation_dead_before = Some(step);
                a.cut_at = Some(now);
            }
            Op::Enable(u) => {
                let u = usize::from(u) % 2;
                let id = st.accounts[u].id.clone().expect("exists");
                iam.enable_account(Caller::System, &id)
                    .await
                    .expect("enable");
                let a = &mut st.accounts[u];
                if a.disabled {
                    a.disabled = false;
                    a.dead_before = Some(step);
                    a.cut_at = Some(now);
                }
            }
            Op::SignOutEverywhere(u) => {
                let u = usize::from(u) % 2;
                let id = st.accounts[u].id.clone().expect("exists");
                iam.revoke_all_sessions(Caller::System, &id)
                    .await
                    .expect("sign out everywhere");
                st.sign_out_everywhere(u, step, now);
            }
            Op::Role(u, dev, grant) => {
                let u = usize::from(u) % 2;
                let role = ROLES[usize::from(dev)];
                let a = &mut st.accounts[u];
                let id = a.id.clone().expect("exists");
                if grant {
                    iam.grant_role(Caller::System, &id, role)
                        .await
                        .expect("grant");
                    a.roles.insert(role.to_owned());
                } else {
                    iam.revoke_role(Caller::System, &id, role)
                        .await
                        .expect("revoke role");
                    if a.roles.remove(role) && !a.disabled {
                        a.cut(step, now);
                    }
                }
            }
            Op::Attempt {
                kind,
                index,
                act,
                scopes,
            } => {
                let Some((token, holder, account, own)) = st.credential(kind, index, now) else {
                    continue;
                };
                let p = if holder.kind == Kind::ApiToken {
                    iam.verify_api_token(&token).await
                } else {
                    iam.verify(&token).await
                }
                .expect("a live credential verifies");
                let target = st.accounts[account].id.clone().expect("exists");
                let allowed = |a| oracle::allowed(&holder, a, now, recent);
                let first_party = scopes & 0x80 != 0;
                let scopes = oracle::scope_set(usize::from(scopes & 0x7f));
                let what = format!("{:?} {act}", holder.kind);
                match act % 5 {
                    0 => {
                        let r = iam.list_accounts(Caller::Principal(&p), None, 5).await;
                        expect(&what, allowed(Attempt::Administer), r);
                    }
                    1 => {
                        let r = iam
                            .revoke_all_sessions(Caller::Principal(&p), &target)
                            .await;
                        if expect(&what, allowed(Attempt::SignOutEverywhere { own }), r).is_some() {
                            st.sign_out_everywhere(account, step, now);
                        }
                    }
                    2 => {
                        let r = iam.schedule_deletion(&p, &target).await;
                        expect(&what, allowed(Attempt::ScheduleDeletion { own }), r);
                    }
                    3 => {
                        let with_roles = !scopes.is_empty();
                        let predicted = allowed(Attempt::MintApiToken { with_roles })
                            && oracle::api_token_scopes_allowed(
                                &st.accounts[account].roles,
                                &scopes,
                            );
                        let list: Vec<String> = scopes.iter().cloned().collect();
                        let exp = now.plus(API_TTL);
                        let r = iam.create_api_token(&p, "fuzz", &list, exp).await;
                        if let Some(t) = expect(&what, predicted, r) {
                            st.api.push(ApiToken {
                                secret: t.secret.expose().to_owned(),
                                account,
                                scopes,
                                exp,
                            });
                        }
                    }
                    _ => {
                        let predicted = allowed(Attempt::RegisterActingClient { first_party })
                            && oracle::client_scopes_allowed(&holder, first_party, &scopes);
                        let mut new = NewClient::confidential("fuzz")
                            .grants([GrantType::ClientCredentials])
                            .scopes(scopes.iter().cloned())
                            .acting_for_owner();
                        new.first_party = first_party;
                        let r = iam.register_client(&p, new).await;
                        if let Some(reg) = expect(&what, predicted, r) {
                            st.clients.push(Client {
                                id: reg.client.id,
                                secret: reg
                                    .client_secret
                                    .expect("confidential")
                                    .expose()
                                    .to_owned(),
                                owner: own.then_some(account),
                                scopes,
                            });
                        }
                    }
                }
            }
            Op::ClientToken(k) => {
                if st.clients.is_empty() {
                    continue;
                }
                let c = &st.clients[usize::from(k) % st.clients.len()];
                let auth = ClientAuth::secret(c.id.clone(), c.secret.clone());
                let req = TokenRequest::ClientCredentials {
                    scope: None,
                    resource: vec![],
                };
                let r = iam.token(&auth, &req).await;
                match c.owner.filter(|u| !st.accounts[*u].disabled) {
                    Some(owner) => {
                        let resp = r.expect("a client acting for an enabled account gets a token");
                        let token = resp.access_token.expose().to_owned();
                        let o = &st.accounts[owner];
                        let born_dead = KNOWN_ISSUE_CUTOFF_SLACK_MS.is_some_and(|slack| {
                            o.cut_at.is_some_and(|at| {
                                now.as_millis().saturating_sub(at.as_millis()) <= slack
                            })
                        }) && iam.verify_cached(&token)
                            == Err(Denial::TokenRevoked);
                        let roles = c.scopes.intersection(&o.roles).cloned().collect();
                        let scopes = oracle::acting_client_scopes(&o.roles, &c.scopes);
                        st.client_tokens.push(ClientToken {
                            token,
                            owner,
                            step,
                            exp: now.plus(client_ttl),
                            roles,
                            scopes,
                            born_dead,
                        });
                    }
                    None => assert!(
                        r.is_err(),
                        "a client acting for no enabled account got a token"
                    ),
                }
            }
            Op::Elevate(i, secs) => {
                if st.issued.is_empty() {
                    continue;
                }
                let a = &st.issued[usize::from(i) % st.issued.len()];
                let Ok(p) = iam.verify(&a.token).await else {
                    continue;
                };
                let account = a.account;
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
                    st.issued.push(Issued {
                        token: access_token.expose().to_owned(),
                        account,
                        session: q.session_id,
                        exp: q.expires_at,
                        step,
                        roles: st.accounts[account].roles.clone(),
                    });
                }
            }
            Op::EndElevation(i) => {
                if st.issued.is_empty() {
                    continue;
                }
                let a = &st.issued[usize::from(i) % st.issued.len()];
                let Ok(p) = iam.verify(&a.token).await else {
                    continue;
                };
                let session = iam.session(&p.session_id).await.expect("session");
                let open = session.active_elevations(now).any(|e| e.role == "ops");
                iam.end_elevation(&p, "ops").await.expect("end elevation");
                if open {
                    let cut = st.session_dead.entry(p.session_id).or_insert(step);
                    if *cut != usize::MAX {
                        *cut = step;
                    }
                }
            }
            Op::RotateKey => {
                iam.rotate_signing_key(Caller::System)
                    .await
                    .expect("rotate");
            }
            Op::Advance(secs) => clock.advance(Duration::from_millis(u64::from(secs) * 100 + 1)),
        }
        let now = clock.now();
        for t in &st.issued {
            let live = st.issued_live(t, now);
            let r = iam.verify_cached(&t.token);
            assert_eq!(
                r.is_ok(),
                live,
                "a dead token verified, or a live one was refused"
            );
            if let Ok(p) = r {
                if p.has_role("ops") {
                    let s = iam.session(&p.session_id).await.expect("session");
                    assert!(
                        s.active_elevations(now).any(|e| e.role == "ops"),
                        "a token carries an elevated role after the elevation ended"
                    );
                }
                let standing: BTreeSet<String> =
                    p.roles.into_iter().filter(|r| r != "ops").collect();
                assert_eq!(standing, t.roles, "session token roles");
            }
        }
        for t in &st.api {
            let r = iam.verify_api_token(&t.secret).await;
            assert_eq!(r.is_ok(), st.api_live(t, now), "API token validity");
            if let Ok(p) = r {
                let (roles, scopes) =
                    oracle::api_token_carries(&st.accounts[t.account].roles, &t.scopes);
                assert_eq!(p.roles.into_iter().collect::<BTreeSet<_>>(), roles);
                assert_eq!(p.scopes.into_iter().collect::<BTreeSet<_>>(), scopes);
            }
        }
        for t in &st.client_tokens {
            let r = iam.verify_cached(&t.token);
            assert_eq!(
                r.is_ok(),
                st.client_token_live(t, now),
                "client token validity: {r:?}"
            );
            if let Ok(p) = r {
                let roles: BTreeSet<String> = p.roles.into_iter().collect();
                assert_eq!(roles, t.roles, "client token roles");
                assert!(
                    roles.is_subset(&st.accounts[t.owner].roles),
                    "a client token carries a role its owner lost"
                );
            }
        }
    }
}
