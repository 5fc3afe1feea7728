//! What happens to a delivery whose command failed (non-zero exit, killed, not started).

use super::command::Outcome;
use crate::error::{Error, StepExt};
use crate::tool::report;
use lapin::message::Delivery;
use lapin::options::BasicNackOptions;

/// The failure policy, chosen with `--on-failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailurePolicy {
    /// Leave the delivery unacknowledged, as the original: the broker redelivers it once this
    /// consumer's channel closes. When such deliveries fill the prefetch window the consumer
    /// would wait forever, so it stops with exit 1 instead.
    #[default]
    Keep,
    /// basic.nack with requeue: the broker puts the message back on the queue at once.
    Requeue,
    /// basic.nack without requeue: the broker drops the message, or dead-letters it when the
    /// queue has a dead-letter exchange.
    Reject,
}

/// Applies the policy and counts deliveries left unacknowledged.
#[derive(Debug)]
pub struct Tracker {
    policy: FailurePolicy,
    window: Option<u16>,
    unacked: u64,
    failed: u64,
}

impl Tracker {
    /// A tracker for `policy` under a prefetch window of `window` deliveries (none: unbounded).
    pub fn new(policy: FailurePolicy, window: Option<u16>) -> Self {
        Tracker {
            policy,
            window,
            unacked: 0,
            failed: 0,
        }
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

    /// Handles a failed delivery: a warning line on stderr naming the delivery tag and the
    /// command's status, then the policy.
    ///
    /// Errors: `basic.nack: CAUSE`.
    pub async fn failed(&mut self, delivery: &Delivery, outcome: &Outcome) -> Result<(), Error> {
        self.failed += 1;
        let tag = delivery.delivery_tag;
        let what = outcome.describe();
        match self.policy {
            FailurePolicy::Keep => {
                self.unacked += 1;
                report(&format!(
                    "warning: delivery {tag}: {what}; not acknowledged (redelivered after the consumer closes)"
                ));
                Ok(())
            }
            FailurePolicy::Requeue | FailurePolicy::Reject => {
                let requeue = self.policy == FailurePolicy::Requeue;
                report(&format!(
                    "warning: delivery {tag}: {what}; {}",
                    if requeue { "requeued" } else { "rejected" }
                ));
                delivery
                    .acker
                    .nack(BasicNackOptions {
                        multiple: false,
                        requeue,
                    })
                    .await
                    .map(|_| ())
                    .step("basic.nack")
            }
        }
    }
}
