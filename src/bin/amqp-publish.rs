//! amqp-publish: publish one message (or one per line of standard input) to an exchange.

use amqp_tools::cli::{CommonArgs, ConnectionArgs};
use amqp_tools::publish::{Publisher, Target};
use amqp_tools::{Error, address, body, connection, headers, tool};
use clap::Parser;
use lapin::BasicProperties;
use std::io::BufReader;
use std::process::ExitCode;

/// Publish a message on an AMQP server
#[derive(Parser, Debug)]
#[command(name = "amqp-publish", about = "Publish a message on an AMQP server")]
struct Options {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// the exchange to publish to
    #[arg(short = 'e', long, value_name = "exchange")]
    exchange: Option<String>,
    /// the routing key to publish with
    #[arg(short = 'r', long, value_name = "routing key")]
    routing_key: Option<String>,
    /// use the persistent delivery mode
    #[arg(short = 'p', long)]
    persistent: bool,
    /// the content-type for the message
    #[arg(short = 'C', long, value_name = "content type")]
    content_type: Option<String>,
    /// the content-encoding for the message
    #[arg(short = 'E', long, value_name = "content encoding")]
    content_encoding: Option<String>,
    /// the replyTo to use for the message
    #[arg(short = 't', long, value_name = "reply to")]
    reply_to: Option<String>,
    /// treat each line from standard in as a separate message
    #[arg(short = 'l', long)]
    line_buffered: bool,
    /// set a message header (may be specified multiple times)
    #[arg(short = 'H', long = "header", value_name = "\"key: value\"")]
    headers: Vec<String>,
    /// specify the message body
    #[arg(short = 'b', long, value_name = "body")]
    body: Option<String>,
    /// do not wait for the broker to confirm the messages (the original's behaviour)
    #[arg(long)]
    no_confirm: bool,
    /// fail when the broker cannot route the message to any queue (basic.publish mandatory)
    #[arg(long)]
    mandatory: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    tool::main(|o: &Options| o.common.usage, run)
}

async fn run(options: Options) -> anyhow::Result<()> {
    if options.exchange.is_none() && options.routing_key.is_none() {
        return Err(Error::Message("neither exchange nor routing key specified".into()).into());
    }
    let address = address::resolve(&options.connection, std::env::var(address::URL_ENV).ok())?;
    let properties = properties(&options);
    let session = connection::open(&address, "amqp-publish").await?;
    let target = Target {
        exchange: options.exchange.clone().unwrap_or_default(),
        routing_key: options.routing_key.clone().unwrap_or_default(),
        mandatory: options.mandatory,
        properties,
    };
    let mut publisher =
        Publisher::new(session.channel.clone(), target, !options.no_confirm).await?;
    match (&options.body, options.line_buffered) {
        // The original publishes nothing when -l and -b are both given.
        (Some(_), true) => {}
        (Some(text), false) => publisher.publish(text.as_bytes()).await?,
        (None, false) => {
            let data = body::read_stdin().map_err(|e| Error::step("reading standard input", e))?;
            publisher.publish(&data).await?;
        }
        (None, true) => {
            let mut lines = body::Lines::new(BufReader::with_capacity(64 * 1024, std::io::stdin()));
            while let Some(line) = lines
                .next_line()
                .map_err(|e| Error::step("reading standard input", e))?
            {
                publisher.publish(&line).await?;
            }
        }
    }
    publisher.finish().await?;
    session.close().await?;
    Ok(())
}

/// The content header properties from the options: delivery mode 2 with `-p`, else 1, as the
/// original always sets it.
fn properties(options: &Options) -> BasicProperties {
    let mut properties =
        BasicProperties::default().with_delivery_mode(if options.persistent { 2 } else { 1 });
    if let Some(v) = &options.content_type {
        properties = properties.with_content_type(v.as_str().into());
    }
    if let Some(v) = &options.content_encoding {
        properties = properties.with_content_encoding(v.as_str().into());
    }
    if let Some(v) = &options.reply_to {
        properties = properties.with_reply_to(v.as_str().into());
    }
    if let Some(table) = headers::table(&options.headers, tool::report) {
        properties = properties.with_headers(table);
    }
    properties
}
