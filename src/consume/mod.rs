//! `amqp-consume`: set up the queue, consume from it, run a command per delivery.
//!
//! Follows the original (rabbitmq-c tools/consume.c): the queue rules in [`queue`], basic.qos
//! from `--count`/`--prefetch-count` ([`qos`]), one command per delivery with the body on its
//! standard input ([`command`]), an ack only when the command exits 0. Where the original
//! loses or stalls, ours does not: see [`policy`] and COMPATIBILITY.md.

pub mod command;
pub mod environment;
pub mod holds;
pub mod json_output;
pub mod policy;
pub mod qos;
pub mod queue;
pub mod reply;
pub mod signals;
pub mod spawn;
pub mod stream_offset;

use crate::connection::Session;
use crate::connection::reconnect::Reconnector;
use crate::deadline::Deadline;
use crate::error::{Error, StepExt, describe_amqp};
use crate::exit;
use crate::queued::Queued;
use crate::report::report;
use command::Outcome;
use futures_lite::StreamExt;
use futures_util::stream::FuturesUnordered;
use holds::Holds;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions};
use lapin::{Channel, message::Delivery};
use policy::FailurePolicy;
use policy::{Action, Settled};
use queue::QueueSpec;
use signals::Signals;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

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
    /// The command and its arguments, run once per delivery (any bytes, as given); empty with
    /// `json` to write each delivery's line to standard output instead.
    pub command: Vec<std::ffi::OsString>,
    /// What to do with a delivery whose command failed, unless `on_exit` says otherwise.
    pub on_failure: FailurePolicy,
    /// `--on-exit`: actions by exit status, in command-line order.
    pub on_exit: Vec<policy::ExitRules>,
    /// `--max-redeliveries`: reject instead of requeueing once a message was redelivered this
    /// many times.
    pub max_redeliveries: Option<u64>,
    /// `--retry-delay`: hold a delivery to be requeued this long first.
    pub retry_delay: Option<Duration>,
    /// `--command-timeout`: kill a command that runs longer.
    pub command_timeout: Option<Duration>,
    /// `--idle-timeout`: stop when no delivery arrived for this long.
    pub idle_timeout: Option<Duration>,
    /// `--concurrency`: how many commands run at once (at least 1).
    pub concurrency: usize,
    /// `--stream-offset`: the `x-stream-offset` consumer argument for a stream queue.
    pub stream_offset: Option<lapin::types::AMQPValue>,
    /// `--reply`: the command's standard output is published as the reply ([`reply`]).
    pub reply: bool,
    /// `--json`: each delivery as one JSON line ([`json_output`]): the command's standard
    /// input, or without a command (`command` empty) written to standard output.
    pub json: bool,
    /// `--timeout`: at this deadline the consumer stops taking deliveries, lets the running
    /// commands finish, and the run fails with [`Deadline::error`].
    pub deadline: Option<Deadline>,
}

