//! The queue `amqp-consume` reads from: declared and bound as the original does.
//!
//! Rules (rabbitmq-c tools/consume.c `setup_queue`): when no queue is named, or `--exchange`,
//! `--declare` or `--exclusive` is given, the queue is declared non-durable and auto-delete
//! (exclusive with `-x`); a server-named queue is reported on stderr as
//! `Server provided queue name: NAME`. With `--exchange` the queue is bound once per
//! comma-separated routing key; with no `--routing-key` it is bound with the empty key, as the
//! original's man page says (the original itself crashes there), and so is an explicit empty
//! key (`-r ""`). A queue this run created is deleted again when binding it fails.

use crate::connection::Session;
use crate::error::{Error, StepExt, describe_amqp};
use crate::report::report;
use crate::short_string;
use lapin::options::{QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;

/// The queue options of `amqp-consume`.
#[derive(Debug, Clone, Default)]
pub struct QueueSpec {
    /// `-q`: the queue name (none: a server-named queue).
    pub queue: Option<String>,
    /// `-e`: the exchange to bind the queue to.
    pub exchange: Option<String>,
    /// `-r`: routing keys, comma-separated (requires `exchange`).
    pub routing_key: Option<String>,
    /// `-d`: declare the queue.
    pub declare: bool,
    /// `-x`: declare the queue exclusive.
    pub exclusive: bool,
}

/// Checks the options before connecting. Errors: `--routing-key option requires an exchange
/// name to be provided with --exchange`; `--routing-key: CAUSE` when a binding key is longer
/// than an AMQP short string holds (255 bytes).
pub fn validate(spec: &QueueSpec) -> Result<(), Error> {
    if spec.exchange.is_none() && spec.routing_key.is_some() {
        return Err(Error::Message(
            "--routing-key option requires an exchange name to be provided with --exchange"
                .to_string(),
        ));
    }
    for key in binding_keys(spec.routing_key.as_deref()) {
        short_string::check(&key).map_err(|e| Error::Message(format!("--routing-key: {e}")))?;
    }
    Ok(())
}

/// The binding keys for `-r`: split at commas, empty pieces skipped (as the original's
/// `strtok`); when that leaves no key (`-r ""`, `-r ","`) or there is no `-r`, one binding with
/// the empty key. (The original binds nothing for `-r ""`, and its consumer then waits for
/// messages that cannot arrive.)
pub fn binding_keys(routing_key: Option<&str>) -> Vec<String> {
    let keys: Vec<String> = routing_key
        .unwrap_or_default()
        .split(',')
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    if keys.is_empty() {
        vec![String::new()]
    } else {
        keys
    }
}

/// Declares and binds as the rules say; returns the queue name to consume from.
///
/// When a binding fails (a missing exchange, no permission), a queue this run created (a
/// server-named one, or a named one that did not exist before) is deleted again before the
/// error is returned: it was never consumed from, so auto-delete would never remove it.
///
/// Errors: `queue.declare: CAUSE`, `queue.bind: CAUSE`.
pub async fn setup(session: &Session, spec: &QueueSpec) -> Result<String, Error> {
    let channel = &session.channel;
    let mut name = spec.queue.clone().unwrap_or_default();
    if spec.queue.is_none() || spec.exchange.is_some() || spec.declare || spec.exclusive {
        let server_named = name.is_empty();
        // Only a binding can fail after the declare: ask whether the queue exists only then.
        let created = server_named || (spec.exchange.is_some() && !exists(session, &name).await);
        let options = QueueDeclareOptions {
            exclusive: spec.exclusive,
            auto_delete: true,
            ..Default::default()
        };
        let declared = channel
            .queue_declare(name.as_str().into(), options, FieldTable::default())
            .await
            .step("queue.declare")?;
        let declared = declared.name().to_string();
        if spec.queue.is_none() {
            name = declared.clone();
            report(&format!("Server provided queue name: {name}"));
        }
        if let Some(exchange) = &spec.exchange {
            for key in binding_keys(spec.routing_key.as_deref()) {
                let bound = channel
                    .queue_bind(
                        name.as_str().into(),
                        exchange.as_str().into(),
                        key.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .step("queue.bind");
                if let Err(error) = bound {
                    return Err(match created {
                        true => undeclare(session, &declared, error).await,
                        false => error,
                    });
                }
            }
        }
    }
    Ok(name)
}

/// Whether queue `name` exists (a passive queue.declare on a channel of its own, since a
/// missing queue closes the channel). Any answer but "not found" counts as existing, so that
/// a queue this run did not create is never deleted.
async fn exists(session: &Session, name: &str) -> bool {
    let Ok(channel) = session.connection.create_channel().await else {
        return true;
    };
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    match channel
        .queue_declare(name.into(), passive, FieldTable::default())
        .await
    {
        Ok(_) => {
            let _ = channel.close(200, "OK".into()).await;
            true
        }
        Err(error) => {
            !matches!(error.kind(), lapin::ErrorKind::ProtocolError(e) if e.get_id() == 404)
        }
    }
}

/// Deletes the queue this run declared after `failure` (the binding's channel is closed by
/// then: a channel of its own); returns `failure`, with the deletion's error if it failed.
async fn undeclare(session: &Session, name: &str, failure: Error) -> Error {
    let deleted = async {
        let channel = session.connection.create_channel().await?;
        channel
            .queue_delete(name.into(), QueueDeleteOptions::default())
            .await?;
        channel.close(200, "OK".into()).await
    };
    match deleted.await {
        Ok(()) => failure,
        Err(error) => Error::Message(format!(
            "{failure} (and deleting queue '{name}', declared by this run: {})",
            describe_amqp(&error)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_split_at_commas() {
        assert_eq!(binding_keys(None), vec![""]);
        assert_eq!(binding_keys(Some("")), vec![""]);
        assert_eq!(binding_keys(Some(",")), vec![""]);
        assert_eq!(binding_keys(Some("a,b,,c")), vec!["a", "b", "c"]);
    }
}
