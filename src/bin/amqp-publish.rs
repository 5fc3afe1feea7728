//! amqp-publish: publish one message (or one per line of standard input) to an exchange.

use amqp_tools::cli::publish::Options;
use amqp_tools::publish::{Publisher, Target};
use amqp_tools::rate::Rate;
use amqp_tools::{Error, address, body, connection, properties, tool};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

fn main() -> ExitCode {
    tool::main(|o: &Options| o.common.usage, run)
}

async fn run(options: Options) -> anyhow::Result<()> {
    if options.exchange.is_none() && options.routing_key.is_none() {
        return Err(Error::Message("neither exchange nor routing key specified".into()).into());
    }
    if options.body.is_some() && options.line_buffered {
        // The original publishes nothing and exits 0: a script would believe it was sent.
        return Err(Error::Usage(
            "--line-buffered and --body cannot be used together (-l publishes each line of standard input, -b one given body)".into(),
        )
        .into());
    }
    if options.rate.is_some() && !options.line_buffered {
        return Err(Error::Usage("--rate: only with -l (a message per line)".into()).into());
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
    let mut publisher = Publisher::new(&session, target, !options.no_confirm).await?;
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
    publisher.finish().await?;
    if let Err(error) = session.close().await {
        if options.no_confirm {
            return Err(error.into());
        }
        // Every message was confirmed: the work is done, and a retry would duplicate it.
        tool::report(&format!(
            "warning: {error} (every message was confirmed by the server)"
        ));
    }
    Ok(())
}
