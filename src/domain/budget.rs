//! The budget all automated mail shares (DESIGN §4): a token bucket per
//! recipient and one per ticket. A peer that answers every mail with a mail
//! (an autoresponder the loop rules missed, a script) drains its bucket and
//! then gets nothing more until it refills; a person writing normally never
//! notices it.

use super::time::Timestamp;

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketRule {
    /// Mails that may go out back to back.
    pub burst: f64,
    /// Tokens regained per hour.
    pub per_hour: f64,
}

/// A bucket as stored: tokens left at a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub tokens: f64,
    pub at: Timestamp,
}

impl BucketRule {
    /// `n` an hour, `n` at once.
    pub fn per_hour(n: u32) -> BucketRule {
        BucketRule {
            burst: f64::from(n),
            per_hour: f64::from(n),
        }
    }

    /// A full bucket, for a key seen for the first time.
    pub fn full(&self, now: Timestamp) -> Bucket {
        Bucket {
            tokens: self.burst,
            at: now,
        }
    }

    /// The bucket refilled up to `now`.
    pub fn refill(&self, b: Bucket, now: Timestamp) -> Bucket {
        let hours = (now.0 - b.at.0).max(0) as f64 / 3600.0;
        Bucket {
            tokens: (b.tokens + hours * self.per_hour).min(self.burst),
            at: now.max(b.at),
        }
    }
}

/// Takes one token from every bucket, or from none: a mail goes out only if
/// all its buckets (its recipient's and its ticket's) have one.
/// Returns the buckets after the decision, and whether the mail may go.
pub fn take(rules_and_buckets: &[(BucketRule, Bucket)], now: Timestamp) -> (bool, Vec<Bucket>) {
    let refilled: Vec<Bucket> = rules_and_buckets
        .iter()
        .map(|(rule, b)| rule.refill(*b, now))
        .collect();
    let allowed = refilled.iter().all(|b| b.tokens >= 1.0);
    let after = if allowed {
        refilled
            .into_iter()
            .map(|b| Bucket {
                tokens: b.tokens - 1.0,
                ..b
            })
            .collect()
    } else {
        refilled
    };
    (allowed, after)
}

/// Takes one token from every bucket even when one is short, and says how
/// many seconds until that mail's turn comes (0: at once). For mail that
/// must never be dropped, an agent's answer: it waits for the next free slot
/// instead, and the mail after it waits behind it.
pub fn take_waiting(
    rules_and_buckets: &[(BucketRule, Bucket)],
    now: Timestamp,
) -> (i64, Vec<Bucket>) {
    let mut wait = 0i64;
    let after = rules_and_buckets
        .iter()
        .map(|(rule, b)| {
            let b = rule.refill(*b, now);
            let left = b.tokens - 1.0;
            if left < 0.0 && rule.per_hour > 0.0 {
                wait = wait.max((-left / rule.per_hour * 3600.0).ceil() as i64);
            }
            Bucket { tokens: left, ..b }
        })
        .collect();
    (wait, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: BucketRule = BucketRule {
        burst: 3.0,
        per_hour: 6.0,
    };

    #[test]
    fn a_burst_passes_then_the_bucket_refills_with_time() {
        let t0 = Timestamp(10_000);
        let mut b = RULE.full(t0);
        for n in 0..3 {
            let (ok, after) = take(&[(RULE, b)], t0);
            assert!(ok, "mail {n} of the burst");
            b = after[0];
        }
        let (ok, after) = take(&[(RULE, b)], t0);
        assert!(!ok, "the fourth mail at once is held");
        b = after[0];
        // 6 per hour: one token every 10 minutes.
        let (ok, _) = take(&[(RULE, b)], t0.plus_secs(9 * 60));
        assert!(!ok, "not yet refilled");
        let (ok, after) = take(&[(RULE, b)], t0.plus_secs(10 * 60));
        assert!(ok, "one token back after 10 minutes");
        assert!(after[0].tokens < 1.0);
        // Never more than the burst, however long the pause.
        assert_eq!(RULE.refill(b, t0.plus_secs(86_400)).tokens, 3.0);
    }

    #[test]
    fn all_buckets_or_none() {
        let t0 = Timestamp(0);
        let empty = Bucket {
            tokens: 0.0,
            at: t0,
        };
        let full = RULE.full(t0);
        let (ok, after) = take(&[(RULE, full), (RULE, empty)], t0);
        assert!(!ok);
        assert_eq!(after[0].tokens, 3.0, "the full bucket is not charged");
    }

    #[test]
    fn mail_that_must_go_waits_for_its_slot_and_the_next_waits_behind_it() {
        let t0 = Timestamp(0);
        let mut b = RULE.full(t0);
        for _ in 0..3 {
            let (wait, after) = take_waiting(&[(RULE, b)], t0);
            assert_eq!(wait, 0);
            b = after[0];
        }
        // Empty: 6 per hour is one every 600 s.
        let (wait, after) = take_waiting(&[(RULE, b)], t0);
        assert_eq!(wait, 600);
        let (wait, after) = take_waiting(&[(RULE, after[0])], t0);
        assert_eq!(wait, 1200, "the second waits behind the first");
        // Automated mail is held until the debt is paid back.
        let (ok, _) = take(&[(RULE, after[0])], t0.plus_secs(1200));
        assert!(!ok);
    }
}
