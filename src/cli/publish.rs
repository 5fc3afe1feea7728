//! The command line of `amqp-publish`: its options, defined once for the tool, its help, man
//! page and shell completions.

use super::reconnect::ReconnectArgs;
use super::{CommonArgs, ConnectionArgs};
use crate::body::Bodies;
use crate::error::Error;
use crate::rate::Rate;
use crate::rpc::ReplyFormat;
use clap::Parser;
use lapin::types::ShortString;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// The tool's name.
pub const NAME: &str = "amqp-publish";

/// Publish a message on an AMQP server
#[derive(Parser, Debug)]
#[command(name = NAME, about = "Publish a message on an AMQP server")]
pub struct Options {
    /// The connection options shared by every tool.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// the exchange to publish to
    #[arg(short = 'e', long, value_name = "exchange", value_parser = super::short_string_bytes())]
    pub exchange: Option<ShortString>,
    /// the routing key to publish with
    #[arg(short = 'r', long, value_name = "routing key", value_parser = super::short_string_bytes())]
    pub routing_key: Option<ShortString>,
    /// use the persistent delivery mode
    #[arg(short = 'p', long)]
    pub persistent: bool,
    /// the content-type for the message
    #[arg(short = 'C', long, value_name = "content type", value_parser = super::short_string_bytes())]
    pub content_type: Option<ShortString>,
    /// the content-encoding for the message
    #[arg(short = 'E', long, value_name = "content encoding", value_parser = super::short_string_bytes())]
    pub content_encoding: Option<ShortString>,
    /// the replyTo to use for the message
    #[arg(short = 't', long, value_name = "reply to", value_parser = super::short_string_bytes())]
    pub reply_to: Option<ShortString>,
    /// treat each line from standard in as a separate message
    #[arg(short = 'l', long)]
    pub line_buffered: bool,
    /// set a message header (may be specified multiple times)
    #[arg(short = 'H', long = "header", value_name = "\"key: value\"")]
    pub headers: Vec<std::ffi::OsString>,
    /// specify the message body
    #[arg(short = 'b', long, value_name = "body")]
    pub body: Option<std::ffi::OsString>,
    /// do not wait for the broker to confirm the messages (the original's behaviour)
    #[arg(long)]
    pub no_confirm: bool,
    /// fail when the broker cannot route the message to any queue (basic.publish mandatory)
    #[arg(long)]
    pub mandatory: bool,
    /// with several nodes, do not make publishes to the default exchange mandatory (they are
    /// by default: a durable classic queue whose node is down otherwise drops them silently)
    #[arg(long)]
    pub no_mandatory: bool,
    /// the message-id property
    #[arg(long, value_name = "id", value_parser = super::short_string_bytes())]
    pub message_id: Option<ShortString>,
    /// the correlation-id property (e.g. to answer a request's reply-to)
    #[arg(long, value_name = "id", value_parser = super::short_string_bytes())]
    pub correlation_id: Option<ShortString>,
    /// the expiration property: the message's time to live, in milliseconds
    #[arg(long, value_name = "milliseconds", value_parser = clap::value_parser!(u32))]
    pub expiration: Option<u32>,
    /// the priority property, 0 to 255
    #[arg(long, value_name = "priority", value_parser = clap::value_parser!(u8))]
    pub priority: Option<u8>,
    /// the type property
    #[arg(long = "type", value_name = "type", value_parser = super::short_string_bytes())]
    pub message_type: Option<ShortString>,
    /// the app-id property
    #[arg(long, value_name = "id", value_parser = super::short_string_bytes())]
    pub app_id: Option<ShortString>,
    /// the user-id property (RabbitMQ checks it is the connection's user)
    #[arg(long, value_name = "user", value_parser = super::short_string_bytes())]
    pub user_id: Option<ShortString>,
    /// the timestamp property, in seconds since the epoch; without a value, now
    #[arg(long, value_name = "seconds", num_args = 0..=1, default_missing_value = "now")]
    pub timestamp: Option<String>,
    /// set a typed message header KEY=VALUE, VALUE read as JSON when it is JSON (10, true,
    /// 0.5, [1, 2], {"k":"v"}), else as a string; may be given several times
    #[arg(long = "typed-header", value_name = "key=value")]
    pub typed_headers: Vec<std::ffi::OsString>,
    /// with -l or --json: publish at most this many messages per second (fractions allowed: 0.5 is one
    /// every 2 seconds)
    #[arg(long, value_name = "per second", value_parser = crate::rate::parse)]
    pub rate: Option<f64>,
    /// read a stream of JSON messages from standard input (the lines of `amqp-get --json`, see
    /// amqp-tools-json(7)) and publish each to its own exchange and routing key with its
    /// properties; -e, -r and the property options override the lines, -H and --typed-header
    /// merge into their headers
    #[arg(long, conflicts_with = "rpc")]
    pub json: bool,
    /// request/reply: publish with reply-to set to RabbitMQ's direct reply-to and a fresh
    /// correlation-id (implies --mandatory), wait for the reply and write its body to standard
    /// output; with -l, one request per line and one reply line each, in request order
    #[arg(long, conflicts_with_all = ["reply_to", "correlation_id", "no_confirm"])]
    pub rpc: bool,
    /// with --rpc, give up when no reply came for this many seconds (fractions allowed) while
    /// a request awaits one [default: 30]
    #[arg(long, value_name = "seconds", value_parser = crate::rpc::parse_timeout)]
    pub reply_timeout: Option<std::time::Duration>,
    /// `--reconnect`, `--reconnect-delay`.
    #[command(flatten)]
    pub reconnect: ReconnectArgs,
    /// publish a message the server refuses (basic.nack, e.g. during a quorum queue's leader
    /// election) again, after the reconnect delay (doubling), up to this many times [default: 0,
    /// or 5 with a node list]
    #[arg(long, value_name = "tries", value_parser = super::parse_count, conflicts_with = "no_confirm")]
    pub retry_nacked: Option<u64>,
    /// `--usage`.
    #[command(flatten)]
    pub common: CommonArgs,
}

