//! How a run ends: every exit status of the tools, in one table.
//!
//! A run that did its work ends with an [`Outcome`]; a run that failed ends with an
//! [`Error`](crate::error::Error), status [`FAILURE`]. The runner ([`crate::runner`]) maps
//! either to the process exit status, once. The statuses are the original tools' (rabbitmq-c
//! 0.11): 0 success, 1 any failure, 2 `amqp-get` on an empty queue; a consumer stopped by a
//! signal exits as a shell reports a process killed by it, 128 + the signal number.

use std::process::ExitCode;

/// Exit status of every failure (usage errors included): the original tools use 1 for all.
pub const FAILURE: u8 = 1;

/// A run that ended without failing, and the exit status it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The work was done: exit 0.
    Success,
    /// `amqp-get` found the queue empty: exit 2, as the original.
    QueueEmpty,
    /// A consumer stopped by SIGINT/SIGTERM after finishing its running command: exit 128 +
    /// the signal number.
    Signalled(i32),
    /// A consuming command's output pipe was closed (`amqp-consume ... | head`): the consumer
    /// stops quietly with 141 (128 + SIGPIPE), as a Unix filter does.
    OutputClosed,
}

impl Outcome {
    /// The process exit status of this outcome (see the variants).
    pub fn status(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::QueueEmpty => 2,
            Outcome::Signalled(signal) => signal_status(signal),
            Outcome::OutputClosed => signal_status(libc::SIGPIPE),
        }
    }

    /// The process exit code of this outcome.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.status())
    }
}

/// 128 + `signal`, the status a shell reports for a process killed by it.
fn signal_status(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_the_original_statuses() {
        assert_eq!(Outcome::Success.status(), 0);
        assert_eq!(Outcome::QueueEmpty.status(), 2);
        assert_eq!(Outcome::Signalled(libc::SIGTERM).status(), 143);
        assert_eq!(Outcome::OutputClosed.status(), 141);
        assert_eq!(FAILURE, 1);
    }
}
