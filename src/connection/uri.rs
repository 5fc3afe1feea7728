//! Build the URI lapin connects to: the broker's, or the `--verbose` relay's, with the frame
//! size proposed.

use crate::address::Address;
use crate::error::Error;
use lapin::uri::AMQPUri;
use std::time::Duration;

/// The frame size proposed to the broker when the URL names none: rabbitmq-c's default.
pub const FRAME_MAX: u32 = 131_072;

/// The URI to hand lapin for `address`: with `--verbose` (not over TLS) the local relay of
/// [`crate::protocol_trace::start_relay`] stands in for the broker, connected within `timeout`.
///
/// The frame size is the original's (rabbitmq-c's AMQP_DEFAULT_FRAME_SIZE, also RabbitMQ's
/// default) unless the URL asks for one. lapin sizes its two I/O buffers (32 frames each)
/// from the frame size it knows when the connection starts: proposing none, it starts from
/// the 8 KiB minimum and, once the broker's 128 KiB is negotiated, grows both buffers with
/// `Vec::resize`, writing 2 x 4 MiB of zeros in its I/O loop between connection.open-ok
/// and channel.open: ~2000 page faults, ~5 ms and 8 MiB of memory for every run. Sized up
/// front, the buffers come zeroed from the kernel and only the pages used are touched.
///
/// Errors: `opening socket to HOST:PORT: CAUSE` when the relay cannot reach the broker.
pub fn connect_uri(address: &Address, timeout: Option<Duration>) -> Result<AMQPUri, Error> {
    let mut uri = address.uri.clone();
    if address.verbose {
        if address.is_tls() {
            crate::report::report("--verbose: the connection uses TLS; its frames are not shown");
        } else {
            let port = crate::protocol_trace::start_relay(
                &address.uri.authority.host,
                address.uri.authority.port,
                timeout,
            )
            .map_err(|e| super::socket::failed(address, super::socket::describe_error(&e)))?;
            uri.authority.host = "127.0.0.1".to_string();
            uri.authority.port = port;
        }
    }
    uri.query.frame_max.get_or_insert(FRAME_MAX);
    Ok(uri)
}