impl Options {
    /// The checks clap cannot make, before anything else is done.
    ///
    /// Errors: with `--json`, [`Error::Usage`] for `-b` or `-l`; else `neither exchange nor
    /// routing key specified`, [`Error::Usage`] for `-l` with `-b` (the original publishes
    /// nothing and exits 0: a script would believe it was sent) and for `--rate` without `-l`,
    /// [`Error::UsageLine`] for `--reply-timeout` without `--rpc`.
    pub fn check(&self) -> Result<(), Error> {
        if self.json {
            return match self.body.is_some() || self.line_buffered {
                true => Err(Error::Usage(
                    "--json cannot be combined with -b/--body or -l".into(),
                )),
                false => Ok(()),
            };
        }
        if self.exchange.is_none() && self.routing_key.is_none() {
            return Err(Error::Message(
                "neither exchange nor routing key specified".into(),
            ));
        }
        if self.body.is_some() && self.line_buffered {
            return Err(Error::Usage(
                "--line-buffered and --body cannot be used together (-l publishes each line of standard input, -b one given body)".into(),
            ));
        }
        if self.rate.is_some() && !self.line_buffered {
            return Err(Error::Usage(
                "--rate: only with -l (a message per line) or --json (a message per JSON value)"
                    .into(),
            ));
        }
        if self.rpc && (self.reconnect.given() || self.retry_nacked.is_some()) {
            return Err(Error::Usage(
                "--reconnect and --retry-nacked cannot be used with --rpc".into(),
            ));
        }
        if self.reply_timeout.is_some() && !self.rpc {
            return Err(Error::UsageLine("--reply-timeout: only with --rpc".into()));
        }
        Ok(())
    }

    /// Where the bodies come from: `-b` (the bytes as given, UTF-8 or not), else standard
    /// input, whole or (`-l`) a message per line at `--rate`.
    pub fn bodies(&self) -> Bodies {
        match (&self.body, self.line_buffered) {
            (Some(text), _) => Bodies::Given(text.as_bytes().to_vec()),
            (None, false) => Bodies::Stdin,
            (None, true) => Bodies::StdinLines(self.rate()),
        }
    }

    /// `--rate`, as the pacing it asks for.
    pub fn rate(&self) -> Option<Rate> {
        self.rate.map(Rate::per_second)
    }

    /// `--rpc`: how long to wait for a reply, and how replies are written (`-l`: a line each).
    pub fn reply_settings(&self) -> (Duration, ReplyFormat) {
        let timeout = self
            .reply_timeout
            .unwrap_or(crate::rpc::DEFAULT_REPLY_TIMEOUT);
        match self.line_buffered {
            true => (timeout, ReplyFormat::Line),
            false => (timeout, ReplyFormat::Body),
        }
    }
}

super::tool::tool_options!(Options, NAME);
