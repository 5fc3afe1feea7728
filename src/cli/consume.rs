//! The command line of `amqp-consume`: its options, defined once for the tool, its help, man
//! page and shell completions.

use super::reconnect::ReconnectArgs;
use super::{CommonArgs, ConnectionArgs};
use super::{parse_count, parse_int, parse_seconds};
use crate::consume::Settings;
use crate::consume::command::KILL_GRACE;
use crate::consume::policy::{ExitRules, ExitTable, FailurePolicy, parse_exit_rule};
use crate::consume::queue::{self, QueueSpec};
use crate::deadline::Deadline;
use crate::error::Error;
use clap::Parser;
use std::time::Duration;

/// Parses `--concurrency`: 1 to 65535 (a prefetch count must cover it).
fn parse_concurrency(text: &str) -> Result<usize, String> {
    match parse_count(text) {
        Ok(n @ 1..=65535) => Ok(n as usize),
        _ => Err(format!("'{text}' is not a number of commands (1 to 65535)")),
    }
}

/// The tool's name.
pub const NAME: &str = "amqp-consume";

/// Consume messages from a queue on an AMQP server, running COMMAND for each one with the
/// message body on its standard input
#[derive(Parser, Debug)]
#[command(name = NAME, about = "Consume messages from a queue on an AMQP server and run a command for each")]
pub struct Options {
    /// The connection options shared by every tool.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// the queue to consume from
    #[arg(short = 'q', long, value_name = "queue", value_parser = super::short_string())]
    pub queue: Option<String>,
    /// bind the queue to this exchange
    #[arg(short = 'e', long, value_name = "exchange", value_parser = super::short_string())]
    pub exchange: Option<String>,
    /// the routing key to bind with (comma-separated for several bindings)
    #[arg(short = 'r', long, value_name = "routing key", value_parser = super::short_strings())]
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
    /// what to do with a message by its command's exit status: CODE=ACTION with CODE 0 to 255
    /// or * (any other failure), ACTION ack, requeue, reject, keep or stop; repeatable, the last
    /// entry for a code wins; the preset rabbitmq-cli-consumer maps that tool's strict exit codes
    /// (0 ack, 3 and 5 reject, 4 and 6 requeue, others stop). Statuses 126 and 127 (command not
    /// runnable) stop the consumer unless given here
    #[arg(long, value_name = "code=action", value_parser = parse_exit_rule)]
    pub on_exit: Vec<ExitRules>,
    /// reject (dead-letter) a failed message instead of requeueing or keeping it once it was
    /// redelivered this many times, as the queue counts (x-delivery-count of quorum queues,
    /// x-acquired-count of RabbitMQ 4.3+)
    #[arg(long, value_name = "count", value_parser = parse_count)]
    pub max_redeliveries: Option<u64>,
    /// hold a message to be requeued this many seconds before requeueing it, consuming others
    /// meanwhile
    #[arg(long, value_name = "seconds", value_parser = parse_seconds)]
    pub retry_delay: Option<Duration>,
    /// stop a command that runs longer than this many seconds (SIGTERM to its process group,
    /// SIGKILL 5 s later); its message counts as failed
    #[arg(long, value_name = "seconds", value_parser = parse_seconds)]
    pub command_timeout: Option<Duration>,
    /// stop, as after -c, when no message arrived for this many seconds (drain the queue, then
    /// exit)
    #[arg(long, value_name = "seconds", value_parser = parse_seconds)]
    pub idle_timeout: Option<Duration>,
    /// run up to this many commands at once (the prefetch count is raised to at least this);
    /// each command's output is then written whole when it ends
    #[arg(long, value_name = "commands", default_value_t = 1, value_parser = parse_concurrency)]
    pub concurrency: usize,
    /// where to start in a stream queue: first, last, next, an offset, @SECONDS or an RFC 3339
    /// time, or an interval back from now (10m, 2h, 7D)
    #[arg(long, value_name = "offset", value_parser = crate::consume::stream_offset::parse)]
    pub stream_offset: Option<lapin::types::AMQPValue>,
    /// request/reply: the command's standard output is the reply, published to the message's
    /// reply-to with its correlation-id; the message is acknowledged once the server confirmed
    /// the reply
    #[arg(long)]
    pub reply: bool,
    /// give each message as one line of JSON with its delivery information, properties and
    /// body (the format of amqp-tools-json(7)) instead of the bare body: on the command's
    /// standard input, or without a command written to standard output and acknowledged once
    /// written
    #[arg(long)]
    pub json: bool,
    /// `--reconnect`, `--reconnect-delay`.
    #[command(flatten)]
    pub reconnect: ReconnectArgs,
    /// `--usage`.
    #[command(flatten)]
    pub common: CommonArgs,
    /// the command to run for each message, and its arguments
    #[arg(value_name = "command")]
    pub command: Vec<std::ffi::OsString>,
}

