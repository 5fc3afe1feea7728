//! `--retry-delay`: failed deliveries held unacknowledged for a while, then requeued.
//!
//! Requeueing a failed delivery at once makes a hot loop: the broker hands the message back
//! within milliseconds and the failing command runs again (measured: 4 deliveries within
//! milliseconds on a quorum queue). A held delivery stays unacknowledged on this channel, in
//! the prefetch window, while the consumer goes on with other deliveries; once its delay has
//! passed it is requeued with basic.reject. It is never requeued earlier, so the message is
//! never redelivered sooner than the delay after its failure (a release waits for the
//! consumer's next turn: while it waits for a delivery or a command to end).

use super::policy::reject;
use crate::error::Error;
use lapin::message::Delivery;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// The held deliveries, in the order their delays end (every delay is the same
/// `--retry-delay`, so arrival order is deadline order).
#[derive(Default)]
pub struct Holds {
    held: VecDeque<(Instant, Delivery)>,
}

impl Holds {
    /// Holds `delivery` for `delay` from now.
    pub fn hold(&mut self, delivery: Delivery, delay: Duration) {
        self.held.push_back((Instant::now() + delay, delivery));
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Waits until the first held delivery is due; never ends when nothing is held.
    pub async fn next_due(&self) {
        match self.held.front() {
            Some((due, _)) => tokio::time::sleep_until(*due).await,
            None => std::future::pending().await,
        }
    }

    /// Requeues every held delivery that is due.
    ///
    /// Errors: `basic.reject: CAUSE`.
    pub async fn release_due(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        while self.held.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, delivery)) = self.held.pop_front() {
                reject(&delivery, true).await?;
            }
        }
        Ok(())
    }

    /// How many deliveries are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Requeues every held delivery now, due or not (the consumer is stopping).
    ///
    /// Errors: `basic.reject: CAUSE`.
    pub async fn release_now(&mut self) -> Result<(), Error> {
        while let Some((_, delivery)) = self.held.pop_front() {
            reject(&delivery, true).await?;
        }
        Ok(())
    }
}
