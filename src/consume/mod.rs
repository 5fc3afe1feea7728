//! `amqp-consume`: set up the queue, consume from it, run a command per delivery.
//!
//! Follows the original (rabbitmq-c tools/consume.c): the queue rules in [`queue`], basic.qos
//! from `--count`/`--prefetch-count` ([`qos`]), one command per delivery with the body on its
//! standard input ([`command`]), an ack only when the command exits 0. Where the original
//! loses or stalls, ours does not: see [`policy`] and COMPATIBILITY.md.

pub mod command;
pub mod environment;
pub mod policy;
pub mod qos;
pub mod queue;
pub mod reply;
pub mod stream_offset;

use crate::error::{Error, StepExt, describe_amqp};
use crate::tool::report;
use command::Outcome;
use futures_lite::StreamExt;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions};
use lapin::{Channel, Consumer, message::Delivery};
use policy::FailurePolicy;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use tokio::signal::unix::{SignalKind, signal};

/// Everything `amqp-consume` needs besides the connection.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The queue, as resolved by [`queue::setup`].
    pub queue: String,
    /// `-A`: the original's no-ack mode.
    pub no_ack: bool,
    /// `-c`: stop after this many deliveries (none: consume until stopped).
    pub count: Option<u64>,
    /// `-p`: prefetch count asked for (none: as `-c` decides).
    pub prefetch_count: Option<u64>,
    /// The command and its arguments, run once per delivery.
    pub command: Vec<String>,
    /// What to do with a delivery whose command failed.
    pub on_failure: FailurePolicy,
    /// `--stream-offset`: the `x-stream-offset` consumer argument for a stream queue.
    pub stream_offset: Option<lapin::types::AMQPValue>,
    /// `--reply`: the command's standard output is published as the reply ([`reply`]).
    pub reply: bool,
}

/// Consumes from `settings.queue` on `channel` until `--count` deliveries were handled, the
/// process is signalled, or something fails.
///
/// With `-A` and `-c N` the consumer uses acks with a prefetch of at most N and acks each
/// delivery as it arrives, so the broker cannot push more than N messages: the queue loses
/// exactly N (the original's true no-ack consumer drains far more, and loses them).
/// SIGINT/SIGTERM: basic.cancel, the running command finishes and is acked if it succeeded,
/// then [`Error::Silent`] with 128 + the signal number.
///
/// A command killed by SIGPIPE or exiting 141 (its output pipe closed) stops the consumer quietly with
/// [`Error::Silent`] 141, the delivery unacked.
///
/// Errors: `basic.qos`/`basic.consume`/`basic.ack`: CAUSE; the consumer cancelled by the
/// server or the connection lost (`consuming from queue 'Q': CAUSE`); the failure policy's
/// stop ([`policy`]).
pub async fn run(channel: &Channel, settings: &Settings) -> Result<(), Error> {
    let mut plan = qos::plan(settings.count, settings.prefetch_count, settings.no_ack);
    if settings.stream_offset.is_some() && plan.prefetch.is_none() {
        plan.prefetch = Some(stream_offset::DEFAULT_STREAM_PREFETCH);
    }
    if let Some(prefetch) = plan.prefetch {
        channel
            .basic_qos(prefetch, Default::default())
            .await
            .step("basic.qos")?;
    }
    let options = BasicConsumeOptions {
        no_ack: plan.broker_no_ack,
        ..Default::default()
    };
    // --reply (issue 17): replies are confirmed on this channel.
    let replier = if settings.reply {
        Some(reply::Replier::new(channel).await?)
    } else {
        None
    };
    let mut consumer = channel
        .basic_consume(
            settings.queue.as_str().into(),
            "".into(),
            options,
            stream_offset::arguments(settings.stream_offset.as_ref()),
        )
        .await
        .step("basic.consume")?;
    let consumer_tag = consumer.tag();
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| Error::step("installing the SIGINT handler", e))?;
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| Error::step("installing the SIGTERM handler", e))?;
    let mut failures = policy::Tracker::new(settings.on_failure, plan.prefetch);
    let mut handled: u64 = 0;
    let mut stop_signal: Option<i32> = None;
    // The last ack sent: not waited for when sent, checked before the next command runs and
    // before any return.
    let mut acking: Option<Settling> = None;
    while settings.count.is_none_or(|n| handled < n) {
        let next = tokio::select! {
            next = consumer.next() => next,
            _ = interrupt.recv() => { stop_signal = Some(libc::SIGINT); break; }
            _ = terminate.recv() => { stop_signal = Some(libc::SIGTERM); break; }
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(error)) => {
                return Err(Error::step(
                    format!("consuming from queue '{}'", settings.queue),
                    describe_amqp(&error),
                ));
            }
            None => {
                return Err(Error::Message(format!(
                    "consuming from queue '{}': the server cancelled the consumer (was the queue deleted?)",
                    settings.queue
                )));
            }
        };
        if !channel.status().connected() {
            // A delivery received before the channel closed: its command must not run, since
            // it could not be acked and the broker redelivers the message.
            return Err(channel_gone(&mut consumer, &settings.queue).await);
        }
        handled += 1;
        if !settled(&mut acking).await? {
            return Err(channel_gone(&mut consumer, &settings.queue).await);
        }
        if plan.ack_on_receipt && !start(ack(&delivery), &mut acking)? {
            return Err(channel_gone(&mut consumer, &settings.queue).await);
        }
        let running = reply::run(
            replier.as_ref(),
            &settings.command,
            &delivery,
            consumer_tag.as_str(),
        );
        tokio::pin!(running);
        // A signal while the command runs is remembered; the command is let finish.
        let outcome = loop {
            tokio::select! {
                outcome = &mut running => break outcome,
                _ = interrupt.recv() => stop_signal = Some(libc::SIGINT),
                _ = terminate.recv() => stop_signal = Some(libc::SIGTERM),
            }
        };
        if !settled(&mut acking).await? {
            return Err(channel_gone(&mut consumer, &settings.queue).await);
        }
        if let Outcome::NotStarted(why) = &outcome {
            // As the original: a command that cannot be started stops the consumer; the
            // delivery is not acked and returns to the queue when the channel closes.
            return Err(Error::Message(why.clone()));
        }
        if outcome.broken_pipe() {
            // The command's output pipe is closed (`amqp-consume ... | head`): stop quietly,
            // as a Unix filter does; the delivery is not acked and returns to the queue.
            let _ = channel
                .basic_cancel(consumer_tag.clone(), BasicCancelOptions::default())
                .await;
            return Err(Error::Silent(128 + libc::SIGPIPE as u8));
        }
        let sent = settle(
            &delivery,
            &outcome,
            plan.ack_on_receipt || plan.broker_no_ack,
            &mut failures,
            &mut acking,
        )
        .await?;
        if !sent {
            return Err(channel_gone(&mut consumer, &settings.queue).await);
        }
        if stop_signal.is_some() {
            break;
        }
        let more_wanted = settings.count.is_none_or(|n| handled < n);
        if more_wanted && failures.window_full() {
            settled(&mut acking).await?;
            return Err(failures.window_full_error());
        }
    }
    if !settled(&mut acking).await? {
        return Err(channel_gone(&mut consumer, &settings.queue).await);
    }
    if let Some(signal) = stop_signal {
        let _ = channel
            .basic_cancel(consumer_tag, BasicCancelOptions::default())
            .await;
        return Err(Error::Silent(128 + signal as u8));
    }
    if failures.failures() > 0 {
        // Exit 0 means every delivery was handled; say how many were not.
        return Err(Error::Message(format!(
            "{} of {handled} deliveries failed: their commands did not exit 0",
            failures.failures()
        )));
    }
    Ok(())
}

