//! amqp-consume: consume from a queue and run a command for each delivery.

use amqp_tools::cli::{CommonArgs, ConnectionArgs, parse_int};
use amqp_tools::consume::policy::FailurePolicy;
use amqp_tools::consume::{self, queue::QueueSpec};
use amqp_tools::{Error, address, connection, tool};
use clap::Parser;
use std::process::ExitCode;

/// Consume messages from a queue on an AMQP server, running COMMAND for each one with the
/// message body on its standard input
#[derive(Parser, Debug)]
#[command(
    name = "amqp-consume",
    about = "Consume messages from a queue on an AMQP server and run a command for each"
)]
struct Options {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// the queue to consume from
    #[arg(short = 'q', long, value_name = "queue")]
    queue: Option<String>,
    /// bind the queue to this exchange
    #[arg(short = 'e', long, value_name = "exchange")]
    exchange: Option<String>,
    /// the routing key to bind with (comma-separated for several bindings)
    #[arg(short = 'r', long, value_name = "routing key")]
    routing_key: Option<String>,
    /// declare an exclusive queue (deprecated, use --exclusive instead)
    #[arg(short = 'd', long)]
    declare: bool,
    /// declare the queue as exclusive
    #[arg(short = 'x', long)]
    exclusive: bool,
    /// consume in no-ack mode
    #[arg(short = 'A', long)]
    no_ack: bool,
    /// stop consuming after this many messages are consumed
    #[arg(short = 'c', long, value_name = "limit", allow_hyphen_values = true, value_parser = parse_int)]
    count: Option<i64>,
    /// receive only this many message at a time from the server.
    #[arg(short = 'p', long, value_name = "limit", allow_hyphen_values = true, value_parser = parse_int)]
    prefetch_count: Option<i64>,
    /// what to do with a message whose command fails: keep it unacknowledged (redelivered
    /// after the consumer closes), requeue it at once, or reject it (dead-lettered if the
    /// queue has a dead-letter exchange)
    #[arg(long, value_enum, default_value_t = FailurePolicy::Keep, value_name = "policy")]
    on_failure: FailurePolicy,
    #[command(flatten)]
    common: CommonArgs,
    /// the command to run for each message, and its arguments
    #[arg(value_name = "command")]
    command: Vec<String>,
}

fn main() -> ExitCode {
    tool::main(|o: &Options| o.common.usage, run)
}

async fn run(options: Options) -> anyhow::Result<()> {
    if options.command.is_empty() {
        tool::report("consuming command not specified");
        amqp_tools::cli::print_usage_to_stderr::<Options>();
        return Err(Error::Silent(1).into());
    }
    let spec = QueueSpec {
        queue: options.queue.clone(),
        exchange: options.exchange.clone(),
        routing_key: options.routing_key.clone(),
        declare: options.declare,
        exclusive: options.exclusive,
    };
    consume::queue::validate(&spec)?;
    let address = address::resolve(&options.connection, std::env::var(address::URL_ENV).ok())?;
    let session = connection::open(&address, "amqp-consume").await?;
    let queue = consume::queue::setup(&session.channel, &spec).await?;
    let settings = consume::Settings {
        queue,
        no_ack: options.no_ack,
        // The original consumes forever for a negative count.
        count: options.count.and_then(|c| u64::try_from(c).ok()),
        prefetch_count: options.prefetch_count.and_then(|p| u64::try_from(p).ok()),
        command: options.command.clone(),
        on_failure: options.on_failure,
    };
    let outcome = consume::run(&session.channel, &settings).await;
    match outcome {
        Ok(()) => {
            session.close().await?;
            Ok(())
        }
        Err(Error::Silent(code)) => {
            session.close().await?;
            Err(Error::Silent(code).into())
        }
        Err(error) => Err(error.into()),
    }
}
