//! A published message's confirm, awaited later, whose outcome can be looked at first.
//!
//! lapin's [`lapin::PublisherConfirm`] gives its outcome once: polled again after it resolved,
//! it answers `FutureCompleted`, an error. The publisher looks at the confirms in flight
//! without taking them (to count the unconfirmed messages for a failure line, then to pick
//! the messages to publish again after a reconnect), so an outcome seen once must stay there
//! for the next look and for whoever finally takes it; else a basic.ack seen by the first look
//! would read as a failure to the second, and its message would be published twice.

use crate::queued::poll_now;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A confirm in flight (`F`: lapin's [`lapin::PublisherConfirm`], any one-shot future in
/// tests). Awaiting it gives its outcome once, whether or not [`InFlight::peek`] saw it first.
pub struct InFlight<F: Future + Unpin = lapin::PublisherConfirm> {
    confirm: F,
    /// The outcome once [`InFlight::peek`] saw it, until it is taken. Boxed: an outcome is
    /// kept only when a failure is surveyed, so the common case stays a pointer wide.
    came: Option<Box<F::Output>>,
}

impl<F: Future + Unpin> InFlight<F> {
    /// The confirm of a message just written.
    pub fn new(confirm: F) -> Self {
        InFlight {
            confirm,
            came: None,
        }
    }

    /// The outcome if it has come, polling the confirm once without waiting
    /// ([`crate::queued::poll_now`]); the outcome stays to be taken by awaiting.
    pub fn peek(&mut self) -> Option<&F::Output> {
        if self.came.is_none()
            && let Poll::Ready(outcome) = poll_now(&mut self.confirm)
        {
            self.came = Some(Box::new(outcome));
        }
        self.came.as_deref()
    }
}

impl<F: Future + Unpin> Future for InFlight<F> {
    type Output = F::Output;

    /// The outcome a [`InFlight::peek`] kept, else the confirm's.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.came.take() {
            Some(outcome) => Poll::Ready(*outcome),
            None => Pin::new(&mut self.confirm).poll(cx),
        }
    }
}

impl<F: Future + Unpin> std::fmt::Debug for InFlight<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("came", &self.came.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot future like lapin's confirm: `Ok(outcome)` on the first poll once it is
    /// ready, `Err("completed")` on any poll after that.
    struct Once {
        ready: bool,
        outcome: Option<u32>,
    }

    impl Future for Once {
        type Output = Result<u32, &'static str>;

        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
            if !self.ready {
                return Poll::Pending;
            }
            Poll::Ready(self.outcome.take().ok_or("completed"))
        }
    }

    fn once(ready: bool) -> InFlight<Once> {
        InFlight::new(Once {
            ready,
            outcome: Some(7),
        })
    }

    fn taken(mut confirm: InFlight<Once>) -> Poll<Result<u32, &'static str>> {
        poll_now(&mut confirm)
    }

    #[test]
    fn an_outcome_peeked_twice_is_still_there_to_take() {
        let mut confirm = once(true);
        assert_eq!(confirm.peek(), Some(&Ok(7)));
        // The second look (the messages to publish again, after the failure's count) sees
        // the same basic.ack, not the one-shot future's "completed".
        assert_eq!(confirm.peek(), Some(&Ok(7)));
        assert_eq!(taken(confirm), Poll::Ready(Ok(7)));
    }

    #[test]
    fn an_outcome_not_peeked_is_taken_from_the_confirm() {
        assert_eq!(taken(once(true)), Poll::Ready(Ok(7)));
    }

    #[test]
    fn a_pending_confirm_peeks_nothing_and_stays_pending() {
        let mut confirm = once(false);
        assert_eq!(confirm.peek(), None);
        assert_eq!(confirm.peek(), None);
        assert_eq!(taken(confirm), Poll::Pending);
    }

    #[test]
    fn a_kept_outcome_is_given_once() {
        let mut confirm = once(true);
        confirm.peek();
        assert_eq!(poll_now(&mut confirm), Poll::Ready(Ok(7)));
        // Taken: the next poll asks the confirm itself, which says it completed.
        assert_eq!(poll_now(&mut confirm), Poll::Ready(Err("completed")));
    }
}
