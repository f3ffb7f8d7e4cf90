//! Property-based model test: random operation sequences against the real service, compared
//! step by step with a plain reference model. Above all it shows that no access token verifies
//! after its session is revoked, its account disabled, or its expiry passed; that a replaced
//! or revoked service token never verifies; and that no token carries an elevated role after
//! the elevation ended.
//!
//! It also knows credential kinds: personal API tokens and client-credentials tokens of clients
//! acting for their owner. For every privileged action a credential attempts, the model says
//! beforehand whether it is allowed (from its own statement of the rules in `oracle/`, not
//! from `iam_core::authorize`); and after every step, which of those tokens verify (tokens
//! acting for an account die with its sign-out-everywhere, its disabling and the removal of a
//! role) and that no token carries a role its account no longer holds.

mod common;
mod oracle;

use iam_core::Caller;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use iam_core::config::{ElevationPolicy, StepUp};
use iam_core::{
    ClientAuth, Clock, Config, CredentialKind, Denial, ElevationOutcome, Error, GrantType,
    InvalidInput, LoginRequest, NewAccount, NewClient, Principal, StepUpProof, ThrottlePolicy,
    Timestamp, TokenRequest,
};
use oracle::{Attempt, Holder, Kind};
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
    /// Grants (`grant`) or removes one of [`ROLES`] as a standing role (the embedding app).
    Role {
        user: usize,
        role: usize,
        grant: bool,
    },
    /// Signs an account out everywhere (the embedding app).
    SignOutEverywhere(usize),
    /// A credential attempts a privileged action.
    Attempt {
        cred: Cred,
        act: Act,
    },
    /// A client acting for its owner asks for a client-credentials token.
    ClientToken(usize),
}

/// Which credential attempts an action: the n-th (modulo the count) live one of its kind.
#[derive(Clone, Copy, Debug)]
enum Cred {
    Session(usize),
    Api(usize),
    Client(usize),
}

/// What a credential attempts.
#[derive(Clone, Copy, Debug)]
enum Act {
    /// List accounts (admin).
    ListAccounts,
    /// Grant "dev" to a user (admin).
    GrantDev(usize),
    /// Sign the account the credential stands for out everywhere.
    SignOutOwn,
    /// Schedule the deletion of the account the credential stands for.
    ScheduleOwnDeletion,
    /// Mint a personal API token with scope set n of [`oracle::SCOPE_SETS`].
    MintApiToken(usize),
    /// Register a confidential client acting for the caller, with scope set `scopes`.
    RegisterActingClient { scopes: usize, first_party: bool },
}

/// Operations that populate the state (accounts, roles, sessions), drawn more often at the
/// start of a sequence so the credential operations have something to work with.
fn setup_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..3usize).prop_map(Op::Create),
        2 => (0..3usize).prop_map(|user| Op::Login { user, right_password: true }),
        2 => (0..3usize, prop_oneof![3 => Just(0usize), 1 => 0..ROLES.len()])
            .prop_map(|(user, role)| Op::Role { user, role, grant: true }),
    ]
}

/// A sequence: a few populating operations, then any.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    (
        prop::collection::vec(setup_op(), 0..10),
        prop::collection::vec(op(), 1..60),
    )
        .prop_map(|(mut setup, rest)| {
            setup.extend(rest);
            setup
        })
}

fn cred() -> impl Strategy<Value = Cred> {
    prop_oneof![
        2 => (0..64usize).prop_map(Cred::Session),
        1 => (0..64usize).prop_map(Cred::Api),
        1 => (0..64usize).prop_map(Cred::Client),
    ]
}

