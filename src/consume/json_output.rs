//! `amqp-consume --json` (issue 15): each delivery as one line of the JSON lines format
//! ([`crate::message_json`], amqp-tools-json(7)), given to the command on its standard input
//! or, without a command, written to standard output.
//!
//! Without a command the line is written and flushed before the delivery is acknowledged, so
//! a closed standard output (`amqp-consume --json ... | head -1`) acknowledges nothing that
//! was not written: the consumer stops as after a command killed by SIGPIPE.

use super::command::Outcome;
use crate::message_json::{self, Delivery as JsonDelivery};
use lapin::message::Delivery;
use std::io::Write;
use std::time::SystemTime;

/// The line for `delivery`, received now from `queue` by the consumer `consumer_tag`: one
/// JSON object and its `\n`, as `amqp-get --json` writes it but with `consumer_tag` and
/// without `message_count` (basic.deliver has none).
pub fn line(delivery: &Delivery, queue: &str, consumer_tag: &str) -> Vec<u8> {
    message_json::line(&JsonDelivery {
        exchange: delivery.exchange.as_str(),
        routing_key: delivery.routing_key.as_str(),
        redelivered: delivery.redelivered,
        delivery_tag: delivery.delivery_tag,
        consumer_tag: Some(consumer_tag),
        message_count: None,
        queue,
        received_at: SystemTime::now(),
        properties: &delivery.properties,
        body: &delivery.data,
    })
}

/// Writes `line` to standard output and flushes it: [`Outcome::Written`] once it is all out,
/// [`Outcome::OutputClosed`] for a closed pipe (EPIPE: the process ignores SIGPIPE),
/// [`Outcome::WriteFailed`] (`writing to standard output: CAUSE`) otherwise.
pub fn write(line: &[u8]) -> Outcome {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(line).and_then(|()| stdout.flush()) {
        Ok(()) => Outcome::Written,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Outcome::OutputClosed,
        Err(error) => Outcome::WriteFailed(format!(
            "writing to standard output: {}",
            crate::error::describe_io(&error)
        )),
    }
}
