//! Retries: exponential backoff with jitter, capped per attempt and by a total budget, honouring
//! `Retry-After`. Which errors are worth a retry is decided by the error types
//! ([`csghub_api::Error::is_transient`] and [`crate::TransferError::is_transient`]).

use std::time::Duration;

/// How often and how long to retry a request or a chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total (first try included).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub base_delay: Duration,
    /// Cap of one delay.
    pub max_delay: Duration,
    /// Cap of all delays of one operation added up.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The delay before retry number `attempt` (1 = first retry), or `None` when the attempts or
    /// the budget (`spent` so far) are used up. A server's `Retry-After` wins over the backoff but
    /// still counts against the budget.
    pub fn delay(
        &self,
        attempt: u32,
        spent: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let backoff = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        // Full jitter in [backoff/2, backoff]: spreads clients that failed together.
        let jittered = backoff / 2 + backoff.mul_f64(fastrand::f64() / 2.0);
        let d = retry_after.unwrap_or(jittered);
        (spent + d <= self.budget).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_within_bounds() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            budget: Duration::from_secs(100),
        };
        for attempt in 1..10 {
            let full =
                Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_secs(1));
            let d = p.delay(attempt, Duration::ZERO, None).unwrap();
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        assert_eq!(p.delay(10, Duration::ZERO, None), None);
    }

    #[test]
    fn total_budget_is_pinned() {
        // Pins the worst case: the sum of all delays never exceeds the budget.
        let p = RetryPolicy::default();
        let mut spent = Duration::ZERO;
        let mut attempt = 1;
        while let Some(d) = p.delay(attempt, spent, None) {
            spent += d;
            attempt += 1;
        }
        assert!(spent <= p.budget);
        assert!(attempt <= p.max_attempts);
        // Default: 5 retries of at most 0.5+1+2+4+8 s.
        assert!(spent <= Duration::from_millis(15_500), "{spent:?}");
    }

    #[test]
    fn retry_after_is_honoured_within_budget() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, Duration::ZERO, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            p.delay(1, Duration::from_secs(55), Some(Duration::from_secs(7))),
            None
        );
    }
}
