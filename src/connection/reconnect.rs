//! Opening the connection again after it was lost mid-run (issue 14): `--reconnect N|forever`,
//! `--reconnect-delay SECONDS`.
//!
//! The recovery lives in the tools, not in lapin's `enable_auto_recover()`: the publisher must
//! keep its unconfirmed messages and the consumer must re-declare what it declared, and both
//! need budgets and one stable warning line per step, which lapin does not give.
//!
//! What counts as a lost connection ([`is_lost`]): an I/O error, missed heartbeats, or the
//! server closing the connection with 320 CONNECTION_FORCED (a node shutting down,
//! `rabbitmqctl close_connection`) or 541 INTERNAL_ERROR. Never a channel error (the same
//! answer would come again), never another connection error (a protocol error of ours), and
//! a refused login ends the reconnecting at once (users and vhosts do not come back by
//! retrying).
//!
//! The budget is per outage and is given back only by progress ([`Reconnector::progress`]: a
//! confirm received, a delivery done): a node that accepts a connection and drops it at once
//! cannot keep a tool reconnecting forever under a finite `--reconnect N`.

use crate::connection::{Session, open, open_round};
use crate::error::Error;
use crate::nodes::Nodes;
use crate::report::report;
use std::time::Duration;

/// The first wait between two reconnect attempts (`--reconnect-delay`'s default); it doubles
/// with each further attempt of an outage, up to [`MAX_DELAY`].
pub const DEFAULT_DELAY: Duration = Duration::from_secs(1);

/// The longest wait between two reconnect attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// How far each wait is spread around its nominal value (0.2: ±20 %), so that many clients
/// that lost the same node do not all come back in the same instant.
pub const JITTER: f64 = 0.2;

/// How many times to try connecting again after a loss (`--reconnect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempts {
    /// At most this many attempts per outage; 0: never reconnect (fail as before).
    Limited(u32),
    /// Until the connection is back.
    Forever,
}

impl Attempts {
    /// True when attempt number `attempt` (1-based) of an outage may be made.
    fn allows(self, attempt: u32) -> bool {
        match self {
            Attempts::Limited(limit) => attempt <= limit,
            Attempts::Forever => true,
        }
    }

    /// `attempt N of LIMIT`, or `attempt N` with no limit.
    fn describe(self, attempt: u32) -> String {
        match self {
            Attempts::Limited(limit) => format!("attempt {attempt} of {limit}"),
            Attempts::Forever => format!("attempt {attempt}"),
        }
    }
}

/// Parses `--reconnect`: a count (0 to 4294967295) or `forever`.
pub fn parse_attempts(text: &str) -> Result<Attempts, String> {
    if text.eq_ignore_ascii_case("forever") {
        return Ok(Attempts::Forever);
    }
    text.trim()
        .parse::<u32>()
        .map(Attempts::Limited)
        .map_err(|_| format!("'{text}' is not a number of attempts (0 or more) or 'forever'"))
}

/// How many reconnect attempts a node list gets when `--reconnect` is not given: each attempt
/// is a round over every node, so 5 rounds with the default delay span about 15 s, beyond a
/// node restart (3.8 s measured) and a quorum leader election (under 1 s).
pub const LIST_DEFAULT_ATTEMPTS: u32 = 5;

/// The default of `--reconnect` for `nodes` broker addresses: 0 with one node, so that a
/// single-node run fails on a lost connection exactly as before (and as the original); with a
/// node list, [`LIST_DEFAULT_ATTEMPTS`]: a user who names several nodes asks for failover.
pub fn default_attempts(nodes: usize) -> Attempts {
    match nodes {
        0 | 1 => Attempts::Limited(0),
        _ => Attempts::Limited(LIST_DEFAULT_ATTEMPTS),
    }
}

/// The default of `--retry-nacked` with a node list: a leader election refuses publishes for
/// 0.2 to 0.5 s (measured), and the retries wait the reconnect delay, doubling (1 s, 2 s, ...);
/// the second refusal already moves to a new connection, so 5 covers a rolling restart.
pub const LIST_DEFAULT_RETRY_NACKED: u32 = 5;

/// The default of `--retry-nacked` for `nodes` broker addresses: 0 with one node (a nack fails
/// at once, as before and as the original, which ignores nacks), [`LIST_DEFAULT_RETRY_NACKED`]
/// with a node list, where a nack is most often a quorum queue electing a new leader.
pub fn default_retry_nacked(nodes: usize) -> u32 {
    match nodes {
        0 | 1 => 0,
        _ => LIST_DEFAULT_RETRY_NACKED,
    }
}

