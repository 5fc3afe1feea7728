//! What happens to a delivery once its command ended: `--on-failure`, the `--on-exit` table,
//! `--max-redeliveries` and `--retry-delay`.
//!
//! A delivery whose command exits 0 is acked. Any other ending picks an [`Action`]: from the
//! `--on-exit` entry for its exit status, else `stop` for 126 and 127 (the command could not be
//! run: a missing executable must not be requeued forever), else the `--on-exit '*'` entry,
//! else `--on-failure`. A requeue (or keep) of a message already redelivered
//! `--max-redeliveries` times becomes a reject.

use super::command::Outcome;
use crate::error::{Error, StepExt};
use crate::report::report;
use lapin::message::Delivery;
use lapin::options::BasicRejectOptions;
use lapin::types::AMQPValue;
use std::collections::BTreeMap;
use std::time::Duration;

/// The failure policy, chosen with `--on-failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailurePolicy {
    /// Leave the delivery unacknowledged, as the original: the broker redelivers it once this
    /// consumer's channel closes. When such deliveries fill the prefetch window the consumer
    /// would wait forever, so it stops with exit 1 instead.
    #[default]
    Keep,
    /// basic.reject with requeue: the broker puts the message back on the queue at once.
    Requeue,
    /// basic.reject without requeue: the broker drops the message, or dead-letters it when the
    /// queue has a dead-letter exchange.
    Reject,
}

/// What to do with a delivery, by the exit status of its command (`--on-exit CODE=ACTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// basic.ack: the message is done (not counted as failed).
    Ack,
    /// basic.reject with requeue (after `--retry-delay`, when given).
    Requeue,
    /// basic.reject without requeue: dropped, or dead-lettered.
    Reject,
    /// Left unacknowledged until the consumer closes, as the original.
    Keep,
    /// Stop the consumer (exit 1); the delivery is left unacknowledged and returns to the queue.
    Stop,
}

impl From<FailurePolicy> for Action {
    fn from(policy: FailurePolicy) -> Self {
        match policy {
            FailurePolicy::Keep => Action::Keep,
            FailurePolicy::Requeue => Action::Requeue,
            FailurePolicy::Reject => Action::Reject,
        }
    }
}

/// The name of the `--on-exit` preset that maps rabbitmq-cli-consumer's strict exit codes.
pub const CLI_CONSUMER_PRESET: &str = "rabbitmq-cli-consumer";

/// One `--on-exit` value: the entries it adds, in order (a preset adds several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitRules(pub Vec<(Option<i32>, Action)>);

/// Parses an `--on-exit` value: `CODE=ACTION` (CODE 0 to 255, or `*` for any other non-zero
/// status, a signal or a timeout), or the preset `rabbitmq-cli-consumer`: the strict exit code
/// table of rabbitmq-cli-consumer (its strict exit code mode): 0 ack, 3 reject, 4 reject and
/// requeue, 5 nack, 6 nack and requeue, any other status stops the consumer. A nack of a
/// single delivery is the same as a reject, so 5 and 6 map like 3 and 4.
///
/// Errors: a sentence naming what is wrong, for clap to put after the option's name.
pub fn parse_exit_rule(text: &str) -> Result<ExitRules, String> {
    if text == CLI_CONSUMER_PRESET {
        return Ok(ExitRules(vec![
            (Some(0), Action::Ack),
            (Some(3), Action::Reject),
            (Some(4), Action::Requeue),
            (Some(5), Action::Reject),
            (Some(6), Action::Requeue),
            (None, Action::Stop),
        ]));
    }
    let Some((code, action)) = text.split_once('=') else {
        return Err(format!(
            "'{text}' is not CODE=ACTION (or the preset {CLI_CONSUMER_PRESET})"
        ));
    };
    let code = match code.trim() {
        "*" => None,
        digits => match digits.parse::<i32>() {
            Ok(n) if (0..=255).contains(&n) => Some(n),
            _ => return Err(format!("'{digits}' is not an exit status (0 to 255, or *)")),
        },
    };
    let action = match action.trim() {
        "ack" => Action::Ack,
        "requeue" => Action::Requeue,
        "reject" => Action::Reject,
        "keep" => Action::Keep,
        "stop" => Action::Stop,
        other => {
            return Err(format!(
                "'{other}' is not an action (ack, requeue, reject, keep or stop)"
            ));
        }
    };
    Ok(ExitRules(vec![(code, action)]))
}

/// The whole table: `--on-exit` entries (a later entry for the same code wins) over
/// `--on-failure`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitTable {
    by_code: BTreeMap<i32, Action>,
    other: Option<Action>,
    on_failure: FailurePolicy,
}

impl ExitTable {
    /// The table of `rules` (in command-line order) over the `on_failure` policy.
    pub fn new(rules: &[ExitRules], on_failure: FailurePolicy) -> Self {
        let mut table = ExitTable {
            on_failure,
            ..Default::default()
        };
        for (code, action) in rules.iter().flat_map(|r| r.0.iter()) {
            match code {
                Some(code) => {
                    table.by_code.insert(*code, *action);
                }
                None => table.other = Some(*action),
            }
        }
        table
    }

