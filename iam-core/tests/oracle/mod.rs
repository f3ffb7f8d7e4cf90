//! The model's own statement of who may do what with which credential: an oracle the model
//! test (`tests/model.rs`) and the `state_machine` fuzz target (which includes this file by
//! path) hold the service's answers against. It is written from the rules as documented
//! (docs/security-model.md), not from `iam_core::authorize`, so the two can disagree.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::Duration;

use iam_core::Timestamp;

/// The role that administers.
pub const ADMIN: &str = "admin";
/// The scope a delegated credential needs for iam's management API.
pub const MANAGE: &str = "iam:manage";

/// What kind of credential a caller presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A login session's access token.
    Session,
    /// A personal API token.
    ApiToken,
    /// A client-credentials token of a client acting for its owner.
    ClientToken,
}

/// What the model knows of a credential when it is presented.
#[derive(Clone, Debug)]
pub struct Holder {
    /// Its kind.
    pub kind: Kind,
    /// The roles it carries.
    pub roles: BTreeSet<String>,
    /// The scopes it carries (empty for session tokens).
    pub scopes: BTreeSet<String>,
    /// When its holder last signed in (session tokens).
    pub signed_in_at: Timestamp,
}

impl Holder {
    /// May it administer? Sessions of admins may; a delegated credential (API token, client
    /// token) may only when it also carries the management scope.
    pub fn admin(&self) -> bool {
        self.roles.contains(ADMIN) && (self.kind == Kind::Session || self.scopes.contains(MANAGE))
    }

    /// May it reach iam's management API at all?
    pub fn manages(&self) -> bool {
        self.kind == Kind::Session || self.scopes.contains(MANAGE)
    }

    /// Is it a session whose holder signed in within `recent` of `now`?
    pub fn recent_session(&self, now: Timestamp, recent: Duration) -> bool {
        self.kind == Kind::Session && self.signed_in_at.plus(recent) >= now
    }
}

/// What a credential attempts. `own` says whether the account acted on is the one the
/// credential stands for as its subject (a client token never is: its subject is the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// List accounts, grant a role: admin work.
    Administer,
    /// Sign an account out everywhere (revoke its sessions and delegations).
    SignOutEverywhere {
        /// The caller's own account.
        own: bool,
    },
    /// Schedule an account's deletion.
    ScheduleDeletion {
        /// The caller's own account.
        own: bool,
    },
    /// Mint a personal API token.
    MintApiToken {
        /// Whether it carries roles.
        with_roles: bool,
    },
    /// Register a confidential client whose client-credentials tokens act for the caller.
    RegisterActingClient {
        /// Whether it is first-party.
        first_party: bool,
    },
}

/// Whether `who` may make `attempt` at `now`, given the window `recent` for sensitive
/// self-service.
pub fn allowed(who: &Holder, attempt: Attempt, now: Timestamp, recent: Duration) -> bool {
    let session = who.kind == Kind::Session;
    match attempt {
        // A client's owner is an account: client tokens register no clients.
        Attempt::RegisterActingClient { .. } if who.kind == Kind::ClientToken => false,
        Attempt::Administer | Attempt::RegisterActingClient { first_party: true } => who.admin(),
        Attempt::SignOutEverywhere { own } => (own && session) || who.admin(),
        Attempt::ScheduleDeletion { own } => {
            (own && who.recent_session(now, recent)) || who.admin()
        }
        Attempt::MintApiToken { with_roles: false } => session,
        Attempt::MintApiToken { with_roles: true } => who.recent_session(now, recent),
        Attempt::RegisterActingClient { first_party: false } => who.manages(),
    }
}

/// Whether a client registered by `who` may be allowed `scopes`: the management scope only on
/// a first-party client; other scopes only roles the registrar carries, unless it administers.
pub fn client_scopes_allowed(who: &Holder, first_party: bool, scopes: &BTreeSet<String>) -> bool {
    scopes.iter().all(|s| {
        if s == MANAGE {
            first_party
        } else {
            who.admin() || who.roles.contains(s)
        }
    })
}

/// Whether an account holding `held` may put `scopes` on a personal API token: roles it holds,
/// and the management scope only when it holds the admin role.
pub fn api_token_scopes_allowed(held: &BTreeSet<String>, scopes: &BTreeSet<String>) -> bool {
    scopes.iter().all(|s| {
        if s == MANAGE {
            held.contains(ADMIN)
        } else {
            held.contains(s)
        }
    })
}

/// What an API token with `scopes` carries while its owner holds `held`: (roles, scopes),
/// each cut down to what the owner still holds.
pub fn api_token_carries(
    held: &BTreeSet<String>,
    scopes: &BTreeSet<String>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let kept: BTreeSet<String> = scopes
        .iter()
        .filter(|s| held.contains(*s) || (*s == MANAGE && held.contains(ADMIN)))
        .cloned()
        .collect();
    let roles = kept.iter().filter(|s| held.contains(*s)).cloned().collect();
    (roles, kept)
}

/// The scope sets the model and the fuzz target draw from.
/// The scopes a client-credentials token of a client acting for an owner holding `held`
/// carries: every scope for an admin owner, otherwise those naming roles the owner holds.
pub fn acting_client_scopes(
    held: &BTreeSet<String>,
    client_scopes: &BTreeSet<String>,
) -> BTreeSet<String> {
    client_scopes
        .iter()
        .filter(|s| held.contains(ADMIN) || held.contains(*s))
        .cloned()
        .collect()
}

pub const SCOPE_SETS: [&[&str]; 5] = [&[], &["dev"], &[ADMIN], &[ADMIN, MANAGE], &[MANAGE]];

/// The scope set numbered `i` (modulo the count).
pub fn scope_set(i: usize) -> BTreeSet<String> {
    SCOPE_SETS[i % SCOPE_SETS.len()]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}
