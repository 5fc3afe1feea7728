//! The runner every binary runs in: parse the command line, run the tool's work on a
//! current-thread tokio runtime, print a failure as one line, map the outcome to the exit status.

use crate::cli::{self, Parsed, ToolOptions};
use crate::error::Error;
use crate::exit::{FAILURE, Outcome};
use crate::report::report;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// Runs a tool: parses its options `T` from the process arguments (popt-compatible, see
/// [`cli::parse`]; `--usage` is [`ToolOptions::common`]'s), then drives `work` to completion and maps how it ended to the exit status,
/// the one place a run's end becomes a status.
///
/// Exit statuses: 0 after `--help`/`--usage`/`--version`; a usage error from the parser prints
/// its message and the usage line, exit [`FAILURE`]; the work's [`Outcome`] gives its own
/// status ([`Outcome::status`]); a failure is printed as one line (`STEP: CAUSE`), exit
/// [`FAILURE`].
pub fn main<T, F, Fut>(work: F) -> ExitCode
where
    T: ToolOptions,
    F: FnOnce(T) -> Fut,
    Fut: Future<Output = Result<Outcome, Error>>,
{
    let options = match cli::parse::<T, _>(std::env::args_os(), |o: &T| o.common().usage) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Done) => return Outcome::Success.exit_code(),
        Err(error) => {
            report(&error.to_string());
            if matches!(error, Error::Usage(_) | Error::UsageLine(_)) {
                cli::print_usage_to_stderr::<T>();
            }
            return ExitCode::from(FAILURE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report(&format!("starting the runtime: {error}"));
            return ExitCode::from(FAILURE);
        }
    };
    let timeout = options.connection().timeout;
    let ended = runtime.block_on(within(timeout, work(options)));
    // The standard input reader may still be blocked in a read; do not wait for it.
    runtime.shutdown_background();
    match ended {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            report(&error.to_string());
            if matches!(error, Error::UsageLine(_)) {
                cli::print_usage_to_stderr::<T>();
            }
            ExitCode::from(FAILURE)
        }
    }
}

/// Runs `work` within `timeout` (`--timeout`, every tool; none: no limit), a deadline for the
/// whole run: connecting (every node of a list), retries and the work itself. The original
/// tools have none; a quorum queue without a majority of its nodes makes a publish or a get
/// wait forever.
///
/// Errors: those of `work`, and `--timeout: the run did not finish within N s` once the
/// deadline passed (the work is dropped: unsettled messages go back to their queue when the
/// process ends, a consumer's running command is not waited for).
pub async fn within(
    timeout: Option<Duration>,
    work: impl Future<Output = Result<Outcome, Error>>,
) -> Result<Outcome, Error> {
    let Some(limit) = timeout else {
        return work.await;
    };
    match tokio::time::timeout(limit, work).await {
        Ok(ended) => ended,
        Err(_) => Err(Error::Message(format!(
            "--timeout: the run did not finish within {} s",
            limit.as_secs_f64()
        ))),
    }
}
