//! What the five tools' options have in common, and the steps every tool starts with: resolve
//! the server's nodes, open the session under the tool's name.

use super::{CommonArgs, ConnectionArgs, resolve};
use crate::address::URL_ENV;
use crate::connection::{self, Session};
use crate::error::Error;
use crate::nodes::Nodes;
use clap::{CommandFactory, FromArgMatches};
use std::future::Future;
use std::time::Duration;

/// A tool's options: its name, the connection options and `--usage` every tool takes. Each
/// tool's `Options` implements it; the runner ([`crate::runner::main`]) and the binaries use
/// nothing else of the shared wiring.
pub trait ToolOptions: CommandFactory + FromArgMatches {
    /// The tool's name (`amqp-get`): the program name in its help and usage, and the
    /// connection name the server shows unless `--connection-name` says otherwise.
    const NAME: &'static str;

    /// The connection options.
    fn connection(&self) -> &ConnectionArgs;

    /// `--usage` and the other options every tool takes besides the connection options.
    fn common(&self) -> &CommonArgs;

    /// The server's node (or the cluster's nodes) from the connection options, or from
    /// `AMQP_URL` when none is given ([`resolve`]).
    ///
    /// Errors: as [`resolve`].
    fn nodes(&self) -> Result<Nodes, Error> {
        resolve(self.connection(), std::env::var(URL_ENV).ok())
    }

    /// The connection name the server shows: `--connection-name`, else [`ToolOptions::NAME`].
    fn connection_name(&self) -> &str {
        self.connection().connection_name_or(Self::NAME)
    }

    /// Connects to the first node of `nodes` that answers and opens a channel
    /// ([`connection::open_any`]), named [`ToolOptions::connection_name`] in the server's
    /// connection list.
    ///
    /// Errors: as [`connection::open_any`].
    fn open(&self, nodes: &Nodes) -> impl Future<Output = Result<Session, Error>> {
        connection::open_any(nodes, self.connection_name())
    }

    /// How much longer than `--timeout` the runner lets the run take before it drops it
    /// ([`crate::deadline::Deadline::bound`]): zero for a tool whose work is simply cut at the
    /// deadline; a tool that stops by itself at the deadline and lets what it started finish
    /// (amqp-consume and its running commands) says how long that may take, or `None`: as
    /// long as it takes.
    fn timeout_grace(&self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

/// Implements [`ToolOptions`] for a tool's `Options` (fields `connection` and `common`), with
/// the provided methods given after the name.
macro_rules! tool_options {
    ($options:ty, $name:expr $(, $method:item)*) => {
        impl $crate::cli::ToolOptions for $options {
            const NAME: &'static str = $name;
            fn connection(&self) -> &$crate::cli::ConnectionArgs {
                &self.connection
            }
            fn common(&self) -> &$crate::cli::CommonArgs {
                &self.common
            }
            $($method)*
        }
    };
}
pub(crate) use tool_options;
