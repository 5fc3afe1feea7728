//! "Queue now, collect later": hand an operation to lapin at once, wait for its outcome later.
//!
//! A lapin call (`basic.publish`, `basic.ack`, ...) is a future that, on its first poll, checks
//! the channel and queues its frames for lapin's I/O loop, then waits for the write to be
//! done. Awaiting it at once costs a turn of the loop's task and a wake-up back per call,
//! on the hot paths (a message published per line, a delivery acked between two commands).
//! So the tools poll such a future once, with a
//! no-op waker (nothing needs to run when the write completes: whoever awaits the future
//! later registers its own waker), which queues the frames in call order, and collect the
//! outcome afterwards. Frames are still written in the order the calls were made.
//!
//! No `crate::` imports: this is a leaf every layer may use.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Polls `future` once with a no-op waker: its frames are queued now (see the module doc).
/// `Poll::Ready` when it finished at once (e.g. refused because the channel is closed);
/// `Poll::Pending` when its outcome is to be collected later, by awaiting it or polling again.
pub fn poll_now<F: Future + Unpin + ?Sized>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// One operation handed to lapin with [`poll_now`] whose outcome is collected later: the
/// ack in flight of a consumer or of `amqp-get`'s settler.
pub struct Queued<T> {
    in_flight: Option<Pin<Box<dyn Future<Output = T>>>>,
}

impl<T> Default for Queued<T> {
    fn default() -> Self {
        Queued { in_flight: None }
    }
}

impl<T> Queued<T> {
    /// Polls `operation` once ([`poll_now`]): its outcome when it finished at once; else
    /// `None`, and the operation is kept for [`Queued::collect`]. Call `collect` first if an
    /// operation is already kept: it would be replaced (its frames are queued all the same).
    pub fn start(&mut self, operation: impl Future<Output = T> + 'static) -> Option<T> {
        let mut operation: Pin<Box<dyn Future<Output = T>>> = Box::pin(operation);
        match poll_now(&mut operation) {
            Poll::Ready(outcome) => Some(outcome),
            Poll::Pending => {
                self.in_flight = Some(operation);
                None
            }
        }
    }

    /// Waits for the kept operation, if any, and gives its outcome (`None` without one).
    pub async fn collect(&mut self) -> Option<T> {
        match self.in_flight.take() {
            Some(operation) => Some(operation.await),
            None => None,
        }
    }
}
