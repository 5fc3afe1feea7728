//! Opening and closing the AMQP connection and its one channel.
//!
//! Mirrors the original's `make_connection` and `close_connection` (rabbitmq-c
//! tools/common.c): failures are reported as `opening socket to HOST:PORT: CAUSE`,
//! `logging in to AMQP server: CAUSE`, `opening channel: CAUSE`, `closing channel: CAUSE` and
//! `closing connection: CAUSE`.

use crate::address::Address;
use crate::error::{Error, StepExt, describe_amqp, describe_io};
use crate::tls::ClientTls;
use lapin::tcp::AsyncTcpStream;
use lapin::{Channel, Connection, ConnectionProperties};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
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

/// What the socket step of a connection attempt came to, shared with lapin's connect closure.
#[derive(Default)]
struct SocketOutcome {
    opened: bool,
    error: Option<String>,
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
    let outcome = Arc::new(Mutex::new(SocketOutcome::default()));
    let properties = ConnectionProperties::default().with_connection_name(tool.into());
    let runtime = lapin::runtime::default_runtime()
        .map_err(|e| Error::step("starting the AMQP runtime", describe_amqp(&e)))?;
    let timeout = address
        .uri
        .query
        .connection_timeout
        .map(Duration::from_millis);
    // TLS (`amqps`): our own rustls configuration, built (files read) before connecting.
    let tls = match address.is_tls() {
        true => Some(ClientTls::new(&address.tls).map_err(|cause| {
            Error::step(format!("opening socket to {}", address.host_port()), cause)
        })?),
        false => None,
    };
    let late_tls = tls.clone();
    let socket_outcome = outcome.clone();
    let mut connect_uri = address.uri.clone();
    if address.verbose {
        if address.is_tls() {
            crate::report::report("--verbose: the connection uses TLS; its frames are not shown");
        } else {
            let port = crate::protocol_trace::start_relay(
                &address.uri.authority.host,
                address.uri.authority.port,
                timeout,
            )
            .map_err(|e| {
                Error::step(
                    format!("opening socket to {}", address.host_port()),
                    describe_connect_error(&e),
                )
            })?;
            connect_uri.authority.host = "127.0.0.1".to_string();
            connect_uri.authority.port = port;
        }
    }
    // Propose the original's frame size (rabbitmq-c's AMQP_DEFAULT_FRAME_SIZE, also RabbitMQ's
    // default) unless the URL asks for one. lapin sizes its two I/O buffers (32 frames each)
    // from the frame size it knows when the connection starts: proposing none, it starts from
    // the 8 KiB minimum and, once the broker's 128 KiB is negotiated, grows both buffers with
    // `Vec::resize`, writing 2 x 4 MiB of zeros on its I/O thread between connection.open-ok
    // and channel.open: ~2000 page faults, ~5 ms and 8 MiB of memory for every run. Sized up
    // front, the buffers come zeroed from the kernel and only the pages used are touched.
    connect_uri.query.frame_max.get_or_insert(FRAME_MAX);
    let connected = Connection::connector(
        connect_uri,
        runtime,
        async move |uri, runtime| {
            // This runs on lapin's I/O thread, which may block: the host is resolved right
            // here by the C library, as the original does, rather than on a thread of tokio's
            // blocking pool (a thread, and its malloc arena, started on every run); a numeric
            // host is parsed without any lookup.
            let tcp = async || {
                let addresses: Vec<SocketAddr> = (uri.authority.host.as_str(), uri.authority.port)
                    .to_socket_addrs()?
                    .collect();
                AsyncTcpStream::connect(&runtime, addresses).await
            };
            let attempt = async {
                let Some(tls) = &tls else {
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
            let result = match timeout {
                Some(limit) => match tokio::time::timeout(limit, attempt).await {
                    Ok(result) => result,
                    Err(_) => Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("connection timed out after {} s", limit.as_secs()),
                    )),
                },
                None => attempt.await,
            };
            let mut state = socket_outcome.lock().unwrap_or_else(|p| p.into_inner());
            match &result {
                Ok(_) => state.opened = true,
                Err(error) => {
                    let tls_cause = tls.as_ref().and_then(|tls| tls.describe(error));
                    state.error = Some(tls_cause.unwrap_or_else(|| describe_connect_error(error)));
                }
            }
            result.map_err(lapin::Error::from)
        },
        properties,
    );
    // The handshake is bounded too: a peer that accepts the socket but never speaks AMQP
    // must not hang the tool.
    let connected = match timeout {
        Some(limit) => match tokio::time::timeout(limit * 2, connected).await {
            Ok(result) => result,
            Err(_) => {
                return Err(Error::step(
                    "logging in to AMQP server",
                    format!("no answer from the server within {} s", 2 * limit.as_secs()),
                ));
            }
        },
        None => connected.await,
    };
    let connection = match connected {
        Ok(connection) => connection,
        Err(error) => {
            let state = outcome.lock().unwrap_or_else(|p| p.into_inner());
            // A TLS failure the client sees only after its handshake (a TLS 1.3 server refusing
            // it for want of a client certificate) belongs to the socket step too.
            let late_tls_cause = late_tls
                .as_ref()
                .filter(|_| state.opened)
                .and_then(|tls| tls.describe_late(&error));
            return Err(if let Some(cause) = late_tls_cause {
                Error::step(format!("opening socket to {}", address.host_port()), cause)
            } else if state.opened {
                Error::step("logging in to AMQP server", describe_login_error(&error))
            } else {
                let cause = state.error.clone().unwrap_or_else(|| describe_amqp(&error));
                Error::step(format!("opening socket to {}", address.host_port()), cause)
            });
        }
    };
    let errors = ErrorWatch::start(&connection);
    let channel = connection.create_channel().await.step("opening channel")?;
    Ok(Session {
        connection,
        channel,
        errors,
    })
}

impl Session {
    /// Closes the channel, then the connection, with reply code 200, as the original's
    /// `close_connection`. A channel the server already closed (e.g. after a publish to a
    /// missing exchange) is reported with the server's reason.
    ///
    /// Errors: `closing channel: CAUSE`, `closing connection: CAUSE`.
    pub async fn close(self) -> Result<(), Error> {
        self.channel
            .close(200, "OK".into())
            .await
            .map_err(|e| Error::step("closing channel", describe_amqp(&e)))?;
        self.connection
            .close(200, "OK".into())
            .await
            .step("closing connection")
    }
}

/// The frame size proposed to the broker when the URL names none: rabbitmq-c's default.
pub const FRAME_MAX: u32 = 131_072;

fn describe_connect_error(error: &std::io::Error) -> String {
    let text = describe_io(error);
    match text.split_once("failed to lookup address information: ") {
        Some((_, reason)) => format!("hostname lookup failed: {}", reason.to_lowercase()),
        None => text,
    }
}

/// Login failures: RabbitMQ closes the connection with 403 ACCESS_REFUSED (wrong
/// credentials) or 530 NOT_ALLOWED (missing vhost, no permission); a broker that just drops the
/// socket gets a plain description.
fn describe_login_error(error: &lapin::Error) -> String {
    match error.kind() {
        lapin::ErrorKind::IOError(_) => format!(
            "{} (the server closed the connection during the handshake)",
            describe_amqp(error)
        ),
        // Whatever the code, a refusal during the handshake comes as connection.close.
        lapin::ErrorKind::ProtocolError(amqp) => format!(
            "server connection error {}, message: {}",
            amqp.get_id(),
            amqp.get_message()
        ),
        _ => describe_amqp(error),
    }
}
