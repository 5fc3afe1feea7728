//! Request/reply over RabbitMQ's direct reply-to: the engine behind `amqp-publish --rpc`.
//!
//! RabbitMQ's RPC pattern: each request carries a `reply_to` address and a `correlation_id`;
//! the server publishes its reply to that address with the same correlation id. The address
//! here is RabbitMQ's direct reply-to pseudo-queue [`DIRECT_REPLY_TO`]: no reply queue is
//! declared; the client consumes from it in no-ack mode on the channel it publishes requests
//! on, before publishing them, as RabbitMQ requires
//! (<https://www.rabbitmq.com/docs/direct-reply-to>).
//!
//! Requests are published with `mandatory` and publisher confirms, each confirm awaited before
//! the request counts as sent: a request no queue receives (nobody listening) fails at once
//! with `basic.return: 312 NO_ROUTE ...` instead of waiting for a reply that cannot come.
//! Several requests may await their replies at once ([`REQUEST_WINDOW`]); replies are written
//! in request order whatever order they arrive in.

use crate::body::{Bodies, LineBatches, Opened};
use crate::connection::Session;
use crate::error::{Error, StepExt, describe_amqp, describe_io};
use crate::publish::{Publisher, Target};
use crate::rate::Rate;
use crate::report::report;
use futures_lite::StreamExt;
use lapin::Consumer;
use lapin::options::BasicConsumeOptions;
use lapin::types::{FieldTable, ShortString};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::Duration;
use tokio::time::Instant;

/// RabbitMQ's direct reply-to pseudo-queue: consumed from (no-ack) and named as `reply_to`.
pub const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// `--reply-timeout` when not given: how long to wait without any reply arriving while a
/// request awaits one. 30 s, as the connection timeout: long enough for a server doing real
/// work, short enough that a script notices a dead server.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How many requests may be published whose replies are not written yet (awaited, or held
/// back behind an earlier request's) before the next one waits: bounds the memory the replies
/// held back take; 64 keeps several servers on one queue busy.
pub const REQUEST_WINDOW: usize = 64;

/// How replies are written on standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFormat {
    /// The reply's body byte for byte (one request from `-b` or standard input).
    Body,
    /// One line per reply (`-l`, where each request is a line): the body, then a newline
    /// unless it already ends with one.
    Line,
}

