//! The in-process revocation cache: what lets token verification run without a store read.
//!
//! The store publishes every [`RevocationChange`] to each subscribed [`RevocationCache`]
//! (see [`crate::store::Store::subscribe`]); an adapter shared by several processes also
//! feeds in the changes other processes make. While the cache is not current (its feed was
//! lost and not yet reloaded), verification fails closed with
//! [`Denial::RevocationUnavailable`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::error::Denial;

/// What a revocation applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedSubject {
    /// A grant of tokens: a session (the `sid` claim).
    Grant,
    /// Every token of an account (the `sub` claim).
    Account,
    /// What an account delegated: its OAuth grants (tokens and refresh families issued to
    /// clients for it) and client tokens acting for it (the `act` claim).
    Delegation,
    /// One account's tokens scoped to one organization (id `org/account`).
    OrgMembership,
    /// An OAuth client's registration changed (its secret was rotated, or it was disabled):
    /// what any instance remembered about the client is void
    /// ([`RevocationCache::client_generation`]). Voids no token by itself.
    Client,
}

impl RevokedSubject {
    /// The stable name adapters store.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokedSubject::Grant => "grant",
            RevokedSubject::Account => "account",
            RevokedSubject::Delegation => "delegation",
            RevokedSubject::OrgMembership => "org_membership",
            RevokedSubject::Client => "client",
        }
    }

    /// Parses a name written by [`RevokedSubject::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "grant" => Some(RevokedSubject::Grant),
            "account" => Some(RevokedSubject::Account),
            "delegation" => Some(RevokedSubject::Delegation),
            "org_membership" => Some(RevokedSubject::OrgMembership),
            "client" => Some(RevokedSubject::Client),
            _ => None,
        }
    }
}

/// One entry of the revocation list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// What kind of id `id` is.
    pub subject: RevokedSubject,
    /// The session id or account id.
    pub id: String,
    /// Tokens issued at or before this time are dead; [`Timestamp::MAX`] means all of them.
    pub issued_before: Timestamp,
    /// After this time the entry is moot (every token it kills has expired) and may be pruned.
    pub until: Timestamp,
}

/// A change to the revocation list, carried in a [`crate::store::Commit`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RevocationChange {
    /// Adds or replaces the entry for (subject, id).
    Put(Revocation),
    /// Removes the entry for (subject, id).
    Lift {
        /// What kind of id.
        subject: RevokedSubject,
        /// The id.
        id: String,
    },
}

#[derive(Default)]
struct Entries {
    grants: HashMap<String, Revocation>,
    accounts: HashMap<String, Revocation>,
    delegations: HashMap<String, Revocation>,
    memberships: HashMap<String, Revocation>,
    clients: HashMap<String, Revocation>,
}

impl Entries {
    fn get(&self, subject: RevokedSubject, id: &str) -> Option<&Revocation> {
        match subject {
            RevokedSubject::Grant => &self.grants,
            RevokedSubject::Account => &self.accounts,
            RevokedSubject::Delegation => &self.delegations,
            RevokedSubject::OrgMembership => &self.memberships,
            RevokedSubject::Client => &self.clients,
        }
        .get(id)
    }

    fn map(&mut self, subject: RevokedSubject) -> &mut HashMap<String, Revocation> {
        match subject {
            RevokedSubject::Grant => &mut self.grants,
            RevokedSubject::Account => &mut self.accounts,
            RevokedSubject::Delegation => &mut self.delegations,
            RevokedSubject::OrgMembership => &mut self.memberships,
            RevokedSubject::Client => &mut self.clients,
        }
    }
}

