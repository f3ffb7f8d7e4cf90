//! [`MemoryStore`]: the in-process store, for tests, demos and single-process apps that need no persistence.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use async_trait::async_trait;

use super::{
    Commit, ListQuery, PruneReport, Record, RecordKind, Store, StoreError, StoreResult,
    ThrottleState, ThrottleWrite, Write,
};
use crate::audit::{AuditEvent, AuditQuery, GENESIS};
use crate::clock::Timestamp;
use crate::revocation::{Revocation, RevocationCache, RevocationChange, RevokedSubject};

#[derive(Default)]
struct State {
    records: HashMap<RecordKind, BTreeMap<String, Record>>,
    lookups: HashMap<(RecordKind, String), String>,
    throttles: HashMap<String, ThrottleState>,
    revocations: HashMap<(RevokedSubject, String), Revocation>,
    audit: Vec<AuditEvent>,
    subscribers: Vec<Weak<RevocationCache>>,
}

impl State {
    fn get(&self, kind: RecordKind, id: &str) -> Option<&Record> {
        self.records.get(&kind).and_then(|m| m.get(id))
    }

    /// Puts `record` (or removes the record when `None`) and keeps the lookup index in step.
    fn set(&mut self, kind: RecordKind, id: &str, record: Option<Record>) {
        let map = self.records.entry(kind).or_default();
        if let Some(old) = map.remove(id) {
            if let Some(l) = old.lookup {
                self.lookups.remove(&(kind, l));
            }
        }
        if let Some(r) = record {
            if let Some(l) = &r.lookup {
                self.lookups.insert((kind, l.clone()), id.to_owned());
            }
            map.insert(id.to_owned(), r);
        }
    }

    fn lookup_taken_by_other(&self, kind: RecordKind, lookup: Option<&String>, id: &str) -> bool {
        lookup.is_some_and(|l| {
            self.lookups
                .get(&(kind, l.clone()))
                .is_some_and(|owner| owner != id)
        })
    }

    /// Applies one write, remembering what it replaced in `undo`.
    fn apply(
        &mut self,
        write: Write,
        undo: &mut Vec<(RecordKind, String, Option<Record>)>,
    ) -> StoreResult<()> {
        match write {
            Write::Insert(mut r) => {
                if self.get(r.kind, &r.id).is_some()
                    || self.lookup_taken_by_other(r.kind, r.lookup.as_ref(), &r.id)
                {
                    return Err(StoreError::Duplicate { kind: r.kind });
                }
                r.version = 1;
                undo.push((r.kind, r.id.clone(), None));
                let (kind, id) = (r.kind, r.id.clone());
                self.set(kind, &id, Some(r));
            }
            Write::Update {
                mut record,
                expected_version,
            } => {
                let old = self
                    .get(record.kind, &record.id)
                    .cloned()
                    .ok_or(StoreError::Conflict)?;
                if old.version != expected_version {
                    return Err(StoreError::Conflict);
                }
                if self.lookup_taken_by_other(record.kind, record.lookup.as_ref(), &record.id) {
                    return Err(StoreError::Duplicate { kind: record.kind });
                }
                record.version = old.version + 1;
                undo.push((record.kind, record.id.clone(), Some(old)));
                let (kind, id) = (record.kind, record.id.clone());
                self.set(kind, &id, Some(record));
            }
            Write::Delete {
                kind,
                id,
                expected_version,
            } => {
                let old = self.get(kind, &id).cloned().ok_or(StoreError::Conflict)?;
                if old.version != expected_version {
                    return Err(StoreError::Conflict);
                }
                undo.push((kind, id.clone(), Some(old)));
                self.set(kind, &id, None);
            }
            Write::Check {
                kind,
                id,
                expected_version,
            } => {
                if self.get(kind, &id).map(|r| r.version) != Some(expected_version) {
                    return Err(StoreError::Conflict);
                }
            }
        }
        Ok(())
    }
}

impl State {
    /// The counters `writes` leave behind (`None`: removed), in the order they were touched;
    /// fails as the whole commit must when a reservation is refused.
    fn throttle_outcome(
        &self,
        writes: &[ThrottleWrite],
    ) -> StoreResult<Vec<(String, Option<ThrottleState>)>> {
        let mut out: Vec<(String, Option<ThrottleState>)> = Vec::new();
        for t in writes {
            let key = match t {
                ThrottleWrite::Failure { key, .. }
                | ThrottleWrite::Reset { key }
                | ThrottleWrite::Reserve { key, .. }
                | ThrottleWrite::Refund { key } => key,
            };
            let current = out
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map_or_else(|| self.throttles.get(key).copied(), |(_, c)| *c);
            let next = match t {
                ThrottleWrite::Failure { at, .. } => {
                    Some(ThrottleState::after_failure(current, *at))
                }
                ThrottleWrite::Reset { .. } => None,
                ThrottleWrite::Reserve { at, policy, .. } => Some(
                    policy
                        .admit(current, *at)
                        .map_err(|retry_after| StoreError::Throttled { retry_after })?,
                ),
                ThrottleWrite::Refund { .. } => {
                    current.filter(|c| c.failures > 1).map(|c| ThrottleState {
                        failures: c.failures - 1,
                        ..c
                    })
                }
            };
            out.push((key.clone(), next));
        }
        Ok(out)
    }
}

