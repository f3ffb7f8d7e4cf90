//! The shape of every operation: **load → decide → commit**.
//!
//! - *Load*: an `Iam` method reads the records it needs through the [`Store`](crate::store::Store),
//!   reads the clock once, and runs the costly checks (Argon2id, TOTP) whose results the rules
//!   take as inputs.
//! - *Decide*: a pure function of (loaded state, input, `now`, configuration) returns a
//!   [`Plan`]: the [`Commit`] to apply and the output to hand back, or a typed denial. These
//!   functions live in each concept's `rules` module and are unit-tested without a store or an
//!   async runtime.
//! - *Commit*: the method applies the plan's commit through the store (retrying the whole
//!   operation when it loses a race) and returns the output.

use crate::audit::AuditDraft;
use crate::error::Result;
use crate::revocation::RevocationChange;
use crate::store::{Commit, Store, ThrottleWrite, Write};

/// What a decision returns: the changes to commit and the output for the caller.
#[derive(Debug, Default)]
#[must_use]
pub(crate) struct Plan<T> {
    /// The writes, counter updates, revocations and audit events to apply atomically.
    pub commit: Commit,
    /// What the operation hands back once the commit has landed.
    pub output: T,
}

impl<T> Plan<T> {
    /// A plan that commits nothing yet and returns `output`.
    pub fn new(output: T) -> Self {
        Plan {
            commit: Commit::default(),
            output,
        }
    }

    /// Adds a record write.
    pub fn write(mut self, write: Write) -> Self {
        self.commit.writes.push(write);
        self
    }

    /// Adds an audit event.
    pub fn audit(mut self, event: AuditDraft) -> Self {
        self.commit.audit.push(event);
        self
    }

    /// Adds a throttle-counter update.
    pub fn throttle(mut self, update: ThrottleWrite) -> Self {
        self.commit.throttle.push(update);
        self
    }

    /// Adds a revocation change.
    pub fn revoke(mut self, change: RevocationChange) -> Self {
        self.commit.revocations.push(change);
        self
    }

    /// Applies the commit through `store` and hands back the output. A plan that changes
    /// nothing (an operation that found nothing to do) is not sent to the store.
    pub async fn apply<S: Store>(self, store: &S) -> Result<T> {
        if self.commit != Commit::default() {
            store.commit(self.commit).await?;
        }
        Ok(self.output)
    }

    /// Replaces the output, keeping the commit.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Plan<U> {
        Plan {
            commit: self.commit,
            output: f(self.output),
        }
    }
}