/// Consumes from `settings.queue` on `channel` until `--count` deliveries were handled, the
/// process is signalled, or something fails.
///
/// With `-A` and `-c N` the consumer uses acks with a prefetch of at most N and acks each
/// delivery as it arrives, so the broker cannot push more than N messages: the queue loses
/// exactly N (the original's true no-ack consumer drains far more, and loses them).
/// SIGINT/SIGTERM: basic.cancel, the running command finishes and is acked if it succeeded,
/// then [`exit::Outcome::Signalled`] (exit 128 + the signal number).
///
/// A command killed by SIGPIPE or exiting 141 (its output pipe closed) stops the consumer quietly with
/// [`exit::Outcome::OutputClosed`] (exit 141), the delivery unacked.
///
/// Errors: `basic.qos`/`basic.consume`/`basic.ack`: CAUSE; the consumer cancelled by the
/// server or the connection lost (`consuming from queue 'Q': CAUSE`); the failure policy's
/// stop ([`policy`]).
///
/// With `--reconnect` (`reconnector` enabled), a lost connection ([`crate::connection::reconnect`])
/// does not end the run: the commands running finish (a successful one's ack cannot be sent:
/// one warning line, the message will be delivered again), the connection is opened again
/// (`session` is replaced), the queue declared and bound again as `spec` says
/// ([`queue::setup`]), basic.qos and basic.consume sent again; `-c N` counts across
/// reconnects. Never after the consumer was cancelled, a channel error or a signal.
///
/// Errors: as above; `consuming from queue 'Q': CAUSE (gave up after N reconnect attempts,
/// the last: ...)` once the reconnect budget is spent.
pub async fn run(
    session: &mut Session,
    spec: &QueueSpec,
    settings: &mut Settings,
    reconnector: &mut Reconnector,
) -> Result<exit::Outcome, Error> {
    let mut carried = Carried {
        handled: 0,
        failures: None,
        signals: None,
    };
    loop {
        let lost = {
            let mut consumer =
                Consumer::start(&session.channel, settings, carried, reconnector.enabled()).await?;
            let error = match consumer.consume().await {
                Ok(()) => return consumer.finish().await,
                Err(Halt::ChannelGone) => consumer.channel_gone().await,
                Err(Halt::Failed(error)) => error,
                Err(Halt::Stopped(outcome)) => return Ok(outcome),
            };
            let signalled = consumer.signals.received().is_some();
            if !reconnector.enabled() || signalled || !session.errors.connection_lost() {
                return Err(error);
            }
            if consumer.progressed {
                reconnector.progress();
            }
            carried = consumer.carry();
            error
        };
        let cause = match &lost {
            Error::Step { cause, .. } => cause.clone(),
            other => other.to_string(),
        };
        let Some(signals) = carried.signals.as_mut() else {
            return Err(lost);
        };
        let past_deadline =
            |deadline: Deadline| Error::Message(format!("{lost} ({})", deadline.error()));
        if let Some(deadline) = settings.deadline.filter(Deadline::passed) {
            return Err(past_deadline(deadline));
        }
        let reconnected = tokio::select! {
            reconnected = reconnector.reconnect(&cause) => reconnected,
            signal = signals.next() => return Ok(exit::Outcome::Signalled(signal)),
            _ = Deadline::reached(settings.deadline) => {
                return Err(past_deadline(settings.deadline.expect("reached only with a deadline")));
            }
        };
        *session = match reconnected {
            Ok(session) => session,
            Err(gave_up) => return Err(Error::Message(format!("{lost} ({})", gave_up.note()))),
        };
        let setup = queue::setup(session, spec);
        settings.queue = Deadline::bound(settings.deadline, Duration::ZERO, setup).await?;
        report(&format!(
            "warning: reconnected to {}; consuming from queue '{}' again",
            reconnector.host_port(),
            settings.queue
        ));
    }
}

/// Closes the session after a run that handled every delivery it had to. With `--reconnect`
/// (`reconnecting`) the run is at-least-once: when the connection was lost after the last
/// delivery was handled (deliveries acked on receipt for `-A -c N` are handled from the buffer
/// without the connection), the failed close is one `warning:` line, not a failure: the work
/// was done, and only the last ack may not have reached the server (its message would be
/// delivered again, never lost).
///
/// Errors: as [`Session::close`], when not reconnecting or the connection was not lost.
pub async fn close(session: Session, reconnecting: bool) -> Result<(), Error> {
    let errors = session.errors.clone();
    let Err(error) = session.close().await else {
        return Ok(());
    };
    if !(reconnecting && errors.connection_lost()) {
        return Err(error);
    }
    report(&format!(
        "warning: {error} (the connection was lost after the last delivery was handled; \
         an ack that did not reach the server means its message is delivered again)"
    ));
    Ok(())
}