/// A [`Store`] in process memory, safe under concurrent use; everything is lost when it is dropped.
///
/// One lock guards the whole state, so every [`Commit`] is trivially atomic.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the stored audit events wholesale. For tests that show tampering is detected.
    #[doc(hidden)]
    pub fn tamper_audit(&self, edit: impl FnOnce(&mut Vec<AuditEvent>)) {
        edit(&mut self.lock().audit);
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, kind: RecordKind, id: &str) -> StoreResult<Option<Record>> {
        Ok(self.lock().get(kind, id).cloned())
    }

    async fn find(&self, kind: RecordKind, lookup: &str) -> StoreResult<Option<Record>> {
        let s = self.lock();
        Ok(s.lookups
            .get(&(kind, lookup.to_owned()))
            .and_then(|id| s.get(kind, id))
            .cloned())
    }

    async fn list(&self, kind: RecordKind, query: &ListQuery) -> StoreResult<Vec<Record>> {
        let s = self.lock();
        let Some(map) = s.records.get(&kind) else {
            return Ok(Vec::new());
        };
        let start = query
            .after
            .as_ref()
            .map_or(std::ops::Bound::Unbounded, |a| {
                std::ops::Bound::Excluded(a.clone())
            });
        Ok(map
            .range((start, std::ops::Bound::Unbounded))
            .map(|(_, r)| r)
            .filter(|r| query.parent.is_none() || r.parent == query.parent)
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn commit(&self, commit: Commit) -> StoreResult<()> {
        let mut s = self.lock();
        // Decided before anything changes, so a refused reservation leaves nothing behind.
        let counters = s.throttle_outcome(&commit.throttle)?;
        let mut undo = Vec::new();
        for w in commit.writes {
            if let Err(e) = s.apply(w, &mut undo) {
                for (kind, id, old) in undo.into_iter().rev() {
                    s.set(kind, &id, old);
                }
                return Err(e);
            }
        }
        for (key, counter) in counters {
            match counter {
                Some(state) => s.throttles.insert(key, state),
                None => s.throttles.remove(&key),
            };
        }
        for change in &commit.revocations {
            match change {
                RevocationChange::Put(r) => {
                    s.revocations.insert((r.subject, r.id.clone()), r.clone());
                }
                RevocationChange::Lift { subject, id } => {
                    s.revocations.remove(&(*subject, id.clone()));
                }
            }
        }
        for draft in commit.audit {
            let (seq, prev) = s.audit.last().map_or((0, GENESIS), |e| (e.seq, e.hash));
            s.audit.push(AuditEvent::chain(seq, prev, draft));
        }
        if !commit.revocations.is_empty() {
            s.subscribers.retain(|w| w.strong_count() > 0);
            for cache in s.subscribers.iter().filter_map(Weak::upgrade) {
                for change in &commit.revocations {
                    cache.apply(change);
                }
            }
        }
        Ok(())
    }

    async fn throttle(&self, key: &str) -> StoreResult<Option<ThrottleState>> {
        Ok(self.lock().throttles.get(key).copied())
    }

    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEvent>> {
        let s = self.lock();
        Ok(s.audit
            .iter()
            .filter(|e| query.matches(e))
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn revocations(&self) -> StoreResult<Vec<Revocation>> {
        Ok(self.lock().revocations.values().cloned().collect())
    }

    async fn subscribe(&self, cache: Arc<RevocationCache>) -> StoreResult<()> {
        let mut s = self.lock();
        cache.load(s.revocations.values().cloned().collect());
        s.subscribers.push(Arc::downgrade(&cache));
        Ok(())
    }

    async fn prune(
        &self,
        now: Timestamp,
        throttles_idle_since: Timestamp,
    ) -> StoreResult<PruneReport> {
        let mut s = self.lock();
        let mut report = PruneReport::default();
        for kind in RecordKind::ALL {
            let expired: Vec<String> = s
                .records
                .get(&kind)
                .into_iter()
                .flat_map(BTreeMap::values)
                .filter(|r| r.expires_at.is_some_and(|at| at <= now))
                .map(|r| r.id.clone())
                .collect();
            if !expired.is_empty() {
                report.records.push((kind, expired.len() as u64));
            }
            for id in expired {
                s.set(kind, &id, None);
            }
        }
        let throttles = s.throttles.len();
        s.throttles
            .retain(|_, t| t.last_failure > throttles_idle_since);
        report.throttles = (throttles - s.throttles.len()) as u64;
        let revocations = s.revocations.len();
        s.revocations.retain(|_, r| r.until > now);
        report.revocations = (revocations - s.revocations.len()) as u64;
        Ok(report)
    }
}

/// The in-memory store against the store-conformance suite, one test per contract.
#[cfg(test)]
mod conformance {
    crate::store_contract_tests!(|| async { crate::MemoryStore::new() });
}
