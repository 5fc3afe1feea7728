//! Opening and closing the AMQP connection and its one channel.
//!
//! Mirrors the original's `make_connection` and `close_connection` (rabbitmq-c
//! tools/common.c): failures are reported as `opening socket to HOST:PORT: CAUSE`,
//! `logging in to AMQP server: CAUSE`, `opening channel: CAUSE`, `closing channel: CAUSE` and
//! `closing connection: CAUSE`.

mod failover;
mod failure;
pub mod reconnect;
mod socket;
mod uri;

pub use failover::{moves_on, open_any, open_round};
pub use uri::FRAME_MAX;

use crate::address::Address;
use crate::error::{Error, StepExt, describe_amqp};
use crate::queued::poll_now;
use crate::tls::ClientTls;
use lapin::tcp::AsyncTcpStream;
use lapin::{Channel, Connection, ConnectionProperties};
use socket::SocketStep;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

/// An open connection with one open channel, as every tool uses.
#[derive(Debug)]
pub struct Session {
    /// The AMQP connection.
    pub connection: Connection,
    /// The channel the tool works on.
    pub channel: Channel,
    /// The connection's error events, to name the server's reason when a call fails only
    /// with "the channel is not open".
    pub errors: std::sync::Arc<ErrorWatch>,
    /// Which node of the run's [`crate::nodes::Nodes`] this session is connected to (its
    /// index in [`crate::nodes::Nodes::all`]); 0 with one node.
    pub node: usize,
}

/// Watches a connection's events (lapin's `Event`) for the whole run, on a task of its own:
///
/// - an error (the server closed the channel or the connection) is remembered, so that a
///   failure seen later (a publish on a channel already closed) can name the server's reason,
///   e.g. `server channel error 404, message: NOT_FOUND - ...`, and [`ErrorWatch::closed`]
///   wakes whoever waits for it (a publisher waiting for its next line of input);
/// - `connection.blocked` (RabbitMQ's memory or disk alarm: the server stops reading from
///   publishing connections) and `connection.unblocked` are each reported as one warning line
///   on stderr, with the server's reason; nothing else changes, the tool keeps waiting. The
///   original tools say nothing and seem hung.
pub struct ErrorWatch {
    state: Mutex<WatchState>,
    /// Woken when an error is recorded.
    changed: tokio::sync::Notify,
}

struct WatchState {
    events: std::pin::Pin<Box<dyn futures_lite::Stream<Item = lapin::Event> + Send>>,
    last: Option<String>,
    /// True once an error said the connection itself is gone ([`reconnect::is_lost`]).
    lost: bool,
    /// The watching task's waker: whoever drains the events registers it, never another, so
    /// that the task is woken for the next event.
    waker: Option<std::task::Waker>,
}

impl std::fmt::Debug for ErrorWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorWatch").finish_non_exhaustive()
    }
}

impl ErrorWatch {
    /// Starts watching `connection`'s events on a task of the current runtime.
    fn start(connection: &Connection) -> Arc<Self> {
        let watch = Arc::new(ErrorWatch {
            state: Mutex::new(WatchState {
                events: Box::pin(connection.events_listener()),
                last: None,
                lost: false,
                waker: None,
            }),
            changed: tokio::sync::Notify::new(),
        });
        let watching = Arc::downgrade(&watch);
        tokio::spawn(std::future::poll_fn(move |context| {
            let Some(watch) = watching.upgrade() else {
                return std::task::Poll::Ready(());
            };
            let mut state = watch.state.lock().unwrap_or_else(|p| p.into_inner());
            state.waker = Some(context.waker().clone());
            let poll = watch.drain(&mut state, context);
            drop(state);
            poll
        }));
        watch
    }

