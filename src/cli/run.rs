//! `ticketd run [--once]`: the daemon, on a single-threaded tokio runtime
//! (SQLite is one writer anyway) with tokio's blocking pool for the work that
//! may take long: ingest (parse, decide, commit) and housekeeping, so that
//! `/healthz`, the watchdog, IDLE and the courier never wait for them. The
//! mailbox worker and the courier (SMTP) run side by side; SIGTERM/SIGINT
//! finish the batch in hand (or, after a few seconds, leave it in the
//! mailbox), then the sends in flight; SIGHUP reloads what can be reloaded.
//! Under systemd it reports READY/STATUS/WATCHDOG/STOPPING; `[metrics]`
//! serves Prometheus.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::{CmdResult, Exit, Failure};
use crate::config::Config;
use crate::daemon::{self, DaemonError, Hooks, Mode, Stats};
use crate::delivery::{Courier, DeliveryError};
use crate::observe::{http, systemd, Observer};
use crate::store::{Durability, Store};

/// How long the exit waits for work left on the blocking pool: an ingest that
/// shutdown gave up on (uncommitted; the mailbox keeps its mail) is not
/// waited for beyond this.
const EXIT_WAIT: Duration = Duration::from_millis(500);

pub fn run(config: &Config, path: &Path, once: bool) -> CmdResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Software, format!("cannot start the runtime: {e}")))?;
    let result = rt.block_on(async {
        let mut courier = match &config.smtp {
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
            systemd::stopping();
            let _ = tx.send(true);
        });
        let committed = Arc::new(Notify::new());
        let observer = Arc::new(Observer::new());
        if once {
            let hooks = Hooks {
                committed,
                observer,
                reload: None,
            };
            let stats = daemon::run(config, Mode::Once, rx.clone(), hooks)
                .await
                .map_err(daemon_failure)?;
            report(&stats, true);
            if *rx.borrow() {
                // Stopped early: the chores and the outbox wait for the next run.
                return Ok(());
            }
            let mut store = super::open_store(config)?;
            let files = crate::attachments::AttachmentDir::new(&config.attachments_dir());
            chores(
                &mut store,
                &files,
                config.support.reopen_days,
                config.store.retention_days,
            )?;
            let Some(mut courier) = courier else {
                return Ok(());
            };
            let sent = courier.pass(&rx).await;
            courier.close().await;
            let sent = sent.map_err(delivery_failure)?;
            outln!("outbox: {sent}");
            return Ok(());
        }
        let portal = match &config.portal {
            Some(p) => Some(portal_parts(config, &p.listen, committed.clone()).await?),
            None => None,
        };
        let metrics = match &config.metrics {
            Some(m) => Some(
                http::bind(&m.listen)
                    .await
                    .map_err(|e| Failure::new(Exit::Config, e))?,
            ),
            None => None,
        };
        // Status and gauges read the database on a connection of their own.
        let status_store = Store::from_config(&config.store, Durability::Normal)?;
        let (reload_tx, reload_rx) = watch::channel(Arc::new(config.clone()));
        tokio::spawn(reload_on_sighup(
            path.to_owned(),
            Arc::new(config.clone()),
            reload_tx,
            observer.clone(),
        ));
        let (stop_tx, stop) = watch::channel(false);
        let mailbox = async {
            let hooks = Hooks {
                committed: committed.clone(),
                observer: observer.clone(),
                reload: Some(reload_rx.clone()),
            };
            let r = daemon::run(config, Mode::Forever, rx, hooks).await;
            // The mailbox is done: the courier finishes what is in flight.
            let _ = stop_tx.send(true);
            r
        };
        let delivery = async {
            if let Some(mut c) = courier.take() {
                c.observe(observer.clone());
                c.run(stop.clone(), committed.clone(), Some(reload_rx.clone()))
                    .await;
            }
        };
        let status = systemd::status_task(observer.clone(), status_store, stop.clone());
        let chores = housekeeping(config, stop.clone());
        let endpoint = async {
            if let Some(listener) = metrics {
                http::serve(listener, observer.clone(), stop.clone()).await;
            }
        };
        let web = serve_portal(portal, stop.clone());
        let (result, (), (), (), (), ()) =
            tokio::join!(mailbox, delivery, status, endpoint, chores, web);
        let stats = result.map_err(daemon_failure)?;
        report(&stats, false);
        Ok(())
    });
    // Dropping the runtime would wait for every blocking task, however long.
    rt.shutdown_timeout(EXIT_WAIT);
    result
}

/// The portal's state and listener, made before anything runs: a portal
/// that cannot start (a plain-http public URL, a busy port) is a config
/// error at start, not a surprise later.
async fn portal_parts(
    config: &Config,
    listen: &str,
    wake: Arc<Notify>,
) -> Result<(crate::web::State, tokio::net::TcpListener), Failure> {
    let state = crate::web::state_waking(config, wake).map_err(portal_failure)?;
    let listener = crate::web::bind(listen).await.map_err(portal_failure)?;
    tracing::info!(listen, url = %state.site.url, "portal listening");
    Ok((state, listener))
}

fn portal_failure(e: crate::web::StartError) -> Failure {
    match e {
        crate::web::StartError::Store(s) => s.into(),
        crate::web::StartError::Setup(s) => s.into(),
        other => Failure::new(Exit::Config, other.to_string()),
    }
}

