//! How long to wait before reconnecting: doubling from one second up to five
//! minutes, with jitter so that many daemons restarted together (after a
//! server restart) do not all knock at once. Credentials problems wait the
//! longest: retrying a wrong password in a hot loop only locks the account.
//! Shared by the mailbox worker and the outbox courier; pure (the jitter is
//! passed in, from [`crate::clock::jitter`]).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    failures: u32,
}

/// The wait after a problem only an operator can fix (wrong password, bad CA file).
pub const OPERATOR_WAIT: Duration = Duration::from_secs(300);

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            failures: 0,
        }
    }

    /// The next wait; `jitter` in 0.0..1.0 spreads it over its upper half.
    pub fn next(&mut self, jitter: f64) -> Duration {
        let exp = self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let full = self.first.saturating_mul(1u32 << exp.min(31)).min(self.max);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// A connection worked: start again from the first wait.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let waits: Vec<u64> = (0..12).map(|_| b.next(1.0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        b.reset();
        assert_eq!(b.next(1.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_spreads_over_the_upper_half() {
        let mut b = Backoff::new(Duration::from_secs(8), Duration::from_secs(300));
        assert_eq!(b.next(0.0), Duration::from_secs(4));
        let mut b = Backoff::new(Duration::from_secs(8), Duration::from_secs(300));
        assert_eq!(b.next(0.5), Duration::from_secs(6));
        let j = crate::clock::jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
