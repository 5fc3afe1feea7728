//! amqp-get: take one message from a queue and write its body to standard output.

use amqp_tools::cli::get::Options;
use amqp_tools::{Error, StepExt, address, connection, tool};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use std::future::Future;
use std::io::Write;
use std::process::ExitCode;
use std::task::{Context, Poll, Waker};

/// Exit status when the queue is empty, as the original.
const EXIT_EMPTY: u8 = 2;

fn main() -> ExitCode {
    tool::main(|o: &Options| o.common.usage, run)
}

/// basic.get with acks: the message is acked only after its body was written to standard
/// output, so a failed write leaves it on the queue (the original gets it with no-ack).
async fn run(options: Options) -> anyhow::Result<()> {
    let Some(queue) = options.queue.as_deref() else {
        return Err(Error::Message("queue not specified".into()).into());
    };
    let address = address::resolve(&options.connection, std::env::var(address::URL_ENV).ok())?;
    let session =
        connection::open(&address, options.connection.connection_name_or("amqp-get")).await?;
    let message = session
        .channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: false })
        .await
        .step("basic.get")?;
    let Some(message) = message else {
        session.close().await?;
        return Err(Error::Silent(EXIT_EMPTY).into());
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(&message.delivery.data)
        .and_then(|()| stdout.flush())
    {
        // The message is not acked: closing the channel returns it to the queue.
        session.close().await?;
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            tool::exit_by_sigpipe();
        }
        return Err(Error::step(
            "writing to standard output",
            amqp_tools::error::describe_io(&error),
        )
        .into());
    }
    // basic.ack has no reply. Queued on the channel now, by the first poll, it goes out ahead of
    // channel.close (lapin writes frames in the order they are queued), so waiting for it to be
    // written before closing (two thread hand-offs, to lapin's I/O thread and back) buys
    // nothing; its outcome is collected after the close.
    let channel = session.channel.clone();
    let mut ack = std::pin::pin!(
        channel.basic_ack(message.delivery.delivery_tag, BasicAckOptions::default())
    );
    let queued = ack.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    session.close().await?;
    match queued {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => ack.await,
    }
    .step("basic.ack")?;
    Ok(())
}
