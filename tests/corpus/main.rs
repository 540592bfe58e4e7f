//! The corpus check: real-world mail no one here wrote, read from
//! `$TICKETD_CORPUS` (default `../shared/corpus`). Run with
//! `cargo test --test corpus`; it prints the pass rate per source and fails
//! when a source falls under its required rate. When the corpus is missing
//! it says so loudly and passes, so a clone without it still tests green.

mod classify;
mod common;
mod ingest_all;
mod replies;

use common::SourceResult;

fn main() {
    let dir = common::corpus_dir();
    if !dir.join("README.md").exists() {
        eprintln!(
            "WARNING: corpus not found at {} — set TICKETD_CORPUS to run the corpus check; skipped",
            dir.display()
        );
        return;
    }
    let verbose = std::env::args().any(|a| a == "--verbose" || a == "-v");
    let mut results: Vec<SourceResult> = Vec::new();
    results.extend(replies::run(&dir));
    results.extend(classify::run(&dir));
    results.extend(ingest_all::run(&dir));

    let mut failed = false;
    println!(
        "{:<48} {:>7} {:>7} {:>8}",
        "source", "passed", "total", "rate"
    );
    for r in &results {
        let mark = if r.ok() { "" } else { "  << below required" };
        println!(
            "{:<48} {:>7} {:>7} {:>7.1}%{mark}",
            r.source,
            r.passed,
            r.total,
            r.rate() * 100.0
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
    if failed {
        eprintln!("corpus check FAILED");
        std::process::exit(1);
    }
}
