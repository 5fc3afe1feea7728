//! The queue `amqp-consume` reads from: declared and bound as the original does.
//!
//! Rules (rabbitmq-c tools/consume.c `setup_queue`): when no queue is named, or `--exchange`,
//! `--declare` or `--exclusive` is given, the queue is declared non-durable and auto-delete
//! (exclusive with `-x`); a server-named queue is reported on stderr as
//! `Server provided queue name: NAME`. With `--exchange` the queue is bound once per
//! comma-separated routing key; with no `--routing-key` it is bound with the empty key, as the
//! original's man page says (the original itself crashes there).

use crate::error::{Error, StepExt};
use crate::short_string;
use crate::tool::report;
use lapin::Channel;
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
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

/// The binding keys for `-r`: split at commas; the original's `strtok` skips empty pieces, so
/// `-r ""` binds nothing, and no `-r` at all binds once with the empty key.
pub fn binding_keys(routing_key: Option<&str>) -> Vec<String> {
    match routing_key {
        None => vec![String::new()],
        Some(keys) => keys
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// Declares and binds as the rules say; returns the queue name to consume from.
///
/// Errors: `queue.declare: CAUSE`, `queue.bind: CAUSE`.
pub async fn setup(channel: &Channel, spec: &QueueSpec) -> Result<String, Error> {
    let mut name = spec.queue.clone().unwrap_or_default();
    if spec.queue.is_none() || spec.exchange.is_some() || spec.declare || spec.exclusive {
        let options = QueueDeclareOptions {
            exclusive: spec.exclusive,
            auto_delete: true,
            ..Default::default()
        };
        let declared = channel
            .queue_declare(name.as_str().into(), options, FieldTable::default())
            .await
            .step("queue.declare")?;
        if spec.queue.is_none() {
            name = declared.name().to_string();
            report(&format!("Server provided queue name: {name}"));
        }
        if let Some(exchange) = &spec.exchange {
            for key in binding_keys(spec.routing_key.as_deref()) {
                channel
                    .queue_bind(
                        name.as_str().into(),
                        exchange.as_str().into(),
                        key.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .step("queue.bind")?;
            }
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_split_at_commas() {
        assert_eq!(binding_keys(None), vec![""]);
        assert_eq!(binding_keys(Some("")), Vec::<String>::new());
        assert_eq!(binding_keys(Some("a,b,,c")), vec!["a", "b", "c"]);
    }
}