    /// Why `outcome` stops the consumer, for its error line: the `--on-exit` entry, or the
    /// rule for a command that cannot be run (126, 127).
    pub fn stop_reason(&self, outcome: &Outcome) -> String {
        match outcome {
            Outcome::Exited(status) => match status.code() {
                Some(code) if self.by_code.contains_key(&code) => format!("--on-exit {code}=stop"),
                Some(126 | 127) => {
                    "the command cannot be run; --on-exit 126=ACTION or 127=ACTION to change"
                        .to_string()
                }
                _ => "--on-exit *=stop".to_string(),
            },
            _ => "--on-exit *=stop".to_string(),
        }
    }

    /// True when some outcome may be requeued (for `--retry-delay` to apply).
    pub fn may_requeue(&self) -> bool {
        self.on_failure == FailurePolicy::Requeue
            || self.other == Some(Action::Requeue)
            || self.by_code.values().any(|a| *a == Action::Requeue)
    }

    /// The action for a command's outcome. A command that could not be started stops the
    /// consumer whatever the table says.
    pub fn action(&self, outcome: &Outcome) -> Action {
        let code = match outcome {
            Outcome::NotStarted(_) | Outcome::WriteFailed(_) => return Action::Stop,
            Outcome::Written => return Action::Ack,
            Outcome::Exited(status) => status.code(),
            Outcome::TimedOut(_) | Outcome::OutputClosed | Outcome::Failed(_) => None,
        };
        if let Some(action) = code.and_then(|c| self.by_code.get(&c)) {
            return *action;
        }
        match code {
            Some(0) => Action::Ack,
            Some(126 | 127) => Action::Stop,
            _ => self.other.unwrap_or(self.on_failure.into()),
        }
    }
}

