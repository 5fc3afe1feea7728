//! Classify a failed connection: the socket step, or logging in.

use super::socket::{self, SocketStep};
use crate::address::Address;
use crate::error::{Error, describe_amqp};
use crate::tls::ClientTls;

/// The step of logging in, as the original names it.
pub const LOGIN_STEP: &str = "logging in to AMQP server";

/// The one-line failure for lapin's `error` from a connection attempt to `address`:
/// `opening socket to HOST:PORT: CAUSE` when the socket step failed (or a TLS failure the
/// client sees only after its handshake, such as a TLS 1.3 server refusing it for want of a
/// client certificate), else `logging in to AMQP server: CAUSE`.
pub fn classify(
    error: &lapin::Error,
    step: &SocketStep,
    tls: Option<&ClientTls>,
    address: &Address,
) -> Error {
    let opened = step.opened();
    let late_tls_cause = tls
        .filter(|_| opened)
        .and_then(|tls| tls.describe_late(error));
    if let Some(cause) = late_tls_cause {
        socket::failed(address, cause)
    } else if opened {
        Error::step(LOGIN_STEP, describe_login_error(error))
    } else {
        let cause = step.error().unwrap_or_else(|| describe_amqp(error));
        socket::failed(address, cause)
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
