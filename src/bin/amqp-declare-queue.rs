//! amqp-declare-queue: declare a queue and print its name.

use amqp_tools::cli::ToolOptions;
use amqp_tools::cli::declare_queue::Options;
use amqp_tools::{Error, Outcome, StepExt, field_value, runner};
use lapin::options::QueueDeclareOptions;
use std::process::ExitCode;

fn main() -> ExitCode {
    runner::main(run)
}

async fn run(options: Options) -> Result<Outcome, Error> {
    let Some(queue) = options.queue.as_deref() else {
        return Err(Error::Message("queue name not specified".into()));
    };
    let arguments = field_value::table_of_words(&options.arguments)
        .map_err(|e| Error::Usage(format!("--arg: {e}")))?;
    let nodes = options.nodes()?;
    let session = options.open(&nodes).await?;
    let declare = QueueDeclareOptions {
        durable: options.durable,
        exclusive: options.exclusive,
        auto_delete: options.auto_delete,
        passive: options.passive,
        nowait: false,
    };
    let declared = session
        .channel
        .queue_declare(queue.into(), declare, arguments)
        .await
        .step("queue.declare")?;
    session.close().await?;
    println!("{}", declared.name());
    Ok(Outcome::Success)
}
