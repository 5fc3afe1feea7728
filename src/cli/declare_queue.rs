//! The command line of `amqp-declare-queue`: its options, defined once for the tool, its help, man
//! page and shell completions.

use super::{CommonArgs, ConnectionArgs};
use clap::Parser;

/// Declare (create or assert the existence of) a queue on an AMQP server
#[derive(Parser, Debug)]
#[command(
    name = "amqp-declare-queue",
    about = "Declare (create or assert the existence of) a queue on an AMQP server"
)]
pub struct Options {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// the queue name to declare (an empty name asks the server to choose one)
    #[arg(short = 'q', long, value_name = "queue")]
    pub queue: Option<String>,
    /// declare a durable queue
    #[arg(short = 'd', long)]
    pub durable: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}
