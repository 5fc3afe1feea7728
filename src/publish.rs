//! basic.publish with publisher confirms: the engine behind `amqp-publish`.
//!
//! Unlike the original, which publishes and closes without waiting for the broker, confirms
//! are on by default (RabbitMQ's publisher confirms extension, `confirm.select`): the tool
//! succeeds only once the broker has confirmed every message. Many publishes stay in flight
//! at once, so line mode does not pay a round trip per line.

use crate::error::{Error, describe_amqp};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, PublisherConfirm};
use std::collections::VecDeque;

/// How many messages may await their confirm at once before the publisher waits for the
/// oldest. Bounds memory in line mode while keeping the connection busy.
pub const CONFIRM_WINDOW: usize = 4096;

/// Where and how to publish: the fields of basic.publish plus the message properties.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Exchange name; empty for the default exchange.
    pub exchange: String,
    /// Routing key.
    pub routing_key: String,
    /// basic.publish `mandatory`: an unroutable message is returned (and reported as an error).
    pub mandatory: bool,
    /// Content header properties sent with every message.
    pub properties: BasicProperties,
}

/// Publishes messages on one channel and keeps count of what the broker confirmed.
#[derive(Debug)]
pub struct Publisher {
    channel: Channel,
    target: Target,
    confirms: bool,
    in_flight: VecDeque<PublisherConfirm>,
    published: u64,
}

impl Publisher {
    /// Prepares publishing on `channel`; with `confirms`, puts the channel in confirm mode.
    ///
    /// Errors: `confirm.select: CAUSE`.
    pub async fn new(channel: Channel, target: Target, confirms: bool) -> Result<Self, Error> {
        if confirms {
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| Error::step("confirm.select", describe_amqp(&e)))?;
        }
        Ok(Publisher {
            channel,
            target,
            confirms,
            in_flight: VecDeque::new(),
            published: 0,
        })
    }

    /// Publishes one message with `body`. With confirms, waits for the oldest outstanding
    /// confirm first when [`CONFIRM_WINDOW`] messages are in flight.
    ///
    /// Errors: `basic.publish: CAUSE`, or a confirm failure as in [`Publisher::finish`].
    pub async fn publish(&mut self, body: &[u8]) -> Result<(), Error> {
        if self.in_flight.len() >= CONFIRM_WINDOW {
            let oldest = self.in_flight.pop_front();
            if let Some(confirm) = oldest {
                self.settle(confirm).await?;
            }
        }
        let options = BasicPublishOptions {
            mandatory: self.target.mandatory,
            immediate: false,
        };
        let confirm = self
            .channel
            .basic_publish(
                self.target.exchange.as_str().into(),
                self.target.routing_key.as_str().into(),
                options,
                body,
                self.target.properties.clone(),
            )
            .await
            .map_err(|e| self.failure(&describe_amqp(&e), 0))?;
        self.published += 1;
        if self.confirms {
            self.in_flight.push_back(confirm);
        }
        Ok(())
    }

    /// Waits until the broker has confirmed every message published so far; returns how many
    /// messages were published.
    ///
    /// Errors: a nack (`basic.nack: N of M messages not confirmed by the server`), an
    /// unroutable mandatory message (`basic.return: 312 NO_ROUTE ...`), or a channel or
    /// connection closed before all confirms came (`basic.publish: CAUSE (N of M messages not
    /// confirmed)`).
    pub async fn finish(mut self) -> Result<u64, Error> {
        while let Some(confirm) = self.in_flight.pop_front() {
            self.settle(confirm).await?;
        }
        Ok(self.published)
    }

    async fn settle(&mut self, confirm: PublisherConfirm) -> Result<(), Error> {
        match confirm.await {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => Ok(()),
            Ok(Confirmation::Ack(Some(returned))) | Ok(Confirmation::Nack(Some(returned))) => {
                Err(Error::Message(format!(
                    "basic.return: {} {}: message to exchange '{}' with routing key '{}' was returned{}",
                    returned.reply_code,
                    returned.reply_text,
                    returned.delivery.exchange,
                    returned.delivery.routing_key,
                    self.unconfirmed_suffix(1)
                )))
            }
            Ok(Confirmation::Nack(None)) => Err(Error::Message(format!(
                "basic.nack: the server refused a message{}",
                self.unconfirmed_suffix(1)
            ))),
            Err(e) => Err(self.failure(&describe_amqp(&e), 1)),
        }
    }

    fn failure(&self, cause: &str, extra: usize) -> Error {
        Error::Message(format!(
            "basic.publish: {cause}{}",
            self.unconfirmed_suffix(extra)
        ))
    }

    /// ` (N of M messages not confirmed)`, counting `extra` already-settled failures.
    fn unconfirmed_suffix(&self, extra: usize) -> String {
        if !self.confirms {
            return String::new();
        }
        let pending = self.in_flight.len() + extra;
        let total = self.published;
        let noun = if total == 1 { "message" } else { "messages" };
        format!(" ({pending} of {total} {noun} not confirmed)")
    }
}