fn act() -> impl Strategy<Value = Act> {
    let sets = 0..oracle::SCOPE_SETS.len();
    prop_oneof![
        1 => Just(Act::ListAccounts),
        1 => (0..3usize).prop_map(Act::GrantDev),
        1 => Just(Act::SignOutOwn),
        1 => Just(Act::ScheduleOwnDeletion),
        3 => prop_oneof![sets.clone(), Just(3usize)].prop_map(Act::MintApiToken),
        2 => (prop_oneof![sets, Just(3usize)], prop::bool::weighted(0.3))
            .prop_map(|(scopes, first_party)| Act::RegisterActingClient { scopes, first_party }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..3usize).prop_map(Op::Create),
        6 => (0..3usize, prop::bool::weighted(0.85)).prop_map(|(user, right_password)| Op::Login { user, right_password }),
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
        3 => (0..3usize, 0..ROLES.len(), prop::bool::weighted(0.7))
            .prop_map(|(user, role, grant)| Op::Role { user, role, grant }),
        1 => (0..3usize).prop_map(Op::SignOutEverywhere),
        10 => (cred(), act()).prop_map(|(cred, act)| Op::Attempt { cred, act }),
        3 => (0..64usize).prop_map(Op::ClientToken),
    ]
}

#[derive(Default)]
struct ModelAccount {
    id: String,
    disabled: bool,
    /// Tokens minted before this step are void (the account was disabled, then enabled; it
    /// was signed out everywhere; it lost a role).
    not_before: Option<usize>,
    /// Tokens acting for the account minted before this step are void (it was disabled,
    /// signed out everywhere, or lost a role).
    delegation_cut: Option<usize>,
    /// Standing roles.
    roles: BTreeSet<String>,
    /// The clock when the latest of its cut-offs was made.
    cut_at: Option<Timestamp>,
}

impl ModelAccount {
    /// Whether a token of this account (or acting for it) minted at `step` survives the
    /// account's cut-offs; `delegated` adds the delegation cut-off.
    fn admits(&self, step: usize, delegated: bool) -> bool {
        !self.disabled
            && self.not_before.is_none_or(|nb| step >= nb)
            && (!delegated || self.delegation_cut.is_none_or(|c| step >= c))
    }

    /// Signs the account out everywhere at `step` (`now`), as the model sees it: account-wide
    /// and delegation cut-offs (the caller revokes the sessions).
    fn cut_everything(&mut self, step: usize, now: Timestamp) {
        if !self.disabled {
            self.not_before = Some(step);
        }
        self.delegation_cut = Some(step);
        self.cut_at = Some(now);
    }
}

struct ModelSession {
    user: usize,
    revoked: bool,
    expires_at: Timestamp,
    /// The open elevation of `ELEVATED` ends then.
    elevated_until: Option<Timestamp>,
    /// Tokens of this session minted before this step are void (an elevation ended early).
    cut: Option<usize>,
    /// When the session's holder signed in.
    auth_time: Timestamp,
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
    /// The standing roles it carries (its account's when it was minted).
    roles: BTreeSet<String>,
}

/// A personal API token.
struct ModelApiToken {
    secret: String,
    user: usize,
    scopes: BTreeSet<String>,
    exp: Timestamp,
}

/// A confidential client whose client-credentials tokens act for its owner.
struct ModelClient {
    id: String,
    secret: String,
    /// The model user who registered it (`None`: a client token registered it, so it acts
    /// for that client, which is no account).
    owner: Option<usize>,
    scopes: BTreeSet<String>,
}

/// A client-credentials token acting for `owner`.
struct ModelClientToken {
    token: String,
    owner: usize,
    step: usize,
    exp: Timestamp,
    roles: BTreeSet<String>,
    scopes: BTreeSet<String>,
    /// Refused from the start by the known issue [`KNOWN_ISSUE_SAME_MS_ACTING_TOKEN`].
    born_dead: bool,
}

/// Known issue, reported and not yet fixed in the core: a client-credentials token acting for
/// its owner that is minted in the same millisecond as a cut-off of the owner made just before
/// it (sign-out-everywhere, role removal, disable/enable), or within the few milliseconds a
/// cut-off may run ahead of the clock, is void at birth (`TokenRevoked`). Session tokens are
/// kept clear of this by `RevocationCache::issue_time`, which moves a token's `iat` past
/// cut-offs of its account and grant; a client token's `iat` is checked against its owner's
/// account and delegation cut-offs, which `issue_time` does not consult. Minimal sequence:
/// create ann, ann logs in, ann registers an acting-for-owner client, ann signs out
/// everywhere, the client asks for a token (same clock reading): it does not verify.
/// While this is `true` the model accepts exactly that (a fresh token refused while its owner
/// had a cut-off within [`CUTOFF_SLACK_MS`]) and treats the token as dead; set it to `false`
/// (and run `cargo test --test model -- --ignored`) once the core is fixed.
/// Fixed: `sign_claims` now moves `iat` past every cut-off that can void the token
/// (`RevocationCache::issue_time_for`), so the model tolerates nothing.
const KNOWN_ISSUE_SAME_MS_ACTING_TOKEN: bool = false;
/// How far (ms) a cut-off may run ahead of the clock: one per cut-off made in a millisecond.
const CUTOFF_SLACK_MS: i64 = 64;

