//! `ticketd run [--once]`: the daemon, on a single-threaded tokio runtime
//! (SQLite is one writer anyway); SIGTERM/SIGINT finish the batch in hand.

use tokio::sync::watch;

use super::{CmdResult, Exit, Failure};
use crate::config::Config;
use crate::daemon::{self, DaemonError, Mode};

pub fn run(config: &Config, once: bool) -> CmdResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Software, format!("cannot start the runtime: {e}")))?;
    let mode = if once { Mode::Once } else { Mode::Forever };
    let result = rt.block_on(async {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested: finishing the batch in hand");
            let _ = tx.send(true);
        });
        daemon::run(config, mode, rx).await
    });
    match result {
        Ok(stats) => {
            let outcomes: Vec<String> = stats
                .outcomes
                .iter()
                .map(|(o, n)| format!("{o} {n}"))
                .collect();
            tracing::info!(
                fetched = stats.fetched,
                moved = stats.moved,
                outcomes = %outcomes.join(", "),
                "stopped"
            );
            if once {
                outln!(
                    "fetched {} message(s): {}",
                    stats.fetched,
                    if outcomes.is_empty() {
                        "nothing waiting".to_owned()
                    } else {
                        outcomes.join(", ")
                    }
                );
            }
            Ok(())
        }
        Err(e) => {
            let exit = match &e {
                DaemonError::NoImap | DaemonError::Setup(_) => Exit::Config,
                e if e.is_temporary() => Exit::TempFail,
                DaemonError::Imap(_) => Exit::Config,
                _ => Exit::Software,
            };
            Err(Failure::new(exit, e.to_string()))
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
