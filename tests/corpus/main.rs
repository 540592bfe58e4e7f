//! The corpus check: real-world mail no one here wrote, read from
//! `$TICKETD_CORPUS` (default `../shared/corpus`), and ticketd's own reply
//! fixtures (`fixtures/replies/`). Run with `cargo test --test corpus`; it
//! prints the pass rate per source, and for the reply suites how many
//! visible texts came out empty where the expectation is not, and fails
//! when a source falls under its required rate. When the corpus is missing
//! it says so loudly and checks the fixtures only, so a clone without it
//! still tests green.

mod classify;
mod common;
mod fixtures;
mod ingest_all;
mod never_empty;
mod replies;

use common::SourceResult;

fn main() {
    let verbose = std::env::args().any(|a| a == "--verbose" || a == "-v");
    let mut results: Vec<SourceResult> = fixtures::run(&fixtures::dir());
    let dir = common::corpus_dir();
    if dir.join("README.md").exists() {
        results.extend(replies::run(&dir));
        results.push(never_empty::run(&dir));
        results.extend(classify::run(&dir));
        results.extend(ingest_all::run(&dir));
    } else {
        eprintln!(
            "WARNING: corpus not found at {} — set TICKETD_CORPUS to run the corpus check; \
             only ticketd's own fixtures were checked",
            dir.display()
        );
    }

    let mut failed = false;
    println!(
        "{:<48} {:>7} {:>7} {:>8} {:>6} {:>9}",
        "source", "passed", "total", "rate", "empty", "slowest"
    );
    for r in &results {
        let mark = if r.ok() { "" } else { "  << below required" };
        let empty = r.empty.map_or_else(|| "-".to_owned(), |e| e.to_string());
        let slowest = r.slowest.as_ref().map_or_else(
            || "-".to_owned(),
            |(t, _)| format!("{:.1}ms", t.as_secs_f64() * 1000.0),
        );
        println!(
            "{:<48} {:>7} {:>7} {:>7.1}% {:>6} {:>9}{mark}",
            r.source,
            r.passed,
            r.total,
            r.rate() * 100.0,
            empty,
            slowest,
        );
        if !r.ok() {
            failed = true;
        }
        if verbose || !r.ok() {
            for f in &r.failures {
                println!("    miss: {f}");
            }
        }
    }
    // The reply suites together: the figure the issue tracks ("the union
    // does not drop").
    let suites: Vec<&SourceResult> = results
        .iter()
        .filter(|r| r.source.starts_with("replies/") && r.empty.is_some())
        .collect();
    let passed: usize = suites.iter().map(|r| r.passed).sum();
    let total: usize = suites.iter().map(|r| r.total).sum();
    let empty: usize = suites.iter().filter_map(|r| r.empty).sum();
    println!(
        "{:<48} {:>7} {:>7} {:>7.1}% {:>6}",
        "replies (union of the suites above)",
        passed,
        total,
        100.0 * passed as f64 / total.max(1) as f64,
        empty
    );
    if let Some((t, name)) = results
        .iter()
        .filter_map(|r| r.slowest.as_ref())
        .max_by_key(|(t, _)| *t)
    {
        println!(
            "slowest reply case: {:.1} ms ({name})",
            t.as_secs_f64() * 1000.0
        );
    }
    if failed {
        eprintln!("corpus check FAILED");
        std::process::exit(1);
    }
}