    /// Handles every event that has arrived; `Ready` once the events end.
    fn drain(
        &self,
        state: &mut WatchState,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        use std::task::Poll;
        loop {
            match state.events.as_mut().poll_next(context) {
                Poll::Ready(Some(lapin::Event::Error(error))) => {
                    state.last = Some(describe_amqp(&error));
                    state.lost |= reconnect::is_lost(&error);
                    self.changed.notify_waiters();
                }
                Poll::Ready(Some(lapin::Event::ConnectionBlocked(reason))) => {
                    crate::report::report(&format!(
                        "warning: connection.blocked: {reason} (the server stopped reading from this connection; waiting until it unblocks it)"
                    ));
                }
                Poll::Ready(Some(lapin::Event::ConnectionUnblocked)) => {
                    crate::report::report(
                        "warning: connection.unblocked: the server reads from this connection again",
                    );
                }
                Poll::Ready(Some(_)) => {}
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The last connection or channel error reported so far, rendered as [`describe_amqp`]
    /// does; events that arrived but were not yet handled by the watching task count too.
    pub fn reason(&self) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let waker = state
            .waker
            .clone()
            .unwrap_or_else(|| std::task::Waker::noop().clone());
        let _ = self.drain(&mut state, &mut std::task::Context::from_waker(&waker));
        state.last.clone()
    }

    /// True once an error reported so far says the connection itself is gone (an I/O error,
    /// missed heartbeats, 320 CONNECTION_FORCED, 541 INTERNAL_ERROR: [`reconnect::is_lost`]),
    /// not only a channel.
    pub fn connection_lost(&self) -> bool {
        let _ = self.reason();
        self.state.lock().unwrap_or_else(|p| p.into_inner()).lost
    }

    /// Resolves, with the server's reason, once the server has closed the channel or the
    /// connection (or at once if it already has).
    pub async fn closed(&self) -> String {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(reason) = self.reason() {
                return reason;
            }
            notified.await;
        }
    }
}

/// Connects to the broker at `address` and opens a channel.
///
/// `tool` names the client in the broker's connection list (`connection_name`). The TCP
/// connect is bounded by the address's `connection_timeout` (milliseconds); the heartbeat is
/// the one the URI asks for, else the broker's proposal.
/// Errors: `virtual host: CAUSE` (longer than 255 bytes, checked before connecting),
/// `opening socket to HOST:PORT: CAUSE` (refused, timed out, DNS failure naming the
/// host, TLS failure), `logging in to AMQP server: CAUSE` (wrong credentials, missing vhost,
/// no permission), `opening channel: CAUSE`.
pub async fn open(address: &Address, tool: &str) -> Result<Session, Error> {
    // connection.open's virtual-host is a short string (from --vhost or the URL's path).
    crate::short_string::check(&address.uri.vhost)
        .map_err(|e| Error::Message(format!("virtual host: {e}")))?;
    // The channel is opened in the same flight as connection.open (lapin patch 8,
    // vendor/lapin/PATCHES.md): one round trip to the server fewer than the original.
    let properties = ConnectionProperties::default()
        .with_connection_name(tool.into())
        .enable_eager_channel();
    let runtime = lapin::runtime::default_runtime()
        .map_err(|e| Error::step("starting the AMQP runtime", describe_amqp(&e)))?;
    let timeout = address
        .uri
        .query
        .connection_timeout
        .map(Duration::from_millis);
    // TLS (`amqps`): our own rustls configuration, built (files read) before connecting.
    let tls = match address.is_tls() {
        true => Some(ClientTls::new(&address.tls).map_err(|cause| socket::failed(address, cause))?),
        false => None,
    };
    let connect_uri = uri::connect_uri(address, timeout)?;
    let step = Arc::new(SocketStep::default());
    let (socket_step, socket_tls) = (step.clone(), tls.clone());
    let (connected, driver) = Connection::connector_driven(
        connect_uri,
        runtime,
        async move |uri, runtime| {
            // This runs in lapin's I/O loop, on this runtime's one thread: the host is resolved
            // right here by the C library, blocking as the original does, rather than on a
            // thread of tokio's blocking pool (a thread, and its malloc arena, started on every
            // run); a numeric host is parsed without any lookup.
            let tcp = async || {
                let addresses: Vec<SocketAddr> = (uri.authority.host.as_str(), uri.authority.port)
                    .to_socket_addrs()?
                    .collect();
                AsyncTcpStream::connect(&runtime, addresses).await
            };
            let attempt = async {
                let Some(tls) = &socket_tls else {
                    return tcp().await;
                };
                // TCP first, then the handshake with our configuration, checking the host as
                // written (a DNS name, or an IP address against the certificate's IP SANs).
                let stream = tcp().await?;
                stream
                    .into_rustls(&tls.connector(), &uri.authority.host)
                    .await
                    .map_err(|error| tls.handshake_error(error))
            };
            let result = socket::within(timeout, attempt).await;
            socket_step.record(&result, socket_tls.as_ref());
            result.map_err(lapin::Error::from)
        },
        properties,
    );
    // lapin's I/O loop runs as a task of this runtime (its driver mode), not on a thread of
    // its own: each reply from the broker wakes one thread once, as with the original. It
    // ends with the connection; a failure reaches us through the connection's futures.
    tokio::spawn(driver);
    let connected = handshake_within(timeout, connected).await?;
    let connection =
        connected.map_err(|error| failure::classify(&error, &step, tls.as_ref(), address))?;
    let errors = ErrorWatch::start(&connection);
    let channel = connection.create_channel().await.step("opening channel")?;
    Ok(Session {
        connection,
        channel,
        errors,
        node: 0,
    })
}

/// Waits for the AMQP handshake `connected`, bounded by twice the connect `timeout` (none:
/// no bound): a peer that accepts the socket but never speaks AMQP must not hang the tool.
///
/// Errors: `logging in to AMQP server: no answer from the server within N s`.
async fn handshake_within<T>(
    timeout: Option<Duration>,
    connected: impl std::future::Future<Output = T>,
) -> Result<T, Error> {
    let Some(limit) = timeout else {
        return Ok(connected.await);
    };
    tokio::time::timeout(limit * 2, connected)
        .await
        .map_err(|_| {
            Error::step(
                failure::LOGIN_STEP,
                format!("no answer from the server within {} s", 2 * limit.as_secs()),
            )
        })
}

impl Session {
    /// Closes the channel, then the connection, with reply code 200, as the original's
    /// `close_connection`. A channel the server already closed (e.g. after a publish to a
    /// missing exchange) is reported with the server's reason.
    ///
    /// Both close methods are sent before either reply is awaited, in one write with whatever
    /// was queued before them (lapin patch 7, vendor/lapin/PATCHES.md): one round trip instead
    /// of two. AMQP 0-9-1 lets a client pipeline requests (section 3.2.1: the sender "MAY implement
    /// this asynchronously"), and RabbitMQ handles a connection's frames in order: an error the
    /// server gave the channel before it read channel.close arrives first and is reported.
    /// RabbitMQ may shut the channel down with the connection instead of answering
    /// channel.close (its channel process answers on its own, after the connection's reader
    /// has read connection.close); lapin then fails the channel's close with "the connection is
    /// not open (state: Closed)". That is no failure once connection.close-ok has come: the
    /// server closes every channel of a connection before it confirms the connection's close.
    ///
    /// Errors: `closing channel: CAUSE`, `closing connection: CAUSE`.
    pub async fn close(self) -> Result<(), Error> {
        let closing_channel = |e: lapin::Error| Error::step("closing channel", describe_amqp(&e));
        let mut channel_closed = Box::pin(self.channel.close(200, "OK".into()));
        let channel_now = poll_now(&mut channel_closed);
        if let Poll::Ready(Err(error)) = channel_now {
            return Err(closing_channel(error));
        }
        let mut connection_closed = Box::pin(self.connection.close(200, "OK".into()));
        let connection_now = poll_now(&mut connection_closed);
        let channel = match channel_now {
            Poll::Ready(closed) => closed,
            Poll::Pending => channel_closed.await,
        };
        // Err only for a channel shut down with the connection (see above).
        let channel_error = match channel {
            Ok(()) => None,
            Err(error)
                if matches!(
                    error.kind(),
                    lapin::ErrorKind::InvalidConnectionState(lapin::ConnectionState::Closed)
                ) =>
            {
                Some(error)
            }
            Err(error) => return Err(closing_channel(error)),
        };
        let connection = match connection_now {
            Poll::Ready(closed) => closed,
            Poll::Pending => connection_closed.await,
        };
        match (connection, channel_error) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(error)) => Err(closing_channel(error)),
            (Err(error), None) => Err(error).step("closing connection"),
        }
    }
}
