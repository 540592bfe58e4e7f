//! Which messages to fetch together: at most `max_count` per batch and about
//! `max_bytes` of mail in memory at once, whatever the mailbox holds (a
//! message larger than the budget travels alone).

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
}
