//! Reading the audit log and verifying its hash chain.

use std::collections::BTreeMap;

use crate::audit::{AuditEvent, AuditQuery, ChainBreak, ChainVerifier};
use crate::authz::{Action, Caller};
use crate::clock::Clock;
use crate::error::Result;
use crate::iam::Iam;
use crate::store::Store;

impl<S: Store, C: Clock> Iam<S, C> {
    /// Audit events matching `query`, in chain order.
    pub async fn audit_events(
        &self,
        caller: Caller<'_>,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEvent>> {
        self.may(caller, Action::ReadAudit)?;
        Ok(self.inner.store.audit(query).await?)
    }

    /// Walks the whole audit chain; returns the number of events, or
    /// [`Error::AuditChain`](crate::Error::AuditChain) naming the first broken link. Every
    /// stored checkpoint's event must still have the hash it signed
    /// ([`ChainBreak::CheckpointMismatch`] otherwise), and none may name an event past the end
    /// of the chain (the newest events were cut off).
    pub async fn verify_audit_chain(&self, caller: Caller<'_>) -> Result<u64> {
        self.may(caller, Action::ReadAudit)?;
        let signed: BTreeMap<u64, _> = self
            .stored_checkpoints()
            .await?
            .into_iter()
            .map(|c| (c.seq, c.head))
            .collect();
        let mut verifier = ChainVerifier::default();
        self.walk_audit(&mut verifier, |e| match signed.get(&e.seq) {
            Some(head) if *head != e.hash => {
                Err(ChainBreak::CheckpointMismatch { seq: e.seq }.into())
            }
            _ => Ok(()),
        })
        .await?;
        let count = verifier.count();
        match signed.keys().next_back() {
            Some(&last) if last > count => Err(ChainBreak::CheckpointMismatch { seq: last }.into()),
            _ => Ok(count),
        }
    }
}
