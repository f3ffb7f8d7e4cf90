//! Guess budgets: every attempt at a secret (password, TOTP code, device user code) is
//! reserved under its throttle key before the secret is checked, so concurrent attempts reach
//! the check only as far as the back-off allows.
//!
//! A reservation counts the attempt as a failure up front, atomically with the back-off check
//! (see [`ThrottleWrite::Reserve`]). What follows the check settles it: a success clears the
//! counter ([`ThrottleWrite::Reset`]), an outcome that is no failed guess takes the attempt back
//! ([`ThrottleWrite::Refund`]), and a failed guess leaves it counted.

use crate::clock::{Clock, Timestamp};
use crate::error::{Denial, Result};
use crate::iam::Iam;
use crate::store::{Commit, Store, StoreError, ThrottleWrite};

impl<S: Store, C: Clock> Iam<S, C> {
    /// Reserves one attempt under `key` at `now` (the operation's one clock read), already
    /// counted as a failure; [`Denial::Throttled`] while the back-off asks to wait (then
    /// nothing is counted).
    pub(crate) async fn reserve_attempt_at(&self, key: &str, now: Timestamp) -> Result<()> {
        let reserve = ThrottleWrite::Reserve {
            key: key.to_owned(),
            at: now,
            policy: self.inner.config.throttle.clone(),
        };
        match self.settle_attempt(reserve).await {
            Ok(()) => Ok(()),
            Err(StoreError::Throttled { retry_after }) => {
                Err(Denial::Throttled { retry_after }.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes back an attempt reserved under `key` that turned out not to be a failed guess.
    pub(crate) async fn refund_attempt(&self, key: &str) -> Result<()> {
        let refund = ThrottleWrite::Refund {
            key: key.to_owned(),
        };
        Ok(self.settle_attempt(refund).await?)
    }

    /// Clears the counter under `key` after a successful check.
    pub(crate) async fn reset_attempts(&self, key: &str) -> Result<()> {
        let reset = ThrottleWrite::Reset {
            key: key.to_owned(),
        };
        Ok(self.settle_attempt(reset).await?)
    }

    async fn settle_attempt(&self, write: ThrottleWrite) -> std::result::Result<(), StoreError> {
        self.inner
            .store
            .commit(Commit {
                throttle: vec![write],
                ..Commit::default()
            })
            .await
    }
}
