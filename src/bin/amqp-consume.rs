//! amqp-consume: consume from a queue and run a command for each delivery.

use amqp_tools::cli::ToolOptions;
use amqp_tools::cli::consume::Options;
use amqp_tools::deadline::Deadline;
use amqp_tools::{Error, Outcome, consume, runner};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    runner::main(run)
}

async fn run(options: Options) -> Result<Outcome, Error> {
    options.check()?;
    // --timeout cuts connecting and setting up the queue; the consumer then stops by itself
    // at the deadline and lets its running commands finish.
    let deadline = Deadline::after(options.connection().timeout);
    let nodes = options.nodes()?;
    let spec = options.queue_spec();
    let (mut session, queue) = Deadline::bound(deadline, Duration::ZERO, async {
        let session = options.open(&nodes).await?;
        let queue = consume::queue::setup(&session, &spec).await?;
        Ok((session, queue))
    })
    .await?;
    let name = options.connection_name();
    let mut reconnector = options.reconnect.reconnector(&nodes, session.node, name);
    let mut settings = options.settings(queue, deadline);
    let outcome = consume::run(&mut session, &spec, &mut settings, &mut reconnector).await;
    match outcome {
        Ok(outcome) => {
            consume::close(session, reconnector.enabled()).await?;
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
