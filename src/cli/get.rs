//! The command line of `amqp-get`: its options, defined once for the tool, its help, man
//! page and shell completions.

use super::{CommonArgs, ConnectionArgs};
use clap::Parser;

/// Get a message from a queue on an AMQP server
#[derive(Parser, Debug)]
#[command(
    name = "amqp-get",
    about = "Get a message from a queue on an AMQP server"
)]
pub struct Options {
    /// The connection options shared by every tool.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// the queue to consume from
    #[arg(short = 'q', long, value_name = "queue", value_parser = super::short_string())]
    pub queue: Option<String>,
    /// `--usage`.
    #[command(flatten)]
    pub common: CommonArgs,
}
