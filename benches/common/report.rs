//! What the benchmarks share: the size knob, the opening line, the median
//! line, and peak memory read from /proc.

/// `BENCH_MESSAGES`, else `full` under `cargo bench` and `smoke` under `cargo test`.
#[allow(dead_code)] // the daemon benchmark runs three sizes of its own
pub fn messages(bench: bool, full: usize, smoke: usize) -> usize {
    std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { full } else { smoke })
}

pub fn print_mailbox(raws: &[Vec<u8>]) {
    let bytes: usize = raws.iter().map(Vec::len).sum();
    println!(
        "mailbox: {} messages, {:.1} MiB, {} cores",
        raws.len(),
        bytes as f64 / 1_048_576.0,
        std::thread::available_parallelism()
            .map(|c| c.get())
            .unwrap_or(1)
    );
}

/// Peak resident memory (VmHWM) of a process (`"self"` or a PID), in KiB.
pub fn peak_rss_kib(process: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A process's CPU time so far, all its threads, user and system
/// (`/proc/PID/stat` fields 14 and 15, in clock ticks of 10 ms).
#[allow(dead_code)] // the daemon benchmark's
pub fn process_cpu(process: &str) -> std::time::Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{process}/stat"))
        .ok()
        .and_then(|s| {
            // The command name (field 2) may hold spaces: count after it.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let user: u64 = f.get(11)?.parse().ok()?;
            let system: u64 = f.get(12)?.parse().ok()?;
            Some(user + system)
        })
        .unwrap_or(0);
    std::time::Duration::from_millis(ticks * 10)
}

/// One result line: the median of `times` for `n` items, as a rate of `unit`.
#[allow(dead_code)] // the daemon benchmark prints its own table
pub fn median_line(what: &str, n: usize, unit: &str, times: &mut [std::time::Duration]) {
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "{what:<50} median {:>8.1} ms  {:>9.0} {unit}/s  (runs: {})",
        median.as_secs_f64() * 1000.0,
        n as f64 / median.as_secs_f64(),
        times.len()
    );
}

/// Time this thread has spent on a CPU (`/proc/thread-self/schedstat`),
/// or zero where that is not readable. On a shared VM the wall clock also
/// counts the time the host lent the CPU elsewhere (steal); this does not,
/// so it is the steadier figure of the one writer's work.
#[allow(dead_code)] // only the in-process benchmark runs its writer itself
pub fn thread_cpu() -> std::time::Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .map(std::time::Duration::from_nanos)
        .unwrap_or_default()
}
