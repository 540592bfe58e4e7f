//! The wall clock, read at the edges and passed into the core as values
//! (the domain never reads it): the time of day for ingest, delivery and the
//! console, and the sub-second noise that spreads reconnection waits.

use crate::domain::time::Timestamp;

/// Now, in whole seconds since the epoch (0 on a clock set before 1970).
pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Timestamp(secs)
}

/// A jitter value from the clock's sub-second noise: no RNG dependency, and
/// two processes started together still differ.
pub fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed =
        (u64::from(nanos) ^ u64::from(std::process::id())).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}
