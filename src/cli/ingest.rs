//! `ingest` and `explain`: one message from a file or stdin, through the very
//! same pipeline; `explain` rolls its transaction back and prints the trace.

use std::io::Read;
use std::path::Path;

use super::{open_ingestor, print_json, CmdResult, Failure};
use crate::config::Config;
use crate::ingest::{now, Mode};

/// The whole message; empty input is a usage error (exit 64), not a ticket.
fn read_input(file: Option<&Path>) -> Result<Vec<u8>, Failure> {
    let mut raw = Vec::new();
    let from = match file {
        Some(p) if p != Path::new("-") => {
            raw = std::fs::read(p).map_err(|e| {
                Failure::usage(format!("cannot read message file {}: {e}", p.display()))
            })?;
            p.display().to_string()
        }
        _ => {
            std::io::stdin()
                .lock()
                .read_to_end(&mut raw)
                .map_err(|e| Failure::usage(format!("cannot read the message from stdin: {e}")))?;
            "stdin".to_owned()
        }
    };
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::usage(format!(
            "empty input: no message on {from}; pipe one RFC 5322 message (headers, blank line, body)"
        )));
    }
    Ok(raw)
}

pub fn ingest(config: &Config, file: Option<&Path>) -> CmdResult {
    let raw = read_input(file)?;
    let (mut store, ingestor) = open_ingestor(config)?;
    let report = ingestor.ingest(&mut store, &raw, now(), Mode::Commit)?;
    tracing::info!(
        outcome = %report.outcome,
        ticket = report.ticket,
        reason = report.reason.as_deref(),
        message_id = report.message_id.as_deref(),
        "ingested"
    );
    print_json(&report)
}

pub fn explain(config: &Config, file: Option<&Path>) -> CmdResult {
    let raw = read_input(file)?;
    let (mut store, ingestor) = open_ingestor(config)?;
    let report = ingestor.ingest(&mut store, &raw, now(), Mode::DryRun)?;
    outln!("explain (dry run: nothing is written, nothing is sent)");
    for (i, step) in report.trace.iter().enumerate() {
        outln!("{:>3}. {step}", i + 1);
    }
    let ticket = report
        .ticket
        .map(|t| format!(", ticket #{t}"))
        .unwrap_or_default();
    let reason = report
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    outln!("outcome: {}{reason}{ticket}", report.outcome);
    Ok(())
}
