//! SIGINT and SIGTERM for the consumer: a signal asks it to stop gracefully (basic.cancel,
//! let the running command finish, exit 128 + the signal number), never to die at once.

use crate::error::Error;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The stop signals, caught for as long as this value lives, and the last one received.
#[derive(Debug)]
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
    received: Option<i32>,
}

impl Signals {
    /// Catches SIGINT and SIGTERM from now on.
    ///
    /// Errors: `installing the SIGINT handler: CAUSE` (or SIGTERM).
    pub fn install() -> Result<Self, Error> {
        let interrupt = signal(SignalKind::interrupt())
            .map_err(|e| Error::step("installing the SIGINT handler", e))?;
        let terminate = signal(SignalKind::terminate())
            .map_err(|e| Error::step("installing the SIGTERM handler", e))?;
        Ok(Signals {
            interrupt,
            terminate,
            received: None,
        })
    }

    /// Waits for the next SIGINT or SIGTERM, remembers it and gives its number.
    pub async fn next(&mut self) -> i32 {
        let number = tokio::select! {
            _ = self.interrupt.recv() => libc::SIGINT,
            _ = self.terminate.recv() => libc::SIGTERM,
        };
        self.received = Some(number);
        number
    }

    /// The last signal received so far, if any.
    pub fn received(&self) -> Option<i32> {
        self.received
    }
}
