//! basic.publish with publisher confirms: the engine behind `amqp-publish`.
//!
//! Unlike the original, which publishes and closes without waiting for the broker, confirms
//! are on by default (RabbitMQ's publisher confirms extension, `confirm.select`): the tool
//! succeeds only once the broker has confirmed every message. Many publishes stay in flight
//! at once, so line mode does not pay a round trip per line.
//!
//! Nor does it pay a thread hand-off per line: [`Publisher::publish_pieces`] queues the
//! message's frames now and collects the write later ([`crate::queued`]); lapin's I/O loop
//! writes whatever has accumulated with one system call.
//!
//! With `--reconnect` or `--retry-nacked` ([`Publisher::keep_until_confirmed`]) each message is
//! kept until its confirm arrives: a lost connection is opened again and every unconfirmed
//! message published again, in order, before anything new (at-least-once: one warning line
//! says how many may arrive twice); a nacked message is published again after a delay, a
//! bounded number of times.

mod in_flight;

use crate::body::{Bodies, LineBatches, Opened};
use crate::connection::reconnect::{GaveUp, Outage, Reconnector, is_lost};
use crate::connection::{ErrorWatch, Session};
use crate::error::{Error, describe_amqp};
use crate::exit::Outcome;
use crate::message_json::{Message, ReadError};
use crate::queued::poll_now;
use crate::rate::Rate;
use crate::report::report;
use in_flight::InFlight;
use lapin::options::{BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation, PublisherConfirm};
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Poll;

/// How many messages may await their confirm (or their write) at once before the publisher
/// waits for the oldest. Bounds memory in line mode while keeping the connection busy.
///
/// 1024: 4096 used 7 MiB more memory for no more throughput, and 256 let the pipeline run
/// dry. (lapin settles confirms in O(1) each, vendor/lapin/PATCHES.md 4, so the window's size
/// costs no CPU per message.)
pub const CONFIRM_WINDOW: usize = 1024;

/// How many of the oldest messages must be settled, once [`CONFIRM_WINDOW`] are unsettled,
/// before the publisher goes on: the window is refilled a quarter at a time, in one write to
/// the broker, instead of a message or two per arriving basic.ack (each a wake-up, a read and a
/// write: 0.5 µs of system CPU per message more, measured with 200,000 lines).
pub const CONFIRM_REFILL: usize = CONFIRM_WINDOW / 4;

/// How long a failure waits for the server's reason once lapin says the channel is closed.
pub const REASON_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// True when `error` only says the channel or the connection is closed (or gone), not why.
fn closed_channel(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        lapin::ErrorKind::InvalidChannelState(..)
            | lapin::ErrorKind::InvalidConnectionState(_)
            | lapin::ErrorKind::InvalidChannel(_)
    )
}

/// A message whose frames are queued but not yet written: resolves to its confirm.
type Writing = lapin::PiecesPublish;

/// A message kept until its confirm arrives, to be published again after a reconnect or a
/// nack.
#[derive(Debug, Clone)]
struct Kept {
    exchange: ShortString,
    routing_key: ShortString,
    properties: BasicProperties,
    pieces: Vec<Vec<u8>>,
    /// How many times the server refused it (basic.nack) so far.
    nacks: u32,
}

/// How a publishing step failed: for good, or because the connection is gone (which a
/// reconnect may cure).
enum Failure {
    /// Report this and stop.
    Final(Error),
    /// The connection is gone for `cause`; `unconfirmed` messages (as the failure line counts
    /// them) were not confirmed.
    Lost { cause: String, unconfirmed: usize },
    /// The connection still works but is left for a new one, for `cause` (a message refused
    /// again, see [`Publisher::publish_nacked_again`]); otherwise as [`Failure::Lost`].
    Leave { cause: String, unconfirmed: usize },
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Final(error)
    }
}

/// What [`Publisher::keep_until_confirmed`] sets up: the kept messages and how to recover.
struct Recovery {
    reconnector: Reconnector,
    /// `--retry-nacked`: how many times a nacked message is published again.
    retry_nacked: u32,
    /// Every message not yet confirmed, in publish order: those of `in_flight`, then those
    /// of `writing`.
    kept: VecDeque<Kept>,
    /// Nacked messages waiting to be published again.
    nacked: VecDeque<Kept>,
    /// The oldest unconfirmed message when its confirm failed (taken off `kept`, which stays
    /// in step with `in_flight`).
    failed: Option<Kept>,
    /// The session opened by the last reconnect, if any (the caller's is dead then).
    replacement: Option<Session>,
}

/// Where and how to publish: the fields of basic.publish plus the message properties.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Exchange name (any bytes, as the original sends it); empty for the default exchange.
    pub exchange: ShortString,
    /// Routing key (any bytes).
    pub routing_key: ShortString,
    /// basic.publish `mandatory`: an unroutable message is returned (and reported as an error).
    pub mandatory: bool,
    /// Publishes to the default exchange are mandatory even without `mandatory`: given a node
    /// list (unless `--no-mandatory`), because a durable classic queue whose node is down
    /// makes RabbitMQ confirm and drop a message routed to it; mandatory, it comes back as
    /// `basic.return: 312 NO_ROUTE` instead.
    pub mandatory_to_default_exchange: bool,
    /// Content header properties sent with every message.
    pub properties: BasicProperties,
}

