//! Which messages to fetch together: at most `max_count` per batch and about
//! `max_bytes` of mail in memory at once, whatever the mailbox holds (a
//! message larger than the budget travels alone), and how long their
//! ingest may take before the watchdog calls the daemon stuck.

use std::time::Duration;

/// The ingest time promised per MiB of mail, on top of [`INGEST_BASE`] and
/// the busy timeout: about ten times the slowest case measured (a 40 MB text
/// body, debug build: 5.4 s), so a merely slow mail never gets the daemon
/// restarted, and a truly stuck one (a 50 MiB mail: after about 9 minutes)
/// still does.
pub const INGEST_PER_MIB: Duration = Duration::from_secs(10);
/// The ingest time promised to any batch, however small.
pub const INGEST_BASE: Duration = Duration::from_secs(60);

/// How long parsing, deciding and committing `bytes` of mail may take: the
/// write lock may first be waited for (`busy`), then the work grows with size.
pub fn ingest_budget(bytes: u64, busy: Duration) -> Duration {
    let per_byte = INGEST_PER_MIB.as_secs_f64() / (1024.0 * 1024.0);
    INGEST_BASE + busy + Duration::from_secs_f64(bytes as f64 * per_byte)
}

pub fn batches(sizes: &[(u32, u32)], max_count: usize, max_bytes: u64) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut bytes = 0u64;
    for &(uid, size) in sizes {
        let size = u64::from(size);
        if !current.is_empty() && (current.len() >= max_count.max(1) || bytes + size > max_bytes) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(uid);
        bytes += size;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_count_and_bytes() {
        let sizes = [(1, 10), (2, 10), (3, 10), (4, 100), (5, 10)];
        assert_eq!(batches(&sizes, 2, 1000), [vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(batches(&sizes, 10, 50), [vec![1, 2, 3], vec![4], vec![5]]);
        assert!(batches(&[], 10, 50).is_empty());
        assert_eq!(batches(&[(9, 5000)], 10, 50), [vec![9]]);
    }

    #[test]
    fn the_ingest_budget_grows_with_the_bytes() {
        let busy = Duration::from_secs(30);
        for (bytes, secs) in [
            (0, 90),
            (1024 * 1024, 100),
            (50 * 1024 * 1024, 590),
            (8 * 1024 * 1024, 170),
        ] {
            assert_eq!(
                ingest_budget(bytes, busy),
                Duration::from_secs(secs),
                "{bytes}"
            );
        }
    }
}
