//! When a notification that could not be delivered is tried again, and when
//! it is given up (DESIGN §4): transient failures (a 4xx reply, a dropped
//! connection, a timeout) back off exponentially; a permanent one (5xx) or
//! too many tries ends the row as `failed`.

use super::time::Timestamp;

/// What one delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// The server may accept it later: 4xx, connection lost, timeout.
    Transient,
    /// The server refused it for good: 5xx, or an address no server can take.
    Permanent,
}

/// The row's next state after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Sent,
    RetryAt(Timestamp),
    /// Given up; `exhausted` tells "too many tries" from "refused for good".
    Failed {
        exhausted: bool,
    },
}

/// How retries are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; it doubles each time…
    pub first_wait_secs: i64,
    /// …up to this.
    pub max_wait_secs: i64,
    /// Tries in all, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 1, 2, 4 … 64 minutes, then every 2 hours: 12 tries span about 10 hours,
    /// long enough to ride out a relay's maintenance window.
    fn default() -> RetryPolicy {
        RetryPolicy {
            first_wait_secs: 60,
            max_wait_secs: 2 * 3600,
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// The row's state after its `attempts`-th try (counting this one) ended so.
    pub fn after(&self, attempt: Attempt, attempts: u32, now: Timestamp) -> Next {
        match attempt {
            Attempt::Delivered => Next::Sent,
            Attempt::Permanent => Next::Failed { exhausted: false },
            Attempt::Transient if attempts >= self.max_attempts => Next::Failed { exhausted: true },
            Attempt::Transient => Next::RetryAt(now.plus_secs(self.wait_after(attempts))),
        }
    }

    /// The wait after `attempts` failed tries.
    pub fn wait_after(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first_wait_secs
            .saturating_mul(1_i64 << doublings)
            .min(self.max_wait_secs)
    }
}

/// Classifies an SMTP reply code (`None`: no reply, the connection failed).
pub fn classify_reply(code: Option<u16>) -> Attempt {
    match code {
        Some(c) if (200..300).contains(&c) => Attempt::Delivered,
        Some(c) if (500..600).contains(&c) => Attempt::Permanent,
        _ => Attempt::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_then_cap() {
        let p = RetryPolicy::default();
        let waits: Vec<i64> = (1..=9).map(|n| p.wait_after(n)).collect();
        assert_eq!(
            waits,
            [60, 120, 240, 480, 960, 1920, 3840, 7200, 7200],
            "minutes 1, 2, 4 … then 2 h"
        );
        let total: i64 = (1..p.max_attempts).map(|n| p.wait_after(n)).sum();
        assert!((9 * 3600..11 * 3600).contains(&total), "{total}");
    }

    #[test]
    fn transient_retries_until_the_last_try_then_fails() {
        let p = RetryPolicy {
            first_wait_secs: 10,
            max_wait_secs: 100,
            max_attempts: 3,
        };
        let now = Timestamp(1000);
        assert_eq!(
            p.after(Attempt::Transient, 1, now),
            Next::RetryAt(Timestamp(1010))
        );
        assert_eq!(
            p.after(Attempt::Transient, 2, now),
            Next::RetryAt(Timestamp(1020))
        );
        assert_eq!(
            p.after(Attempt::Transient, 3, now),
            Next::Failed { exhausted: true }
        );
        assert_eq!(
            p.after(Attempt::Permanent, 1, now),
            Next::Failed { exhausted: false }
        );
        assert_eq!(p.after(Attempt::Delivered, 3, now), Next::Sent);
    }

    #[test]
    fn reply_codes() {
        assert_eq!(classify_reply(Some(250)), Attempt::Delivered);
        assert_eq!(classify_reply(Some(421)), Attempt::Transient);
        assert_eq!(classify_reply(Some(452)), Attempt::Transient);
        assert_eq!(classify_reply(Some(550)), Attempt::Permanent);
        assert_eq!(classify_reply(Some(554)), Attempt::Permanent);
        assert_eq!(classify_reply(None), Attempt::Transient);
    }
}
