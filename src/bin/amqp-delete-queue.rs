//! amqp-delete-queue: delete a queue and print how many messages it held.

use amqp_tools::cli::ToolOptions;
use amqp_tools::cli::delete_queue::Options;
use amqp_tools::{Error, Outcome, StepExt, runner};
use lapin::options::QueueDeleteOptions;
use std::process::ExitCode;

fn main() -> ExitCode {
    runner::main(run)
}

async fn run(options: Options) -> Result<Outcome, Error> {
    let queue = match options.queue.as_deref() {
        Some(queue) if !queue.is_empty() => queue,
        _ => return Err(Error::Message("queue name not specified".into())),
    };
    let nodes = options.nodes()?;
    let session = options.open(&nodes).await?;
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
