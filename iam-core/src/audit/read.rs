//! Reading the audit log and verifying its hash chain.

use crate::audit::{AuditEvent, AuditQuery, ChainVerifier};
use crate::authz::{Action, Caller};
use crate::clock::Clock;
use crate::error::Result;
use crate::iam::Iam;
use crate::store::Store;

/// Audit events read per page when verifying the chain.
const AUDIT_PAGE: usize = 5_000;

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
    /// [`Error::AuditChain`](crate::Error::AuditChain) naming the first broken link.
    pub async fn verify_audit_chain(&self, caller: Caller<'_>) -> Result<u64> {
        self.may(caller, Action::ReadAudit)?;
        let mut verifier = ChainVerifier::default();
        let mut after = None;
        loop {
            let q = AuditQuery {
                after_seq: after,
                limit: Some(AUDIT_PAGE),
                ..AuditQuery::default()
            };
            let page = self.inner.store.audit(&q).await?;
            for e in &page {
                verifier.push(e)?;
            }
            match page.last() {
                Some(last) if page.len() == AUDIT_PAGE => after = Some(last.seq),
                _ => return Ok(verifier.count()),
            }
        }
    }
}
