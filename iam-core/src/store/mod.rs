//! The persistence contract: the [`Store`] trait and the plain data it moves.
//!
//! A store keeps versioned [`Record`]s (JSON bodies the core defines), login-throttle
//! counters, the revocation list and the hash-chained audit log. Every change is one
//! [`Commit`], applied atomically: either all of its writes, counter updates, revocation
//! changes and audit events land, or none do. Writes carry compare-and-swap expectations,
//! so races (two refreshes of one token, two accounts with one username) resolve inside
//! the store, never in the caller.

pub(crate) mod error;
mod kind;
mod memory;

pub use crate::throttle::ThrottleState;
pub use error::{StoreError, StoreResult};
pub use kind::RecordKind;
pub use memory::MemoryStore;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditDraft, AuditEvent, AuditQuery};
use crate::clock::Timestamp;
use crate::revocation::{Revocation, RevocationCache, RevocationChange};
use crate::throttle::ThrottlePolicy;

/// One stored object. The core owns the body's meaning; the store only indexes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The namespace.
    pub kind: RecordKind,
    /// Unique within the kind.
    pub id: String,
    /// Set by the store: 1 on insert, +1 on every update.
    pub version: u64,
    /// The owning object's id (account of a session, session of a refresh token), for listing.
    pub parent: Option<String>,
    /// A second key, unique within the kind when present (a username).
    pub lookup: Option<String>,
    /// When the record may be pruned.
    pub expires_at: Option<Timestamp>,
    /// The body, JSON text written by the core. Holds secrets only as hashes or ciphertext.
    pub body: String,
}

/// One change to one record inside a [`Commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// Creates a record; fails with [`StoreError::Duplicate`] if its id or lookup is taken.
    Insert(Record),
    /// Replaces a record if its stored version is still `expected_version`, else [`StoreError::Conflict`].
    Update {
        /// The new content (its `version` field is ignored).
        record: Record,
        /// The version the caller read.
        expected_version: u64,
    },
    /// Removes a record if its stored version is still `expected_version`, else [`StoreError::Conflict`].
    Delete {
        /// The namespace.
        kind: RecordKind,
        /// The record id.
        id: String,
        /// The version the caller read.
        expected_version: u64,
    },
    /// A read precondition: changes nothing, but fails the whole commit with
    /// [`StoreError::Conflict`] unless the record of `kind` with `id` exists with version
    /// `expected_version` at this point of the commit (after the commit's earlier writes). A
    /// missing record always conflicts, so `expected_version` 0 never passes. For decisions
    /// that depend on a record the commit does not write: the record cannot change between the
    /// check and the commit's end (adapters lock it or hold the database's write lock).
    Check {
        /// The namespace.
        kind: RecordKind,
        /// The record id.
        id: String,
        /// The version the caller read.
        expected_version: u64,
    },
}

/// A change to a login-throttle counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThrottleWrite {
    /// Adds one failure at `at` (atomically: concurrent failures all count).
    Failure {
        /// The throttle key.
        key: String,
        /// When it failed.
        at: Timestamp,
    },
    /// Clears the counter after a success.
    Reset {
        /// The throttle key.
        key: String,
    },
    /// Reserves one attempt before it is checked: if `policy` imposes no wait at `at` on the
    /// counter as it stands, counts the attempt as a failure up front (as [`ThrottlePolicy::admit`]
    /// computes); otherwise the whole commit fails with [`StoreError::Throttled`]. The check and
    /// the count are one atomic step, so concurrent attempts are admitted only as far as the
    /// policy allows.
    Reserve {
        /// The throttle key.
        key: String,
        /// When the attempt is made.
        at: Timestamp,
        /// The back-off to apply.
        policy: ThrottlePolicy,
    },
    /// Takes back one reserved attempt that turned out not to count (the password was right but
    /// the account refused, a user code was found): one failure fewer, the counter removed at
    /// zero, the last failure time unchanged. Nothing happens without a counter.
    Refund {
        /// The throttle key.
        key: String,
    },
}

/// Everything one operation changes, applied atomically by [`Store::commit`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commit {
    /// Record changes; any failed expectation aborts the whole commit.
    pub writes: Vec<Write>,
    /// Throttle counter changes.
    pub throttle: Vec<ThrottleWrite>,
    /// Revocation list changes; the store also publishes them to every subscribed cache.
    pub revocations: Vec<RevocationChange>,
    /// Audit events, appended to the chain in order.
    pub audit: Vec<AuditDraft>,
}

