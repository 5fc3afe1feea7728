//! The command line of `amqp-delete-queue`: its options, defined once for the tool, its help, man
//! page and shell completions.

use super::{CommonArgs, ConnectionArgs};
use clap::Parser;

/// The tool's name.
pub const NAME: &str = "amqp-delete-queue";

/// Delete a queue from an AMQP server
#[derive(Parser, Debug)]
#[command(name = NAME, about = "Delete a queue from an AMQP server")]
pub struct Options {
    /// The connection options shared by every tool.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// the queue name to delete
    #[arg(short = 'q', long, value_name = "queue", value_parser = super::short_string())]
    pub queue: Option<String>,
    /// do not delete unless queue is unused
    #[arg(long)]
    pub if_unused: bool,
    /// do not delete unless queue is empty
    #[arg(short = 'e', long)]
    pub if_empty: bool,
    /// `--usage`.
    #[command(flatten)]
    pub common: CommonArgs,
}

super::tool::tool_options!(Options, NAME);
