//! [`CliError`]: everything that stops a command before or outside record
//! delivery, each printed as one line that says what to do.

use std::process::ExitCode;

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A `--property`/`--header` argument that is not `key=value`, or a flag
    /// used where it does not apply.
    #[error("{0}")]
    Usage(String),
    /// The producer refused its configuration (unknown or invalid property,
    /// conflicting settings); the message names the key.
    #[error("{0}; see docs/configuration.md for every property")]
    Config(kproducer::Error),
    /// No bootstrap server answered (refused, unreachable, timed out).
    #[error(
        "cannot reach any bootstrap server ({detail}); is a broker running there? check --bootstrap"
    )]
    Unreachable {
        /// What each server said.
        detail: String,
    },
    /// A bootstrap server answered but did not accept the connection's
    /// settings (a TLS certificate that fails verification, a port that
    /// does not speak the configured security protocol, …): each server's
    /// error, which says what to set.
    #[error("no bootstrap server accepted the connection: {detail}")]
    NotAccepted {
        /// What each server said.
        detail: String,
    },
    /// A broker refused the SASL credentials (or mechanism); the message
    /// names the broker and says why, never the password.
    #[error("{0}")]
    Authentication(String),
    /// The topic does not exist and the broker did not create it.
    #[error(
        "topic `{topic}` does not exist on the cluster at {bootstrap}; create it first, \
         or produce to an existing topic with --topic"
    )]
    UnknownTopic {
        /// The topic.
        topic: String,
        /// Where we asked.
        bootstrap: String,
    },
    /// The cluster answered the topic's metadata with an error.
    #[error("the cluster at {bootstrap} refused topic `{topic}`: {reason}")]
    TopicRefused {
        /// The topic.
        topic: String,
        /// Where we asked.
        bootstrap: String,
        /// The broker's error.
        reason: String,
    },
    /// The embedded fake broker could not start.
    #[error("cannot start the embedded broker: {0}")]
    Embedded(String),
    /// The tokio runtime could not start.
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(std::io::Error),
    /// The first record (sent before timing starts) did not get through.
    #[error("the warm-up record was not delivered: {0}")]
    WarmUp(String),
    /// Reading standard input failed.
    #[error("cannot read standard input: {0}")]
    Stdin(std::io::Error),
}

impl CliError {
    /// The exit status: 2 for what the command line got wrong (as clap
    /// uses), 1 for everything else.
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) | CliError::Config(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

/// Prints `error` as one line on stderr and returns its exit status.
pub(crate) fn report(command: &str, error: &CliError) -> ExitCode {
    // One line: newlines in nested messages become spaces.
    let text = error.to_string().replace('\n', " ");
    eprintln!("kproducer {command}: {text}");
    error.exit_code()
}