/// A request client: publishes requests and writes their replies, in request order.
pub struct Client {
    publisher: Publisher,
    replies: Consumer,
    timeout: Duration,
    format: ReplyFormat,
    /// The part of every correlation id that is unique to this run.
    run_id: String,
    /// Requests published so far; the next request's number.
    sent: u64,
    /// Replies written so far; the number of the next reply to write.
    written: u64,
    /// Correlation ids of requests awaiting their reply, with the request's number.
    awaiting: HashMap<String, u64>,
    /// Replies arrived ahead of an earlier request's, by request number.
    held: BTreeMap<u64, Vec<u8>>,
    /// When the wait for a reply started or a reply last arrived: the timeout counts from here.
    progress: Instant,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("publisher", &self.publisher)
            .field("sent", &self.sent)
            .field("written", &self.written)
            .field("awaiting", &self.awaiting.len())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Prepares requests to `target` on the session's channel: confirm mode, then basic.consume
    /// on [`DIRECT_REPLY_TO`] in no-ack mode. The target's `mandatory` is forced on and its
    /// `reply_to` set to [`DIRECT_REPLY_TO`]; each request gets a correlation id of its own.
    ///
    /// Errors: `confirm.select: CAUSE`, `basic.consume: CAUSE`.
    pub async fn open(
        session: &Session,
        mut target: Target,
        timeout: Duration,
        format: ReplyFormat,
    ) -> Result<Self, Error> {
        target.mandatory = true;
        target.properties = target
            .properties
            .with_reply_to(ShortString::from(DIRECT_REPLY_TO));
        let publisher = Publisher::new(session, target, true).await?;
        let replies = session
            .channel
            .basic_consume(
                DIRECT_REPLY_TO.into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .step("basic.consume")?;
        Ok(Client {
            publisher,
            replies,
            timeout,
            format,
            run_id: run_id(),
            sent: 0,
            written: 0,
            awaiting: HashMap::new(),
            held: BTreeMap::new(),
            progress: Instant::now(),
        })
    }

    /// The largest body piece published without a copy (see [`Publisher::piece_max`]).
    pub fn piece_max(&self) -> usize {
        self.publisher.piece_max()
    }

    /// Sends `bodies` as requests: the one request ([`Client::request`]), or a request per line
    /// ([`Client::request_lines`]).
    ///
    /// Errors: `reading standard input: CAUSE`, or as those two.
    pub async fn request_bodies(&mut self, bodies: Bodies) -> Result<(), Error> {
        match bodies.open(self.piece_max()).await? {
            Opened::Message(pieces) => self.request(pieces).await,
            Opened::Lines(batches, rate) => self.request_lines(batches, rate).await,
        }
    }

    /// Publishes one request whose body is the concatenation of `pieces` and waits for its
    /// confirm. First, while [`REQUEST_WINDOW`] requests' replies are not written, waits for
    /// replies (writing those that are next in order).
    ///
    /// Errors: the publish or confirm failures of [`Publisher::finish`] (a request no queue
    /// received: `basic.return: 312 NO_ROUTE ...`), or those of [`Client::receive`].
    pub async fn request(&mut self, pieces: Vec<Vec<u8>>) -> Result<(), Error> {
        // The oldest request not written is awaited (else its reply would have been written),
        // so there is a reply to wait for.
        while self.sent - self.written >= REQUEST_WINDOW as u64 {
            self.receive().await?;
        }
        let correlation_id = format!("{}.{}", self.run_id, self.sent + 1);
        let properties = self
            .publisher
            .properties()
            .clone()
            .with_correlation_id(ShortString::from(correlation_id.clone()));
        self.publisher
            .publish_pieces_with(pieces, properties)
            .await?;
        self.publisher.confirmed().await?;
        if self.awaiting.is_empty() {
            self.progress = Instant::now();
        }
        self.awaiting.insert(correlation_id, self.sent);
        self.sent += 1;
        Ok(())
    }

    /// Publishes one request per line of `batches` (as [`crate::body::spawn_stdin_line_batches`]
    /// hands them over) and writes the replies as they arrive, in request order, also while
    /// standard input is idle. Returns at the end of the input; [`Client::finish`] then waits
    /// for the replies still awaited. With a `rate` (`--rate`), requests are spaced as it
    /// says; replies are written meanwhile.
    ///
    /// Errors: `reading standard input: CAUSE`, or as [`Client::request`].
    pub async fn request_lines(
        &mut self,
        mut batches: LineBatches,
        mut rate: Option<Rate>,
    ) -> Result<(), Error> {
        loop {
            let batch = if self.awaiting() {
                let deadline = self.progress + self.timeout;
                tokio::select! {
                    batch = batches.recv() => batch,
                    next = tokio::time::timeout_at(deadline, self.replies.next()) => {
                        self.file(next)?;
                        continue;
                    }
                }
            } else {
                batches.recv().await
            };
            let Some(batch) = batch else {
                return Ok(());
            };
            let batch = batch.map_err(|e| Error::step("reading standard input", e))?;
            for line in batch {
                if let Some(rate) = &mut rate {
                    self.pace(rate).await?;
                }
                self.request(vec![line]).await?;
            }
        }
    }

    /// Waits until `rate` lets the next request go, filing the replies that arrive meanwhile.
    ///
    /// Errors: as [`Client::request_lines`] while a reply is awaited.
    async fn pace(&mut self, rate: &mut Rate) -> Result<(), Error> {
        let due = rate.wait();
        tokio::pin!(due);
        loop {
            if !self.awaiting() {
                due.await;
                return Ok(());
            }
            let deadline = self.progress + self.timeout;
            tokio::select! {
                () = &mut due => return Ok(()),
                next = tokio::time::timeout_at(deadline, self.replies.next()) => self.file(next)?,
            }
        }
    }

    /// True while a request awaits its reply.
    pub fn awaiting(&self) -> bool {
        !self.awaiting.is_empty()
    }

    /// Waits for the next reply (at most the reply timeout since the last progress) and
    /// files it; writes every reply that is next in request order. A reply whose correlation
    /// id matches no awaited request (a second answer to a request delivered twice) is
    /// ignored with a warning.
    ///
    /// Errors: `waiting for the reply: no reply within N s (K of M requests answered)`;
    /// `waiting for the reply: CAUSE` when the channel or connection fails;
    /// `writing to standard output: CAUSE`. A closed standard output ends the process as a
    /// Unix filter ends ([`crate::report::exit_by_sigpipe`]).
    pub async fn receive(&mut self) -> Result<(), Error> {
        let deadline = self.progress + self.timeout;
        let next = tokio::time::timeout_at(deadline, self.replies.next()).await;
        self.file(next)
    }

    /// Files the outcome of one wait on the reply consumer, as [`Client::receive`] describes.
    fn file(
        &mut self,
        next: Result<Option<lapin::Result<lapin::message::Delivery>>, tokio::time::error::Elapsed>,
    ) -> Result<(), Error> {
        let delivery = match next {
            Err(_elapsed) => return Err(self.timed_out()),
            Ok(Some(Ok(delivery))) => delivery,
            Ok(Some(Err(error))) => {
                return Err(Error::step("waiting for the reply", describe_amqp(&error)));
            }
            Ok(None) => {
                return Err(Error::step(
                    "waiting for the reply",
                    "the server cancelled the reply consumer",
                ));
            }
        };
        let correlation_id = delivery
            .properties
            .correlation_id()
            .as_ref()
            .map(|id| id.as_str().to_string())
            .unwrap_or_default();
        let Some(number) = self.awaiting.remove(&correlation_id) else {
            report(&format!(
                "warning: ignored a reply with correlation id '{correlation_id}' that answers no request awaiting one"
            ));
            return Ok(());
        };
        self.progress = Instant::now();
        self.held.insert(number, delivery.data);
        self.write_ready()
    }

    /// Writes the held replies that are next in request order.
    fn write_ready(&mut self) -> Result<(), Error> {
        let mut stdout = std::io::stdout().lock();
        while let Some(body) = self.held.remove(&self.written) {
            let newline = self.format == ReplyFormat::Line && body.last() != Some(&b'\n');
            let outcome = stdout
                .write_all(&body)
                .and_then(|()| {
                    if newline {
                        stdout.write_all(b"\n")
                    } else {
                        Ok(())
                    }
                })
                .and_then(|()| stdout.flush());
            if let Err(error) = outcome {
                if error.kind() == std::io::ErrorKind::BrokenPipe {
                    crate::report::exit_by_sigpipe();
                }
                return Err(Error::step(
                    "writing to standard output",
                    describe_io(&error),
                ));
            }
            self.written += 1;
        }
        Ok(())
    }

    /// Waits for every reply still awaited and writes them; returns how many requests were
    /// answered.
    ///
    /// Errors: as [`Client::receive`].
    pub async fn finish(mut self) -> Result<u64, Error> {
        while self.awaiting() {
            self.receive().await?;
        }
        Ok(self.written)
    }

    /// The error once the reply timeout has passed. Replies that came for later requests are
    /// written first, in request order, the unanswered requests' places left out (and named
    /// in the error): they were answered, and their servers have acked the requests.
    fn timed_out(&mut self) -> Error {
        let answered = self.sent - self.awaiting.len() as u64;
        let noun = if self.sent == 1 {
            "request"
        } else {
            "requests"
        };
        let skipped = match self.write_past_gaps() {
            Ok(skipped) => skipped,
            Err(error) => return error,
        };
        let gaps = match skipped.is_empty() {
            true => String::new(),
            false => {
                let numbers: Vec<String> = skipped.iter().map(|n| (n + 1).to_string()).collect();
                format!(
                    "; none to request {}, left out of the output",
                    numbers.join(", ")
                )
            }
        };
        Error::step(
            "waiting for the reply",
            format!(
                "no reply within {} ({answered} of {} {noun} answered{gaps})",
                seconds(self.timeout),
                self.sent
            ),
        )
    }

    /// Writes every held reply in request order, skipping the requests still awaiting one;
    /// gives the (0-based) numbers of the requests skipped.
    ///
    /// Errors: as [`Client::receive`] for the writes.
    fn write_past_gaps(&mut self) -> Result<Vec<u64>, Error> {
        let mut skipped = Vec::new();
        while let Some(&next) = self.held.keys().next() {
            skipped.extend(self.written..next);
            self.written = next;
            self.write_ready()?;
        }
        Ok(skipped)
    }
}

/// `30 s`, `0.5 s`: a timeout as the user wrote it.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// The part of the correlation ids unique to this run: the process id and the start time in
/// nanoseconds, in hexadecimal. Direct reply-to already keeps other clients' replies away;
/// this keeps a reply to an earlier run (a request delivered again after that run gave up)
/// from being taken for a reply to this one.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}.{nanos:x}", std::process::id())
}

/// Parses `--reply-timeout`: a positive number of seconds, fractions allowed (`0.5`).
///
/// Errors: the reason, which the command line parser prints after the value (`0: not a
/// positive number of seconds`, as popt words a bad number).
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| "not a number of seconds".to_string())?;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err("not a positive number of seconds".to_string());
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| "too large".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_positive_seconds_with_fractions() {
        for (text, millis) in [("30", 30_000), ("0.5", 500)] {
            assert_eq!(parse_timeout(text), Ok(Duration::from_millis(millis)));
        }
        for bad in ["0", "-1", "NaN", "soon", "1e30"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_are_shown_as_given() {
        assert_eq!(seconds(Duration::from_secs(30)), "30 s");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5 s");
    }
}
