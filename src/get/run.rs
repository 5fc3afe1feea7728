//! The `amqp-get` run: basic.get, write, settle, up to `--count` times; with `--reconnect`
//! (issue 14) a lost connection is opened again before the next basic.get.
//!
//! The original (rabbitmq-c tools/get.c) dies on a lost connection, and so does this run by
//! default (one node, no `--reconnect`): the same failure line as before. Reconnecting follows
//! the other tools ([`crate::connection::reconnect`]): only a lost connection (reset, missed
//! heartbeats, 320 CONNECTION_FORCED, 541), never a channel error (a missing queue, 403) or a
//! refused login. What a loss costs:
//!
//! - A message got but not yet written when the loss is seen is not written: unacked, the
//!   broker gives it out again, so it is written once, after the reconnect.
//! - A message written whose ack (or reject) may not have reached the server (it was sent,
//!   but no reply to a later basic.get shows the server handled it) may be delivered again:
//!   the reconnect's warning line says how many (at most one, as settles are sent one by one
//!   before the next basic.get); such a message is written again and counts again for
//!   `--count` (at-least-once, as `amqp-consume --reconnect`).
//! - `--ack-mode requeue` never reconnects: the loss returns every message it held, which
//!   would all be written a second time.

use super::{AckMode, Settler, json_line};
use crate::connection::Session;
use crate::connection::reconnect::{Reconnector, is_lost};
use crate::error::{Error, describe_amqp, describe_io};
use crate::exit::Outcome;
use crate::report::{exit_by_sigpipe, report};
use lapin::message::BasicGetMessage;
use lapin::options::BasicGetOptions;
use std::io::Write;
use std::time::Duration;

/// How long to wait for the connection's events to say why a channel closed under a call
/// (lapin may fail the call before the event with the server's reason arrives).
const REASON_WAIT: Duration = Duration::from_secs(1);

/// What `amqp-get` does, from its options.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--queue`: the queue to get from.
    pub queue: String,
    /// `--count`: how many messages to write; 0 until the queue is empty.
    pub count: u64,
    /// `--json`: one JSON line per message instead of the bare body.
    pub json: bool,
    /// `--ack-mode`: what happens to each message once written.
    pub ack_mode: AckMode,
}

/// How far the run got, across reconnects.
#[derive(Debug, Default)]
struct Progress {
    /// Messages written to standard output (`--count` counts them).
    written: u64,
    /// Messages written since the server last answered a basic.get: their ack or reject was
    /// sent, but is not known to have been handled.
    unsettled: u64,
    /// True once a message was written on the current connection.
    progressed: bool,
}

/// Why one connection's part of the run ended.
enum Stop {
    /// `--count` reached, or the queue is empty.
    Done,
    /// The connection was lost: `error` is the failure line without reconnecting, `cause`
    /// the reason.
    Lost { error: Error, cause: String },
    /// Any other failure, to report as it is.
    Failed(Error),
    /// Standard output refused a message: it is not settled.
    Unwritten(std::io::Error),
}

/// Takes messages from `settings.queue` on `session` (basic.get with acks), writes each body
/// (or `--json` line) to standard output and only then settles it as `--ack-mode` says, up to
/// `--count` messages; closes the session at the end.
///
/// A failed write settles nothing that was not written: the channel is closed, the message
/// returns to the queue; a closed pipe ends the process by SIGPIPE, as any filter.
///
/// With `reconnector` enabled (`--reconnect`, or a node list) and `--ack-mode` other than
/// requeue, a lost connection is opened again (see the module documentation), one warning
/// line `warning: reconnected to HOST:PORT; getting from queue 'Q' again`, with `(1 message
/// written may not have been acked: it may be written twice)` when so.
///
/// Returns [`Outcome::Success`] when a message was written, [`Outcome::QueueEmpty`] when the
/// queue was empty from the start.
///
/// Errors: `basic.get: CAUSE`, `basic.ack: CAUSE`, `basic.reject: CAUSE`, `basic.nack:
/// CAUSE`, `writing to standard output: CAUSE`, as [`Session::close`]; after a loss, the
/// failure line ends with `(gave up after N reconnect attempts, the last: STEP: CAUSE)`.
pub async fn run(
    mut session: Session,
    settings: &Settings,
    reconnector: &mut Reconnector,
) -> Result<Outcome, Error> {
    let reconnecting = reconnector.enabled() && settings.ack_mode != AckMode::Requeue;
    let mut progress = Progress::default();
    loop {
        let mut settler = Settler::new(session.channel.clone(), settings.ack_mode);
        progress.progressed = false;
        let stop = take(
            &session,
            &mut settler,
            settings,
            &mut progress,
            reconnecting,
        )
        .await;
        let (error, cause) = match stop {
            Stop::Done => return finish(session, settler, reconnecting, progress.written).await,
            Stop::Unwritten(error) => return unwritten(session, settler, &error).await,
            Stop::Failed(error) => return Err(error),
            Stop::Lost { error, cause } => (error, cause),
        };
        if progress.progressed {
            reconnector.progress();
        }
        session = match reconnector.reconnect(&cause).await {
            Ok(session) => session,
            Err(gave_up) => return Err(Error::Message(format!("{error} ({})", gave_up.note()))),
        };
        let unsettled = std::mem::take(&mut progress.unsettled);
        report(&reconnected(reconnector, settings, unsettled));
    }
}