/// What one consumer hands to the next after a reconnect: `-c N` counts across reconnects,
/// failures are counted once, the signal handlers stay.
struct Carried {
    handled: u64,
    failures: Option<policy::Tracker>,
    /// Installed by the first consumer, after its basic.consume (as before reconnects existed).
    signals: Option<Signals>,
}

/// Why the consumer stopped before its normal end.
enum Halt {
    /// The channel closed under the consumer: one error, built by [`Consumer::channel_gone`]
    /// with the server's reason.
    ChannelGone,
    /// Any other failure.
    Failed(Error),
    /// A quiet stop that is not a failure (the command's output pipe closed).
    Stopped(exit::Outcome),
}

impl From<Error> for Halt {
    fn from(error: Error) -> Self {
        Halt::Failed(error)
    }
}

/// One consumer on the channel: its deliveries, the commands running, the signals that stop
/// it, the failures and acks in progress. [`run`] drives it through its steps:
/// [`Consumer::start`], then [`Consumer::next_event`] (a delivery, a command done, or a stop)
/// with [`Consumer::start_command`] for a delivery and [`Consumer::handle`] for a command
/// done, then [`Consumer::finish`].
struct Consumer<'a> {
    channel: &'a Channel,
    settings: &'a Settings,
    plan: qos::Plan,
    deliveries: lapin::Consumer,
    tag: String,
    signals: Signals,
    /// `--reply`: publishes each successful command's output as the delivery's reply.
    replier: Option<reply::Replier>,
    failures: policy::Tracker,
    /// Failed deliveries waiting for `--retry-delay` before their requeue.
    holds: Holds,
    /// Deliveries taken so far (`-c` counts them), across reconnects.
    handled: u64,
    /// `--reconnect`: a lost connection will be opened again (warn about acks it took along).
    recovering: bool,
    /// True once a delivery was done on this connection (the reconnect budget is given back).
    progressed: bool,
    /// True once `--idle-timeout` passed with no delivery.
    idle: bool,
    /// True once a signal, `--idle-timeout` or `--timeout` asked to stop taking deliveries.
    stopping: bool,
    /// True once `--timeout` passed: the run ends with [`Deadline::error`].
    timed_out: bool,
    /// When the last delivery came or the last command ended (`--idle-timeout` counts from it).
    last_event: tokio::time::Instant,
    /// The commands running (at most `--concurrency`), each giving back its delivery.
    running: FuturesUnordered<Job>,
    /// The last ack sent: not waited for when sent, checked when the next command ends
    /// ([`Consumer::handle`]; with `-A`, before the next delivery's ack) and before the
    /// consumer ends.
    acking: Queued<Result<bool, Error>>,
}

/// A command running for a delivery; gives back the delivery and how the command ended.
type Job = Pin<Box<dyn Future<Output = (Delivery, Outcome)>>>;

/// What the consumer waits for next ([`Consumer::next_event`]).
enum Event {
    /// A delivery to run a command for.
    Delivery(Delivery),
    /// A command ended.
    Done(Delivery, Outcome),
    /// A signal, `--idle-timeout` or `--timeout`: take no more deliveries.
    Stop,
}

