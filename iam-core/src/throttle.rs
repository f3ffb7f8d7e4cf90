//! Login back-off: after a number of free failures, each further failure doubles the wait.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::store::ThrottleState;

/// The back-off curve.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottlePolicy {
    /// Consecutive failures allowed with no wait (default 5).
    pub free_failures: u32,
    /// The wait after the first failure beyond the free ones (default 1 s); it doubles each time.
    #[serde(with = "crate::config::secs")]
    pub base_delay: Duration,
    /// The longest wait (default 15 minutes).
    #[serde(with = "crate::config::secs")]
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

    /// How long the caller must still wait at `now`, if at all.
    pub fn retry_after(&self, state: Option<ThrottleState>, now: Timestamp) -> Option<Duration> {
        let s = state?;
        let until = s.last_failure.plus(self.delay_after(s.failures));
        (now < until).then(|| now.until(until))
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
