//! One error type for every tool: its one-line rendering and its exit status.
//!
//! The original tools (rabbitmq-c `tools/common.c`) print one line on stderr, "the step that
//! failed: the cause" (`basic.get: server channel error 404, message: NOT_FOUND - ...`), and
//! exit 1. [`Error`] carries that line; the runner prints it once, at the edge, and exits with
//! [`crate::exit::FAILURE`] (see [`crate::runner::main`]). A run that ends without failing
//! (even with a non-zero status, such as an empty queue) is an [`crate::exit::Outcome`].

use std::fmt;

/// A failure of a tool, ready to print as one line; every failure exits
/// [`crate::exit::FAILURE`].
#[derive(Debug)]
pub enum Error {
    /// The command line is wrong (unknown option, missing value, conflicting options): one
    /// line, exit 1, as the originals do after popt errors (never clap's 2). Only when the
    /// parser ([`crate::cli::parse`]) finds it does the runner follow it with the tool's usage
    /// line; a conflict found by the tool's own checks is printed alone (see
    /// [`Error::UsageLine`] for the ones the originals follow with the usage line).
    Usage(String),
    /// A required operand is missing (`consuming command not specified`): the message, then
    /// the tool's usage line, exit 1, as the original prints it.
    UsageLine(String),
    /// A step of the AMQP conversation or of the local work failed: printed as
    /// `STEP: CAUSE`, exit 1 (the original's `die_rpc`/`die_amqp_error`/`die_errno`).
    Step {
        /// What was being done, e.g. `opening socket to localhost:5672` or `basic.get`.
        step: String,
        /// Why it failed, e.g. `server channel error 404, message: NOT_FOUND - ...`.
        cause: String,
    },
    /// A plain one-line message (e.g. `queue not specified`), exit 1.
    Message(String),
}

impl Error {
    /// Builds [`Error::Step`] from a step name and any displayable cause.
    pub fn step(step: impl Into<String>, cause: impl fmt::Display) -> Self {
        Error::Step {
            step: step.into(),
            cause: cause.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) | Error::UsageLine(message) | Error::Message(message) => {
                f.write_str(message)
            }
            Error::Step { step, cause } => write!(f, "{step}: {cause}"),
        }
    }
}

impl std::error::Error for Error {}

/// The result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders a lapin error the way the original renders an AMQP failure: a server's
/// connection.close or channel.close as `server connection error CODE, message: TEXT` /
/// `server channel error CODE, message: TEXT` (`amqp_server_exception_string` in rabbitmq-c),
/// an I/O error as its lower-case description (`connection refused`), anything else as lapin
/// words it. Never contains a password: lapin's errors do not carry credentials.
pub fn describe_amqp(error: &lapin::Error) -> String {
    use lapin::ErrorKind;
    use lapin::protocol::AMQPErrorKind;
    match error.kind() {
        ErrorKind::ProtocolError(amqp) => {
            let level = match amqp.kind() {
                AMQPErrorKind::Hard(_) => "connection",
                AMQPErrorKind::Soft(_) => "channel",
            };
            format!(
                "server {level} error {}, message: {}",
                amqp.get_id(),
                amqp.get_message()
            )
        }
        ErrorKind::IOError(io) | ErrorKind::RuntimeShutdownError(io) => describe_io(io),
        // rabbitmq-c's wording (AMQP_STATUS_BAD_AMQP_DATA), e.g. for an HTTP server on the
        // port: lapin's own text is its parser's debug output.
        ErrorKind::ParsingError(_) => "invalid AMQP data".to_string(),
        ErrorKind::MissingHeartbeatError => {
            "connection lost: no heartbeat from the server".to_string()
        }
        ErrorKind::InvalidChannelState(state, _) => {
            format!("the channel is not open (state: {state:?})")
        }
        ErrorKind::InvalidConnectionState(state) => {
            format!("the connection is not open (state: {state:?})")
        }
        _ => error.to_string(),
    }
}

/// Renders an I/O error as a short lower-case cause (`connection refused`), the way
/// `strerror` texts read in the original's messages, without Rust's `(os error N)` suffix.
pub fn describe_io(error: &std::io::Error) -> String {
    let text = match error.raw_os_error() {
        Some(code) => {
            let full = std::io::Error::from_raw_os_error(code).to_string();
            match full.rfind(" (os error") {
                Some(at) => full[..at].to_string(),
                None => full,
            }
        }
        None => error.to_string(),
    };
    lower_first(&text)
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Adds the step name to a failed lapin call: `channel.basic_get(..).await.step("basic.get")?`.
pub trait StepExt<T> {
    /// Maps an error to [`Error::Step`] with this step name and the cause rendered by
    /// [`describe_amqp`].
    fn step(self, step: &str) -> Result<T>;
}

impl<T> StepExt<T> for std::result::Result<T, lapin::Error> {
    fn step(self, step: &str) -> Result<T> {
        self.map_err(|error| Error::step(step, describe_amqp(&error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_like_strerror() {
        let refused = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(describe_io(&refused), "connection refused");
    }

    #[test]
    fn step_errors_render_on_one_line() {
        let error = Error::step("basic.get", "server channel error 404, message: x");
        assert_eq!(
            error.to_string(),
            "basic.get: server channel error 404, message: x"
        );
    }
}