/// Publishes messages on one channel and keeps count of what the broker confirmed.
pub struct Publisher {
    channel: Channel,
    errors: Arc<ErrorWatch>,
    target: Target,
    confirms: bool,
    /// Messages queued for lapin's I/O loop, in publish order, not yet written.
    writing: VecDeque<Writing>,
    in_flight: VecDeque<InFlight>,
    published: u64,
    /// Lines read from the input but not yet published (line mode).
    unsent: usize,
    /// With `--reconnect` or `--retry-nacked`: the messages kept until confirmed.
    recovery: Option<Recovery>,
    /// `--reconnect` without confirms: a loss says the messages may be lost.
    unconfirmed_reconnect: bool,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("target", &self.target)
            .field("confirms", &self.confirms)
            .field("writing", &self.writing.len())
            .field("in_flight", &self.in_flight.len())
            .field("published", &self.published)
            .finish()
    }
}

impl Publisher {
    /// Prepares publishing on `channel`; with `confirms`, puts the channel in confirm mode.
    ///
    /// confirm.select is sent with `nowait` (no select-ok to wait for): the first publish
    /// follows it in the same write, and the broker, which handles a channel's methods in
    /// order, numbers that publish 1 as lapin does. A refusal of confirm mode would close the
    /// channel and surface at the first publish or confirm, with the server's reason.
    ///
    /// Errors: `confirm.select: CAUSE` (the channel is already closed).
    pub async fn new(session: &Session, target: Target, confirms: bool) -> Result<Self, Error> {
        let channel = session.channel.clone();
        if confirms {
            channel
                .confirm_select(ConfirmSelectOptions { nowait: true })
                .await
                .map_err(|e| Error::step("confirm.select", describe_amqp(&e)))?;
        }
        Ok(Publisher {
            channel,
            errors: session.errors.clone(),
            target,
            confirms,
            writing: VecDeque::new(),
            in_flight: VecDeque::new(),
            published: 0,
            unsent: 0,
            recovery: None,
            unconfirmed_reconnect: false,
        })
    }

    /// Keeps each message until its confirm arrives, so that a lost connection is opened
    /// again by `reconnector` (when its policy allows) and every unconfirmed message is
    /// published again, in order, before any new one; and so that a message the server
    /// refuses (basic.nack) is published again up to `retry_nacked` times, after the
    /// reconnect delay (doubling with each try). Without confirms nothing can be known to be
    /// unconfirmed: a lost connection then fails, saying the messages may be lost.
    pub fn keep_until_confirmed(&mut self, reconnector: Reconnector, retry_nacked: u32) {
        if !self.confirms {
            self.unconfirmed_reconnect = reconnector.enabled();
            return;
        }
        if !reconnector.enabled() && retry_nacked == 0 {
            return;
        }
        self.recovery = Some(Recovery {
            reconnector,
            retry_nacked,
            kept: VecDeque::new(),
            nacked: VecDeque::new(),
            failed: None,
            replacement: None,
        });
    }

    /// The session opened by the last reconnect, if the publisher reconnected: the one to
    /// close at the end (the caller's session is dead then).
    pub fn take_replacement(&mut self) -> Option<Session> {
        self.recovery.as_mut().and_then(|r| r.replacement.take())
    }

    /// The largest piece of a body [`Publisher::publish_pieces`] sends without copying it:
    /// one frame's payload.
    pub fn piece_max(&self) -> usize {
        self.channel.body_piece_max()
    }

    /// Publishes one message with `body` (a copy of it), as [`Publisher::publish_pieces`].
    ///
    /// Errors: as [`Publisher::publish_pieces`].
    pub async fn publish(&mut self, body: &[u8]) -> Result<(), Error> {
        self.publish_pieces(vec![body.to_vec()]).await
    }

    /// Publishes `bodies`: the one message ([`Publisher::publish_pieces`]), or a message per
    /// line ([`Publisher::publish_lines`]).
    ///
    /// Errors: `reading standard input: CAUSE`, or as those two.
    pub async fn publish_bodies(&mut self, bodies: Bodies) -> Result<(), Error> {
        match bodies.open(self.piece_max()).await? {
            Opened::Message(pieces) => self.publish_pieces(pieces).await,
            Opened::Lines(batches, rate) => self.publish_lines(batches, rate).await,
        }
    }

    /// Publishes one message whose body is the concatenation of `pieces`: its frames are
    /// queued for lapin's I/O loop before this returns, after any earlier message's, and
    /// written later. Each piece of at most [`Publisher::piece_max`] bytes becomes a body frame
    /// as it is, without a copy (lapin's `basic_publish` copies the whole body into frames while
    /// the caller still holds it: twice the memory for a large body). Waits only when
    /// [`CONFIRM_WINDOW`] messages are unsettled, for the oldest.
    ///
    /// Errors: `basic.publish: CAUSE`, or a confirm failure as in [`Publisher::finish`].
    pub async fn publish_pieces(&mut self, pieces: Vec<Vec<u8>>) -> Result<(), Error> {
        self.make_room_or_recover().await?;
        // The target's names and properties are cloned only now, straight into the message:
        // not held across the wait above (the properties are half a kilobyte, once per line
        // with -l).
        let target = &self.target;
        let (exchange, routing_key) = (target.exchange.clone(), target.routing_key.clone());
        let refused = self.queue_new(exchange, routing_key, target.properties.clone(), pieces);
        match refused {
            Some(outcome) => self.written_or_recover(outcome).await,
            None => Ok(()),
        }
    }

