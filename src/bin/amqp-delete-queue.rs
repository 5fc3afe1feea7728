//! amqp-delete-queue: delete a queue and print how many messages it held.

use amqp_tools::cli::delete_queue::Options;
use amqp_tools::{Error, Outcome, StepExt, address, connection, runner};
use lapin::options::QueueDeleteOptions;
use std::process::ExitCode;

fn main() -> ExitCode {
    runner::main(
        |o: &Options| o.common.usage,
        |o| runner::within(o.connection.timeout, run(o)),
    )
}

async fn run(options: Options) -> Result<Outcome, Error> {
    let queue = match options.queue.as_deref() {
        Some(queue) if !queue.is_empty() => queue,
        _ => return Err(Error::Message("queue name not specified".into())),
    };
    let nodes =
        amqp_tools::cli::resolve(&options.connection, std::env::var(address::URL_ENV).ok())?;
    let session = connection::open_any(
        &nodes,
        options.connection.connection_name_or("amqp-delete-queue"),
    )
    .await?;
    let delete = QueueDeleteOptions {
        if_unused: options.if_unused,
        if_empty: options.if_empty,
        nowait: false,
    };
    let message_count = session
        .channel
        .queue_delete(queue.into(), delete)
        .await
        .step("queue.delete")?;
    session.close().await?;
    println!("{message_count}");
    Ok(Outcome::Success)
}
