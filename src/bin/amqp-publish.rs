//! amqp-publish: publish one message (or one per line of standard input) to an exchange; with
//! `--rpc`, wait for each message's reply and write it to standard output.

use amqp_tools::cli::publish::Options;
use amqp_tools::publish::{Publisher, Target};
use amqp_tools::rate::Rate;
use amqp_tools::rpc::{self, ReplyFormat};
use amqp_tools::{Error, Session, address, body, connection, properties, tool};
use std::process::ExitCode;

fn main() -> ExitCode {
    tool::main(|o: &Options| o.common.usage, run)
}

async fn run(options: Options) -> anyhow::Result<()> {
    if options.exchange.is_none() && options.routing_key.is_none() {
        return Err(Error::Message("neither exchange nor routing key specified".into()).into());
    }
    if options.rate.is_some() && !options.line_buffered {
        return Err(Error::Usage("--rate: only with -l (a message per line)".into()).into());
    }
    if options.reply_timeout.is_some() && !options.rpc {
        tool::report("--reply-timeout: only with --rpc");
        amqp_tools::cli::print_usage_to_stderr::<Options>();
        return Err(Error::Silent(1).into());
    }
    let address = address::resolve(&options.connection, std::env::var(address::URL_ENV).ok())?;
    let properties = properties::from_options(&options, tool::report)?;
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
    let mut publisher = Publisher::new(&session, target, !options.no_confirm).await?;
    match (&options.body, options.line_buffered) {
        // The original publishes nothing when -l and -b are both given.
        (Some(_), true) => {}
        (Some(text), false) => publisher.publish(text.as_bytes()).await?,
        (None, false) => {
            let piece = body::piece_size(publisher.piece_max());
            let pieces = body::read_stdin_pieces_off_runtime(piece)
                .await
                .map_err(|e| Error::step("reading standard input", e))?;
            publisher.publish_pieces(pieces).await?;
        }
        (None, true) => {
            let mut rate = options.rate.map(Rate::per_second);
            let mut batches = body::spawn_stdin_line_batches();
            while let Some(batch) = batches.recv().await {
                let batch = batch.map_err(|e| Error::step("reading standard input", e))?;
                for line in batch {
                    if let Some(rate) = &mut rate {
                        rate.wait().await;
                    }
                    publisher.publish_pieces(vec![line]).await?;
                }
            }
        }
    }
    publisher.finish().await?;
    close(session, options.no_confirm).await
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
        // As without --rpc: -l and -b together publish nothing.
        (Some(_), true) => {}
        (Some(text), false) => client.request(vec![text.as_bytes().to_vec()]).await?,
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
async fn close(session: Session, no_confirm: bool) -> anyhow::Result<()> {
    if let Err(error) = session.close().await {
        if no_confirm {
            return Err(error.into());
        }
        tool::report(&format!(
            "warning: {error} (every message was confirmed by the server)"
        ));
    }
    Ok(())
}
