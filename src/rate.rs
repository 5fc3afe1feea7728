//! A steady publishing rate (`amqp-publish --rate N`): messages spaced 1/N seconds apart.
//!
//! One message per interval, with no burst: after a pause (a quiet input pipe) the next
//! message goes at once and the spacing starts again from it, so a backlog is never sent
//! faster than the rate. Reusable by any input mode that publishes a message at a time.

use std::time::Duration;
use tokio::time::Instant;

/// The largest rate accepted, in messages per second: above it the interval is below a
/// microsecond and the limit means nothing.
pub const MAX_RATE: f64 = 1e6;

/// Spaces events `interval` apart.
#[derive(Debug, Clone)]
pub struct Rate {
    interval: Duration,
    next: Option<Instant>,
}

impl Rate {
    /// A rate of `per_second` events per second (fractions allowed: 0.5 is one every 2 s).
    pub fn per_second(per_second: f64) -> Self {
        Rate {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: None,
        }
    }

    /// Waits until the next event may happen, and counts it: the first at once, each later
    /// one no sooner than one interval after the one before.
    pub async fn wait(&mut self) {
        let now = Instant::now();
        let due = self.next.map_or(now, |next| next.max(now));
        tokio::time::sleep_until(due).await;
        self.next = Some(due + self.interval);
    }
}

/// Parses a `--rate` value: messages per second, above 0 and at most [`MAX_RATE`]
/// (`100`, `0.5`).
///
/// Errors: `'X' is not a rate above 0 (messages per second, at most 1000000)`.
pub fn parse(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= MAX_RATE => Ok(rate),
        _ => Err(format!(
            "'{text}' is not a rate above 0 (messages per second, at most 1000000)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_positive_numbers() {
        assert_eq!(parse("100"), Ok(100.0));
        assert_eq!(parse("0.5"), Ok(0.5));
        for bad in ["0", "-1", "", "x", "nan", "inf", "1e7"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn events_are_spaced_by_at_least_the_interval() {
        let mut rate = Rate::per_second(20.0);
        let start = Instant::now();
        for _ in 0..5 {
            rate.wait().await;
        }
        // Four intervals after the first event: a lower bound only.
        assert!(start.elapsed() >= Duration::from_millis(200));
    }
}
