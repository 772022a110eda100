//! Tracing setup: always to a file under `config::log_dir()`, never onto a
//! terminal the UI owns; `serve` also logs to stderr. Both escape control
//! characters in every field (`log_fields`).
use super::log_fields::EscapedFields;
use crate::config::log_dir;
use std::io::IsTerminal;
use std::path::PathBuf;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Filter for the log file, e.g. `SANDSCOPE_LOG=debug`.
pub const LOG_FILTER_ENV: &str = "SANDSCOPE_LOG";

/// Keeps the file writer flushing; hold it until the program ends.
pub struct LogGuard {
    _file: Option<WorkerGuard>,
    /// The file logs go to, when one could be opened.
    pub file: Option<PathBuf>,
}

/// Who is logging, which decides how the file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logger {
    /// `serve`: through a writer thread, and to stderr as well.
    Server,
    /// The terminal UI: through a writer thread, so a slow disk never
    /// holds up a frame.
    Ui,
    /// A one-shot subcommand: a few lines, written in place. A writer
    /// thread and its 4 MB queue cost more to set up than such a command
    /// spends on the rest of its work.
    Command,
}

/// Installs the global subscriber. A log directory that cannot be created
/// only costs the log file, never the command.
pub fn init(logger: Logger) -> LogGuard {
    let filter =
        || EnvFilter::try_from_env(LOG_FILTER_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let dir = log_dir();
    let (file_layer, guard, file) = match std::fs::create_dir_all(&dir) {
        Ok(()) => {
            let appender = tracing_appender::rolling::daily(&dir, "sandscope.log");
            let (writer, guard) = match logger {
                Logger::Command => (BoxMakeWriter::new(appender), None),
                Logger::Server | Logger::Ui => {
                    let (w, g) = tracing_appender::non_blocking(appender);
                    (BoxMakeWriter::new(w), Some(g))
                }
            };
            let layer = tracing_subscriber::fmt::layer()
                .fmt_fields(EscapedFields::default())
                .with_writer(writer)
                .with_ansi(false)
                .with_filter(filter());
            (Some(layer), guard, Some(dir.join("sandscope.log.<date>")))
        }
        Err(_) => (None, None, None),
    };
    let stderr_layer = (logger == Logger::Server).then(|| {
        tracing_subscriber::fmt::layer()
            .fmt_fields(EscapedFields::default())
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .with_filter(filter())
    });
    // A second init (e.g. in tests that call into the CLI twice) is harmless.
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    LogGuard { _file: guard, file }
}
