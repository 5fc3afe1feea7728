use crate::{
    Error, Promise, PromiseResolver,
    id_sequence::IdSequence,
    protocol::{AMQPError, AMQPSoftError},
    publisher_confirm::{Confirmation, PublisherConfirm},
    returned_messages::ReturnedMessages,
    shared::SharedMutex,
    types::DeliveryTag,
};
use std::{collections::VecDeque, fmt, sync::MutexGuard};
use tracing::trace;

#[derive(Clone)]
pub(crate) struct Acknowledgements(SharedMutex<Inner>);

type AMQPResult = Result<(), AMQPError>;

impl Acknowledgements {
    pub(crate) fn new(channel_id: u16, returned_messages: ReturnedMessages) -> Self {
        Self(SharedMutex::new(Inner::new(channel_id, returned_messages)))
    }

    pub(crate) fn register_pending(&self) -> PublisherConfirm {
        self.lock_inner().register_pending()
    }

    pub(crate) fn get_last_pending(&self) -> Option<Promise<()>> {
        self.lock_inner().get_last_pending()
    }

    pub(crate) fn ack(&self, delivery_tag: DeliveryTag) -> AMQPResult {
        self.lock_inner().drop_pending(delivery_tag, true)
    }

    pub(crate) fn nack(&self, delivery_tag: DeliveryTag) -> AMQPResult {
        self.lock_inner().drop_pending(delivery_tag, false)
    }

    pub(crate) fn ack_all_pending(&self) {
        self.lock_inner().drop_all(true);
    }

    pub(crate) fn nack_all_pending(&self) {
        self.lock_inner().drop_all(false);
    }

    pub(crate) fn ack_all_before(&self, delivery_tag: DeliveryTag) -> AMQPResult {
        self.lock_inner()
            .complete_pending_before(delivery_tag, true)
    }

    pub(crate) fn nack_all_before(&self, delivery_tag: DeliveryTag) -> AMQPResult {
        self.lock_inner()
            .complete_pending_before(delivery_tag, false)
    }

    pub(crate) fn on_channel_error(&self, error: Error) {
        self.lock_inner().on_channel_error(error);
    }

    pub(crate) fn reset(&self, error: Error) {
        self.lock_inner().reset(error);
    }

    fn lock_inner(&self) -> MutexGuard<'_, Inner> {
        self.0.lock()
    }
}

impl fmt::Debug for Acknowledgements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Acknowledgements");
        if let Some(inner) = self.0.try_lock() {
            debug
                .field("delivery_tag", &inner.delivery_tag)
                .field("returned_messages", &inner.returned_messages)
                .field("pending", &inner.pending_tags());
        }
        debug.finish()
    }
}

// PATCH(amqp-tools): O(1) publisher-confirm bookkeeping (see PATCHES.md).
//
// The broker numbers the messages published in confirm mode 1, 2, 3... in the order it receives
// them, and register_pending hands out the same numbers in the same order, so `pending` is sorted
// by delivery tag: a multiple ack/nack completes a prefix of it, and a single one is found by
// binary search, almost always at the front.
struct Inner {
    channel_id: u16,
    delivery_tag: IdSequence<DeliveryTag>,
    pending: VecDeque<(DeliveryTag, PromiseResolver<Confirmation>)>,
    // The callers of wait_for_confirms, each with the last delivery tag published when it
    // called: it is resolved once no tag up to that one is pending anymore.
    waiters: VecDeque<(DeliveryTag, PromiseResolver<()>)>,
    // The error that failed the last published message, for the next wait_for_confirms.
    last_error: Option<Error>,
    returned_messages: ReturnedMessages,
}

impl Inner {
    fn new(channel_id: u16, returned_messages: ReturnedMessages) -> Self {
        Self {
            channel_id,
            delivery_tag: IdSequence::new(false),
            pending: VecDeque::default(),
            waiters: VecDeque::default(),
            last_error: None,
            returned_messages,
        }
    }

    fn register_pending(&mut self) -> PublisherConfirm {
        let delivery_tag = self.delivery_tag.next();
        trace!("Publishing with delivery_tag {}", delivery_tag);
        let (promise, resolver) = Promise::new("acknowledgement");
        let promise = PublisherConfirm::new(promise, self.returned_messages.clone());
        self.last_error = None;
        self.pending.push_back((delivery_tag, resolver));
        promise
    }

    fn get_last_pending(&mut self) -> Option<Promise<()>> {
        if let Some(error) = self.last_error.take() {
            return Some(Promise::new_with_data("acknowledgement-error", Err(error)));
        }
        let (last, _) = self.pending.back()?;
        let (promise, resolver) = Promise::new("acknowledgement-error");
        self.waiters.push_back((*last, resolver));
        Some(promise)
    }

