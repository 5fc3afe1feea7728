//! amqp-consume: consume from a queue and run a command for each delivery.

use amqp_tools::cli::consume::Options;
use amqp_tools::consume::{self, queue::QueueSpec};
use amqp_tools::{Error, Outcome, address, connection, runner};
use std::process::ExitCode;

fn main() -> ExitCode {
    runner::main(|o: &Options| o.common.usage, run)
}

async fn run(options: Options) -> Result<Outcome, Error> {
    if options.command.is_empty() && options.json {
        if let Some(option) = options.needs_a_command() {
            return Err(Error::Usage(format!(
                "{option}: acts on a command; with --json and no command each message is written to standard output"
            )));
        }
    } else if options.command.is_empty() {
        return Err(Error::UsageLine("consuming command not specified".into()));
    }
    let spec = QueueSpec {
        queue: options.queue.clone(),
        exchange: options.exchange.clone(),
        routing_key: options.routing_key.clone(),
        declare: options.declare,
        exclusive: options.exclusive,
    };
    consume::queue::validate(&spec)?;
    if options.command.is_empty() {
        // --json lines go to standard output, each acked once written there.
        amqp_tools::std_fds::require_stdout()?;
    }
    let table = consume::policy::ExitTable::new(&options.on_exit, options.on_failure);
    if options.retry_delay.is_some() && !table.may_requeue() {
        return Err(Error::Usage(
            "--retry-delay: no failure is requeued (add --on-failure requeue or --on-exit CODE=requeue)"
                .to_string(),
        ));
    }
    let address =
        amqp_tools::cli::resolve(&options.connection, std::env::var(address::URL_ENV).ok())?;
    let name = options.connection.connection_name_or("amqp-consume");
    let mut session = connection::open(&address, name).await?;
    let mut reconnector = options.reconnect.reconnector(&address, name);
    let queue = consume::queue::setup(&session, &spec).await?;
    let mut settings = consume::Settings {
        queue,
        no_ack: options.no_ack,
        // The original consumes forever for a negative count.
        count: options.count.and_then(|c| u64::try_from(c).ok()),
        prefetch_count: options.prefetch_count.and_then(|p| u64::try_from(p).ok()),
        command: options.command.clone(),
        on_failure: options.on_failure,
        on_exit: options.on_exit.clone(),
        max_redeliveries: options.max_redeliveries,
        retry_delay: options.retry_delay,
        command_timeout: options.command_timeout,
        idle_timeout: options.idle_timeout,
        concurrency: options.concurrency,
        stream_offset: options.stream_offset.clone(),
        reply: options.reply,
        json: options.json,
    };
    let outcome = consume::run(&mut session, &spec, &mut settings, &mut reconnector).await;
    match outcome {
        Ok(outcome) => {
            session.close().await?;
            Ok(outcome)
        }
        Err(error) => {
            // A failure the channel survived (commands failed, --on-exit stop, a full
            // window): close it cleanly, so that the acks already sent reach the server before
            // the process ends and unacked deliveries return at once. The failure is what
            // is reported.
            if session.channel.status().connected() {
                let _ = session.close().await;
            }
            Err(error)
        }
    }
}