impl<'a> Consumer<'a> {
    /// basic.qos as [`qos::plan`] says, basic.consume, and the signal handlers.
    async fn start(
        channel: &'a Channel,
        settings: &'a Settings,
        carried: Carried,
        recovering: bool,
    ) -> Result<Self, Error> {
        let mut plan = qos::plan(settings.count, settings.prefetch_count, settings.no_ack);
        if settings.stream_offset.is_some() && plan.prefetch.is_none() {
            plan.prefetch = Some(stream_offset::DEFAULT_STREAM_PREFETCH);
        }
        // N commands at once need N deliveries at once.
        let at_least = u16::try_from(settings.concurrency).unwrap_or(u16::MAX);
        plan.prefetch = plan.prefetch.map(|p| p.max(at_least));
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
        let replier = match settings.reply {
            true => Some(reply::Replier::new(channel).await?),
            false => None,
        };
        let deliveries = channel
            .basic_consume(
                settings.queue.as_str().into(),
                "".into(),
                options,
                stream_offset::arguments(settings.stream_offset.as_ref()),
            )
            .await
            .step("basic.consume")?;
        let tag = deliveries.tag().to_string();
        let signals = match carried.signals {
            Some(signals) => signals,
            None => Signals::install()?,
        };
        let failures = carried.failures.unwrap_or_else(|| {
            policy::Tracker::new(
                policy::ExitTable::new(&settings.on_exit, settings.on_failure),
                settings.max_redeliveries,
                settings.retry_delay,
                plan.prefetch,
            )
        });
        Ok(Consumer {
            channel,
            settings,
            plan,
            deliveries,
            tag,
            signals,
            replier,
            failures,
            holds: Holds::default(),
            handled: carried.handled,
            recovering,
            progressed: false,
            idle: false,
            stopping: false,
            timed_out: false,
            last_event: tokio::time::Instant::now(),
            running: FuturesUnordered::new(),
            acking: Queued::default(),
        })
    }

    /// True while `-c` is not reached.
    fn wants_more(&self) -> bool {
        self.settings.count.is_none_or(|n| self.handled < n)
    }

    /// True while the consumer takes new deliveries: `-c` not reached, no stop asked for.
    fn taking(&self) -> bool {
        !self.stopping && self.signals.received().is_none() && self.wants_more()
    }

    /// Takes deliveries and runs their commands, up to `--concurrency` at once, until `-c` is
    /// reached or a signal or `--idle-timeout` asks to stop, then waits for the commands
    /// running. When one fails the consumer, the others still running are let finish (and
    /// acked if they succeeded) before it ends.
    async fn consume(&mut self) -> Result<(), Halt> {
        let result = self.consume_until_stopped().await;
        if result.is_err() {
            while let Some((delivery, outcome)) = self.running.next().await {
                if outcome.success() && !self.plan.ack_on_receipt && !self.plan.broker_no_ack {
                    if self.recovering && !self.channel.status().connected() {
                        self.ack_lost(&delivery);
                    } else {
                        let _ = self.start_ack(&delivery);
                    }
                }
            }
            let _ = self.settled().await;
            return result;
        }
        self.settled().await
    }

    async fn consume_until_stopped(&mut self) -> Result<(), Halt> {
        loop {
            let room = self.taking() && self.running.len() < self.settings.concurrency;
            if !room && self.running.is_empty() {
                return Ok(());
            }
            match self.next_event(room).await? {
                Event::Delivery(delivery) => self.start_command(delivery).await?,
                Event::Done(delivery, outcome) => {
                    self.handle(delivery, outcome).await?;
                    if self.taking() && self.failures.window_full() {
                        // The window error is the one to report, whatever became of the last
                        // ack.
                        if let Err(Halt::Failed(error)) = self.settled().await {
                            return Err(error.into());
                        }
                        return Err(self.failures.window_full_error().into());
                    }
                }
                Event::Stop => self.stopping = true,
            }
        }
    }

