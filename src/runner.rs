//! The runner every binary runs in: parse the command line, run the tool's work on a
//! current-thread tokio runtime, print a failure as one line, map the outcome to the exit status.

use crate::cli::{self, Parsed, ToolOptions};
use crate::deadline::Deadline;
use crate::error::Error;
use crate::exit::{FAILURE, Outcome};
use crate::report::report;
use std::future::Future;
use std::process::ExitCode;

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
    let ended = runtime.block_on(async {
        let deadline = Deadline::after(options.connection().timeout);
        match options.timeout_grace() {
            Some(grace) => Deadline::bound(deadline, grace, work(options)).await,
            None => work(options).await,
        }
    });
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