/// Why a run connects again ([`Reconnector::reconnect`]).
#[derive(Debug, Clone, Copy)]
pub enum Outage<'a> {
    /// The connection was lost for this cause (reset, missed heartbeats, closed by the
    /// server with 320 CONNECTION_FORCED).
    Lost(&'a str),
    /// The connection works but is left for a new one, for this cause (a publish refused
    /// again on it, see `--retry-nacked`).
    Left(&'a str),
}

impl<'a> Outage<'a> {
    /// The cause, as the failure line names it once the budget is spent.
    pub fn cause(&self) -> &'a str {
        match self {
            Outage::Lost(cause) | Outage::Left(cause) => cause,
        }
    }
}

impl<'a> From<&'a str> for Outage<'a> {
    /// A lost connection: the common case.
    fn from(cause: &'a str) -> Self {
        Outage::Lost(cause)
    }
}

impl<'a> From<&'a String> for Outage<'a> {
    /// A lost connection: the common case.
    fn from(cause: &'a String) -> Self {
        Outage::Lost(cause)
    }
}

/// The reconnect knobs of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Attempts per outage.
    pub attempts: Attempts,
    /// The first wait between attempts (doubling, at most [`MAX_DELAY`], ±[`JITTER`]).
    pub delay: Duration,
}

impl Policy {
    /// True when a lost connection is to be opened again.
    pub fn enabled(&self) -> bool {
        self.attempts != Attempts::Limited(0)
    }

    /// The wait before attempt `attempt` (1-based) of an outage: none before the first (the
    /// loss may be one connection closed by an operator), then the delay, doubling, at most
    /// [`MAX_DELAY`], spread by ±[`JITTER`].
    pub fn wait_before(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let doubled = self
            .delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(2).min(16)));
        let nominal = doubled.min(MAX_DELAY);
        nominal.mul_f64(1.0 + JITTER * (2.0 * fastrand::f64() - 1.0))
    }
}

/// True when `error` means the connection itself is gone and opening it again may help: an
/// I/O error, missed heartbeats, or the server's connection.close with 320 CONNECTION_FORCED
/// or 541 INTERNAL_ERROR (see the module documentation).
pub fn is_lost(error: &lapin::Error) -> bool {
    use lapin::ErrorKind;
    use lapin::protocol::AMQPErrorKind;
    match error.kind() {
        ErrorKind::IOError(_) | ErrorKind::MissingHeartbeatError => true,
        ErrorKind::ProtocolError(amqp) => {
            matches!(amqp.kind(), AMQPErrorKind::Hard(_)) && matches!(amqp.get_id(), 320 | 541)
        }
        _ => false,
    }
}

/// True when a failed connection attempt was a refused login (403 ACCESS_REFUSED, 530
/// NOT_ALLOWED, as [`open`] words it): retrying cannot help.
fn refused_login(error: &Error) -> bool {
    match error {
        Error::Step { step, cause } => {
            step == "logging in to AMQP server"
                && (cause.starts_with("server connection error 403")
                    || cause.starts_with("server connection error 530"))
        }
        _ => false,
    }
}

/// Why reconnecting stopped: the budget ran out, or the login was refused.
#[derive(Debug)]
pub struct GaveUp {
    /// Attempts made since the last progress.
    pub attempts: u32,
    /// The last attempt's failure, if an attempt was made.
    pub last: Option<Error>,
}

impl GaveUp {
    /// The note added to the tool's failure line: `gave up after N reconnect attempts, the
    /// last: STEP: CAUSE` (or `no reconnect attempt left`).
    pub fn note(&self) -> String {
        let noun = match self.attempts {
            1 => "attempt",
            _ => "attempts",
        };
        match &self.last {
            Some(last) if refused_login(last) => format!("reconnecting: {last}"),
            Some(last) => format!(
                "gave up after {} reconnect {noun}, the last: {last}",
                self.attempts
            ),
            None => format!("gave up after {} reconnect {noun}", self.attempts),
        }
    }
}

/// Opens the connection again after a loss, within the run's [`Policy`]: with a node list,
/// each attempt is a round over the nodes that starts with the one after the node lost
/// ([`open_round`]), so a dead node is tried last.
#[derive(Debug)]
pub struct Reconnector {
    nodes: Nodes,
    /// The node connected to (its index in [`Nodes::all`]).
    current: usize,
    name: String,
    policy: Policy,
    /// Attempts made since the last progress.
    used: u32,
}

impl Reconnector {
    /// A reconnector to `nodes`, connected now to node `current` ([`Session::node`]), naming
    /// the connection `name` (`connection_name`), within `policy`.
    pub fn new(nodes: Nodes, current: usize, name: &str, policy: Policy) -> Self {
        Reconnector {
            nodes,
            current,
            name: name.to_string(),
            policy,
            used: 0,
        }
    }