/// Serves the portal (when configured) until `stop`.
async fn serve_portal(
    portal: Option<(crate::web::State, tokio::net::TcpListener)>,
    stop: watch::Receiver<bool>,
) {
    if let Some((state, listener)) = portal {
        if let Err(e) = crate::web::serve(listener, state, stop).await {
            tracing::error!(error = %e, "the portal stopped serving");
        }
    }
}

/// `ticketd portal`: the portal alone on the database, without IMAP; the
/// outbox is delivered too when `[smtp]` is set. Until SIGTERM/SIGINT.
pub fn portal(config: &Config) -> CmdResult {
    let Some(p) = &config.portal else {
        return Err(Failure::new(
            Exit::Config,
            "no [portal] section: add one with listen = \"127.0.0.1:8080\" (see config/ticketd.example.toml)",
        ));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Software, format!("cannot start the runtime: {e}")))?;
    let result = rt.block_on(async {
        // The portal's changes wake the courier, as the mailbox's commits do.
        let wake = Arc::new(Notify::new());
        let parts = portal_parts(config, &p.listen, wake.clone()).await?;
        let courier = match &config.smtp {
            Some(smtp) => Some(Courier::new(config, smtp).map_err(delivery_failure)?),
            None => None,
        };
        let (tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested");
            let _ = tx.send(true);
        });
        let delivery = async {
            if let Some(c) = courier {
                c.run(stop.clone(), wake.clone(), None).await;
            }
        };
        tokio::join!(serve_portal(Some(parts), stop.clone()), delivery);
        Ok(())
    });
    rt.shutdown_timeout(EXIT_WAIT);
    result
}

/// Hourly (and at start): close tickets solved past `reopen_days`, and apply
/// `retention_days`. A failure is logged and tried again next hour.
async fn housekeeping(config: &Config, mut stop: watch::Receiver<bool>) {
    let files = crate::attachments::AttachmentDir::new(&config.attachments_dir());
    let (reopen_days, retention_days) = (config.support.reopen_days, config.store.retention_days);
    let mut store = match Store::from_config(&config.store, Durability::Full) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "housekeeping disabled: cannot open the database");
            return;
        }
    };
    while !*stop.borrow() {
        // On the blocking pool: a first retention pass over a large store
        // must not starve the mailbox loop, the courier or the watchdog.
        let files = files.clone();
        let round = tokio::task::spawn_blocking(move || {
            let r = chores(&mut store, &files, reopen_days, retention_days);
            (store, r)
        })
        .await;
        match round {
            Ok((s, r)) => {
                store = s;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "housekeeping failed; trying again in an hour");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "housekeeping stopped");
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => {}
        }
    }
}

fn chores(
    store: &mut Store,
    files: &crate::attachments::AttachmentDir,
    reopen_days: u32,
    retention_days: Option<u32>,
) -> Result<(), crate::store::StoreError> {
    let (closed, pruned) = crate::store::housekeeping::run(
        store,
        files,
        crate::ingest::now(),
        reopen_days,
        retention_days,
    )?;
    if closed > 0 || pruned.tickets > 0 {
        tracing::info!(
            closed,
            pruned_tickets = pruned.tickets,
            raw_mails = pruned.raw_mails,
            attachment_files = pruned.files.len(),
            "housekeeping"
        );
    }
    Ok(())
}

/// SIGHUP: read the config file again. A config with problems is logged and
/// ignored; a good one is handed to the mailbox loop and the courier, which
/// apply [support] and [[rules]] (addresses, names, agents, limits,
/// templates). Sections read only at start are named in a warning.
async fn reload_on_sighup(
    path: std::path::PathBuf,
    mut current: Arc<Config>,
    tx: watch::Sender<Arc<Config>>,
    observer: Arc<Observer>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        systemd::reloading(&observer);
        match Config::load(&path) {
            Err(e) => tracing::error!(
                config = %path.display(),
                problems = %e,
                "reload refused: the config has problems; the running settings stay in force"
            ),
            Ok(new) => {
                let restart: Vec<&str> = [
                    (
                        "[store]",
                        format!("{:?}", current.store) != format!("{:?}", new.store),
                    ),
                    (
                        "[imap]",
                        format!("{:?}", current.imap) != format!("{:?}", new.imap),
                    ),
                    (
                        "[smtp]",
                        format!("{:?}", current.smtp) != format!("{:?}", new.smtp),
                    ),
                    (
                        "[metrics]",
                        format!("{:?}", current.metrics) != format!("{:?}", new.metrics),
                    ),
                    (
                        "[log]",
                        format!("{:?}", current.log) != format!("{:?}", new.log),
                    ),
                ]
                .into_iter()
                .filter_map(|(name, changed)| changed.then_some(name))
                .collect();
                if !restart.is_empty() {
                    tracing::warn!(
                        sections = %restart.join(", "),
                        "reload: these sections are read at start only; `systemctl restart ticketd` applies them"
                    );
                }
                tracing::info!(config = %path.display(), "config reloaded");
                let new = Arc::new(new);
                current = new.clone();
                let _ = tx.send(new);
            }
        }
        systemd::reloaded(&observer);
    }
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
        too_large = stats.too_large,
        outcomes = %outcomes.join(", "),
        "stopped"
    );
    if print {
        let mut line = format!(
            "fetched {} message(s): {}",
            stats.fetched,
            if outcomes.is_empty() {
                "nothing waiting".to_owned()
            } else {
                outcomes.join(", ")
            }
        );
        if stats.too_large > 0 {
            line.push_str(&format!(
                "; {} over store.max_message_bytes moved to the failed folder unread",
                stats.too_large
            ));
        }
        outln!("{line}");
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
