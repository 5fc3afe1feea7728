//! The command line of `amqp-consume`: its options, defined once for the tool, its help, man
//! page and shell completions.

use super::parse_int;
use super::{CommonArgs, ConnectionArgs};
use crate::consume::policy::FailurePolicy;
use clap::Parser;

/// Consume messages from a queue on an AMQP server, running COMMAND for each one with the
/// message body on its standard input
#[derive(Parser, Debug)]
#[command(
    name = "amqp-consume",
    about = "Consume messages from a queue on an AMQP server and run a command for each"
)]
pub struct Options {
    /// The connection options shared by every tool.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// the queue to consume from
    #[arg(short = 'q', long, value_name = "queue")]
    pub queue: Option<String>,
    /// bind the queue to this exchange
    #[arg(short = 'e', long, value_name = "exchange")]
    pub exchange: Option<String>,
    /// the routing key to bind with (comma-separated for several bindings)
    #[arg(short = 'r', long, value_name = "routing key")]
    pub routing_key: Option<String>,
    /// declare the queue, non-durable and auto-delete (the original's help calls it exclusive; it
    /// is not: use --exclusive for that)
    #[arg(short = 'd', long)]
    pub declare: bool,
    /// declare the queue as exclusive
    #[arg(short = 'x', long)]
    pub exclusive: bool,
    /// consume in no-ack mode
    #[arg(short = 'A', long)]
    pub no_ack: bool,
    /// stop consuming after this many messages are consumed
    #[arg(short = 'c', long, value_name = "limit", allow_hyphen_values = true, value_parser = parse_int)]
    pub count: Option<i64>,
    /// receive only this many message at a time from the server.
    #[arg(short = 'p', long, value_name = "limit", allow_hyphen_values = true, value_parser = parse_int)]
    pub prefetch_count: Option<i64>,
    /// what to do with a message whose command fails: keep it unacknowledged (redelivered
    /// after the consumer closes), requeue it at once, or reject it (dead-lettered if the
    /// queue has a dead-letter exchange)
    #[arg(long, value_enum, default_value_t = FailurePolicy::Keep, value_name = "policy")]
    pub on_failure: FailurePolicy,
    /// where to start in a stream queue: first, last, next, an offset, @SECONDS or an RFC 3339
    /// time, or an interval back from now (10m, 2h, 7D)
    #[arg(long, value_name = "offset", value_parser = crate::consume::stream_offset::parse)]
    pub stream_offset: Option<lapin::types::AMQPValue>,
    /// request/reply: the command's standard output is the reply, published to the message's
    /// reply-to with its correlation-id; the message is acknowledged once the server confirmed
    /// the reply
    #[arg(long)]
    pub reply: bool,
    /// `--usage`.
    #[command(flatten)]
    pub common: CommonArgs,
    /// the command to run for each message, and its arguments
    #[arg(value_name = "command")]
    pub command: Vec<String>,
}
