//! amqp-get: take messages from a queue and write their bodies (or, with `--json`, one line of
//! JSON each) to standard output.

use amqp_tools::cli::ToolOptions;
use amqp_tools::cli::get::Options;
use amqp_tools::{Error, Outcome, get, runner};
use std::process::ExitCode;

fn main() -> ExitCode {
    runner::main(run)
}

/// basic.get with acks, up to `--count` times: each message is settled (`--ack-mode`) only
/// after it was written to standard output, so a failed write leaves it on the queue (the
/// original gets it with no-ack); with `--reconnect`, a lost connection is opened again
/// before the next basic.get ([`get::run()`]).
async fn run(options: Options) -> Result<Outcome, Error> {
    let settings = options.settings()?;
    amqp_tools::std_fds::require_stdout()?;
    let nodes = options.nodes()?;
    let session = options.open(&nodes).await?;
    let name = options.connection_name();
    let mut reconnector = options.reconnect.reconnector(&nodes, session.node, name);
    get::run(session, &settings, &mut reconnector).await
}