#[derive(Default)]
struct Model {
    accounts: HashMap<usize, ModelAccount>,
    sessions: HashMap<String, ModelSession>,
    refresh: Vec<ModelRefresh>,
    access: Vec<ModelAccess>,
    service: Vec<ModelServiceToken>,
    api: Vec<ModelApiToken>,
    clients: Vec<ModelClient>,
    client_tokens: Vec<ModelClientToken>,
}

impl Model {
    fn access_valid(&self, a: &ModelAccess, now: Timestamp) -> bool {
        let s = &self.sessions[&a.session];
        now < a.exp
            && !s.revoked
            && self.accounts[&a.user].admits(a.step, false)
            && s.cut.is_none_or(|c| a.step >= c)
    }

    fn api_valid(&self, t: &ModelApiToken, now: Timestamp) -> bool {
        now < t.exp && !self.accounts[&t.user].disabled
    }

    fn client_token_valid(&self, t: &ModelClientToken, now: Timestamp) -> bool {
        !t.born_dead && now < t.exp && self.accounts[&t.owner].admits(t.step, true)
    }

    /// The roles an access token minted now for `user` carries (elevations aside).
    fn roles_of(&self, user: usize) -> BTreeSet<String> {
        self.accounts[&user].roles.clone()
    }

    /// Signs `user` out everywhere at `step` (`now`).
    fn sign_out_everywhere(&mut self, user: usize, step: usize, now: Timestamp) {
        // Only live sessions are revoked: an expired one stays expired (its refresh says so).
        for s in self.sessions.values_mut() {
            if s.user == user && now < s.expires_at {
                s.revoked = true;
            }
        }
        if let Some(acc) = self.accounts.get_mut(&user) {
            acc.cut_everything(step, now);
        }
    }

