//! The command line of `amqp-declare-queue`: its options, defined once for the tool, its help, man
//! page and shell completions.

use super::{CommonArgs, ConnectionArgs};
use clap::Parser;

/// The tool's name.
pub const NAME: &str = "amqp-declare-queue";

/// Declare (create or assert the existence of) a queue on an AMQP server
#[derive(Parser, Debug)]
#[command(name = NAME, about = "Declare (create or assert the existence of) a queue on an AMQP server")]
pub struct Options {
    /// The connection options shared by every tool.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// the queue name to declare (an empty name asks the server to choose one)
    #[arg(short = 'q', long, value_name = "queue", value_parser = super::short_string())]
    pub queue: Option<String>,
    /// declare a durable queue
    #[arg(short = 'd', long)]
    pub durable: bool,
    /// declare an exclusive queue (used only by this connection, deleted when it closes, so
    /// right after this tool exits)
    #[arg(long)]
    pub exclusive: bool,
    /// declare an auto-delete queue (deleted when its last consumer goes away)
    #[arg(long)]
    pub auto_delete: bool,
    /// only check that the queue exists (queue.declare passive); exit 1 if it does not
    #[arg(long)]
    pub passive: bool,
    /// a queue argument KEY=VALUE, VALUE read as JSON when it is JSON (numbers, booleans),
    /// else as a string: x-queue-type=quorum, x-message-ttl=60000, x-max-length=1000,
    /// x-dead-letter-exchange=dlx; may be given several times
    #[arg(long = "arg", value_name = "key=value")]
    pub arguments: Vec<std::ffi::OsString>,
    /// `--usage`.
    #[command(flatten)]
    pub common: CommonArgs,
}

super::tool::tool_options!(Options, NAME);