impl Options {
    /// The checks made before connecting, in the original's order: the command, the queue
    /// options ([`queue::validate`]), standard output for `--json` lines, `--retry-delay`.
    ///
    /// Errors: `consuming command not specified` ([`Error::UsageLine`]); [`Error::Usage`] for
    /// an option that acts on a command with `--json` and none ([`Options::needs_a_command`])
    /// and for `--retry-delay` when no failure is requeued; as [`queue::validate`] and
    /// [`crate::std_fds::require_stdout`].
    pub fn check(&self) -> Result<(), Error> {
        if self.command.is_empty() && self.json {
            if let Some(option) = self.needs_a_command() {
                return Err(Error::Usage(format!(
                    "{option}: acts on a command; with --json and no command each message is written to standard output"
                )));
            }
        } else if self.command.is_empty() {
            return Err(Error::UsageLine("consuming command not specified".into()));
        }
        queue::validate(&self.queue_spec())?;
        if self.command.is_empty() {
            // --json lines go to standard output, each acked once written there.
            crate::std_fds::require_stdout()?;
        }
        let table = ExitTable::new(&self.on_exit, self.on_failure);
        if self.retry_delay.is_some() && !table.may_requeue() {
            return Err(Error::Usage(
                "--retry-delay: no failure is requeued (add --on-failure requeue or --on-exit CODE=requeue)"
                    .to_string(),
            ));
        }
        Ok(())
    }

    /// The queue to consume from and how to set it up (`-q`, `-e`, `-r`, `-d`, `-x`).
    pub fn queue_spec(&self) -> QueueSpec {
        QueueSpec {
            queue: self.queue.clone(),
            exchange: self.exchange.clone(),
            routing_key: self.routing_key.clone(),
            declare: self.declare,
            exclusive: self.exclusive,
        }
    }

    /// What the consumer does, consuming from `queue` (the name [`queue::setup`] gave), until
    /// `deadline` (`--timeout`, counted from the start of the run).
    pub fn settings(&self, queue: String, deadline: Option<Deadline>) -> Settings {
        Settings {
            queue,
            no_ack: self.no_ack,
            // The original consumes forever for a negative count.
            count: self.count.and_then(|c| u64::try_from(c).ok()),
            prefetch_count: self.prefetch_count.and_then(|p| u64::try_from(p).ok()),
            command: self.command.clone(),
            on_failure: self.on_failure,
            on_exit: self.on_exit.clone(),
            max_redeliveries: self.max_redeliveries,
            retry_delay: self.retry_delay,
            command_timeout: self.command_timeout,
            idle_timeout: self.idle_timeout,
            concurrency: self.concurrency,
            stream_offset: self.stream_offset.clone(),
            reply: self.reply,
            json: self.json,
            deadline,
        }
    }

    /// With `--json` and no command: the first option given that acts on a command, which
    /// is then a usage error (`--reply`, `--concurrency` above 1, `--command-timeout`,
    /// `--on-exit`).
    pub fn needs_a_command(&self) -> Option<&'static str> {
        if self.reply {
            Some("--reply")
        } else if self.concurrency > 1 {
            Some("--concurrency")
        } else if self.command_timeout.is_some() {
            Some("--command-timeout")
        } else if !self.on_exit.is_empty() {
            Some("--on-exit")
        } else {
            None
        }
    }
}

super::tool::tool_options!(
    Options,
    NAME,
    /// At `--timeout` the consumer stops taking deliveries and lets its running commands
    /// finish, as after SIGTERM: with `--command-timeout` for at most that long (then the kill
    /// and its grace, and a few seconds to settle and close), else for as long as they take.
    fn timeout_grace(&self) -> Option<Duration> {
        self.command_timeout
            .map(|limit| limit + KILL_GRACE + Duration::from_secs(5))
    }
);