    /// True when a lost connection is to be opened again ([`Policy::enabled`]).
    pub fn enabled(&self) -> bool {
        self.policy.enabled()
    }

    /// The run's policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The node reconnected to, as `HOST:PORT`.
    pub fn host_port(&self) -> String {
        self.nodes.all()[self.current].host_port()
    }

    /// The run made progress (a confirm came, a delivery was done): the next outage has the
    /// whole budget again.
    pub fn progress(&mut self) {
        self.used = 0;
    }

    /// Connects again after `outage` (the connection lost, or left for a new one): attempts as
    /// the policy allows, each after [`Policy::wait_before`], one warning line each:
    /// `warning: connection to HOST:PORT lost (CAUSE); reconnecting (attempt 1 of 5)` (or
    /// `warning: leaving HOST:PORT (CAUSE); reconnecting ...`), then
    /// `warning: reconnect attempt 1 of 5 failed (STEP: CAUSE); attempt 2 of 5 in 1.1 s`.
    ///
    /// Errors: [`GaveUp`] when the budget is spent (attempts since the last progress count) or
    /// the login was refused.
    pub async fn reconnect(&mut self, outage: impl Into<Outage<'_>>) -> Result<Session, GaveUp> {
        let outage = outage.into();
        let mut last: Option<Error> = None;
        loop {
            let attempt = self.used + 1;
            if !self.policy.attempts.allows(attempt) {
                return Err(GaveUp {
                    attempts: self.used,
                    last,
                });
            }
            self.used = attempt;
            let wait = self.policy.wait_before(attempt);
            let which = self.policy.attempts.describe(attempt);
            match &last {
                None => report(&match outage {
                    Outage::Lost(cause) => format!(
                        "warning: connection to {} lost ({cause}); reconnecting ({which})",
                        self.host_port()
                    ),
                    Outage::Left(cause) => format!(
                        "warning: leaving {} ({cause}); reconnecting ({which})",
                        self.host_port()
                    ),
                }),
                Some(error) => report(&format!(
                    "warning: reconnect {} failed ({error}); {which} in {:.1} s",
                    self.policy.attempts.describe(attempt - 1),
                    wait.as_secs_f64()
                )),
            }
            tokio::time::sleep(wait).await;
            match self.open_next().await {
                Ok(session) => {
                    self.current = session.node;
                    return Ok(session);
                }
                Err(error) if refused_login(&error) => {
                    return Err(GaveUp {
                        attempts: self.used,
                        last: Some(error),
                    });
                }
                Err(error) => last = Some(error),
            }
        }
    }
}

impl Reconnector {
    /// One attempt: the only node, or a round over the list from the node after the one lost.
    async fn open_next(&self) -> Result<Session, Error> {
        match self.nodes.is_list() {
            true => open_round(&self.nodes, self.current + 1, &self.name)
                .await
                .map(|(session, _)| session),
            false => open(self.nodes.first(), &self.name).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_parse_as_a_count_or_forever() {
        assert_eq!(parse_attempts("0"), Ok(Attempts::Limited(0)));
        assert_eq!(parse_attempts("5"), Ok(Attempts::Limited(5)));
        assert_eq!(parse_attempts("forever"), Ok(Attempts::Forever));
        for bad in ["-1", "x", "", "1.5"] {
            assert!(parse_attempts(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_node_does_not_reconnect_by_default() {
        let policy = Policy {
            attempts: default_attempts(1),
            delay: DEFAULT_DELAY,
        };
        assert!(!policy.enabled());
    }

    #[test]
    fn waits_double_within_the_jitter_and_stop_growing() {
        let policy = Policy {
            attempts: Attempts::Forever,
            delay: Duration::from_secs(1),
        };
        assert_eq!(policy.wait_before(1), Duration::ZERO);
        for (attempt, nominal) in [(2, 1.0), (3, 2.0), (4, 4.0), (12, 30.0), (40, 30.0)] {
            let wait = policy.wait_before(attempt).as_secs_f64();
            assert!(
                wait >= nominal * (1.0 - JITTER) - 1e-9 && wait <= nominal * (1.0 + JITTER) + 1e-9,
                "attempt {attempt}: {wait}"
            );
        }
    }

    #[test]
    fn the_note_names_the_attempts_and_the_last_failure() {
        let gave_up = GaveUp {
            attempts: 2,
            last: Some(Error::step("opening socket to h:1", "connection refused")),
        };
        assert_eq!(
            gave_up.note(),
            "gave up after 2 reconnect attempts, the last: opening socket to h:1: connection refused"
        );
    }
}
