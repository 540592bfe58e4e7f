//! `ticketd run [--once]`: the daemon, on a single-threaded tokio runtime
//! (SQLite is one writer anyway). The mailbox worker and the courier (SMTP)
//! run side by side; SIGTERM/SIGINT finish the batch in hand, then the
//! sends in flight.

use std::sync::Arc;

use tokio::sync::{watch, Notify};

use super::{CmdResult, Exit, Failure};
use crate::config::Config;
use crate::daemon::{self, DaemonError, Mode, Stats};
use crate::delivery::{Courier, DeliveryError};

pub fn run(config: &Config, once: bool) -> CmdResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Software, format!("cannot start the runtime: {e}")))?;
    let mode = if once { Mode::Once } else { Mode::Forever };
    rt.block_on(async {
        // Inside the runtime: the SMTP pool starts a task of its own.
        let courier = match &config.smtp {
            Some(smtp) => Some(Courier::new(config, smtp).map_err(delivery_failure)?),
            None => {
                tracing::warn!(
                    "no [smtp] section: notifications wait in the outbox (`ticketd outbox list`)"
                );
                None
            }
        };
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested: finishing the batch in hand");
            let _ = tx.send(true);
        });
        let committed = Arc::new(Notify::new());
        if once {
            let stats = daemon::run(config, mode, rx.clone(), committed)
                .await
                .map_err(daemon_failure)?;
            report(&stats, true);
            let Some(mut courier) = courier else {
                return Ok(());
            };
            let sent = courier.pass(&rx).await;
            courier.close().await;
            let sent = sent.map_err(delivery_failure)?;
            outln!("outbox: {sent}");
            return Ok(());
        }
        let (courier_stop_tx, courier_stop) = watch::channel(false);
        let mailbox = async {
            let r = daemon::run(config, mode, rx, committed.clone()).await;
            // The mailbox is done: the courier finishes what is in flight.
            let _ = courier_stop_tx.send(true);
            r
        };
        let delivery = async {
            if let Some(c) = courier {
                c.run(courier_stop, committed.clone()).await;
            }
        };
        let (result, ()) = tokio::join!(mailbox, delivery);
        let stats = result.map_err(daemon_failure)?;
        report(&stats, false);
        Ok(())
    })
}

fn report(stats: &Stats, print: bool) {
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
    if print {
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
}

fn daemon_failure(e: DaemonError) -> Failure {
    let exit = match &e {
        DaemonError::NoImap | DaemonError::Setup(_) => Exit::Config,
        e if e.is_temporary() => Exit::TempFail,
        DaemonError::Imap(_) => Exit::Config,
        _ => Exit::Software,
    };
    Failure::new(exit, e.to_string())
}

fn delivery_failure(e: DeliveryError) -> Failure {
    let exit = match &e {
        DeliveryError::RelayDown { .. } => Exit::TempFail,
        DeliveryError::LoginRefused { .. } => Exit::Config,
        DeliveryError::Store(s) if s.is_temporary() => Exit::TempFail,
        DeliveryError::Store(_) => Exit::Software,
        DeliveryError::Transport(_) | DeliveryError::Identity { .. } => Exit::Config,
    };
    Failure::new(exit, e.to_string())
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