/// An ack handed to lapin: `false` when the channel is already closed (lapin's acker then
/// sends nothing) and the broker will redeliver the message.
type Settling = Pin<Box<dyn Future<Output = Result<bool, Error>>>>;

/// basic.ack for `delivery`, to be started with [`start`].
fn ack(delivery: &Delivery) -> Settling {
    let acker = delivery.acker.clone();
    Box::pin(async move {
        acker
            .ack(BasicAckOptions::default())
            .await
            .step("basic.ack")
    })
}

/// Hands an ack to lapin without waiting for it to be written: that wait costs two thread
/// hand-offs (to lapin's I/O thread and back) per delivery, on the path from one command to
/// the next. The first poll (with a no-op waker) decides whether the ack is sent at all
/// (`false`: the channel is closed) and queues it; the runtime carries it on while the next
/// command runs, and [`settled`] collects its outcome from `acking`.
fn start(mut ack: Settling, acking: &mut Option<Settling>) -> Result<bool, Error> {
    match ack.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => {
            *acking = Some(ack);
            Ok(true)
        }
    }
}

/// Waits for the ack in `acking`, if any, and gives its outcome (`true` without one).
async fn settled(acking: &mut Option<Settling>) -> Result<bool, Error> {
    match acking.take() {
        Some(ack) => ack.await,
        None => Ok(true),
    }
}

/// The error for a channel that closed under the consumer, with the server's reason when the
/// consumer holds it (e.g. `406 PRECONDITION_FAILED - delivery acknowledgement ... timed out`,
/// `320 CONNECTION_FORCED`); deliveries still buffered are skipped, unacked.
async fn channel_gone(consumer: &mut Consumer, queue: &str) -> Error {
    let step = format!("consuming from queue '{queue}'");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
    loop {
        match tokio::time::timeout_at(deadline, consumer.next()).await {
            Ok(Some(Ok(_buffered))) => continue,
            Ok(Some(Err(error))) => return Error::step(step, describe_amqp(&error)),
            Ok(None) | Err(_) => {
                return Error::step(
                    step,
                    "the channel was closed; unacknowledged deliveries return to the queue",
                );
            }
        }
    }
}

/// Acks a delivery whose command succeeded (started into `acking`, see [`start`]); applies
/// the failure policy otherwise. `false` when the ack could not be sent because the channel
/// is closed.
async fn settle(
    delivery: &Delivery,
    outcome: &Outcome,
    already_settled: bool,
    failures: &mut policy::Tracker,
    acking: &mut Option<Settling>,
) -> Result<bool, Error> {
    if already_settled {
        if !outcome.success() {
            report(&format!(
                "warning: delivery {}: {} (no-ack mode: the message is not redelivered)",
                delivery.delivery_tag,
                outcome.describe()
            ));
        }
        return Ok(true);
    }
    if outcome.success() {
        return start(ack(delivery), acking);
    }
    failures.failed(delivery, outcome).await?;
    Ok(true)
}
