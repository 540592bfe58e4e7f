//! The command line (DESIGN §5): parsing, and the exit codes an MTA or a
//! shell script acts on. Each command family lives in its own file; this one
//! only dispatches.

/// `println!` that does not panic when the reader went away (`| head`).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod admin;
mod completions;
mod ingest;
pub mod logging;
mod man;
mod oauth;
mod run;
mod table;
mod tickets;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError, DEFAULT_PATH};
use crate::ingest::{Ingestor, SetupError};
use crate::store::{Durability, Store, StoreError};

/// sysexits(3): what the caller should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// Wrong arguments or empty input.
    Usage = 64,
    /// Something that should not happen; a bug or a corrupt database.
    Software = 70,
    /// Try again later: the database is busy or the disk is full.
    TempFail = 75,
    Config = 78,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// A failed command: the exit code and what to tell the human.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(Exit::Usage, message)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        let exit = match &e {
            e if e.is_temporary() => Exit::TempFail,
            StoreError::NotFound(_) | StoreError::Invalid(_) => Exit::Usage,
            _ => Exit::Software,
        };
        Failure::new(exit, e.to_string())
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        Failure::new(Exit::Config, e.to_string())
    }
}

impl From<SetupError> for Failure {
    fn from(e: SetupError) -> Failure {
        match e {
            SetupError::Store(s) => s.into(),
            other => Failure::new(Exit::Config, other.to_string()),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new(Exit::TempFail, format!("I/O error: {e}"))
    }
}

pub type CmdResult = Result<(), Failure>;

#[derive(Debug, Parser)]
#[command(
    name = "ticketd",
    version,
    about = "Turns a support mailbox into a ticket system"
)]
pub struct Cli {
    /// The config file; relative paths inside it are relative to its folder.
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_PATH)]
    pub config: PathBuf,
    /// Log lines: `journal` (syslog priorities, no timestamps) is chosen by
    /// itself under systemd, `text` elsewhere; `json` for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Auto)]
    pub log_format: logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest one RFC 5322 message from FILE or stdin; prints one JSON line.
    Ingest { file: Option<PathBuf> },
    /// Show how a message would be handled, step by step; changes nothing.
    Explain { file: Option<PathBuf> },
    /// The daemon: watch the IMAP mailbox until SIGTERM/SIGINT.
    Run {
        /// Ingest everything waiting, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Validate the config: exit 0, or 78 and one line per problem.
    CheckConfig,
    /// Tickets: list, show, update.
    #[command(subcommand)]
    Tickets(tickets::TicketsCmd),
    /// Quarantined messages (kept whole): list, show, replay, discard.
    #[command(subcommand)]
    Quarantine(admin::QuarantineCmd),
    /// Notifications and their delivery state.
    #[command(subcommand)]
    Outbox(admin::OutboxCmd),
    /// The data log (events).
    #[command(subcommand)]
    Log(admin::LogCmd),
    /// Accounts and roles.
    #[command(subcommand)]
    Users(admin::UsersCmd),
    /// An online copy of the database to PATH (consistent while ticketd runs).
    Backup { path: PathBuf },
    /// The web portal alone (`[portal]`) on the same database, without IMAP.
    Portal,
    /// OAuth2 for `[imap.oauth2]` / `[smtp.oauth2]`: the one-time sign-in.
    #[command(subcommand)]
    Oauth(oauth::OauthCmd),
    /// Print the shell completion script for bash, zsh or fish.
    Completions {
        #[arg(value_enum)]
        shell: completions::Shell,
    },
    /// Write the man pages into DIR (the package build runs this).
    #[command(hide = true)]
    Man { dir: PathBuf },
}

/// Parses the arguments, runs the command, and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return code.into();
        }
    };
    let format = cli.log_format;
    match run(cli) {
        Ok(()) => Exit::Ok.into(),
        Err(f) => {
            let prefix = logging::error_prefix(format);
            for line in f.message.lines() {
                eprintln!("{prefix}ticketd: {line}");
            }
            f.exit.into()
        }
    }
}

fn run(cli: Cli) -> CmdResult {
    match &cli.command {
        Command::CheckConfig => return admin::check_config(&cli.config),
        // Neither reads the config: they run where none exists yet.
        Command::Completions { shell } => return completions::print(*shell),
        Command::Man { dir } => return man::write_all(dir),
        _ => {}
    }
    let config = Config::load(&cli.config)?;
    // The daemon tells what it does; console commands stay quiet.
    logging::init(
        Some(&config),
        if matches!(cli.command, Command::Run { .. } | Command::Portal) {
            "info"
        } else {
            "warn"
        },
        cli.log_format,
    );
    match cli.command {
        Command::CheckConfig | Command::Completions { .. } | Command::Man { .. } => Ok(()),
        Command::Run { once } => run::run(&config, &cli.config, once),
        Command::Ingest { file } => ingest::ingest(&config, file.as_deref()),
        Command::Explain { file } => ingest::explain(&config, file.as_deref()),
        Command::Tickets(c) => tickets::run(&config, c),
        Command::Quarantine(c) => admin::quarantine(&config, c),
        Command::Outbox(c) => admin::outbox(&config, c),
        Command::Log(c) => admin::log(&config, c),
        Command::Users(c) => admin::users(&config, c),
        Command::Backup { path } => admin::backup(&config, &path),
        Command::Portal => run::portal(&config),
        Command::Oauth(c) => oauth::run(&config, c),
    }
}

/// Opens the configured database (fsync on every commit: the console and an
/// MTA pipe both answer right after).
pub fn open_store(config: &Config) -> Result<Store, Failure> {
    Ok(Store::from_config(&config.store, Durability::Full)?)
}

/// The database and the ingest pipeline built from the config.
pub fn open_ingestor(config: &Config) -> Result<(Store, Ingestor), Failure> {
    let mut store = open_store(config)?;
    let ingestor = Ingestor::new(config, &mut store)?;
    Ok((store, ingestor))
}

/// Prints a value as one line of JSON.
pub fn print_json<T: serde::Serialize>(value: &T) -> CmdResult {
    let line = serde_json::to_string(value)
        .map_err(|e| Failure::new(Exit::Software, format!("cannot encode JSON: {e}")))?;
    outln!("{line}");
    Ok(())
}
