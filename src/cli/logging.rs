//! Where log lines go and how they look. Logs go to stderr (stdout is the
//! command's answer). Under systemd (`$JOURNAL_STREAM` names our stderr) each
//! line starts with its syslog priority (`<3>` error … `<7>` debug), which
//! journald turns into the entry's level, and carries no timestamp or colour
//! (journald adds its own); `--log-format json` prints one JSON object a line
//! for log shippers; a terminal gets plain text with timestamps. `RUST_LOG`
//! wins over `log.level`, and the console commands' default is quiet.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// journal under systemd, text elsewhere.
    #[default]
    Auto,
    Text,
    Json,
    /// Syslog-priority prefixes, no timestamps: what journald reads best.
    Journal,
}

impl LogFormat {
    /// `Auto` resolved: the journal when our stderr is the journal's stream.
    pub fn resolve(self) -> LogFormat {
        match self {
            LogFormat::Auto if stderr_is_journal() => LogFormat::Journal,
            LogFormat::Auto => LogFormat::Text,
            other => other,
        }
    }
}

/// `$JOURNAL_STREAM` is `device:inode` of the stream systemd connected; it
/// counts only if stderr is still that stream (not redirected by a script).
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}

pub fn init(config: Option<&Config>, default: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .ok()
        .or_else(|| {
            config
                .and_then(|c| c.log.level.as_deref())
                .and_then(|l| EnvFilter::try_new(l).ok())
        })
        .unwrap_or_else(|| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match format.resolve() {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Journal => builder.event_format(JournalLine).try_init(),
        LogFormat::Auto | LogFormat::Text => builder.try_init(),
    };
}

/// The prefix for a line printed outside `tracing` (the final error).
pub fn error_prefix(format: LogFormat) -> &'static str {
    if format.resolve() == LogFormat::Journal {
        "<3>"
    } else {
        ""
    }
}

/// `<6>ticketd::delivery: notification sent outbox=3 kind=agent_alert …`
struct JournalLine;

impl<S, N> FormatEvent<S, N> for JournalLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(writer, "<{}>{}: ", priority(*meta.level()), meta.target())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// syslog(3) priorities, as journald reads them.
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(
            [
                Level::ERROR,
                Level::WARN,
                Level::INFO,
                Level::DEBUG,
                Level::TRACE
            ]
            .map(priority),
            [3, 4, 6, 7, 7]
        );
    }

    #[test]
    fn explicit_formats_stay_as_asked() {
        assert_eq!(LogFormat::Json.resolve(), LogFormat::Json);
        assert_eq!(LogFormat::Journal.resolve(), LogFormat::Journal);
    }
}
