//! What `amqp-get` does with each message: its `--json` line, and `--ack-mode` once written;
//! the run itself (basic.get, write, settle, and `--reconnect`) is [`run()`].
//!
//! A message is settled only after it was written to standard output completely, so a failed
//! write (a closed pipe) settles nothing that was not written: the broker returns it to the
//! queue when the channel closes.

mod run;

pub use run::{Settings, run};

use crate::error::{Error, StepExt};
use crate::message_json::{self, Delivery};
use crate::queued::Queued;
use lapin::Channel;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions};
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

/// `--ack-mode`: what happens to each message after it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AckMode {
    /// basic.ack: the message leaves the queue (the default, as the original).
    #[default]
    Ack,
    /// Peek: every message got is held unacknowledged while the others are written, then all
    /// are returned to the queue with one basic.nack (multiple, requeue) before the channel
    /// closes. They are invisible to other consumers meanwhile, and come back with
    /// `redelivered` set.
    Requeue,
    /// basic.reject without requeue: the broker drops the message, or dead-letters it when
    /// the queue has a dead-letter exchange.
    Reject,
}

/// Settles the messages of one channel as `--ack-mode` says.
pub struct Settler {
    mode: AckMode,
    channel: Channel,
    /// The last ack or reject, queued on the channel but not yet known to be written.
    pending: Queued<Result<(), Error>>,
    /// With [`AckMode::Requeue`]: the highest delivery tag held.
    held: Option<u64>,
}

impl std::fmt::Debug for Settler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settler")
            .field("mode", &self.mode)
            .field("held", &self.held)
            .finish()
    }
}

impl Settler {
    /// A settler for messages got on `channel`.
    pub fn new(channel: Channel, mode: AckMode) -> Self {
        Settler {
            mode,
            channel,
            pending: Queued::default(),
            held: None,
        }
    }

    /// The message `tag` was written: ack or reject it, or hold it.
    ///
    /// basic.ack and basic.reject have no reply. The method is queued on the channel at once
    /// (lapin writes frames in the order they are queued, so it goes out ahead of anything
    /// sent later, channel.close included); only the previous one's outcome is waited for.
    ///
    /// Errors: `basic.ack: CAUSE` / `basic.reject: CAUSE` of the previous message.
    pub async fn written(&mut self, tag: u64) -> Result<(), Error> {
        self.collect().await?;
        let channel = self.channel.clone();
        let settle: Pin<Box<dyn Future<Output = Result<(), Error>>>> = match self.mode {
            AckMode::Requeue => {
                self.held = Some(tag);
                return Ok(());
            }
            AckMode::Ack => Box::pin(async move {
                channel
                    .basic_ack(tag, BasicAckOptions::default())
                    .await
                    .step("basic.ack")
            }),
            AckMode::Reject => Box::pin(async move {
                channel
                    .basic_reject(tag, BasicRejectOptions { requeue: false })
                    .await
                    .step("basic.reject")
            }),
        };
        self.pending.start(settle).unwrap_or(Ok(()))
    }

    /// Before the channel closes: returns the held messages to the queue (basic.nack multiple
    /// with requeue), rather than relying on the close to do it.
    ///
    /// Errors: `basic.nack: CAUSE`.
    pub async fn release(&mut self) -> Result<(), Error> {
        if let Some(tag) = self.held.take() {
            self.channel
                .basic_nack(
                    tag,
                    BasicNackOptions {
                        multiple: true,
                        requeue: true,
                    },
                )
                .await
                .step("basic.nack")?;
        }
        Ok(())
    }

    /// Waits for the last queued ack or reject (call it after the channel closed: it was
    /// written before the close).
    ///
    /// Errors: `basic.ack: CAUSE` / `basic.reject: CAUSE`.
    pub async fn collect(&mut self) -> Result<(), Error> {
        self.pending.collect().await.unwrap_or(Ok(()))
    }
}

/// The `amqp-get --json` line of a message got from `queue` (amqp-tools-json(7)), received
/// now.
pub fn json_line(message: &BasicGetMessage, queue: &str) -> Vec<u8> {
    let delivery = &message.delivery;
    message_json::line(&Delivery {
        exchange: delivery.exchange.as_str(),
        routing_key: delivery.routing_key.as_str(),
        redelivered: delivery.redelivered,
        delivery_tag: delivery.delivery_tag,
        consumer_tag: None,
        message_count: Some(message.message_count),
        queue,
        received_at: SystemTime::now(),
        properties: &delivery.properties,
        body: &delivery.data,
    })
}
