//! The command line of `amqp-publish`: its options, defined once for the tool, its help, man
//! page and shell completions.

use super::{CommonArgs, ConnectionArgs};
use clap::Parser;

/// Publish a message on an AMQP server
#[derive(Parser, Debug)]
#[command(name = "amqp-publish", about = "Publish a message on an AMQP server")]
pub struct Options {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// the exchange to publish to
    #[arg(short = 'e', long, value_name = "exchange")]
    pub exchange: Option<String>,
    /// the routing key to publish with
    #[arg(short = 'r', long, value_name = "routing key")]
    pub routing_key: Option<String>,
    /// use the persistent delivery mode
    #[arg(short = 'p', long)]
    pub persistent: bool,
    /// the content-type for the message
    #[arg(short = 'C', long, value_name = "content type")]
    pub content_type: Option<String>,
    /// the content-encoding for the message
    #[arg(short = 'E', long, value_name = "content encoding")]
    pub content_encoding: Option<String>,
    /// the replyTo to use for the message
    #[arg(short = 't', long, value_name = "reply to")]
    pub reply_to: Option<String>,
    /// treat each line from standard in as a separate message
    #[arg(short = 'l', long)]
    pub line_buffered: bool,
    /// set a message header (may be specified multiple times)
    #[arg(short = 'H', long = "header", value_name = "\"key: value\"")]
    pub headers: Vec<String>,
    /// specify the message body
    #[arg(short = 'b', long, value_name = "body")]
    pub body: Option<String>,
    /// do not wait for the broker to confirm the messages (the original's behaviour)
    #[arg(long)]
    pub no_confirm: bool,
    /// fail when the broker cannot route the message to any queue (basic.publish mandatory)
    #[arg(long)]
    pub mandatory: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}