    /// As [`Publisher::publish_pieces`], with `properties` for this message instead of the
    /// target's (e.g. a correlation id of its own, see [`crate::rpc`]).
    ///
    /// Errors: as [`Publisher::publish_pieces`].
    pub async fn publish_pieces_with(
        &mut self,
        pieces: Vec<Vec<u8>>,
        properties: BasicProperties,
    ) -> Result<(), Error> {
        let exchange = self.target.exchange.clone();
        let routing_key = self.target.routing_key.clone();
        self.publish_to(exchange, routing_key, properties, pieces)
            .await
    }

    /// Publishes one message as [`Publisher::publish_pieces`] does, to `exchange` with
    /// `routing_key` and `properties` instead of the target's (`amqp-publish --json`, where
    /// each line names its own); `mandatory` is the target's.
    ///
    /// Errors: as [`Publisher::publish_pieces`].
    pub async fn publish_to(
        &mut self,
        exchange: ShortString,
        routing_key: ShortString,
        properties: BasicProperties,
        pieces: Vec<Vec<u8>>,
    ) -> Result<(), Error> {
        self.make_room_or_recover().await?;
        match self.queue_new(exchange, routing_key, properties, pieces) {
            Some(outcome) => self.written_or_recover(outcome).await,
            None => Ok(()),
        }
    }

    /// [`Publisher::make_room`], recovering from a failure meanwhile (when allowed).
    async fn make_room_or_recover(&mut self) -> Result<(), Error> {
        match self.make_room().await {
            Ok(()) => Ok(()),
            Err(failure) => self.recover(failure).await,
        }
    }

    /// Counts a new message and queues it ([`Publisher::queue`]): `None` once its frames wait
    /// to be written, else the outcome of a publish refused at once.
    fn queue_new(
        &mut self,
        exchange: ShortString,
        routing_key: ShortString,
        properties: BasicProperties,
        pieces: Vec<Vec<u8>>,
    ) -> Option<lapin::Result<PublisherConfirm>> {
        self.published += 1;
        self.unsent = self.unsent.saturating_sub(1);
        self.queue(Kept {
            exchange,
            routing_key,
            properties,
            pieces,
            nacks: 0,
        })
    }

    /// A publish refused at once ([`Publisher::queue_new`]): [`Publisher::written`], and a
    /// failure recovered from when allowed.
    async fn written_or_recover(
        &mut self,
        outcome: lapin::Result<PublisherConfirm>,
    ) -> Result<(), Error> {
        match self.written(outcome).await {
            Ok(()) => Ok(()),
            Err(failure) => self.recover(failure).await,
        }
    }

