//! amqp-declare-queue: declare a queue and print its name.

use amqp_tools::cli::{CommonArgs, ConnectionArgs};
use amqp_tools::{Error, StepExt, address, connection, tool};
use clap::Parser;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use std::process::ExitCode;

/// Declare (create or assert the existence of) a queue on an AMQP server
#[derive(Parser, Debug)]
#[command(
    name = "amqp-declare-queue",
    about = "Declare (create or assert the existence of) a queue on an AMQP server"
)]
struct Options {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// the queue name to declare (an empty name asks the server to choose one)
    #[arg(short = 'q', long, value_name = "queue")]
    queue: Option<String>,
    /// declare a durable queue
    #[arg(short = 'd', long)]
    durable: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    tool::main(|o: &Options| o.common.usage, run)
}

async fn run(options: Options) -> anyhow::Result<()> {
    let Some(queue) = options.queue.as_deref() else {
        return Err(Error::Message("queue name not specified".into()).into());
    };
    let address = address::resolve(&options.connection, std::env::var(address::URL_ENV).ok())?;
    let session = connection::open(&address, "amqp-declare-queue").await?;
    let declare = QueueDeclareOptions {
        durable: options.durable,
        ..Default::default()
    };
    let declared = session
        .channel
        .queue_declare(queue.into(), declare, FieldTable::default())
        .await
        .step("queue.declare")?;
    session.close().await?;
    println!("{}", declared.name());
    Ok(())
}
