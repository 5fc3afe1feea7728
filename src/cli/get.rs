//! The command line of `amqp-get`: its options, defined once for the tool, its help, man
//! page and shell completions.

use super::reconnect::ReconnectArgs;
use super::{CommonArgs, ConnectionArgs};
use crate::error::Error;
use crate::get::{AckMode, Settings};
use clap::Parser;

/// The tool's name.
pub const NAME: &str = "amqp-get";

/// Get a message from a queue on an AMQP server
#[derive(Parser, Debug)]
#[command(name = NAME, about = "Get a message from a queue on an AMQP server")]
pub struct Options {
    /// The connection options shared by every tool.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// the queue to consume from
    #[arg(short = 'q', long, value_name = "queue", value_parser = super::short_string())]
    pub queue: Option<String>,
    /// write each message as one line of JSON with its delivery information, properties and
    /// body (the format of amqp-tools-json(7)) instead of the bare body
    #[arg(long)]
    pub json: bool,
    /// take up to this many messages, one after the other; 0 takes them until the queue is
    /// empty
    #[arg(long, value_name = "n", default_value_t = 1)]
    pub count: u64,
    /// what to do with each message once written: ack it (it leaves the queue), requeue it
    /// (peek: all are held, then put back before closing) or reject it (dead-lettered if the
    /// queue has a dead-letter exchange)
    #[arg(long, value_enum, default_value_t = AckMode::Ack, value_name = "mode")]
    pub ack_mode: AckMode,
    /// `--reconnect`, `--reconnect-delay`.
    #[command(flatten)]
    pub reconnect: ReconnectArgs,
    /// `--usage`.
    #[command(flatten)]
    pub common: CommonArgs,
}

super::tool::tool_options!(Options, NAME);

impl Options {
    /// What the run does ([`crate::get::run()`]), once the checks clap cannot make passed.
    ///
    /// Errors: `queue not specified` (as the original); [`Error::Usage`] for `--reconnect`
    /// with `--ack-mode requeue` (a lost connection returns every message held, which would be
    /// written a second time).
    pub fn settings(&self) -> Result<Settings, Error> {
        let Some(queue) = self.queue.clone() else {
            return Err(Error::Message("queue not specified".into()));
        };
        if self.reconnect.given() && self.ack_mode == AckMode::Requeue {
            return Err(Error::Usage(
                "--reconnect cannot be used with --ack-mode requeue (a lost connection returns every message held, and they would be written twice)".into(),
            ));
        }
        Ok(Settings {
            queue,
            count: self.count,
            json: self.json,
            ack_mode: self.ack_mode,
        })
    }
}