    /// Takes the confirms already arrived, publishes nacked messages again once due, and
    /// when [`CONFIRM_WINDOW`] are unsettled, waits for the oldest [`CONFIRM_REFILL`].
    async fn make_room(&mut self) -> Result<(), Failure> {
        self.collect_arrived().await?;
        self.publish_nacked_again().await?;
        if self.writing.len() + self.in_flight.len() >= CONFIRM_WINDOW {
            while self.writing.len() + self.in_flight.len() > CONFIRM_WINDOW - CONFIRM_REFILL {
                if let Some(confirm) = self.in_flight.pop_front() {
                    self.settle(confirm).await?;
                } else if !self.writing.is_empty() {
                    self.written_oldest().await?;
                } else {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Queues `message`'s frames for lapin's I/O loop (numbered for confirms, frames in call
    /// order), written later; kept until confirmed when recovering.
    async fn send(&mut self, message: Kept) -> Result<(), Failure> {
        match self.queue(message) {
            Some(outcome) => self.written(outcome).await,
            None => Ok(()),
        }
    }

    /// [`Publisher::send`]'s synchronous part: `None` once the frames wait to be written (the
    /// usual case, with no `async` state to build and move for it), else the publish's
    /// outcome (refused at once, e.g. the channel is closed) for [`Publisher::written`].
    fn queue(&mut self, message: Kept) -> Option<lapin::Result<PublisherConfirm>> {
        let options = BasicPublishOptions {
            mandatory: self.target.mandatory
                || (self.target.mandatory_to_default_exchange
                    && message.exchange.as_bytes().is_empty()),
            immediate: false,
        };
        let (exchange, routing_key, properties, pieces) = match &mut self.recovery {
            Some(recovery) => {
                let copy = message.clone();
                recovery.kept.push_back(message);
                (
                    copy.exchange,
                    copy.routing_key,
                    copy.properties,
                    copy.pieces,
                )
            }
            None => (
                message.exchange,
                message.routing_key,
                message.properties,
                message.pieces,
            ),
        };
        let mut writing: Writing =
            self.channel
                .basic_publish_pieces(exchange, routing_key, options, pieces, properties);
        match poll_now(&mut writing) {
            Poll::Pending => {
                self.writing.push_back(writing);
                None
            }
            Poll::Ready(outcome) => Some(outcome),
        }
    }

    /// Handles `failure`: a lost connection is opened again and the unconfirmed messages
    /// published again, as often as the reconnect budget allows; anything else (or no budget)
    /// is the error to report.
    async fn recover(&mut self, mut failure: Failure) -> Result<(), Error> {
        loop {
            match failure {
                Failure::Final(error) => return Err(error),
                Failure::Lost { cause, unconfirmed } => {
                    match self.resume(Outage::Lost(&cause), unconfirmed).await {
                        Ok(()) => return Ok(()),
                        Err(next) => failure = next,
                    }
                }
                Failure::Leave { cause, unconfirmed } => {
                    match self.resume(Outage::Left(&cause), unconfirmed).await {
                        Ok(()) => return Ok(()),
                        Err(next) => failure = next,
                    }
                }
            }
        }
    }

    /// After the connection was lost for `cause`: reconnects, puts the new channel in confirm
    /// mode and publishes every unconfirmed message again, in order, with one warning line
    /// saying how many. Without recovery, the failure line as before (`basic.publish: CAUSE
    /// (N of M messages not confirmed)`).
    async fn resume(&mut self, outage: Outage<'_>, unconfirmed: usize) -> Result<(), Failure> {
        let cause = outage.cause();
        self.move_written();
        let Some(recovery) = self.recovery.as_mut().filter(|r| r.reconnector.enabled()) else {
            if self.unconfirmed_reconnect {
                let noun = if self.published == 1 {
                    "message was"
                } else {
                    "messages were"
                };
                return Err(Failure::Final(Error::Message(format!(
                    "basic.publish: {cause} ({} {noun} published without confirms; any of them may be lost)",
                    self.published
                ))));
            }
            return Err(Failure::Final(Error::Message(format!(
                "basic.publish: {cause}{}",
                self.suffix(unconfirmed)
            ))));
        };
        let session = match recovery.reconnector.reconnect(outage).await {
            Ok(session) => session,
            Err(gave_up) => return Err(Failure::Final(self.gave_up(cause, &gave_up))),
        };
        let again = unconfirmed_in_order(recovery, &mut self.in_flight);
        let node = recovery.reconnector.host_port();
        self.writing.clear();
        self.in_flight.clear();
        self.channel = session.channel.clone();
        self.errors = session.errors.clone();
        recovery.replacement = Some(session);
        // Until they are sent again, the messages are kept as they were (a loss now finds
        // them there).
        recovery.kept.extend(again.iter().cloned());
        if let Err(error) = self
            .channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
        {
            let cause = describe_amqp(&error);
            return Err(match is_lost(&error) || self.errors.connection_lost() {
                true => Failure::Lost {
                    unconfirmed: again.len(),
                    cause,
                },
                false => Failure::Final(Error::step("confirm.select", cause)),
            });
        }
        report(&match again.len() {
            0 => format!(
                "warning: reconnected to {node} (every message published so far was confirmed)"
            ),
            1 => format!(
                "warning: reconnected to {node}; publishing 1 unconfirmed message again (it may be delivered twice)"
            ),
            n => format!(
                "warning: reconnected to {node}; publishing {n} unconfirmed messages again (they may be delivered twice)"
            ),
        });
        if let Some(recovery) = self.recovery.as_mut() {
            recovery.kept.clear();
        }
        for message in again {
            self.send(message).await?;
        }
        Ok(())
    }

    /// The failure once reconnecting stopped: `basic.publish: CAUSE (N of M messages not
    /// confirmed; gave up after K reconnect attempts, the last: ...)`.
    fn gave_up(&self, cause: &str, gave_up: &GaveUp) -> Error {
        let unconfirmed = self.recovery.as_ref().map_or(0, |r| {
            r.kept.len() + r.nacked.len() + usize::from(r.failed.is_some())
        });
        let total = self.published + self.unsent as u64;
        let unconfirmed = (unconfirmed + self.unsent) as u64;
        let noun = if total == 1 { "message" } else { "messages" };
        Error::Message(format!(
            "basic.publish: {cause} ({unconfirmed} of {total} {noun} not confirmed; {})",
            gave_up.note()
        ))
    }

    /// Publishes the nacked messages again (`--retry-nacked`), after the wait their tries
    /// call for, with one warning line; a message refused a second time goes through a
    /// reconnect instead when reconnecting is allowed ([`Failure::Leave`]).
    async fn publish_nacked_again(&mut self) -> Result<(), Failure> {
        let Some(recovery) = self.recovery.as_mut().filter(|r| !r.nacked.is_empty()) else {
            return Ok(());
        };
        let tries = recovery.nacked.iter().map(|m| m.nacks).max().unwrap_or(1);
        if tries >= 2 && recovery.reconnector.enabled() {
            // Refused again: RabbitMQ 3.10 can keep refusing every publish of a channel whose
            // quorum queue lost its leader (measured: nacked at every retry for over 30 s)
            // while new connections to the same node are accepted at once. So the message is
            // published again on a new connection (the next node first), as after a loss,
            // with the reconnect budget.
            let unconfirmed = recovery.kept.len() + recovery.nacked.len();
            return Err(Failure::Leave {
                cause: "the server refused a message again (basic.nack)".to_string(),
                unconfirmed,
            });
        }
        let again: Vec<Kept> = recovery.nacked.drain(..).collect();
        let policy = recovery.reconnector.policy();
        let wait = policy.wait_before(tries + 1);
        let noun = if again.len() == 1 {
            "message"
        } else {
            "messages"
        };
        report(&format!(
            "warning: {} {noun} refused by the server (basic.nack); publishing again in {:.1} s (try {tries} of {})",
            again.len(),
            wait.as_secs_f64(),
            recovery.retry_nacked
        ));
        tokio::time::sleep(wait).await;
        for message in again {
            self.send(message).await?;
        }
        Ok(())
    }

    /// Waits for the oldest queued message to be written and moves its confirm along.
    async fn written_oldest(&mut self) -> Result<(), Failure> {
        if let Some(writing) = self.writing.pop_front() {
            let outcome = writing.await;
            self.written(outcome).await?;
        }
        Ok(())
    }

    /// A message was written (or failed to be): its confirm joins those in flight.
    async fn written(&mut self, outcome: lapin::Result<PublisherConfirm>) -> Result<(), Failure> {
        match outcome {
            Ok(confirm) => {
                self.confirm_awaited(confirm);
                Ok(())
            }
            // This message was not published: it counts as not confirmed.
            Err(e) => Err(self.failure(&e, 1).await),
        }
    }

    /// A message was written: with confirms, its confirm joins those in flight.
    fn confirm_awaited(&mut self, confirm: PublisherConfirm) {
        if self.confirms {
            self.in_flight.push_back(InFlight::new(confirm));
        }
    }

    /// Waits until the broker has confirmed every message published so far; returns how many
    /// messages were published.
    ///
    /// Errors: a nack (`basic.nack: N of M messages not confirmed by the server`), an
    /// unroutable mandatory message (`basic.return: 312 NO_ROUTE ...`), or a channel or
    /// connection closed before all confirms came (`basic.publish: CAUSE (N of M messages not
    /// confirmed)`).
    ///
    /// Without confirms, one round trip (basic.qos, which changes nothing for a publisher)
    /// makes sure the server handled every publish before the channel is closed: if one made
    /// it close the channel, the error is `closing channel: REASON` with the server's reason,
    /// as the original reports it, never a race between its channel.close and ours.
    pub async fn finish(mut self) -> Result<u64, Error> {
        self.confirmed().await?;
        if !self.confirms
            && let Err(error) = self.channel.basic_qos(0, BasicQosOptions::default()).await
        {
            let reason = match closed_channel(&error) {
                true => self.server_reason(&error).await,
                false => describe_amqp(&error),
            };
            return Err(Error::step("closing channel", reason));
        }
        Ok(self.published)
    }

    /// Waits until the broker has confirmed every message published so far, and keeps the
    /// publisher for more.
    ///
    /// Errors: as [`Publisher::finish`].
    pub async fn confirmed(&mut self) -> Result<(), Error> {
        loop {
            match self.confirm_all().await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(failure) => self.recover(failure).await?,
            }
        }
    }

    /// Waits for every confirm; `false` when nacked messages were published again meanwhile
    /// (their confirms are still to come).
    async fn confirm_all(&mut self) -> Result<bool, Failure> {
        while !self.writing.is_empty() {
            self.written_oldest().await?;
        }
        while let Some(confirm) = self.in_flight.pop_front() {
            self.settle(confirm).await?;
        }
        if self.recovery.as_ref().is_some_and(|r| !r.nacked.is_empty()) {
            self.publish_nacked_again().await?;
            return Ok(false);
        }
        Ok(true)
    }

    /// The properties every message gets unless [`Publisher::publish_pieces_with`] says
    /// otherwise.
    pub fn properties(&self) -> &BasicProperties {
        &self.target.properties
    }

    /// Takes the confirms that have already arrived off the front of the queue, without
    /// waiting, so the count of unconfirmed messages stays true.
    async fn collect_arrived(&mut self) -> Result<(), Failure> {
        while let Some(front) = self.writing.front_mut() {
            match poll_now(front) {
                Poll::Pending => break,
                Poll::Ready(Ok(confirm)) => {
                    self.writing.pop_front();
                    self.confirm_awaited(confirm);
                }
                Poll::Ready(outcome) => {
                    self.writing.pop_front();
                    self.written(outcome).await?;
                }
            }
        }
        while let Some(front) = self.in_flight.front_mut() {
            match poll_now(front) {
                Poll::Pending => return Ok(()),
                Poll::Ready(outcome) => {
                    self.in_flight.pop_front();
                    if !self.settled_plainly(&outcome) {
                        self.judge(outcome).await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn settle(&mut self, confirm: InFlight) -> Result<(), Failure> {
        let outcome = confirm.await;
        match self.settled_plainly(&outcome) {
            true => Ok(()),
            false => self.judge(outcome).await,
        }
    }

    /// True when `outcome` is a plain ack and no message is kept for recovery: what
    /// [`Publisher::judge`] would accept without doing anything, told without building its
    /// `async` state (the usual case, once per message).
    fn settled_plainly(&self, outcome: &lapin::Result<Confirmation>) -> bool {
        self.recovery.is_none() && matches!(outcome, Ok(Confirmation::Ack(None)))
    }

    async fn judge(&mut self, outcome: lapin::Result<Confirmation>) -> Result<(), Failure> {
        // The kept message this confirm is for (the oldest in flight).
        let kept = match (&outcome, self.recovery.as_mut()) {
            (Ok(_), Some(recovery)) => recovery.kept.pop_front(),
            (Err(_), Some(recovery)) => {
                recovery.failed = recovery.kept.pop_front();
                None
            }
            _ => None,
        };
        match (&outcome, kept) {
            (Ok(Confirmation::Ack(None)), Some(_)) => {
                if let Some(recovery) = self.recovery.as_mut() {
                    recovery.reconnector.progress();
                }
                return Ok(());
            }
            (Ok(Confirmation::Nack(None)), Some(mut message)) => {
                if let Some(recovery) = self
                    .recovery
                    .as_mut()
                    .filter(|r| message.nacks < r.retry_nacked)
                {
                    message.nacks += 1;
                    recovery.nacked.push_back(message);
                    return Ok(());
                }
            }
            _ => {}
        }
        // A return or a nack; an error is surveyed by `failure` (a confirm is polled once).
        let failed = matches!(
            outcome,
            Ok(Confirmation::Ack(Some(_))) | Ok(Confirmation::Nack(_))
        );
        let suffix = if failed {
            let unconfirmed = self.survey().0 + 1;
            self.suffix(unconfirmed)
        } else {
            String::new()
        };
        match outcome {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => Ok(()),
            Ok(Confirmation::Ack(Some(returned))) | Ok(Confirmation::Nack(Some(returned))) => {
                Err(Failure::Final(Error::Message(format!(
                    "basic.return: {} {}: message to exchange '{}' with routing key '{}' was returned{}",
                    returned.reply_code,
                    returned.reply_text,
                    returned.delivery.exchange,
                    returned.delivery.routing_key,
                    suffix
                ))))
            }
            Ok(Confirmation::Nack(None)) => Err(Failure::Final(Error::Message(format!(
                "basic.nack: the server refused a message{}",
                suffix
            )))),
            Err(e) => Err(self.failure(&e, 1).await),
        }
    }

    /// The error for a failed publish or confirm: `basic.publish: CAUSE (N of M messages not
    /// confirmed)`. When lapin only says the channel is not open, the cause named is the
    /// server's reason: a protocol error an in-flight confirm holds, else the connection's
    /// error event, waited for up to [`REASON_WAIT`] (lapin reports the channel closing before
    /// the event that carries the reason).
    async fn failure(&mut self, error: &lapin::Error, extra: usize) -> Failure {
        let (unconfirmed, protocol_error) = self.survey();
        let cause = match (closed_channel(error), protocol_error) {
            (true, Some(reason)) => reason,
            (true, None) => self.server_reason(error).await,
            (false, _) => describe_amqp(error),
        };
        self.lost_or_final(is_lost(error), cause, unconfirmed + extra)
    }

    /// A failure for `cause` with `unconfirmed` messages not confirmed: [`Failure::Lost`] when
    /// the connection is gone (`lost`, or the connection's events say so), else the final
    /// `basic.publish: CAUSE (N of M messages not confirmed)`.
    fn lost_or_final(&self, lost: bool, cause: String, unconfirmed: usize) -> Failure {
        if lost || self.errors.connection_lost() {
            return Failure::Lost { cause, unconfirmed };
        }
        Failure::Final(Error::Message(format!(
            "basic.publish: {cause}{}",
            self.suffix(unconfirmed)
        )))
    }

    /// Looks at every in-flight confirm without taking it ([`InFlight::peek`]): how many are
    /// not (yet) a plain ack, and the first protocol error among them.
    fn survey(&mut self) -> (usize, Option<String>) {
        let mut unconfirmed = 0;
        let mut protocol_error = None;
        for confirm in self.in_flight.iter_mut() {
            match confirm.peek() {
                Some(Ok(Confirmation::Ack(None))) => {}
                Some(Err(error)) => {
                    unconfirmed += 1;
                    if protocol_error.is_none() && error.is_amqp_error() {
                        protocol_error = Some(describe_amqp(error));
                    }
                }
                _ => unconfirmed += 1,
            }
        }
        // Messages not yet written are not confirmed either.
        (unconfirmed + self.writing.len(), protocol_error)
    }

    /// The server's reason for closing the channel (or the connection) that made `error`:
    /// the error event, waited for up to [`REASON_WAIT`]; else `error` in words.
    async fn server_reason(&self, error: &lapin::Error) -> String {
        match tokio::time::timeout(REASON_WAIT, self.errors.closed()).await {
            Ok(reason) => reason,
            Err(_) => describe_amqp(error),
        }
    }

    /// The failure once the server closed the channel or the connection for `reason` while
    /// the publisher waited for input. When keeping messages, the confirms that came first
    /// are taken (a confirm gives its outcome once): their messages are not sent again.
    async fn closed_failure(&mut self, reason: &str) -> Failure {
        if self.recovery.is_some() {
            self.move_written();
            if let Err(failure) = self.collect_arrived().await {
                return failure;
            }
        }
        self.closed_error(reason)
    }

    /// Moves the messages written since the last look to those in flight, up to the first
    /// whose write failed, so that the confirms already come spare their messages a second
    /// copy after a reconnect.
    fn move_written(&mut self) {
        while let Some(front) = self.writing.front_mut() {
            match poll_now(front) {
                Poll::Ready(Ok(confirm)) => {
                    self.writing.pop_front();
                    self.in_flight.push_back(InFlight::new(confirm));
                }
                _ => break,
            }
        }
    }

    /// The error once the server has closed the channel or the connection for `reason`
    /// (noticed while waiting for input): the messages in flight and the lines read but not
    /// sent are not confirmed.
    fn closed_error(&mut self, reason: &str) -> Failure {
        // Messages written since the last look: their confirms join those in flight (a message
        // whose write failed is not confirmed).
        let mut not_written = 0;
        while let Some(front) = self.writing.front_mut() {
            match poll_now(front) {
                Poll::Pending => break,
                Poll::Ready(outcome) => {
                    self.writing.pop_front();
                    match outcome {
                        Ok(confirm) if self.confirms => {
                            self.in_flight.push_back(InFlight::new(confirm))
                        }
                        Ok(_) => {}
                        Err(_) => not_written += 1,
                    }
                }
            }
        }
        let (unconfirmed, protocol_error) = self.survey();
        let cause = protocol_error.unwrap_or_else(|| reason.to_string());
        self.lost_or_final(false, cause, unconfirmed + not_written)
    }

    /// Publishes each line of `batches` (as [`crate::body::spawn_stdin_line_batches`] hands
    /// them over) as a message of its own, in order, until the input ends.
    ///
    /// Waits for input and for the server at once: when the server closes the channel or the
    /// connection (a publish to a missing exchange), it stops as soon as that is known, even
    /// while standard input is silent (a slow producer), where waiting for the next line
    /// could take hours. Lines read but not yet sent count as not confirmed.
    ///
    /// Errors: `reading standard input: CAUSE`; as [`Publisher::publish_pieces`];
    /// `basic.publish: REASON (N of M messages not confirmed)` when the server closed.
    pub async fn publish_lines(
        &mut self,
        mut batches: LineBatches,
        mut rate: Option<Rate>,
    ) -> Result<(), Error> {
        let mut pending: VecDeque<Vec<u8>> = VecDeque::new();
        loop {
            // A reconnect replaces the connection, and its events.
            let errors = self.errors.clone();
            // Everything read so far is pending, so a failure counts it (with --rate, only
            // what is due next is taken, so a long input is not held in memory).
            while rate.is_none() || pending.is_empty() {
                let Ok(batch) = batches.try_recv() else { break };
                pending.extend(batch.map_err(|e| Error::step("reading standard input", e))?);
            }
            if let Some(line) = pending.pop_front() {
                // This line too, until it is published.
                self.unsent = pending.len() + 1;
                if let Some(rate) = rate.as_mut() {
                    tokio::select! {
                        reason = errors.closed() => {
                            let failure = self.closed_failure(&reason).await;
                            self.recover(failure).await?;
                        }
                        () = rate.wait() => {}
                    }
                }
                self.publish_pieces(vec![line]).await?;
                continue;
            }
            self.unsent = 0;
            let next = tokio::select! {
                reason = errors.closed() => {
                    let failure = self.closed_failure(&reason).await;
                    self.recover(failure).await?;
                    continue;
                }
                next = batches.recv() => next,
            };
            match next {
                Some(batch) => {
                    pending.extend(batch.map_err(|e| Error::step("reading standard input", e))?)
                }
                None => return Ok(()),
            }
        }
    }

    /// `amqp-publish --json`: publishes each message of `messages` (as
    /// [`crate::message_json::stream::spawn_stdin_messages`] hands them over) to its own
    /// exchange and routing key with its own properties, `exchange`, `routing_key` (`-e`, `-r`)
    /// and `overrides` (the property options) replacing the message's; spaced by `rate`.
    /// Returns at the end of the input (`None`), or at the first message that cannot be read or
    /// has no routing key (that error; nothing of it is published).
    ///
    /// Errors: as [`Publisher::publish_pieces`].
    pub async fn publish_messages(
        &mut self,
        mut messages: tokio::sync::mpsc::Receiver<Result<Message, ReadError>>,
        exchange: Option<&ShortString>,
        routing_key: Option<&ShortString>,
        overrides: &BasicProperties,
        mut rate: Option<Rate>,
    ) -> Result<Option<ReadError>, Error> {
        let mut number = 0;
        while let Some(message) = messages.recv().await {
            number += 1;
            let message = match message {
                Ok(message) => message,
                Err(error) => return Ok(Some(error)),
            };
            let routing_key = routing_key
                .cloned()
                .or_else(|| message.routing_key.map(Into::into));
            let Some(routing_key) = routing_key else {
                return Ok(Some(ReadError {
                    message: number,
                    position: None,
                    cause: "no \"routing_key\" (give one in the message or with -r)".into(),
                }));
            };
            let exchange = exchange
                .cloned()
                .or_else(|| message.exchange.map(Into::into));
            let properties = merge(message.properties, overrides);
            if let Some(rate) = &mut rate {
                rate.wait().await;
            }
            let exchange = exchange.unwrap_or_default();
            self.publish_to(exchange, routing_key, properties, vec![message.body])
                .await?;
        }
        Ok(None)
    }

    /// ` (N of M messages not confirmed)` with confirms on, else nothing; lines read but not
    /// sent count in both N and M.
    fn suffix(&self, unconfirmed: usize) -> String {
        unconfirmed_suffix(
            self.confirms,
            (unconfirmed + self.unsent) as u64,
            self.published + self.unsent as u64,
        )
    }
}

/// Closes the session once publishing is done. With confirms (`confirmed`), every message
/// was confirmed: the work is done, and a retry would duplicate it, so a failed close is only
/// a `warning:` line on stderr.
///
/// Errors: without confirms, as [`Session::close`].
pub async fn close(session: Session, confirmed: bool) -> Result<Outcome, Error> {
    if let Err(error) = session.close().await {
        if !confirmed {
            return Err(error);
        }
        report(&format!(
            "warning: {error} (every message was confirmed by the server)"
        ));
    }
    Ok(Outcome::Success)
}

/// A message's own properties (an `amqp-publish --json` line's) with `over`'s set ones replacing them; headers merge key by key, the
/// keys of `over` winning.
pub fn merge(line: BasicProperties, over: &BasicProperties) -> BasicProperties {
    let mut p = line;
    macro_rules! take {
        ($get:ident, $set:ident) => {
            if let Some(v) = over.$get() {
                p = p.$set(v.clone());
            }
        };
    }
    take!(content_type, with_content_type);
    take!(content_encoding, with_content_encoding);
    take!(delivery_mode, with_delivery_mode);
    take!(priority, with_priority);
    take!(correlation_id, with_correlation_id);
    take!(reply_to, with_reply_to);
    take!(expiration, with_expiration);
    take!(message_id, with_message_id);
    take!(timestamp, with_timestamp);
    take!(kind, with_type);
    take!(user_id, with_user_id);
    take!(app_id, with_app_id);
    take!(cluster_id, with_cluster_id);
    if let Some(extra) = over.headers() {
        let mut headers = p.headers().clone().unwrap_or_default();
        for (key, value) in extra.inner() {
            headers.insert(key.clone(), value.clone());
        }
        p = p.with_headers(headers);
    }
    p
}

/// The messages to publish again after a loss, in publish order: the one whose confirm failed,
/// those whose confirms had not come (a basic.ack that came but was not yet taken, even one a
/// failure's count already looked at, spares its message a duplicate), the ones not yet
/// written, then the nacked ones.
fn unconfirmed_in_order(recovery: &mut Recovery, in_flight: &mut VecDeque<InFlight>) -> Vec<Kept> {
    let mut again: Vec<Kept> = recovery.failed.take().into_iter().collect();
    for confirm in in_flight.iter_mut() {
        let Some(message) = recovery.kept.pop_front() else {
            break;
        };
        if !matches!(confirm.peek(), Some(Ok(Confirmation::Ack(None)))) {
            again.push(message);
        }
    }
    again.extend(recovery.kept.drain(..));
    again.extend(recovery.nacked.drain(..));
    again
}

/// ` (N of M messages not confirmed)` with confirms on, else nothing: the suffix of every
/// publishing failure.
pub fn unconfirmed_suffix(confirms: bool, unconfirmed: u64, total: u64) -> String {
    if !confirms {
        return String::new();
    }
    let noun = if total == 1 { "message" } else { "messages" };
    format!(" ({unconfirmed} of {total} {noun} not confirmed)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_replaces_set_properties_and_merges_headers() {
        use lapin::types::{AMQPValue, FieldTable};
        let mut line_headers = FieldTable::default();
        line_headers.insert("a".into(), AMQPValue::LongLongInt(1));
        line_headers.insert("b".into(), AMQPValue::LongLongInt(2));
        let line = BasicProperties::default()
            .with_content_type("text/plain".into())
            .with_priority(3)
            .with_headers(line_headers);
        let mut over_headers = FieldTable::default();
        over_headers.insert("b".into(), AMQPValue::Boolean(true));
        let over = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_headers(over_headers);
        let merged = merge(line, &over);
        assert_eq!(
            merged.content_type().as_ref().unwrap().as_str(),
            "application/json"
        );
        assert_eq!(*merged.priority(), Some(3));
        let headers = merged.headers().as_ref().unwrap().inner();
        assert_eq!(headers.get("a"), Some(&AMQPValue::LongLongInt(1)));
        assert_eq!(headers.get("b"), Some(&AMQPValue::Boolean(true)));
    }
}
