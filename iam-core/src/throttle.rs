//! Login back-off: after a number of free failures, each further failure doubles the wait.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// The back-off curve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottlePolicy {
    /// Consecutive failures allowed with no wait (default 5).
    pub free_failures: u32,
    /// The wait after the first failure beyond the free ones (default 1 s); it doubles each time.
    #[serde(with = "crate::clock::secs")]
    pub base_delay: Duration,
    /// The longest wait (default 15 minutes).
    #[serde(with = "crate::clock::secs")]
    pub max_delay: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_failures: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
        }
    }
}

impl ThrottlePolicy {
    /// The wait imposed after `failures` consecutive failures.
    pub fn delay_after(&self, failures: u32) -> Duration {
        let Some(excess) = failures.checked_sub(self.free_failures).filter(|e| *e > 0) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(excess - 1).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// How long the caller must still wait at `now`, if at all. Within the free failures there
    /// is no wait even when the last failure carries a later time (a concurrent attempt whose
    /// clock read came a moment after `now`, or another instance's clock running ahead).
    pub fn retry_after(&self, state: Option<ThrottleState>, now: Timestamp) -> Option<Duration> {
        let s = state?;
        let delay = self.delay_after(s.failures);
        let until = s.last_failure.plus(delay);
        (!delay.is_zero() && now < until).then(|| now.until(until))
    }

    /// Decides a reservation of one attempt at `at` against the counter `state`: the counter
    /// with the attempt counted as a failure when no wait applies, else how long to wait.
    ///
    /// Stores call this inside the atomic step that applies [`ThrottleWrite::Reserve`].
    ///
    /// [`ThrottleWrite::Reserve`]: crate::store::ThrottleWrite::Reserve
    pub fn admit(
        &self,
        state: Option<ThrottleState>,
        at: Timestamp,
    ) -> Result<ThrottleState, Duration> {
        match self.retry_after(state, at) {
            Some(wait) => Err(wait),
            None => Ok(ThrottleState::after_failure(state, at)),
        }
    }
}

/// The state of one throttle counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleState {
    /// Consecutive failures since the last success.
    pub failures: u32,
    /// When the last failure happened.
    pub last_failure: Timestamp,
}

impl ThrottleState {
    /// The counter `state` (none yet when `None`) with one more failure at `at`; the failure
    /// count saturates and the last failure time never moves back.
    pub fn after_failure(state: Option<ThrottleState>, at: Timestamp) -> ThrottleState {
        state.map_or(
            ThrottleState {
                failures: 1,
                last_failure: at,
            },
            |s| ThrottleState {
                failures: s.failures.saturating_add(1),
                last_failure: s.last_failure.max(at),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_is_free_then_doubling_then_capped() {
        let p = ThrottlePolicy::default();
        let d: Vec<u64> = (0..=16).map(|n| p.delay_after(n).as_secs()).collect();
        assert_eq!(
            d,
            vec![0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900]
        );
        assert_eq!(p.delay_after(u32::MAX), Duration::from_secs(900));
    }

    #[test]
    fn admit_counts_until_the_policy_asks_to_wait() {
        let p = ThrottlePolicy::default();
        let t = Timestamp::from_secs(1000);
        let mut state = None;
        for n in 1..=6 {
            let next = p
                .admit(state, t)
                .expect("free and the first paid attempt pass");
            assert_eq!(
                next,
                ThrottleState {
                    failures: n,
                    last_failure: t
                }
            );
            state = Some(next);
        }
        assert_eq!(p.admit(state, t), Err(Duration::from_secs(1)));
        let later = t.plus(Duration::from_secs(1));
        assert_eq!(
            p.admit(state, later),
            Ok(ThrottleState {
                failures: 7,
                last_failure: later
            })
        );
        // A clock behind the recorded failure never moves it back.
        let zero = ThrottleState {
            failures: 0,
            last_failure: later,
        };
        assert_eq!(p.admit(Some(zero), t).map(|s| s.last_failure), Ok(later));
    }

    #[test]
    fn retry_after_counts_down_from_the_last_failure() {
        let p = ThrottlePolicy::default();
        let t = Timestamp::from_secs(1000);
        let s = Some(ThrottleState {
            failures: 8,
            last_failure: t,
        });
        assert_eq!(p.retry_after(s, t), Some(Duration::from_secs(4)));
        assert_eq!(
            p.retry_after(s, t.plus(Duration::from_secs(3))),
            Some(Duration::from_secs(1))
        );
        assert_eq!(p.retry_after(s, t.plus(Duration::from_secs(4))), None);
        assert_eq!(p.retry_after(None, t), None);
        let free_but_later = ThrottleState {
            failures: 5,
            last_failure: t.plus(Duration::from_millis(1)),
        };
        assert_eq!(
            p.retry_after(Some(free_but_later), t),
            None,
            "a free failure stamped a moment later imposes no wait"
        );
        assert_eq!(
            p.retry_after(
                Some(ThrottleState {
                    failures: 5,
                    last_failure: t
                }),
                t
            ),
            None
        );
    }
}