/// The set of revocations in force, kept current by the store.
///
/// Cut-offs are in milliseconds, so a token minted in the same millisecond as a cut-off it
/// must outlive (a login just after an account is re-enabled, a refresh just after an
/// elevation ends) would be void at once. Two rules keep both orders right: a token's `iat`
/// is never at or before a cut-off already in force for its account or grant
/// ([`RevocationCache::issue_time`]), and a new cut-off is never before an `iat` that rule
/// may have produced ([`RevocationCache::cutoff`]).
pub struct RevocationCache {
    entries: RwLock<Entries>,
    current: AtomicBool,
    /// The latest finite cut-off ever seen, in milliseconds (never lowered).
    latest_cutoff: AtomicI64,
    /// Bumped by every change to a [`RevokedSubject::Client`] entry and by every reload.
    client_generation: AtomicU64,
}

impl Default for RevocationCache {
    fn default() -> Self {
        RevocationCache {
            entries: RwLock::default(),
            current: AtomicBool::new(false),
            latest_cutoff: AtomicI64::new(i64::MIN),
            client_generation: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for RevocationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("RevocationCache")
            .field("grants", &e.grants.len())
            .field("accounts", &e.accounts.len())
            .field("current", &self.is_current())
            .field(
                "latest_cutoff",
                &Timestamp::from_millis(self.latest_cutoff.load(Ordering::Acquire)),
            )
            .field("client_generation", &self.client_generation())
            .finish()
    }
}

impl RevocationCache {
    /// An empty cache, not yet current.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the cache holds every revocation (verification fails closed when it does not).
    pub fn is_current(&self) -> bool {
        self.current.load(Ordering::Acquire)
    }

    /// Marks the cache as possibly stale (feed lost); adapters call this, then [`Self::load`].
    pub fn mark_stale(&self) {
        self.current.store(false, Ordering::Release);
    }

    /// Replaces the whole content with `all` and marks the cache current.
    pub fn load(&self, all: Vec<Revocation>) {
        let mut fresh = Entries::default();
        for r in all {
            self.note_cutoff(&r);
            fresh.map(r.subject).insert(r.id.clone(), r);
        }
        *self.entries.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        // Client changes may have been missed while the feed was down.
        self.client_generation.fetch_add(1, Ordering::AcqRel);
        self.current.store(true, Ordering::Release);
    }

    /// A number that changes whenever any OAuth client's registration may have changed (a
    /// [`RevokedSubject::Client`] entry put or lifted, or a reload). What an instance remembers
    /// about clients is valid only while this number stays the one read before the client was
    /// read from the store.
    pub fn client_generation(&self) -> u64 {
        self.client_generation.load(Ordering::Acquire)
    }