    /// The credential `cred` names among those the model holds valid, if any: its token, what
    /// the model knows of it, and the model user it stands for (for a client token: its owner).
    fn holder(&self, cred: Cred, now: Timestamp) -> Option<(String, Holder, usize)> {
        fn pick<T>(v: &[T], i: usize, valid: impl Fn(&T) -> bool) -> Option<&T> {
            let live: Vec<&T> = v.iter().filter(|t| valid(t)).collect();
            (!live.is_empty()).then(|| live[i % live.len()])
        }
        match cred {
            Cred::Session(i) => {
                let a = pick(&self.access, i, |a| self.access_valid(a, now))?;
                let holder = Holder {
                    kind: Kind::Session,
                    roles: a.roles.clone(),
                    scopes: BTreeSet::new(),
                    signed_in_at: self.sessions[&a.session].auth_time,
                };
                Some((a.token.clone(), holder, a.user))
            }
            Cred::Api(i) => {
                let t = pick(&self.api, i, |t| self.api_valid(t, now))?;
                let (roles, scopes) =
                    oracle::api_token_carries(&self.accounts[&t.user].roles, &t.scopes);
                let holder = Holder {
                    kind: Kind::ApiToken,
                    roles,
                    scopes,
                    signed_in_at: Timestamp::MIN,
                };
                Some((t.secret.clone(), holder, t.user))
            }
            Cred::Client(i) => {
                let t = pick(&self.client_tokens, i, |t| self.client_token_valid(t, now))?;
                let holder = Holder {
                    kind: Kind::ClientToken,
                    roles: t.roles.clone(),
                    scopes: t.scopes.clone(),
                    signed_in_at: Timestamp::MIN,
                };
                Some((t.token.clone(), holder, t.owner))
            }
        }
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
/// The standing roles the model grants and removes.
const ROLES: [&str; 2] = [oracle::ADMIN, "dev"];
const API_TTL: Duration = Duration::from_secs(3600);
const CLIENT_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
const RECENT: Duration = Duration::from_secs(5 * 60);

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

/// Runs `ops` against the service and the model; `tolerate_known_issues` lets the model accept
/// [`KNOWN_ISSUE_SAME_MS_ACTING_TOKEN`].
fn run(ops: Vec<Op>, tolerate_known_issues: bool) -> Result<(), TestCaseError> {
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
            c.recent_authentication = RECENT;
            c.oauth.access_token_ttl = CLIENT_TOKEN_TTL;
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
                                    auth_time: now,
                                },
                            );
                            m.refresh.push(ModelRefresh {
                                token: ok.tokens.refresh_token.expose().to_owned(),
                                session: ok.session.id.clone(),
                                used: false,
                            });
                            let roles = m.roles_of(user);
                            m.access.push(ModelAccess {
                                token: ok.tokens.access_token.expose().to_owned(),
                                session: ok.session.id,
                                user,
                                step,
                                exp,
                                roles,
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
                        let roles = m.roles_of(user);
                        m.access.push(ModelAccess {
                            token: pair.access_token.expose().to_owned(),
                            session: sid,
                            user,
                            step,
                            exp,
                            roles,
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
                        acc.delegation_cut = Some(step);
                        acc.cut_at = Some(now);
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
                            acc.cut_at = Some(now);
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
                    let roles = m.roles_of(user);
                    m.access.push(ModelAccess {
                        token: access_token.expose().to_owned(),
                        session: sid,
                        user,
                        step,
                        exp,
                        roles,
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
                Op::Role { user, role, grant } => {
                    let Some(acc) = m.accounts.get_mut(&user) else {
                        continue;
                    };
                    let role = ROLES[role];
                    if grant {
                        iam.grant_role(Caller::System, &acc.id, role)
                            .await
                            .map_err(fail)?;
                        acc.roles.insert(role.to_owned());
                    } else {
                        iam.revoke_role(Caller::System, &acc.id, role)
                            .await
                            .map_err(fail)?;
                        // Tokens that may carry the role die, and so do tokens acting for the
                        // account (a disabled account's are dead already).
                        if acc.roles.remove(role) && !acc.disabled {
                            acc.cut_everything(step, now);
                        }
                    }
                }
                Op::SignOutEverywhere(user) => {
                    let Some(acc) = m.accounts.get(&user) else {
                        continue;
                    };
                    iam.revoke_all_sessions(Caller::System, &acc.id)
                        .await
                        .map_err(fail)?;
                    m.sign_out_everywhere(user, step, now);
                }
                Op::ClientToken(k) => {
                    if m.clients.is_empty() {
                        continue;
                    }
                    let c = &m.clients[k % m.clients.len()];
                    let auth = ClientAuth::secret(c.id.clone(), c.secret.clone());
                    let req = TokenRequest::ClientCredentials {
                        scope: None,
                        resource: vec![],
                    };
                    let r = iam.token(&auth, &req).await;
                    // A client acting for its owner gets tokens while the owner is an enabled
                    // account; its scopes are re-derived at each grant from what the owner
                    // holds now (everything for an admin owner).
                    match c.owner.filter(|u| !m.accounts[u].disabled) {
                        Some(owner) => {
                            let resp = r.map_err(|e| {
                                TestCaseError::fail(format!("client token refused: {e:?}"))
                            })?;
                            let roles = c
                                .scopes
                                .intersection(&m.accounts[&owner].roles)
                                .cloned()
                                .collect();
                            let scopes =
                                oracle::acting_client_scopes(&m.accounts[&owner].roles, &c.scopes);
                            let token = resp.access_token.expose().to_owned();
                            let born_dead = tolerate_known_issues
                                && m.accounts[&owner].cut_at.is_some_and(|at| {
                                    now.as_millis().saturating_sub(at.as_millis())
                                        <= CUTOFF_SLACK_MS
                                })
                                && iam.verify_cached(&token) == Err(Denial::TokenRevoked);
                            m.client_tokens.push(ModelClientToken {
                                token,
                                owner,
                                step,
                                exp: now.plus(CLIENT_TOKEN_TTL),
                                roles,
                                scopes,
                                born_dead,
                            });
                        }
                        None => prop_assert!(
                            r.is_err(),
                            "a client acting for a disabled account or for no account got a token"
                        ),
                    }
                }
                Op::Attempt { cred, act } => {
                    let Some((token, holder, user)) = m.holder(cred, now) else {
                        continue;
                    };
                    let p = match cred {
                        Cred::Api(_) => iam.verify_api_token(&token).await,
                        Cred::Session(_) | Cred::Client(_) => iam.verify(&token).await,
                    }
                    .map_err(|d| {
                        TestCaseError::fail(format!("model says valid, verify says {d:?}"))
                    })?;
                    // A client token's subject is the client, never the account it acts for.
                    let own = !matches!(cred, Cred::Client(_));
                    let target = m.accounts[&user].id.clone();
                    let allowed = |attempt| oracle::allowed(&holder, attempt, now, RECENT);
                    let who = format!("{cred:?} {act:?}");
                    match act {
                        Act::ListAccounts => {
                            let r = iam.list_accounts(Caller::Principal(&p), None, 10).await;
                            expect(&who, allowed(Attempt::Administer), r)?;
                        }
                        Act::GrantDev(t) => {
                            let Some(id) = m.accounts.get(&t).map(|a| a.id.clone()) else {
                                continue;
                            };
                            let r = iam.grant_role(Caller::Principal(&p), &id, "dev").await;
                            if expect(&who, allowed(Attempt::Administer), r)?.is_some() {
                                if let Some(a) = m.accounts.get_mut(&t) {
                                    a.roles.insert("dev".to_owned());
                                }
                            }
                        }
                        Act::SignOutOwn => {
                            let r = iam
                                .revoke_all_sessions(Caller::Principal(&p), &target)
                                .await;
                            let attempt = Attempt::SignOutEverywhere { own };
                            if expect(&who, allowed(attempt), r)?.is_some() {
                                m.sign_out_everywhere(user, step, now);
                            }
                        }
                        Act::ScheduleOwnDeletion => {
                            let r = iam.schedule_deletion(&p, &target).await;
                            expect(&who, allowed(Attempt::ScheduleDeletion { own }), r)?;
                        }
                        Act::MintApiToken(k) => {
                            let scopes = oracle::scope_set(k);
                            let with_roles = !scopes.is_empty();
                            let predicted = allowed(Attempt::MintApiToken { with_roles })
                                && oracle::api_token_scopes_allowed(
                                    &m.accounts[&user].roles,
                                    &scopes,
                                );
                            let list: Vec<String> = scopes.iter().cloned().collect();
                            let exp = now.plus(API_TTL);
                            let r = iam.create_api_token(&p, "model", &list, exp).await;
                            if let Some(t) = expect(&who, predicted, r)? {
                                m.api.push(ModelApiToken {
                                    secret: t.secret.expose().to_owned(),
                                    user,
                                    scopes,
                                    exp,
                                });
                            }
                        }
                        Act::RegisterActingClient {
                            scopes,
                            first_party,
                        } => {
                            let scopes = oracle::scope_set(scopes);
                            let predicted = allowed(Attempt::RegisterActingClient { first_party })
                                && oracle::client_scopes_allowed(&holder, first_party, &scopes);
                            let mut new = NewClient::confidential("model")
                                .grants([GrantType::ClientCredentials])
                                .scopes(scopes.iter().cloned())
                                .acting_for_owner();
                            new.first_party = first_party;
                            let r = iam.register_client(&p, new).await;
                            if let Some(reg) = expect(&who, predicted, r)? {
                                let secret = reg
                                    .client_secret
                                    .ok_or_else(|| TestCaseError::fail("no client secret"))?;
                                m.clients.push(ModelClient {
                                    id: reg.client.id,
                                    secret: secret.expose().to_owned(),
                                    owner: own.then_some(user),
                                    scopes,
                                });
                            }
                        }
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
                        let standing: BTreeSet<String> =
                            p.roles.into_iter().filter(|r| r != ELEVATED).collect();
                        prop_assert_eq!(&standing, &a.roles, "session token roles");
                    }
                    Err(_) => prop_assert!(!m.access_valid(a, now), "a live token was refused"),
                }
            }
            for t in &m.api {
                let valid = m.api_valid(t, now);
                match iam.verify_api_token(&t.secret).await {
                    Ok(p) => {
                        prop_assert!(valid, "a dead API token verified");
                        prop_assert_eq!(p.credential, CredentialKind::ApiToken);
                        let held = &m.accounts[&t.user].roles;
                        let (roles, scopes) = oracle::api_token_carries(held, &t.scopes);
                        prop_assert_eq!(p.roles.into_iter().collect::<BTreeSet<_>>(), roles);
                        prop_assert_eq!(p.scopes.into_iter().collect::<BTreeSet<_>>(), scopes);
                    }
                    Err(d) => prop_assert!(!valid, "a live API token was refused: {:?}", d),
                }
            }
            for t in &m.client_tokens {
                let valid = m.client_token_valid(t, now);
                match iam.verify_cached(&t.token) {
                    Ok(p) => {
                        prop_assert!(valid, "a dead client token verified");
                        prop_assert_eq!(p.credential, CredentialKind::ClientCredentials);
                        let owner = &m.accounts[&t.owner];
                        prop_assert_eq!(p.actor.as_ref(), Some(&owner.id));
                        let roles: BTreeSet<String> = p.roles.into_iter().collect();
                        prop_assert_eq!(&roles, &t.roles, "client token roles");
                        prop_assert!(
                            roles.is_subset(&owner.roles),
                            "a client token carries a role its owner lost"
                        );
                        prop_assert_eq!(
                            p.scopes.into_iter().collect::<BTreeSet<_>>(),
                            t.scopes.clone()
                        );
                    }
                    Err(d) => prop_assert!(!valid, "a live client token was refused: {:?}", d),
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

/// Holds the service's answer `r` to an attempt against the model's prediction: allowed means
/// it succeeded, denied means a typed denial. Returns the success, if any.
fn expect<T: std::fmt::Debug>(
    what: &str,
    allowed: bool,
    r: Result<T, Error>,
) -> Result<Option<T>, TestCaseError> {
    match (allowed, r) {
        (true, Ok(v)) => Ok(Some(v)),
        (false, Err(Error::Denied(_))) => Ok(None),
        (_, r) => Err(TestCaseError::fail(format!(
            "{what}: the model says allowed={allowed}, the service answered {r:?}"
        ))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES overrides this (a longer release run that hunts for bugs).
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1024),
        ..ProptestConfig::default()
    })]

    #[test]
    fn service_matches_the_reference_model(ops in ops()) {
        run(ops, KNOWN_ISSUE_SAME_MS_ACTING_TOKEN)?;
    }
}

/// The known issue [`KNOWN_ISSUE_SAME_MS_ACTING_TOKEN`] in its minimal form: a client token
/// acting for ann, minted right after ann signed out everywhere, in the same millisecond.
#[test]
fn acting_token_minted_right_after_sign_out_everywhere_verifies() {
    let ops = vec![
        Op::Create(0),
        Op::Login {
            user: 0,
            right_password: true,
        },
        Op::Attempt {
            cred: Cred::Session(0),
            act: Act::RegisterActingClient {
                scopes: 0,
                first_party: false,
            },
        },
        Op::Attempt {
            cred: Cred::Session(0),
            act: Act::SignOutOwn,
        },
        Op::ClientToken(0),
    ];
    if let Err(e) = run(ops, false) {
        panic!("{e}");
    }
}

/// The same sequence with the clock a millisecond on before the token is minted passes: the
/// known issue is confined to the millisecond of the cut-off.
#[test]
fn acting_token_minted_a_millisecond_after_sign_out_everywhere_verifies() {
    let ops = vec![
        Op::Create(0),
        Op::Login {
            user: 0,
            right_password: true,
        },
        Op::Attempt {
            cred: Cred::Session(0),
            act: Act::RegisterActingClient {
                scopes: 0,
                first_party: false,
            },
        },
        Op::Attempt {
            cred: Cred::Session(0),
            act: Act::SignOutOwn,
        },
        Op::Advance(0),
        Op::ClientToken(0),
    ];
    if let Err(e) = run(ops, false) {
        panic!("{e}");
    }
}