/// What [`Store::list`] returns: records of one kind, optionally of one parent, ordered by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only records with this parent.
    pub parent: Option<String>,
    /// Only records whose id sorts after this one (for paging).
    pub after: Option<String>,
    /// At most this many (no limit when `None`).
    pub limit: Option<usize>,
}

/// What [`Store::prune`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    /// Records removed because their `expires_at` had passed, per kind (kinds with none omitted).
    pub records: Vec<(RecordKind, u64)>,
    /// Throttle counters removed because their last failure was old enough.
    pub throttles: u64,
    /// Revocations removed because their `until` had passed.
    pub revocations: u64,
}

impl PruneReport {
    /// Records removed of `kind`.
    pub fn records_of(&self, kind: RecordKind) -> u64 {
        self.records
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }
}

/// The persistence contract every adapter fulfils (see the module docs).
///
/// Adapters must pass the conformance suite in `iam_core::testing` (feature `testing`): one
/// test per contract from `iam_core::store_contract_tests!(factory)` in the adapter's tests.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The record of `kind` with `id`.
    async fn get(&self, kind: RecordKind, id: &str) -> StoreResult<Option<Record>>;

    /// The record of `kind` whose lookup key is `lookup`.
    async fn find(&self, kind: RecordKind, lookup: &str) -> StoreResult<Option<Record>>;

    /// Records of `kind` matching `query`, ordered by id.
    async fn list(&self, kind: RecordKind, query: &ListQuery) -> StoreResult<Vec<Record>>;

    /// Applies `commit` atomically (see [`Commit`]).
    async fn commit(&self, commit: Commit) -> StoreResult<()>;

    /// The throttle counter under `key`, if any failure is recorded.
    async fn throttle(&self, key: &str) -> StoreResult<Option<ThrottleState>>;

    /// Audit events matching `query`, in chain order.
    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>>;

    /// Every revocation in force, for a full cache load.
    async fn revocations(&self) -> StoreResult<Vec<Revocation>>;

    /// Registers `cache` to receive every later revocation change, from this process and, where
    /// the backend can, from other processes sharing the database. The store fills the cache
    /// with [`Store::revocations`] first, marks it current, and marks it not current whenever it
    /// may have missed a change (after which it reloads it).
    async fn subscribe(&self, cache: Arc<RevocationCache>) -> StoreResult<()>;
    /// Removes, in one atomic step, every record whose `expires_at` is at or before `now`
    /// (whatever its version), every revocation whose `until` is at or before `now`, and every
    /// throttle counter whose last failure is at or before `throttles_idle_since`. Audit events
    /// are never pruned. Reports the counts, records listed in [`RecordKind::ALL`] order.
    async fn prune(
        &self,
        now: Timestamp,
        throttles_idle_since: Timestamp,
    ) -> StoreResult<PruneReport>;
}

/// A shared store is a store: several [`crate::Iam`] instances (or an app and an `Iam`) can use one.
#[async_trait]
impl<T: Store + ?Sized> Store for Arc<T> {
    async fn get(&self, kind: RecordKind, id: &str) -> StoreResult<Option<Record>> {
        (**self).get(kind, id).await
    }
    async fn find(&self, kind: RecordKind, lookup: &str) -> StoreResult<Option<Record>> {
        (**self).find(kind, lookup).await
    }
    async fn list(&self, kind: RecordKind, query: &ListQuery) -> StoreResult<Vec<Record>> {
        (**self).list(kind, query).await
    }
    async fn commit(&self, commit: Commit) -> StoreResult<()> {
        (**self).commit(commit).await
    }
    async fn throttle(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
        (**self).throttle(key).await
    }
    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        (**self).audit(query).await
    }
    async fn revocations(&self) -> StoreResult<Vec<Revocation>> {
        (**self).revocations().await
    }
    async fn subscribe(&self, cache: Arc<RevocationCache>) -> StoreResult<()> {
        (**self).subscribe(cache).await
    }
    async fn prune(
        &self,
        now: Timestamp,
        throttles_idle_since: Timestamp,
    ) -> StoreResult<PruneReport> {
        (**self).prune(now, throttles_idle_since).await
    }
}
