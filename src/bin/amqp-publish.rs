//! amqp-publish: publish one message (or one per line of standard input, or one per JSON
//! message with `--json`) to an exchange; with `--rpc`, wait for each message's reply and
//! write it to standard output.

use amqp_tools::cli::ToolOptions;
use amqp_tools::cli::publish::Options;
use amqp_tools::connection::reconnect::default_retry_nacked;
use amqp_tools::nodes::Nodes;
use amqp_tools::publish::{self, Publisher, Target, unconfirmed_suffix};
use amqp_tools::{Error, Outcome, Session, message_json, properties, report, rpc, runner, std_fds};
use std::process::ExitCode;

fn main() -> ExitCode {
    runner::main(run)
}

async fn run(options: Options) -> Result<Outcome, Error> {
    options.check()?;
    if options.json {
        return run_json(options).await;
    }
    if options.body.is_none() {
        std_fds::require_stdin()?;
    }
    if options.rpc {
        std_fds::require_stdout()?;
    }
    let nodes = options.nodes()?;
    let properties = properties::from_options(&options, report::report)?;
    let session = options.open(&nodes).await?;
    let target = Target {
        exchange: options.exchange.clone().unwrap_or_default(),
        routing_key: options.routing_key.clone().unwrap_or_default(),
        mandatory: options.mandatory,
        mandatory_to_default_exchange: nodes.is_list() && !options.no_mandatory,
        properties,
    };
    if options.rpc {
        // Each message is a request; its reply is written to standard output.
        let (timeout, format) = options.reply_settings();
        let mut client = rpc::Client::open(&session, target, timeout, format).await?;
        client.request_bodies(options.bodies()).await?;
        client.finish().await?;
        return publish::close(session, true).await;
    }
    let mut publisher = start_publisher(&options, &nodes, &session, target).await?;
    publisher.publish_bodies(options.bodies()).await?;
    publisher.confirmed().await?;
    let session = publisher.take_replacement().unwrap_or(session);
    publisher.finish().await?;
    publish::close(session, !options.no_confirm).await
}

/// The publisher, keeping each message until confirmed under `--reconnect` and
/// `--retry-nacked` (both on by default with a node list).
async fn start_publisher(
    options: &Options,
    nodes: &Nodes,
    session: &Session,
    target: Target,
) -> Result<Publisher, Error> {
    let mut publisher = Publisher::new(session, target, !options.no_confirm).await?;
    let reconnector = options
        .reconnect
        .reconnector(nodes, session.node, options.connection_name());
    let retry_nacked = match options.retry_nacked {
        Some(tries) => u32::try_from(tries).unwrap_or(u32::MAX),
        None => default_retry_nacked(nodes.all().len()),
    };
    publisher.keep_until_confirmed(reconnector, retry_nacked);
    Ok(publisher)
}

/// `--json`: each message of the stream on standard input goes to its own exchange and routing
/// key with its own properties, the options overriding them. A message that cannot be read
/// stops the run after the ones before it were confirmed; nothing of it is published.
async fn run_json(options: Options) -> Result<Outcome, Error> {
    let nodes = options.nodes()?;
    std_fds::require_stdin()?;
    let overrides = properties::overrides(&options, report::report)?;
    let session = options.open(&nodes).await?;
    let target = Target {
        mandatory: options.mandatory,
        mandatory_to_default_exchange: nodes.is_list() && !options.no_mandatory,
        ..Target::default()
    };
    let mut publisher = start_publisher(&options, &nodes, &session, target).await?;
    let messages = message_json::stream::spawn_stdin_messages();
    let (exchange, routing_key) = (options.exchange.as_ref(), options.routing_key.as_ref());
    let stopped = publisher
        .publish_messages(messages, exchange, routing_key, &overrides, options.rate())
        .await?;
    publisher.confirmed().await?;
    let session = publisher.take_replacement().unwrap_or(session);
    let published = publisher.finish().await?;
    let Some(error) = stopped else {
        return publish::close(session, !options.no_confirm).await;
    };
    let _ = session.close().await;
    let suffix = unconfirmed_suffix(!options.no_confirm, 0, published);
    Err(Error::step(
        "reading standard input",
        format!("{error}{suffix}"),
    ))
}
