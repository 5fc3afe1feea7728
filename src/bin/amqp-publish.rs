//! amqp-publish: publish one message (or one per line of standard input, or one per JSON
//! message with `--json`) to an exchange; with `--rpc`, wait for each message's reply and
//! write it to standard output.

use amqp_tools::cli::publish::Options;
use amqp_tools::message_json::{self, ReadError};
use amqp_tools::publish::{Publisher, Target, unconfirmed_suffix};
use amqp_tools::rate::Rate;
use amqp_tools::rpc::{self, ReplyFormat};
use amqp_tools::{
    Address, Error, Outcome, Session, address, body, connection, properties, report, runner,
};
use lapin::BasicProperties;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

fn main() -> ExitCode {
    runner::main(|o: &Options| o.common.usage, run)
}

async fn run(options: Options) -> Result<Outcome, Error> {
    if options.json {
        return run_json(options).await;
    }
    if options.exchange.is_none() && options.routing_key.is_none() {
        return Err(Error::Message(
            "neither exchange nor routing key specified".into(),
        ));
    }
    if options.body.is_some() && options.line_buffered {
        // The original publishes nothing and exits 0: a script would believe it was sent.
        return Err(Error::Usage(
            "--line-buffered and --body cannot be used together (-l publishes each line of standard input, -b one given body)".into(),
        ));
    }
    if options.rate.is_some() && !options.line_buffered {
        return Err(Error::Usage(
            "--rate: only with -l (a message per line) or --json (a message per JSON value)".into(),
        ));
    }
    if options.rpc && (options.reconnect.policy(1).enabled() || options.retry_nacked.is_some()) {
        return Err(Error::Usage(
            "--reconnect and --retry-nacked cannot be used with --rpc".into(),
        ));
    }
    if options.reply_timeout.is_some() && !options.rpc {
        return Err(Error::UsageLine("--reply-timeout: only with --rpc".into()));
    }
    if options.body.is_none() {
        amqp_tools::std_fds::require_stdin()?;
    }
    if options.rpc {
        amqp_tools::std_fds::require_stdout()?;
    }
    let address =
        amqp_tools::cli::resolve(&options.connection, std::env::var(address::URL_ENV).ok())?;
    let properties = properties::from_options(&options, report::report)?;
    let session = connection::open(
        &address,
        options.connection.connection_name_or("amqp-publish"),
    )
    .await?;
    let target = Target {
        exchange: options.exchange.clone().unwrap_or_default(),
        routing_key: options.routing_key.clone().unwrap_or_default(),
        mandatory: options.mandatory,
        properties,
    };
    if options.rpc {
        request_reply(&options, &session, target).await?;
        return close(session, false).await;
    }
    let mut publisher = start_publisher(&options, &address, &session, target).await?;
    match (&options.body, options.line_buffered) {
        // The bytes as given, UTF-8 or not.
        (Some(text), _) => publisher.publish(text.as_bytes()).await?,
        (None, false) => {
            let piece = body::piece_size(publisher.piece_max());
            let pieces = body::read_stdin_pieces_off_runtime(piece)
                .await
                .map_err(|e| Error::step("reading standard input", e))?;
            publisher.publish_pieces(pieces).await?;
        }
        (None, true) => {
            publisher
                .publish_lines(
                    body::spawn_stdin_line_batches(),
                    options.rate.map(Rate::per_second),
                )
                .await?
        }
    }
    publisher.confirmed().await?;
    let session = publisher.take_replacement().unwrap_or(session);
    publisher.finish().await?;
    close(session, options.no_confirm).await
}

/// The publisher, keeping each message until confirmed under `--reconnect` and
/// `--retry-nacked`.
async fn start_publisher(
    options: &Options,
    address: &Address,
    session: &Session,
    target: Target,
) -> Result<Publisher, Error> {
    let mut publisher = Publisher::new(session, target, !options.no_confirm).await?;
    let name = options.connection.connection_name_or("amqp-publish");
    let retry_nacked = u32::try_from(options.retry_nacked.unwrap_or(0)).unwrap_or(u32::MAX);
    publisher.keep_until_confirmed(options.reconnect.reconnector(address, name), retry_nacked);
    Ok(publisher)
}

