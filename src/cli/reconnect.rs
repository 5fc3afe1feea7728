//! The reconnect options of `amqp-publish`, `amqp-consume` and `amqp-get` (issue 14): what to do
//! when the connection is lost mid-run.

use crate::connection::reconnect::{
    Attempts, DEFAULT_DELAY, Policy, Reconnector, default_attempts, parse_attempts,
};
use crate::nodes::Nodes;
use std::time::Duration;

/// `--reconnect` and `--reconnect-delay`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ReconnectArgs {
    /// when the connection is lost (reset, missed heartbeats, closed by the server with 320
    /// CONNECTION_FORCED), open it again up to this many times per outage, or forever; the
    /// default is 0 with one node (fail at once, as the original) and 5 with a node list
    #[arg(long, value_name = "attempts|forever", value_parser = parse_attempts)]
    pub reconnect: Option<Attempts>,
    /// wait this many seconds before the second reconnect attempt of an outage (the first is
    /// made at once), doubling for each further one up to 30, each spread by 20 % [default: 1]
    #[arg(long, value_name = "seconds", value_parser = super::parse_seconds)]
    pub reconnect_delay: Option<Duration>,
}

impl ReconnectArgs {
    /// The policy these options give for a run against `nodes` broker addresses (the default
    /// number of attempts is [`default_attempts`]).
    pub fn policy(&self, nodes: usize) -> Policy {
        Policy {
            attempts: self.reconnect.unwrap_or_else(|| default_attempts(nodes)),
            delay: self.reconnect_delay.unwrap_or(DEFAULT_DELAY),
        }
    }

    /// True when `--reconnect` was given (whatever its value).
    pub fn given(&self) -> bool {
        self.reconnect.is_some()
    }

    /// A reconnector to `nodes`, connected now to node `current` ([`crate::Session::node`]),
    /// naming the connection `name`, under these options.
    pub fn reconnector(&self, nodes: &Nodes, current: usize, name: &str) -> Reconnector {
        Reconnector::new(nodes.clone(), current, name, self.policy(nodes.all().len()))
    }
}
