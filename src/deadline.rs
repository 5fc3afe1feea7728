//! `--timeout SECONDS` (every tool): a deadline for the whole run, connecting and retries
//! included. The original tools have none; a quorum queue without a majority of its nodes
//! makes a publish or a get wait forever.

use crate::error::Error;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The end of a run set by `--timeout`: `timeout` after the tool started its work.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    /// The deadline `timeout` from now; none without `--timeout`.
    pub fn after(timeout: Option<Duration>) -> Option<Deadline> {
        timeout.map(|timeout| Deadline {
            at: Instant::now() + timeout,
            timeout,
        })
    }

    /// The instant the deadline passes.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// True once the deadline passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The failure of a run the deadline ended: `--timeout: the run did not finish within N s`.
    pub fn error(&self) -> Error {
        Error::Message(format!(
            "--timeout: the run did not finish within {} s",
            self.timeout.as_secs_f64()
        ))
    }

    /// Sleeps until the deadline; never ends without one (for a `select!` branch).
    pub async fn reached(deadline: Option<Deadline>) {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline.at).await,
            None => std::future::pending().await,
        }
    }

    /// Runs `work` until `deadline` (none: no limit), `grace` later than the deadline itself.
    ///
    /// Errors: those of `work`, and [`Deadline::error`] once the deadline and the grace passed:
    /// the work is dropped (unsettled messages go back to their queue when the connection
    /// closes).
    pub async fn bound<T>(
        deadline: Option<Deadline>,
        grace: Duration,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let Some(deadline) = deadline else {
            return work.await;
        };
        match tokio::time::timeout_at(deadline.at + grace, work).await {
            Ok(ended) => ended,
            Err(_) => Err(deadline.error()),
        }
    }
}