    /// The next thing to act on: a delivery (only when `room` for another command), a command
    /// done, or a stop (a signal; `--idle-timeout` passed while waiting for a delivery). Held
    /// deliveries whose retry delay ends meanwhile are requeued. A signal while commands run
    /// is remembered; they are let finish.
    ///
    /// Errors: the consumer's stream failed (`consuming from queue 'Q': CAUSE`) or the server
    /// cancelled the consumer; `basic.reject: CAUSE` for a held delivery.
    async fn next_event(&mut self, room: bool) -> Result<Event, Halt> {
        let idle_deadline = self
            .settings
            .idle_timeout
            .filter(|_| room)
            .map(|idle| self.last_event + idle);
        let idle = async {
            match idle_deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(idle);
        let deadline = Deadline::reached(self.settings.deadline.filter(|_| !self.timed_out));
        tokio::pin!(deadline);
        let next = loop {
            tokio::select! {
                biased;
                Some((delivery, outcome)) = self.running.next(), if !self.running.is_empty() => {
                    self.last_event = tokio::time::Instant::now();
                    return Ok(Event::Done(delivery, outcome));
                }
                next = self.deliveries.next(), if room => break next,
                _ = self.signals.next() => return Ok(Event::Stop),
                _ = self.holds.next_due() => self.holds.release_due().await?,
                _ = &mut idle => {
                    self.idle = true;
                    return Ok(Event::Stop);
                }
                _ = &mut deadline => {
                    self.timed_out = true;
                    return Ok(Event::Stop);
                }
            }
        };
        self.last_event = tokio::time::Instant::now();
        match next {
            Some(Ok(delivery)) => Ok(Event::Delivery(delivery)),
            Some(Err(error)) => Err(Error::step(self.step(), describe_amqp(&error)).into()),
            None => Err(Error::Message(format!(
                "{}: the server cancelled the consumer (was the queue deleted?)",
                self.step()
            ))
            .into()),
        }
    }

    /// Starts the command for one delivery, its body (`--json`: its line) on standard input;
    /// with `--json` and no command, writes the line instead ([`json_output::write`]) and
    /// gives its outcome as a command done. No command is run (no line written) for a
    /// delivery of a closed channel: it could not be acked and the broker redelivers the
    /// message.
    async fn start_command(&mut self, delivery: Delivery) -> Result<(), Halt> {
        if !self.channel.status().connected() {
            return Err(Halt::ChannelGone);
        }
        self.handled += 1;
        if self.plan.ack_on_receipt {
            self.settled().await?;
            self.start_ack(&delivery)?;
        }
        let line = self
            .settings
            .json
            .then(|| json_output::line(&delivery, &self.settings.queue, &self.tag));
        let job = match line {
            Some(line) if self.settings.command.is_empty() => {
                let outcome = json_output::write(&line);
                Box::pin(std::future::ready((delivery, outcome)))
            }
            line => self.command_job(delivery, line),
        };
        self.running.push(job);
        Ok(())
    }

    /// The command run for `delivery`, `line` (else the body) on its standard input.
    fn command_job(&self, delivery: Delivery, line: Option<Vec<u8>>) -> Job {
        let argv = self.settings.command.clone();
        let tag = self.tag.clone();
        let timeout = self.settings.command_timeout;
        let whole = self.settings.concurrency > 1;
        let output = match whole {
            false => command::Output::Inherit,
            true => command::Output::Whole,
        };
        let replier = self.replier.clone();
        Box::pin(async move {
            let input = line.as_deref().unwrap_or(&delivery.data);
            let outcome = match replier {
                // --reply: the reply is confirmed here, before the ack (see `settle`).
                Some(replier) => {
                    replier
                        .run(&argv, input, &delivery, &tag, timeout, whole)
                        .await
                }
                None => {
                    command::run(&argv, input, &delivery, &tag, timeout, output)
                        .await
                        .0
                }
            };
            (delivery, outcome)
        })
    }

    /// Handles a delivery whose command ended: acks it or applies the exit table.
    ///
    /// The ack of the previous delivery is collected here, not before the next command
    /// starts: it is written while that command runs, not between two commands. When it
    /// did not go (the channel closed meanwhile), neither can this delivery's.
    async fn handle(&mut self, delivery: Delivery, outcome: Outcome) -> Result<(), Halt> {
        self.progressed = true;
        if let Err(halt) = self.settled().await {
            let acks_after = !self.plan.ack_on_receipt && !self.plan.broker_no_ack;
            if self.recovering && acks_after && outcome.success() {
                self.ack_lost(&delivery);
            }
            return Err(halt);
        }
        self.settle(delivery, &outcome).await
    }

    /// Acks a delivery whose command succeeded, applies the exit table ([`policy`])
    /// otherwise.
    ///
    /// A command that cannot be started stops the consumer, as the original; its delivery is
    /// not acked and returns to the queue when the channel closes (so does a delivery whose
    /// action is `stop`). A command whose output pipe is closed (`amqp-consume ... | head`)
    /// stops it quietly with 141, as a Unix filter stops; the delivery is not acked either.
    async fn settle(&mut self, delivery: Delivery, outcome: &Outcome) -> Result<(), Halt> {
        if let Outcome::NotStarted(why) | Outcome::WriteFailed(why) = outcome {
            return Err(Error::Message(why.clone()).into());
        }
        if outcome.broken_pipe() {
            self.cancel().await;
            return Err(Halt::Stopped(exit::Outcome::OutputClosed));
        }
        if self.plan.ack_on_receipt || self.plan.broker_no_ack {
            if !outcome.success() {
                report(&format!(
                    "warning: delivery {}: {} (no-ack mode: the message is not redelivered)",
                    delivery.delivery_tag,
                    outcome.describe()
                ));
            }
            return Ok(());
        }
        match self.failures.action(outcome) {
            Action::Ack => self.start_ack(&delivery),
            Action::Stop => Err(Error::Message(format!(
                "stopping: delivery {}: {} ({})",
                delivery.delivery_tag,
                outcome.describe(),
                self.failures.stop_reason(outcome)
            ))
            .into()),
            action => {
                if let Settled::Hold(delay) =
                    self.failures.failed(&delivery, outcome, action).await?
                {
                    self.holds.hold(delivery, delay);
                }
                Ok(())
            }
        }
    }

    /// A command done for a delivery of a connection that is gone: its ack cannot be sent,
    /// the broker delivers the message again (it counts again for `-c`).
    fn ack_lost(&mut self, delivery: &Delivery) {
        self.handled = self.handled.saturating_sub(1);
        report(&format!(
            "warning: delivery {}: its ack cannot be sent, the connection is gone; the message will be delivered again",
            delivery.delivery_tag
        ));
    }

    /// What the next consumer takes over after a reconnect ([`Carried`]): the deliveries
    /// left unacknowledged on the lost channel return to the queue.
    fn carry(self) -> Carried {
        let mut failures = self.failures;
        failures.channel_lost();
        Carried {
            handled: self.handled,
            failures: Some(failures),
            signals: Some(self.signals),
        }
    }

    /// Starts basic.ack for `delivery`, queued now and collected by [`Consumer::settled`]
    /// ([`crate::queued`]).
    fn start_ack(&mut self, delivery: &Delivery) -> Result<(), Halt> {
        match self
            .acking
            .start(ack(self.channel, delivery))
            .unwrap_or(Ok(true))
        {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) if self.recovering => {
                self.ack_lost(delivery);
                Err(Halt::ChannelGone)
            }
            Ok(false) => Err(Halt::ChannelGone),
            Err(error) => Err(error.into()),
        }
    }

