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
use crate::error::{Error, describe_amqp, describe_io};
use crate::rpc::DIRECT_REPLY_TO;
use crate::tool::report;
use lapin::message::Delivery;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation};
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Publishes the replies of one consumer, on its channel (put in confirm mode).
#[derive(Debug, Clone)]
pub struct Replier {
    channel: Channel,
}

impl Replier {
    /// Puts `channel` in confirm mode, so that each reply's arrival can be awaited.
    ///
    /// Errors: `confirm.select: CAUSE`.
    pub async fn new(channel: &Channel) -> Result<Self, Error> {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| Error::step("confirm.select", describe_amqp(&e)))?;
        Ok(Replier {
            channel: channel.clone(),
        })
    }

    /// Runs `argv` for `delivery` as [`command::run`] does, its standard output captured, and
    /// publishes that output as the reply when the command exits 0. The output is held once,
    /// in frame-sized pieces that become the reply's body frames without a copy.
    ///
    /// The outcome is the command's, or [`Outcome::Failed`] when the delivery has no
    /// `reply_to`, the output cannot be read, or the reply is not confirmed.
    pub async fn run(&self, argv: &[String], delivery: &Delivery, consumer_tag: &str) -> Outcome {
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
        let mut child = match command::spawn(argv, delivery, consumer_tag, Stdio::piped()) {
            Ok(child) => child,
            Err(not_started) => return not_started,
        };
        let piece = crate::body::piece_size(self.channel.body_piece_max());
        let stdout = child.stdout.take();
        // Both at once: a command may write more than a pipe holds before it reads all its input.
        let ((), output) = tokio::join!(
            command::feed(child.stdin.take(), &delivery.data),
            read_pieces(stdout, piece)
        );
        let outcome = command::wait(child, argv).await;
        if !outcome.success() {
            return outcome;
        }
        let pieces = match output {
            Ok(pieces) => pieces,
            Err(error) => {
                return Outcome::Failed(format!(
                    "reading the command's output: {}",
                    describe_io(&error)
                ));
            }
        };
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

/// Runs the delivery's command: with a [`Replier`] (`--reply`), as [`Replier::run`];
/// without, as [`command::run`].
pub async fn run(
    replier: Option<&Replier>,
    argv: &[String],
    delivery: &Delivery,
    consumer_tag: &str,
) -> Outcome {
    match replier {
        Some(replier) => replier.run(argv, delivery, consumer_tag).await,
        None => command::run(argv, delivery, consumer_tag).await,
    }
}

/// Reads all of `output` in pieces of `piece` bytes (the last one shorter, none for an empty
/// output), as [`crate::body::read_pieces`] does for standard input.
async fn read_pieces(
    output: Option<impl AsyncRead + Unpin>,
    piece: usize,
) -> std::io::Result<Vec<Vec<u8>>> {
    let Some(mut output) = output else {
        return Ok(Vec::new());
    };
    let piece = piece.max(1);
    let mut pieces = Vec::new();
    loop {
        let mut buffer = Vec::with_capacity(piece);
        (&mut output)
            .take(piece as u64)
            .read_to_end(&mut buffer)
            .await?;
        let full = buffer.len() == piece;
        if !buffer.is_empty() {
            pieces.push(buffer);
        }
        if !full {
            return Ok(pieces);
        }
    }
}