    fn complete_pending(&mut self, success: bool, resolver: PromiseResolver<Confirmation>) {
        // PATCH(amqp-tools): boxed in the confirmation (PATCHES.md 11).
        let returned_message = self.returned_messages.get_waiting_message().map(Box::new);
        resolver.resolve(if success {
            Confirmation::Ack(returned_message)
        } else {
            Confirmation::Nack(returned_message)
        });
    }

    fn resolve_waiters(&mut self) {
        let first_pending = self.pending.front().map(|(tag, _)| *tag);
        while let Some((last, _)) = self.waiters.front() {
            if first_pending.is_some_and(|first| first <= *last) {
                break;
            }
            if let Some((_, resolver)) = self.waiters.pop_front() {
                resolver.resolve(());
            }
        }
    }

    fn drop_all(&mut self, success: bool) {
        for (_, resolver) in std::mem::take(&mut self.pending) {
            self.complete_pending(success, resolver);
        }
        self.resolve_waiters();
    }

    fn drop_pending(&mut self, delivery_tag: DeliveryTag, success: bool) -> AMQPResult {
        if let Ok(index) = self
            .pending
            .binary_search_by_key(&delivery_tag, |(tag, _)| *tag)
            && let Some((_, resolver)) = self.pending.remove(index)
        {
            self.complete_pending(success, resolver);
            self.resolve_waiters();
            Ok(())
        } else {
            Err(AMQPError::new(
                AMQPSoftError::PRECONDITIONFAILED.into(),
                format!(
                    "invalid {} received for inexistant delivery_tag {} on channel {}, current is {:?}, was expecting one of {:?}",
                    if success { "ack" } else { "nack" },
                    delivery_tag,
                    self.channel_id,
                    self.delivery_tag.current(),
                    self.pending_tags(),
                )
                .into(),
            ))
        }
    }

    fn complete_pending_before(&mut self, delivery_tag: DeliveryTag, success: bool) -> AMQPResult {
        while self
            .pending
            .front()
            .is_some_and(|(tag, _)| *tag <= delivery_tag)
        {
            if let Some((_, resolver)) = self.pending.pop_front() {
                self.complete_pending(success, resolver);
            }
        }
        self.resolve_waiters();
        Ok(())
    }

    fn on_channel_error(&mut self, error: Error) {
        // As a single promise for the last tag did, the error reaches one caller: the ones
        // waiting for that tag, or else the next one.
        let last_failed = self
            .pending
            .back()
            .is_some_and(|(tag, _)| Some(*tag) == self.delivery_tag.current())
            && self
                .waiters
                .back()
                .is_none_or(|(tag, _)| Some(*tag) != self.delivery_tag.current());
        for (_, resolver) in self.pending.drain(..) {
            resolver.reject(error.clone());
        }
        for (_, resolver) in self.waiters.drain(..) {
            resolver.reject(error.clone());
        }
        if last_failed {
            self.last_error = Some(error);
        }
        self.returned_messages.clear_dropped_confirms();
    }

    fn reset(&mut self, error: Error) {
        self.on_channel_error(error);
        self.delivery_tag = IdSequence::new(false);
    }

    fn pending_tags(&self) -> Vec<DeliveryTag> {
        self.pending.iter().map(|(tag, _)| *tag).collect()
    }
}