/// How many times a message was delivered before, as the broker counts it: `x-acquired-count`
/// (RabbitMQ 4.3+) or else `x-delivery-count` (quorum queues). Trusted only on a delivery
/// flagged `redelivered`: a first delivery counts 0 whatever its headers say (a message moved
/// back from another queue can carry a stale count). `None`: redelivered, but the queue gives
/// no count (classic queues).
pub fn previous_deliveries(delivery: &Delivery) -> Option<u64> {
    if !delivery.redelivered {
        return Some(0);
    }
    let headers = delivery.properties.headers().as_ref()?;
    let count = ["x-acquired-count", "x-delivery-count"]
        .iter()
        .find_map(|name| headers.inner().get(*name))?;
    match count {
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// What became of a failed delivery ([`Tracker::failed`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    /// Acked, rejected, requeued or kept: nothing more to do.
    Done,
    /// To be requeued once the retry delay has passed (see `super::holds`).
    Hold(Duration),
}

/// Applies the exit table, the redelivery cap and the retry delay, and counts deliveries
/// left unacknowledged.
#[derive(Debug)]
pub struct Tracker {
    table: ExitTable,
    max_redeliveries: Option<u64>,
    retry_delay: Option<Duration>,
    window: Option<u16>,
    unacked: u64,
    failed: u64,
    warned_no_count: bool,
}

impl Tracker {
    /// A tracker for `table` under a prefetch window of `window` deliveries (none: unbounded).
    pub fn new(
        table: ExitTable,
        max_redeliveries: Option<u64>,
        retry_delay: Option<Duration>,
        window: Option<u16>,
    ) -> Self {
        Tracker {
            table,
            max_redeliveries,
            retry_delay,
            window,
            unacked: 0,
            failed: 0,
            warned_no_count: false,
        }
    }

    /// Why `outcome` stops the consumer ([`ExitTable::stop_reason`]).
    pub fn stop_reason(&self, outcome: &Outcome) -> String {
        self.table.stop_reason(outcome)
    }

    /// The action for `outcome` ([`ExitTable::action`]).
    pub fn action(&self, outcome: &Outcome) -> Action {
        self.table.action(outcome)
    }

    /// The channel was lost: the deliveries kept unacknowledged on it return to the queue
    /// and no longer fill the window.
    pub fn channel_lost(&mut self) {
        self.unacked = 0;
    }

    /// How many deliveries' commands failed so far.
    pub fn failures(&self) -> u64 {
        self.failed
    }

    /// True when deliveries left unacknowledged fill the prefetch window: the broker sends
    /// nothing more, so waiting for another delivery would wait forever.
    pub fn window_full(&self) -> bool {
        self.window
            .is_some_and(|window| self.unacked >= u64::from(window))
    }

    /// The error that stops a consumer whose window is full ([`Tracker::window_full`]).
    pub fn window_full_error(&self) -> Error {
        Error::Message(format!(
            "stopping: {} failed deliveries are unacknowledged and fill the prefetch window of {}",
            self.unacked,
            self.window.unwrap_or_default()
        ))
    }

    /// Handles a failed delivery whose action is `action` (requeue, reject or keep): one
    /// warning line on stderr naming the delivery tag, the command's status and what was done,
    /// then basic.reject (with or without requeue), or nothing for keep. A requeue with a
    /// retry delay is not sent here: [`Settled::Hold`] asks the caller to hold the delivery.
    ///
    /// Errors: `basic.reject: CAUSE`.
    pub async fn failed(
        &mut self,
        delivery: &Delivery,
        outcome: &Outcome,
        action: Action,
    ) -> Result<Settled, Error> {
        self.failed += 1;
        let tag = delivery.delivery_tag;
        let what = outcome.describe();
        let (action, capped) = self.cap(delivery, action);
        let done = match (action, capped) {
            (_, Some(previous)) => format!(
                "rejected after {} deliveries (--max-redeliveries {})",
                previous + 1,
                self.max_redeliveries.unwrap_or_default()
            ),
            (Action::Keep, _) => {
                self.unacked += 1;
                "not acknowledged (redelivered after the consumer closes)".to_string()
            }
            (Action::Requeue, _) => match self.retry_delay {
                Some(delay) => format!("requeued in {}", seconds(delay)),
                None => "requeued".to_string(),
            },
            _ => "rejected".to_string(),
        };
        report(&format!("warning: delivery {tag}: {what}; {done}"));
        match action {
            Action::Keep => Ok(Settled::Done),
            Action::Requeue if self.retry_delay.is_some() => {
                Ok(Settled::Hold(self.retry_delay.unwrap_or_default()))
            }
            _ => {
                reject(delivery, action == Action::Requeue).await?;
                Ok(Settled::Done)
            }
        }
    }

    /// Applies `--max-redeliveries` to a requeue or keep: a reject, with the count of previous
    /// deliveries, once the message was redelivered that many times. Warns once when the queue
    /// gives no count.
    fn cap(&mut self, delivery: &Delivery, action: Action) -> (Action, Option<u64>) {
        let Some(max) = self.max_redeliveries else {
            return (action, None);
        };
        if !matches!(action, Action::Requeue | Action::Keep) {
            return (action, None);
        }
        match previous_deliveries(delivery) {
            Some(previous) if previous >= max => (Action::Reject, Some(previous)),
            Some(_) => (action, None),
            None => {
                if !self.warned_no_count {
                    self.warned_no_count = true;
                    report(
                        "warning: --max-redeliveries: the queue gives no delivery count \
                         (x-delivery-count: quorum queues; x-acquired-count: RabbitMQ 4.3+), \
                         so the cap is not applied",
                    );
                }
                (action, None)
            }
        }
    }
}

/// basic.reject of one delivery, with or without requeue. Not basic.nack: from RabbitMQ 4.3 a
/// nack is not counted toward a quorum queue's `delivery-limit`, a reject is.
///
/// Errors: `basic.reject: CAUSE`.
pub async fn reject(delivery: &Delivery, requeue: bool) -> Result<(), Error> {
    delivery
        .acker
        .reject(BasicRejectOptions { requeue })
        .await
        .map(|_| ())
        .step("basic.reject")
}

/// A duration in seconds as the options take it: `5 s`, `0.5 s`.
pub fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exited(code: i32) -> Outcome {
        Outcome::Exited(std::process::ExitStatus::from_raw(code << 8))
    }

    /// The actions `table` takes for commands that exited with each of `codes`.
    fn actions(table: &ExitTable, codes: &[i32]) -> Vec<Action> {
        codes.iter().map(|c| table.action(&exited(*c))).collect()
    }

    #[test]
    fn the_table_falls_back_to_the_failure_policy() {
        let table = ExitTable::new(&[], FailurePolicy::Requeue);
        use Action::*;
        assert_eq!(
            actions(&table, &[0, 1, 127, 126]),
            [Ack, Requeue, Stop, Stop]
        );
    }

    #[test]
    fn later_entries_win_and_star_covers_the_rest() {
        let rules: Vec<ExitRules> = ["3=reject", "*=stop", "3=ack", "127=keep"]
            .iter()
            .map(|r| parse_exit_rule(r).unwrap())
            .collect();
        let table = ExitTable::new(&rules, FailurePolicy::Keep);
        use Action::*;
        assert_eq!(actions(&table, &[3, 9, 127, 126]), [Ack, Stop, Keep, Stop]);
    }

    #[test]
    fn the_cli_consumer_preset_is_its_strict_table() {
        let table = ExitTable::new(
            &[parse_exit_rule(CLI_CONSUMER_PRESET).unwrap()],
            FailurePolicy::Keep,
        );
        use Action::*;
        assert_eq!(
            actions(&table, &[0, 3, 4, 5, 6, 1, 7]),
            [Ack, Reject, Requeue, Reject, Requeue, Stop, Stop]
        );
    }

    #[test]
    fn bad_rules_are_named() {
        assert!(parse_exit_rule("3").unwrap_err().contains("CODE=ACTION"));
        assert!(parse_exit_rule("256=ack").unwrap_err().contains("'256'"));
        assert!(parse_exit_rule("3=drop").unwrap_err().contains("'drop'"));
        assert!(parse_exit_rule("x=ack").is_err());
    }
}
