//! Connect-time failover: connect to the first node of a node list that answers.
//!
//! Follows RabbitMQ's client guidance for clusters (clustering guide, "Clustering and
//! Clients"): any node serves a client, so a node that cannot be reached is skipped. A failure
//! of the node or of the way to it (network, TLS, the handshake, a node shutting down with
//! 320 CONNECTION_FORCED) moves to the next node, with one warning line; a refused login
//! (403 ACCESS_REFUSED, 530 NOT_ALLOWED) never does, because users, permissions and virtual
//! hosts are the same on every node and retrying would only add failed logins.

use super::{Session, open};
use crate::error::Error;
use crate::nodes::Nodes;

/// Connects to one of `nodes` and opens a channel: the nodes are tried in the order of
/// [`Nodes::round`]`(0)`, each within its own connect timeout.
///
/// With one node this is exactly [`open`]: same steps, same errors, no warning. With several,
/// see [`open_round`].
pub async fn open_any(nodes: &Nodes, tool: &str) -> Result<Session, Error> {
    if !nodes.is_list() {
        return open(nodes.first(), tool).await;
    }
    open_round(nodes, 0, tool).await.map(|(session, _)| session)
}

/// One round over `nodes` starting with node `start` (see [`Nodes::round`]; shuffled with
/// `--shuffle-nodes`): returns the first session opened and the index of its node, so that a
/// caller that loses it can start the next round with the node after it (`index + 1`).
///
/// Each node that fails in a way another node may not ([`moves_on`]) is reported as one line,
/// `warning: STEP: CAUSE (trying the next node, HOST:PORT)`, unless it is the round's last.
///
/// Errors: the first failure that does not move on (a refused login, a channel that cannot be
/// opened, a virtual host too long), as [`open`] words it; when every node failed,
/// `connecting to any of N nodes: HOST:PORT: CAUSE; HOST:PORT: CAUSE; ...`, each node with
/// its own cause, in the order tried.
pub async fn open_round(
    nodes: &Nodes,
    start: usize,
    tool: &str,
) -> Result<(Session, usize), Error> {
    let order = nodes.round(start);
    let mut causes = Vec::with_capacity(order.len());
    for (position, &index) in order.iter().enumerate() {
        let address = &nodes.all()[index];
        let error = match open(address, tool).await {
            Ok(mut session) => {
                session.node = index;
                return Ok((session, index));
            }
            Err(error) if !moves_on(&error) => return Err(error),
            Err(error) => error,
        };
        if let Some(&next) = order.get(position + 1) {
            crate::report::report(&format!(
                "warning: {error} (trying the next node, {})",
                nodes.all()[next].host_port()
            ));
        }
        causes.push(format!("{}: {}", address.host_port(), node_cause(&error)));
    }
    Err(Error::step(
        format!("connecting to any of {} nodes", order.len()),
        causes.join("; "),
    ))
}

/// True when the failed attempt `error` (from [`open`]) may go better on another node: the
/// socket step failed (refused, timed out, DNS, TLS), or logging in failed other than by the
/// server refusing the login (403 ACCESS_REFUSED, 530 NOT_ALLOWED): a connection dropped or
/// closed during the handshake (320 CONNECTION_FORCED from a node shutting down), or no
/// answer in time.
pub fn moves_on(error: &Error) -> bool {
    let Error::Step { step, cause } = error else {
        return false;
    };
    if step.starts_with(super::socket::STEP_PREFIX) {
        return true;
    }
    step == super::failure::LOGIN_STEP
        && !["403", "530"]
            .iter()
            .any(|code| cause.starts_with(&format!("server connection error {code},")))
}

/// The cause of a failed attempt, for the line naming every node: the socket step's cause
/// alone (the node is named already), any other failure whole.
fn node_cause(error: &Error) -> String {
    match error {
        Error::Step { step, cause } if step.starts_with(super::socket::STEP_PREFIX) => {
            cause.clone()
        }
        other => other.to_string(),
    }
}
