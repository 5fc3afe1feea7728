//! amqp-get: take messages from a queue and write their bodies (or, with `--json`, one line of
//! JSON each) to standard output.

use amqp_tools::cli::ToolOptions;
use amqp_tools::cli::get::Options;
use amqp_tools::get::{self, Settler};
use amqp_tools::{Error, Outcome, StepExt, report, runner};
use lapin::options::BasicGetOptions;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    runner::main(run)
}

/// basic.get with acks, up to `--count` times: each message is settled (`--ack-mode`) only
/// after it was written to standard output, so a failed write leaves it on the queue (the
/// original gets it with no-ack).
async fn run(options: Options) -> Result<Outcome, Error> {
    let Some(queue) = options.queue.as_deref() else {
        return Err(Error::Message("queue not specified".into()));
    };
    amqp_tools::std_fds::require_stdout()?;
    let nodes = options.nodes()?;
    let session = options.open(&nodes).await?;
    let mut settler = Settler::new(session.channel.clone(), options.ack_mode);
    let mut stdout = std::io::stdout().lock();
    let mut got = 0u64;
    while options.count == 0 || got < options.count {
        let message = session
            .channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await
            .step("basic.get")?;
        let Some(message) = message else { break };
        got += 1;
        let written = if options.json {
            stdout.write_all(&get::json_line(&message, queue))
        } else {
            stdout.write_all(&message.delivery.data)
        };
        if let Err(error) = written.and_then(|()| stdout.flush()) {
            // This message is not settled: closing the channel returns it to the queue.
            settler.release().await?;
            session.close().await?;
            settler.collect().await?;
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                report::exit_by_sigpipe();
            }
            return Err(Error::step(
                "writing to standard output",
                amqp_tools::error::describe_io(&error),
            ));
        }
        settler.written(message.delivery.delivery_tag).await?;
    }
    settler.release().await?;
    session.close().await?;
    settler.collect().await?;
    if got == 0 {
        return Ok(Outcome::QueueEmpty);
    }
    Ok(Outcome::Success)
}
