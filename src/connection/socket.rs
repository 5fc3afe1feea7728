//! The socket step of a connection (`opening socket to HOST:PORT`): bounded by the connect
//! timeout, and recorded, because lapin runs it inside its connect closure (in its I/O loop)
//! and reports any failure of the attempt as one error.

use crate::address::Address;
use crate::error::{Error, describe_io};
use crate::tls::ClientTls;
use std::future::Future;
use std::io;
use std::sync::Mutex;
use std::time::Duration;

/// What the socket step of a connection attempt came to, shared with lapin's connect closure
/// so that [`super::failure::classify`] can tell a socket failure from a login failure.
#[derive(Default)]
pub struct SocketStep {
    state: Mutex<State>,
}

#[derive(Default, Clone)]
struct State {
    opened: bool,
    error: Option<String>,
}

impl SocketStep {
    /// Records the result of the socket attempt: opened, or its cause in the original's words
    /// (the TLS handshake's own description first).
    pub fn record<S>(&self, result: &io::Result<S>, tls: Option<&ClientTls>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(_) => state.opened = true,
            Err(error) => {
                let tls_cause = tls.and_then(|tls| tls.describe(error));
                state.error = Some(tls_cause.unwrap_or_else(|| describe_error(error)));
            }
        }
    }

    /// True once the socket (and the TLS handshake) succeeded.
    pub fn opened(&self) -> bool {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).opened
    }

    /// The recorded cause of a failed socket attempt.
    pub fn error(&self) -> Option<String> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.error.clone()
    }
}

/// Runs `attempt` within `timeout` (none: unbounded); a late attempt fails with
/// `connection timed out after N s`.
pub async fn within<S>(
    timeout: Option<Duration>,
    attempt: impl Future<Output = io::Result<S>>,
) -> io::Result<S> {
    match timeout {
        Some(limit) => match tokio::time::timeout(limit, attempt).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connection timed out after {} s", limit.as_secs()),
            )),
        },
        None => attempt.await,
    }
}

/// The start of the socket step's name, `opening socket to HOST:PORT`.
pub const STEP_PREFIX: &str = "opening socket to ";

/// The failure of the socket step: `opening socket to HOST:PORT: CAUSE`.
pub fn failed(address: &Address, cause: impl std::fmt::Display) -> Error {
    Error::step(format!("{STEP_PREFIX}{}", address.host_port()), cause)
}

/// A connect error in the original's words; a DNS failure reads `hostname lookup failed: ...`.
pub fn describe_error(error: &io::Error) -> String {
    let text = describe_io(error);
    match text.split_once("failed to lookup address information: ") {
        Some((_, reason)) => format!("hostname lookup failed: {}", reason.to_lowercase()),
        None => text,
    }
}
