//! amqp-consume: consume from a queue and run a command for each delivery.

use amqp_tools::cli::consume::Options;
use amqp_tools::consume::{self, queue::QueueSpec};
use amqp_tools::{Error, address, connection, tool};
use std::process::ExitCode;

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
        stream_offset: options.stream_offset.clone(),
        reply: options.reply,
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