// PATCH(amqp-tools): O(1) publisher-confirm bookkeeping (see PATCHES.md).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, protocol::AMQPErrorKind};
    use std::{
        future::Future,
        pin::Pin,
        task::{Context, Poll},
    };

    fn acknowledgements() -> Acknowledgements {
        Acknowledgements::new(1, ReturnedMessages::default())
    }

    fn publish(acknowledgements: &Acknowledgements, count: usize) -> Vec<PublisherConfirm> {
        (0..count)
            .map(|_| acknowledgements.register_pending())
            .collect()
    }

    fn poll<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        Pin::new(future).poll(&mut Context::from_waker(std::task::Waker::noop()))
    }

    // What each confirm has become: Some(true) acked, Some(false) nacked, None still pending.
    fn states(confirms: &mut [PublisherConfirm]) -> Vec<Option<bool>> {
        confirms
            .iter_mut()
            .map(|confirm| match poll(confirm) {
                Poll::Ready(Ok(Confirmation::Ack(None))) => Some(true),
                Poll::Ready(Ok(Confirmation::Nack(None))) => Some(false),
                Poll::Pending => None,
                other => panic!("unexpected confirmation {other:?}"),
            })
            .collect()
    }

    fn is_precondition_failed(result: AMQPResult) -> bool {
        matches!(
            result.map_err(|err| err.kind().clone()),
            Err(AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED))
        )
    }

    #[test]
    fn multiple_ack_confirms_every_tag_up_to_it() {
        let acknowledgements = acknowledgements();
        let mut confirms = publish(&acknowledgements, 5);
        acknowledgements.ack_all_before(3).unwrap();
        assert_eq!(
            states(&mut confirms[..3]),
            [Some(true), Some(true), Some(true)]
        );
        assert_eq!(states(&mut confirms[3..]), [None, None]);
        acknowledgements.ack_all_before(5).unwrap();
        assert_eq!(states(&mut confirms[3..]), [Some(true), Some(true)]);
        // Nothing left at or below 5: not an error, as before.
        acknowledgements.ack_all_before(5).unwrap();
    }

    #[test]
    fn single_acks_out_of_order() {
        let acknowledgements = acknowledgements();
        let mut confirms = publish(&acknowledgements, 3);
        acknowledgements.ack(2).unwrap();
        assert_eq!(states(&mut confirms), [None, Some(true), None]);
        acknowledgements.ack(3).unwrap();
        assert_eq!(states(&mut confirms[..1]), [None]);
        acknowledgements.ack(1).unwrap();
        assert_eq!(states(&mut confirms[..1]), [Some(true)]);
    }

    #[test]
    fn nacks_single_and_multiple() {
        let acknowledgements = acknowledgements();
        let mut confirms = publish(&acknowledgements, 4);
        acknowledgements.nack(2).unwrap();
        assert_eq!(states(&mut confirms[1..2]), [Some(false)]);
        acknowledgements.nack_all_before(3).unwrap();
        assert_eq!(states(&mut confirms[..1]), [Some(false)]);
        assert_eq!(states(&mut confirms[2..]), [Some(false), None]);
        acknowledgements.ack(4).unwrap();
        assert_eq!(states(&mut confirms[3..]), [Some(true)]);
    }

    #[test]
    fn unknown_tag_is_a_precondition_failure() {
        let acknowledgements = acknowledgements();
        let mut confirms = publish(&acknowledgements, 2);
        assert!(is_precondition_failed(acknowledgements.ack(7)));
        assert!(is_precondition_failed(acknowledgements.nack(0)));
        acknowledgements.ack(1).unwrap();
        assert!(is_precondition_failed(acknowledgements.ack(1)));
        assert_eq!(states(&mut confirms), [Some(true), None]);
    }

    // A basic.ack or basic.nack with multiple set and delivery tag 0 covers every pending
    // message (on_basic_ack_received calls ack_all_pending for it).
    #[test]
    fn tag_0_with_multiple_completes_all() {
        let acknowledgements = acknowledgements();
        let mut confirms = publish(&acknowledgements, 3);
        acknowledgements.ack(2).unwrap();
        acknowledgements.ack_all_pending();
        assert_eq!(states(&mut confirms), [Some(true), Some(true), Some(true)]);
        let mut confirms = publish(&acknowledgements, 2);
        acknowledgements.nack_all_pending();
        assert_eq!(states(&mut confirms), [Some(false), Some(false)]);
        // Nothing is pending anymore: wait_for_confirms returns at once.
        if let Some(mut last) = acknowledgements.get_last_pending() {
            assert!(matches!(poll(&mut last), Poll::Ready(Ok(()))));
        }
    }

    #[test]
    fn wait_for_confirms_waits_for_every_tag_published_before_it() {
        let acknowledgements = acknowledgements();
        assert!(acknowledgements.get_last_pending().is_none());
        let _confirms = publish(&acknowledgements, 3);
        let mut last = acknowledgements.get_last_pending().unwrap();
        // A publish after the call does not hold it back.
        let _later = publish(&acknowledgements, 1);
        acknowledgements.ack(3).unwrap();
        assert!(poll(&mut last).is_pending());
        acknowledgements.ack_all_before(2).unwrap();
        assert!(matches!(poll(&mut last), Poll::Ready(Ok(()))));
    }

    #[test]
    fn channel_error_rejects_pending_confirms_and_waiters() {
        let acknowledgements = acknowledgements();
        let mut confirms = publish(&acknowledgements, 2);
        let mut last = acknowledgements.get_last_pending().unwrap();
        acknowledgements.on_channel_error(ErrorKind::MissingHeartbeatError.into());
        for confirm in &mut confirms {
            assert!(matches!(poll(confirm), Poll::Ready(Err(_))));
        }
        assert!(matches!(poll(&mut last), Poll::Ready(Err(_))));
        assert!(acknowledgements.get_last_pending().is_none());
        // Without a caller waiting, the next one gets the error, once.
        let _confirms = publish(&acknowledgements, 1);
        acknowledgements.on_channel_error(ErrorKind::MissingHeartbeatError.into());
        let mut again = acknowledgements.get_last_pending().unwrap();
        assert!(matches!(poll(&mut again), Poll::Ready(Err(_))));
        assert!(acknowledgements.get_last_pending().is_none());
        // Tags go on where they were; reset starts them again from 1.
        let _confirms = publish(&acknowledgements, 1);
        assert!(is_precondition_failed(acknowledgements.ack(1)));
        acknowledgements.ack(4).unwrap();
        acknowledgements.reset(ErrorKind::MissingHeartbeatError.into());
        let mut confirms = publish(&acknowledgements, 1);
        acknowledgements.ack(1).unwrap();
        assert_eq!(states(&mut confirms), [Some(true)]);
    }
}
