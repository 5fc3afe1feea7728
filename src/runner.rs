//! The runner every binary runs in: parse the command line, run the tool's work on a
//! current-thread tokio runtime, print a failure as one line and exit with its status.

use crate::cli::{self, Parsed};
use crate::error::Error;
use crate::report::report;
use clap::{CommandFactory, FromArgMatches};
use std::future::Future;
use std::process::ExitCode;

/// Runs a tool: parses its options `T` from the process arguments (popt-compatible, see
/// [`cli::parse`]), then drives `work` to completion.
///
/// Exit statuses: 0 on success and after `--help`/`--usage`/`--version`; 1 for usage errors
/// (message and usage line on stderr) and for failures (one line `STEP: CAUSE` on stderr);
/// another status when the work returns [`Error::Silent`].
pub fn main<T, F, Fut>(usage_requested: impl Fn(&T) -> bool, work: F) -> ExitCode
where
    T: CommandFactory + FromArgMatches,
    F: FnOnce(T) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let options = match cli::parse::<T, _>(std::env::args_os(), usage_requested) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Done) => return ExitCode::SUCCESS,
        Err(error) => {
            report(&error.to_string());
            if matches!(error, Error::Usage(_)) {
                cli::print_usage_to_stderr::<T>();
            }
            return ExitCode::from(error.exit_code());
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report(&format!("starting the runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(work(options));
    // lapin's I/O thread may still hold runtime handles; do not wait for it.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit_for(&error),
    }
}

/// Prints `error` as one line on stderr and gives its exit status: [`Error`] values carry
/// their own; any other error is `{:#}`-rendered (context chain on one line) with status 1.
pub fn exit_for(error: &anyhow::Error) -> ExitCode {
    match error.downcast_ref::<Error>() {
        Some(Error::Silent(code)) => ExitCode::from(*code),
        Some(Error::Usage(message)) => {
            report(message);
            ExitCode::from(1)
        }
        Some(known) => {
            report(&known.to_string());
            ExitCode::from(known.exit_code())
        }
        None => {
            report(&format!("{error:#}"));
            ExitCode::FAILURE
        }
    }
}