/// One connection's part of the run: basic.get, write, settle, until `--count` messages
/// were written, the queue is empty, or something fails.
async fn take(
    session: &Session,
    settler: &mut Settler,
    settings: &Settings,
    progress: &mut Progress,
    reconnecting: bool,
) -> Stop {
    let mut stdout = std::io::stdout().lock();
    while settings.count == 0 || progress.written < settings.count {
        let got = session
            .channel
            .basic_get(
                settings.queue.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await;
        let message = match got {
            Ok(message) => message,
            Err(error) => {
                let failure = Error::step("basic.get", describe_amqp(&error));
                return stopped(session, failure, Some(&error), reconnecting).await;
            }
        };
        // The server answered: it handled every ack or reject sent before this basic.get.
        progress.unsettled = 0;
        let Some(message) = message else {
            return Stop::Done;
        };
        if reconnecting && !session.channel.status().connected() {
            // Got on a connection lost since: not written, the broker gives it out again.
            let failure = Error::step("basic.get", "the channel is not open");
            return stopped(session, failure, None, reconnecting).await;
        }
        if let Err(error) = write(&mut stdout, &message, settings) {
            return Stop::Unwritten(error);
        }
        progress.written += 1;
        progress.unsettled += 1;
        progress.progressed = true;
        if let Err(failure) = settler.written(message.delivery.delivery_tag).await {
            return stopped(session, failure, None, reconnecting).await;
        }
    }
    Stop::Done
}

/// Writes `message` (its body, or with `--json` its line) to standard output, flushed.
fn write(
    stdout: &mut std::io::StdoutLock<'static>,
    message: &BasicGetMessage,
    settings: &Settings,
) -> std::io::Result<()> {
    let written = match settings.json {
        true => stdout.write_all(&json_line(message, &settings.queue)),
        false => stdout.write_all(&message.delivery.data),
    };
    written.and_then(|()| stdout.flush())
}

/// The [`Stop`] for `failure` (from `error`, when a lapin call failed): when `reconnecting`
/// and the connection is lost, [`Stop::Lost`] with the failure's step and the server's
/// reason; else [`Stop::Failed`], as the failure was reported before reconnects existed.
async fn stopped(
    session: &Session,
    failure: Error,
    error: Option<&lapin::Error>,
    reconnecting: bool,
) -> Stop {
    if !reconnecting {
        return Stop::Failed(failure);
    }
    let Some(cause) = lost_cause(session, error).await else {
        return Stop::Failed(failure);
    };
    let error = match failure {
        Error::Step { step, .. } => Error::step(step, &cause),
        other => other,
    };
    Stop::Lost { error, cause }
}

/// Why the connection is lost, when it is ([`is_lost`] of `error`, or the connection's
/// events); `None` for anything else, a channel error among them.
async fn lost_cause(session: &Session, error: Option<&lapin::Error>) -> Option<String> {
    if let Some(error) = error.filter(|error| is_lost(error)) {
        return Some(describe_amqp(error));
    }
    if !session.channel.status().connected() {
        let _ = tokio::time::timeout(REASON_WAIT, session.errors.closed()).await;
    }
    match session.errors.connection_lost() {
        true => session.errors.reason(),
        false => None,
    }
}

/// The warning after a reconnect: `warning: reconnected to HOST:PORT; getting from queue 'Q'
/// again`, saying how many messages written may be written twice (`unsettled`).
fn reconnected(reconnector: &Reconnector, settings: &Settings, unsettled: u64) -> String {
    let again = format!(
        "warning: reconnected to {}; getting from queue '{}' again",
        reconnector.host_port(),
        settings.queue
    );
    let settled = match settings.ack_mode {
        AckMode::Reject => "rejected",
        AckMode::Ack | AckMode::Requeue => "acked",
    };
    match unsettled {
        0 => again,
        1 => format!(
            "{again} (1 message written may not have been {settled}: it may be written twice)"
        ),
        n => format!(
            "{again} ({n} messages written may not have been {settled}: they may be written twice)"
        ),
    }
}

/// Standard output refused a message (`error`): it is not settled; the held messages are
/// returned and the channel closed, so the broker puts it back on the queue. A closed pipe
/// ends the process by SIGPIPE; another failure is `writing to standard output: CAUSE`.
async fn unwritten(
    session: Session,
    mut settler: Settler,
    error: &std::io::Error,
) -> Result<Outcome, Error> {
    settler.release().await?;
    session.close().await?;
    settler.collect().await?;
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        exit_by_sigpipe();
    }
    Err(Error::step(
        "writing to standard output",
        describe_io(error),
    ))
}

/// The normal end: the held messages returned (`--ack-mode requeue`), the session closed, the
/// last settle collected. When `reconnecting` and the connection was lost after the last
/// message was written, the failed close is one `warning:` line, not a failure: every message
/// asked for was written, and one whose ack did not reach the server is delivered again.
async fn finish(
    session: Session,
    mut settler: Settler,
    reconnecting: bool,
    written: u64,
) -> Result<Outcome, Error> {
    settler.release().await?;
    let errors = session.errors.clone();
    match session.close().await {
        Ok(()) => settler.collect().await?,
        Err(error) if reconnecting && errors.connection_lost() => report(&format!(
            "warning: {error} (the connection was lost after the last message was written; \
             if its ack did not reach the server, the message is delivered again)"
        )),
        Err(error) => return Err(error),
    }
    match written {
        0 => Ok(Outcome::QueueEmpty),
        _ => Ok(Outcome::Success),
    }
}