    /// Applies one change.
    pub fn apply(&self, change: &RevocationChange) {
        let mut e = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let subject = match change {
            RevocationChange::Put(r) => {
                self.note_cutoff(r);
                e.map(r.subject).insert(r.id.clone(), r.clone());
                r.subject
            }
            RevocationChange::Lift { subject, id } => {
                e.map(*subject).remove(id);
                *subject
            }
        };
        if subject == RevokedSubject::Client {
            self.client_generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn note_cutoff(&self, r: &Revocation) {
        // A client entry is no token cut-off.
        if r.issued_before != Timestamp::MAX && r.subject != RevokedSubject::Client {
            self.latest_cutoff
                .fetch_max(r.issued_before.as_millis(), Ordering::AcqRel);
        }
    }

    /// The `issued_before` of a cut-off made at `now`: `now`, or just after the latest cut-off
    /// seen when that is later, so the cut-off also reaches tokens whose `iat` was moved
    /// past an earlier one by [`Self::issue_time`].
    pub fn cutoff(&self, now: Timestamp) -> Timestamp {
        let after_latest = self.latest_cutoff.load(Ordering::Acquire).saturating_add(1);
        now.max(Timestamp::from_millis(after_latest))
    }

    /// The `iat` for a token of `account` under `grant` minted at `now`: `now`, or just after
    /// a cut-off in force for either when that is not before `now`, so a token minted after a
    /// cut-off was made is never void because both fell in one millisecond. Revoked grants and
    /// disabled accounts (cut-off [`Timestamp::MAX`]) are left alone: their tokens die anyway.
    pub fn issue_time(&self, now: Timestamp, account: &str, grant: &str) -> Timestamp {
        self.issue_time_for(
            now,
            &[
                (RevokedSubject::Account, account),
                (RevokedSubject::Grant, grant),
            ],
        )
    }

    /// Like [`Self::issue_time`], over every cut-off that can void the token: for a token
    /// acting for an account, or delegated by it, or scoped to an organization, also those.
    pub fn issue_time_for(&self, now: Timestamp, subjects: &[(RevokedSubject, &str)]) -> Timestamp {
        let e = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        subjects
            .iter()
            .filter_map(|(subject, id)| e.get(*subject, id))
            .map(|r| r.issued_before)
            .filter(|&cut| cut != Timestamp::MAX && cut >= now)
            .map(|cut| Timestamp::from_millis(cut.as_millis().saturating_add(1)))
            .fold(now, Timestamp::max)
    }

    /// Drops entries that no longer matter at `now`.
    pub fn prune(&self, now: Timestamp) {
        let mut e = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        e.grants.retain(|_, r| r.until > now);
        e.accounts.retain(|_, r| r.until > now);
        e.delegations.retain(|_, r| r.until > now);
        e.memberships.retain(|_, r| r.until > now);
    }

    /// Checks an organization-scoped token of `account` in `org`, issued at `issued_at`,
    /// against the membership's cut-off.
    pub fn check_membership(
        &self,
        org: &str,
        account: &str,
        issued_at: Timestamp,
    ) -> Result<(), Denial> {
        let e = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        match e.memberships.get(&format!("{org}/{account}")) {
            Some(r) if issued_at <= r.issued_before => Err(Denial::TokenRevoked),
            _ => Ok(()),
        }
    }

    /// The latest delegation cut-off of `account`: OAuth grants it made at or before this
    /// time are void ([`RevokedSubject::Delegation`]).
    pub fn delegation_cutoff(&self, account: &str) -> Option<Timestamp> {
        let e = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        e.delegations.get(account).map(|r| r.issued_before)
    }

    /// Checks a token that `account` delegated (an OAuth token issued for it, or a client
    /// token acting for it), issued at `issued_at`, against the account's delegation cut-off
    /// and, for `acting_for` tokens whose subject is the client, the account's own cut-off.
    pub fn check_delegation(
        &self,
        account: &str,
        issued_at: Timestamp,
        acting_for: bool,
    ) -> Result<(), Denial> {
        if acting_for {
            self.check(account, "", issued_at)?;
        }
        let e = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        match e.delegations.get(account) {
            Some(r) if issued_at <= r.issued_before => Err(Denial::TokenRevoked),
            _ => Ok(()),
        }
    }

    /// Checks a token of `account` under `grant`, issued at `issued_at`, against the list.
    pub fn check(&self, account: &str, grant: &str, issued_at: Timestamp) -> Result<(), Denial> {
        if !self.is_current() {
            return Err(Denial::RevocationUnavailable);
        }
        let e = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = e.accounts.get(account) {
            if r.issued_before == Timestamp::MAX {
                return Err(Denial::AccountDisabled);
            }
            if issued_at <= r.issued_before {
                return Err(Denial::TokenRevoked);
            }
        }
        if let Some(r) = e.grants.get(grant) {
            if r.issued_before == Timestamp::MAX {
                return Err(Denial::SessionRevoked);
            }
            if issued_at <= r.issued_before {
                return Err(Denial::TokenRevoked);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str) -> Revocation {
        Revocation {
            subject: RevokedSubject::Grant,
            id: id.into(),
            issued_before: Timestamp::MAX,
            until: Timestamp::from_secs(100),
        }
    }

    #[test]
    fn fails_closed_until_loaded() {
        let c = RevocationCache::new();
        assert_eq!(
            c.check("a", "s", Timestamp::from_secs(1)),
            Err(Denial::RevocationUnavailable)
        );
        c.load(vec![]);
        assert_eq!(c.check("a", "s", Timestamp::from_secs(1)), Ok(()));
        c.mark_stale();
        assert_eq!(
            c.check("a", "s", Timestamp::from_secs(1)),
            Err(Denial::RevocationUnavailable)
        );
    }

    #[test]
    fn grant_account_and_lift() {
        let c = RevocationCache::new();
        c.load(vec![grant("s1")]);
        assert_eq!(
            c.check("a", "s1", Timestamp::from_secs(1)),
            Err(Denial::SessionRevoked)
        );
        assert_eq!(c.check("a", "s2", Timestamp::from_secs(1)), Ok(()));
        c.apply(&RevocationChange::Put(Revocation {
            subject: RevokedSubject::Account,
            id: "a".into(),
            issued_before: Timestamp::from_secs(5),
            until: Timestamp::from_secs(50),
        }));
        assert_eq!(
            c.check("a", "s2", Timestamp::from_secs(5)),
            Err(Denial::TokenRevoked)
        );
        assert_eq!(c.check("a", "s2", Timestamp::from_millis(5001)), Ok(()));
        c.apply(&RevocationChange::Put(Revocation {
            subject: RevokedSubject::Account,
            id: "a".into(),
            issued_before: Timestamp::MAX,
            until: Timestamp::MAX,
        }));
        assert_eq!(
            c.check("a", "s2", Timestamp::from_secs(99)),
            Err(Denial::AccountDisabled)
        );
        c.apply(&RevocationChange::Lift {
            subject: RevokedSubject::Account,
            id: "a".into(),
        });
        assert_eq!(c.check("a", "s2", Timestamp::from_secs(99)), Ok(()));
        c.prune(Timestamp::from_secs(100));
        assert_eq!(c.check("a", "s1", Timestamp::from_secs(1)), Ok(()));
    }

    #[test]
    fn a_cut_off_and_a_mint_in_one_millisecond_keep_their_order() {
        let c = RevocationCache::new();
        c.load(vec![]);
        let t = Timestamp::from_secs(10);
        assert_eq!(c.issue_time(t, "a", "s"), t, "no cut-off: iat is now");
        assert_eq!(c.cutoff(t), t, "nothing seen yet: the cut-off is now");
        c.apply(&RevocationChange::Put(Revocation {
            subject: RevokedSubject::Account,
            id: "a".into(),
            issued_before: c.cutoff(t),
            until: Timestamp::from_secs(100),
        }));
        assert_eq!(c.check("a", "s", t), Err(Denial::TokenRevoked));
        let minted = c.issue_time(t, "a", "s");
        assert_eq!(
            minted,
            Timestamp::from_millis(10_001),
            "moved past the cut-off"
        );
        assert_eq!(c.check("a", "s", minted), Ok(()));
        assert_eq!(c.issue_time(t, "b", "s"), t, "other accounts keep now");
        assert_eq!(
            c.issue_time(Timestamp::from_secs(11), "a", "s"),
            Timestamp::from_secs(11),
            "a later mint is past the cut-off anyway"
        );

        // A second cut-off in the same millisecond, on the grant, reaches the moved token.
        c.apply(&RevocationChange::Put(Revocation {
            subject: RevokedSubject::Grant,
            id: "s".into(),
            issued_before: c.cutoff(t),
            until: Timestamp::from_secs(100),
        }));
        assert_eq!(c.check("a", "s", minted), Err(Denial::TokenRevoked));
        let again = c.issue_time(t, "a", "s");
        assert_eq!(again, Timestamp::from_millis(10_002));
        assert_eq!(c.check("a", "s", again), Ok(()));

        // Revoked grants and disabled accounts move nothing: their tokens die regardless.
        c.apply(&RevocationChange::Put(grant("dead")));
        assert_eq!(
            c.issue_time(Timestamp::from_secs(20), "x", "dead"),
            Timestamp::from_secs(20)
        );
        assert_eq!(c.cutoff(Timestamp::from_secs(20)), Timestamp::from_secs(20));
    }
}