/// `--rpc`: each message is a request; its reply is written to standard output.
async fn request_reply(options: &Options, session: &Session, target: Target) -> Result<(), Error> {
    let timeout = options.reply_timeout.unwrap_or(rpc::DEFAULT_REPLY_TIMEOUT);
    let format = if options.line_buffered {
        ReplyFormat::Line
    } else {
        ReplyFormat::Body
    };
    let mut client = rpc::Client::open(session, target, timeout, format).await?;
    match (&options.body, options.line_buffered) {
        // The bytes as given, UTF-8 or not (-l with -b is refused before connecting).
        (Some(text), _) => client.request(vec![text.as_bytes().to_vec()]).await?,
        (None, false) => {
            let piece = body::piece_size(client.piece_max());
            let pieces = body::read_stdin_pieces_off_runtime(piece)
                .await
                .map_err(|e| Error::step("reading standard input", e))?;
            client.request(pieces).await?;
        }
        (None, true) => {
            client
                .request_lines(
                    body::spawn_stdin_line_batches(),
                    options.rate.map(Rate::per_second),
                )
                .await?
        }
    }
    client.finish().await?;
    Ok(())
}

/// Closes the session. With confirms, every message was confirmed: the work is done, and a
/// retry would duplicate it, so a failed close is only a warning.
async fn close(session: Session, no_confirm: bool) -> Result<Outcome, Error> {
    if let Err(error) = session.close().await {
        if no_confirm {
            return Err(error);
        }
        report::report(&format!(
            "warning: {error} (every message was confirmed by the server)"
        ));
    }
    Ok(Outcome::Success)
}

/// `--json`: each message of the stream on standard input goes to its own exchange and routing
/// key with its own properties, the options overriding them. A message that cannot be read
/// stops the run after the ones before it were confirmed; nothing of it is published.
async fn run_json(options: Options) -> Result<Outcome, Error> {
    if options.body.is_some() || options.line_buffered {
        return Err(Error::Usage(
            "--json cannot be combined with -b/--body or -l".into(),
        ));
    }
    let address =
        amqp_tools::cli::resolve(&options.connection, std::env::var(address::URL_ENV).ok())?;
    amqp_tools::std_fds::require_stdin()?;
    let overrides = properties::overrides(&options, report::report)?;
    let session = connection::open(
        &address,
        options.connection.connection_name_or("amqp-publish"),
    )
    .await?;
    let target = Target {
        mandatory: options.mandatory,
        ..Target::default()
    };
    let mut publisher = start_publisher(&options, &address, &session, target).await?;
    let stopped = publish_stream(&mut publisher, &options, &overrides).await?;
    publisher.confirmed().await?;
    let session = publisher.take_replacement().unwrap_or(session);
    let published = publisher.finish().await?;
    let Some(error) = stopped else {
        return close(session, options.no_confirm).await;
    };
    let _ = session.close().await;
    let suffix = unconfirmed_suffix(!options.no_confirm, 0, published);
    Err(Error::step(
        "reading standard input",
        format!("{error}{suffix}"),
    ))
}

/// Publishes the messages of standard input until it ends (`None`) or a message cannot be read
/// or has no routing key (that error).
async fn publish_stream(
    publisher: &mut Publisher,
    options: &Options,
    overrides: &BasicProperties,
) -> Result<Option<ReadError>, Error> {
    let mut messages = message_json::stream::spawn_stdin_messages();
    let mut rate = options.rate.map(Rate::per_second);
    let mut number = 0;
    while let Some(message) = messages.recv().await {
        number += 1;
        let message = match message {
            Ok(message) => message,
            Err(error) => return Ok(Some(error)),
        };
        let Some(routing_key) = options.routing_key.clone().or(message.routing_key) else {
            return Ok(Some(ReadError {
                message: number,
                position: None,
                cause: "no \"routing_key\" (give one in the message or with -r)".into(),
            }));
        };
        let exchange = options
            .exchange
            .clone()
            .or(message.exchange)
            .unwrap_or_default();
        let properties = properties::merge(message.properties, overrides);
        if let Some(rate) = &mut rate {
            rate.wait().await;
        }
        publisher
            .publish_to(&exchange, &routing_key, properties, vec![message.body])
            .await?;
    }
    Ok(None)
}
