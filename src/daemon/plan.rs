//! Which messages to fetch together: at most `max_count` per batch and about
//! `max_bytes` of mail in memory at once, whatever the mailbox holds (a
//! message larger than the budget travels alone), and how long their
//! ingest may take before the watchdog calls the daemon stuck.

use std::ops::Range;
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

/// The batches, as ranges of `sizes` (UID order): ranges, not lists of
/// UIDs, so that planning a folder of 50,000 waiting messages holds nothing
/// per message beyond `sizes` itself. `weight` is what a message counts
/// against `max_bytes` (nothing, for one that will not be fetched).
pub fn batches(
    sizes: &[(u32, u32)],
    max_count: usize,
    max_bytes: u64,
    weight: impl Fn(u32) -> u64,
) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, &(_, size)) in sizes.iter().enumerate() {
        let size = weight(size);
        if i > start && (i - start >= max_count.max(1) || bytes + size > max_bytes) {
            out.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_count_and_bytes() {
        let sizes = [(1, 10), (2, 10), (3, 10), (4, 100), (5, 10)];
        let by_size = |b: u32| u64::from(b);
        let uids = |plan: Vec<Range<usize>>| -> Vec<Vec<u32>> {
            plan.into_iter()
                .map(|r| sizes[r].iter().map(|(u, _)| *u).collect())
                .collect()
        };
        assert_eq!(
            uids(batches(&sizes, 2, 1000, by_size)),
            [vec![1, 2], vec![3, 4], vec![5]]
        );
        assert_eq!(
            uids(batches(&sizes, 10, 50, by_size)),
            [vec![1, 2, 3], vec![4], vec![5]]
        );
        assert!(batches(&[], 10, 50, by_size).is_empty());
        // One over the budget travels alone.
        let alone = batches(&[(9, 5000)], 10, 50, by_size);
        assert_eq!((alone.len(), alone.first().cloned()), (1, Some(0..1)));
        // What is not fetched weighs nothing: the 100-byte one rides along.
        let skip_large = |b: u32| if b > 50 { 0 } else { u64::from(b) };
        assert_eq!(
            uids(batches(&sizes, 10, 35, skip_large)),
            [vec![1, 2, 3, 4], vec![5]]
        );
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
