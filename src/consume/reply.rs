//! `amqp-consume --reply`: the command's standard output becomes the reply to the delivery
//! (RabbitMQ's RPC pattern, the server side of [`crate::rpc`]).
//!
//! The reply goes through the default exchange to the delivery's `reply_to` (a queue name, or
//! a direct reply-to address `amq.rabbitmq.reply-to.*`), with the delivery's `correlation_id`,
//! and its publisher confirm is awaited. Only then does the consumer ack the request, so a
//! request is either answered and acked, or left to the failure policy and delivered again: a
//! server killed between the reply and the ack answers a request twice (the client ignores
//! the second reply), but none is lost.
//!
//! Semantics where RabbitMQ's pattern leaves a choice:
//! - a delivery without `reply_to` is a failed delivery (the command is not run: its work
//!   would have nowhere to go);
//! - a command that fails sends no reply (the failure policy decides about the request; the
//!   client times out or gets the answer of a later attempt);
//! - the reply carries the correlation id and no other property: the command's output has no
//!   declared content type, and copying the request's would be a guess;
//! - a reply to an ordinary queue is published with `mandatory`; returned as unroutable (the
//!   requester is gone with its reply queue), it is a warning and the request is acked:
//!   running the command again could not reach anyone either. A reply to a direct reply-to
//!   address is not mandatory: RabbitMQ 3.x returns it as unroutable even though it delivered
//!   it; the server drops a reply whose requester is gone.

use super::command::{self, Outcome};
use crate::error::{Error, describe_amqp};
use crate::report::report;
use crate::rpc::DIRECT_REPLY_TO;
use lapin::message::Delivery;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation};
use std::time::Duration;

/// Publishes the replies of one consumer, on its channel (put in confirm mode).
#[derive(Debug, Clone)]
pub struct Replier {
    channel: Channel,
}

impl Replier {
    /// Puts `channel` in confirm mode, so that each reply's arrival can be awaited;
    /// confirm.select is sent with `nowait`, as in [`crate::publish::Publisher::new`].
    ///
    /// Errors: `confirm.select: CAUSE`.
    pub async fn new(channel: &Channel) -> Result<Self, Error> {
        channel
            .confirm_select(ConfirmSelectOptions { nowait: true })
            .await
            .map_err(|e| Error::step("confirm.select", describe_amqp(&e)))?;
        Ok(Replier {
            channel: channel.clone(),
        })
    }

    /// Runs `argv` for `delivery` as [`command::run`] does (`timeout` is `--command-timeout`;
    /// `whole_stderr`, for `--concurrency` above 1, writes its standard error whole when it
    /// ends), its standard output captured, and publishes that output as the reply when the
    /// command exits 0. The output is held once, in frame-sized pieces that become the reply's
    /// body frames without a copy.
    ///
    /// `input` is what the command reads: the body, or with `--json` the delivery's line.
    ///
    /// The outcome is the command's, or [`Outcome::Failed`] when the delivery has no
    /// `reply_to`, the output cannot be read, or the reply is not confirmed.
    pub async fn run(
        &self,
        argv: &[std::ffi::OsString],
        input: &[u8],
        delivery: &Delivery,
        consumer_tag: &str,
        timeout: Option<Duration>,
        whole_stderr: bool,
    ) -> Outcome {
        let Some(reply_to) = delivery
            .properties
            .reply_to()
            .as_ref()
            .filter(|address| !address.as_str().is_empty())
        else {
            return Outcome::Failed(
                "no reply-to property, so nowhere to send a reply; the command was not run"
                    .to_string(),
            );
        };
        let output = command::Output::Reply {
            piece: crate::body::piece_size(self.channel.body_piece_max()),
            whole_stderr,
        };
        let (outcome, pieces) =
            command::run(argv, input, delivery, consumer_tag, timeout, output).await;
        if !outcome.success() {
            return outcome;
        }
        match self.publish(delivery, reply_to.clone(), pieces).await {
            Ok(()) => outcome,
            Err(why) => Outcome::Failed(why),
        }
    }

    /// Publishes the reply and waits for its confirm; a return is a warning (see the module
    /// documentation for when the reply is mandatory). Errors: why the reply was not confirmed, for the failure warning.
    async fn publish(
        &self,
        delivery: &Delivery,
        reply_to: ShortString,
        pieces: Vec<Vec<u8>>,
    ) -> Result<(), String> {
        let mut properties = BasicProperties::default();
        if let Some(id) = delivery.properties.correlation_id() {
            properties = properties.with_correlation_id(id.clone());
        }
        let options = BasicPublishOptions {
            mandatory: !reply_to.as_str().starts_with(DIRECT_REPLY_TO),
            immediate: false,
        };
        let confirmation = match self
            .channel
            .basic_publish_pieces("".into(), reply_to.clone(), options, pieces, properties)
            .await
        {
            Ok(confirm) => confirm.await,
            Err(error) => Err(error),
        };
        match confirmation {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => Ok(()),
            Ok(Confirmation::Ack(Some(returned))) | Ok(Confirmation::Nack(Some(returned))) => {
                report(&format!(
                    "warning: delivery {}: the reply to '{}' was returned ({} {}): nobody awaits it; the request is acknowledged",
                    delivery.delivery_tag, reply_to, returned.reply_code, returned.reply_text
                ));
                Ok(())
            }
            Ok(Confirmation::Nack(None)) => {
                Err("the server refused the reply (basic.nack); no reply sent".to_string())
            }
            Err(error) => Err(format!(
                "publishing the reply: {}; no reply sent",
                describe_amqp(&error)
            )),
        }
    }
}