    /// Waits for the ack in flight, if any.
    async fn settled(&mut self) -> Result<(), Halt> {
        match self.acking.collect().await.unwrap_or(Ok(true)) {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) if self.recovering => {
                // The ack did not go: the message comes again and counts again.
                self.handled = self.handled.saturating_sub(1);
                Err(Halt::ChannelGone)
            }
            Ok(false) => Err(Halt::ChannelGone),
            Err(error) => Err(error.into()),
        }
    }

    /// basic.cancel, best effort: the consumer is ending anyway.
    async fn cancel(&self) {
        let _ = self
            .channel
            .basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default())
            .await;
    }

    /// The normal end: held deliveries requeued once due; after a stop signal basic.cancel
    /// and exit 128 + the signal; else exit 0 when every command succeeded, or one line saying
    /// how many failed, or (`--idle-timeout` before `-c N`) how many were handled.
    async fn finish(mut self) -> Result<exit::Outcome, Error> {
        self.release_holds().await?;
        if let Some(signal) = self.signals.received() {
            self.cancel().await;
            return Ok(exit::Outcome::Signalled(signal));
        }
        if let Some(deadline) = self.settings.deadline.filter(|_| self.timed_out) {
            self.cancel().await;
            return Err(deadline.error());
        }
        if let Some(count) = self.settings.count.filter(|_| self.idle) {
            self.cancel().await;
            return Err(Error::Message(format!(
                "stopped by --idle-timeout after {} of {count} deliveries ({} failed)",
                self.handled,
                self.failures.failures()
            )));
        }
        if self.failures.failures() > 0 {
            // Exit 0 means every delivery was handled; say how many were not.
            return Err(Error::Message(format!(
                "{} of {} deliveries failed: their commands did not exit 0",
                self.failures.failures(),
                self.handled
            )));
        }
        Ok(exit::Outcome::Success)
    }

    /// Requeues the held deliveries (`--retry-delay`), each once its delay has passed; a stop
    /// signal, received before or while waiting, requeues them at once with one `warning:`
    /// line (stopping must not wait out a long delay; the broker hands them out again).
    ///
    /// Errors: `basic.reject: CAUSE`.
    async fn release_holds(&mut self) -> Result<(), Error> {
        while !self.holds.is_empty() {
            let stopped_by = match (self.signals.received(), self.timed_out) {
                (Some(_), _) => "a signal",
                (None, true) => "--timeout",
                (None, false) => "",
            };
            if !stopped_by.is_empty() {
                report(&format!(
                    "warning: requeueing {} held deliveries before their --retry-delay ended (stopped by {stopped_by})",
                    self.holds.len()
                ));
                return self.holds.release_now().await;
            }
            tokio::select! {
                _ = self.holds.next_due() => self.holds.release_due().await?,
                _ = self.signals.next() => {}
                _ = Deadline::reached(self.settings.deadline) => self.timed_out = true,
            }
        }
        Ok(())
    }

    /// The step named in the consumer's errors: `consuming from queue 'Q'`.
    fn step(&self) -> String {
        format!("consuming from queue '{}'", self.settings.queue)
    }

    /// The error for a channel that closed under the consumer, with the server's reason when
    /// the consumer holds it (e.g. `406 PRECONDITION_FAILED - delivery acknowledgement ...
    /// timed out`, `320 CONNECTION_FORCED`); deliveries still buffered are skipped, unacked.
    async fn channel_gone(&mut self) -> Error {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
        loop {
            match tokio::time::timeout_at(deadline, self.deliveries.next()).await {
                Ok(Some(Ok(_buffered))) => continue,
                Ok(Some(Err(error))) => return Error::step(self.step(), describe_amqp(&error)),
                Ok(None) | Err(_) => {
                    return Error::step(
                        self.step(),
                        "the channel was closed; unacknowledged deliveries return to the queue",
                    );
                }
            }
        }
    }
}

/// basic.ack for `delivery` on `channel`, the channel it came on: `false` when the channel
/// is already closed (nothing is sent) and the broker will redeliver the message.
///
/// `Channel::basic_ack` queues the frame on its first poll ([`crate::queued`]). The
/// delivery's own `Acker` would hand it to lapin's internal RPC task, which spawns a task that
/// calls `basic_ack`: two more task turns for every delivery.
fn ack(
    channel: &Channel,
    delivery: &Delivery,
) -> impl Future<Output = Result<bool, Error>> + 'static {
    let channel = channel.clone();
    let delivery_tag = delivery.delivery_tag;
    async move {
        if !channel.status().connected() {
            return Ok(false);
        }
        channel
            .basic_ack(delivery_tag, BasicAckOptions::default())
            .await
            .step("basic.ack")?;
        Ok(true)
    }
}
