//! amqp-consume: consume from a queue and run a command for each delivery.

use amqp_tools::cli::ToolOptions;
use amqp_tools::cli::consume::Options;
use amqp_tools::{Error, Outcome, consume, runner};
use std::process::ExitCode;

fn main() -> ExitCode {
    runner::main(run)
}

async fn run(options: Options) -> Result<Outcome, Error> {
    options.check()?;
    let nodes = options.nodes()?;
    let mut session = options.open(&nodes).await?;
    let name = options.connection_name();
    let mut reconnector = options.reconnect.reconnector(&nodes, session.node, name);
    let spec = options.queue_spec();
    let queue = consume::queue::setup(&session, &spec).await?;
    let mut settings = options.settings(queue);
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
