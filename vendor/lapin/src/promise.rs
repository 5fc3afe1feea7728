use crate::{Error, Result};
use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll, Waker},
};
use tracing::{Level, level_enabled, trace};

// PATCH(amqp-tools): a promise has one waiter (it is not Clone), so the task to wake is kept
// in the shared state beside the result instead of in an event-listener: one allocation per
// promise (the Arc) instead of four (the Arc, the Event's Arc, its inner list and a boxed
// EventListener on the first pending poll), and no listener list to lock and walk on each
// poll and resolution.
#[must_use = "Promise should be used or you can miss errors"]
pub(crate) struct Promise<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Promise")
    }
}

impl<T> Drop for Promise<T> {
    fn drop(&mut self) {
        trace!(
            promise = %self.shared.marker(),
            "Dropping promise.",
        );
    }
}

impl<T> Promise<T> {
    pub(crate) fn new(marker: &str) -> (Self, PromiseResolver<T>) {
        let promise = Self::build(marker, None);
        let resolver = promise.resolver();
        (promise, resolver)
    }

    pub(crate) fn new_with_data(marker: &str, data: Result<T>) -> Self {
        Self::build(marker, Some(data))
    }

    fn build(marker: &str, data: Option<Result<T>>) -> Self {
        Self {
            shared: Shared::new(data, marker),
        }
    }

    pub(crate) fn try_wait(&self) -> Option<Result<T>> {
        self.shared.lock_state().data.take()
    }

    fn resolver(&self) -> PromiseResolver<T> {
        PromiseResolver {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Future for Promise<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // PATCH(amqp-tools): the result and the waker are behind one lock, so a resolution
        // either finds the waker stored here or is seen by this poll: no wake-up is lost.
        let mut state = self.shared.lock_state();
        if let Some(data) = state.data.take() {
            state.waker = None;
            return Poll::Ready(data);
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

pub(crate) struct PromiseResolver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for PromiseResolver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PromiseResolver")
    }
}

impl<T> Clone for PromiseResolver<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> PromiseResolver<T> {
    pub(crate) fn resolve(&self, data: T) {
        self.complete(Ok(data))
    }

    pub(crate) fn reject(&self, error: Error) {
        self.complete(Err(error))
    }

    pub(crate) fn complete(&self, res: Result<T>) {
        trace!(
            promise = %self.shared.marker(),
            "Resolving promise.",
        );
        self.shared.set(res);
    }
}

pub(crate) trait Cancelable {
    fn cancel(&self, err: Error);
}

impl<T> Cancelable for PromiseResolver<T> {
    fn cancel(&self, err: Error) {
        self.reject(err)
    }
}

// PATCH(amqp-tools): the result and the waiting task's waker, behind one lock.
struct Shared<T> {
    state: Mutex<State<T>>,
    marker: Option<String>,
}

struct State<T> {
    data: Option<Result<T>>,
    waker: Option<Waker>,
}

impl<T> Shared<T> {
    fn new(data: Option<Result<T>>, marker: &str) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State { data, waker: None }),
            marker: if level_enabled!(Level::TRACE) {
                Some(marker.into())
            } else {
                None
            },
        })
    }

    fn set(&self, data: Result<T>) {
        let mut state = self.lock_state();
        if state.data.is_none() {
            state.data = Some(data);
            let waker = state.waker.take();
            // Release the lock before waking to avoid the woken task
            // immediately blocking on it.
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn marker(&self) -> String {
        self.marker
            .as_ref()
            .map_or(String::default(), |marker| format!("[{marker}] "))
    }
}

// PATCH(amqp-tools): tests of the waker slot (vendor/lapin/PATCHES.md 10). The allocation
// count needs a counting global allocator, hence unsafe code in this test module only.
#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;
    use std::{
        alloc::{GlobalAlloc, Layout, System},
        cell::Cell,
        sync::atomic::{AtomicUsize, Ordering},
        task::Wake,
    };

    /// Counts the allocations of the current thread, so that tests running in parallel do
    /// not see each other's.
    struct CountingAllocator;

    thread_local! {
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    unsafe impl GlobalAlloc for CountingAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: CountingAllocator = CountingAllocator;

    fn allocations() -> usize {
        ALLOCATIONS.with(Cell::get)
    }

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_pending_promise_is_woken_once_resolved() {
        let (mut promise, resolver) = Promise::<u32>::new("test");
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut promise).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut promise).poll(&mut cx).is_pending());
        assert_eq!(counter.0.load(Ordering::SeqCst), 0);
        resolver.resolve(7);
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            Pin::new(&mut promise).poll(&mut cx),
            Poll::Ready(Ok(7))
        ));
    }

    #[test]
    fn the_last_task_to_poll_is_the_one_woken() {
        let (mut promise, resolver) = Promise::<u32>::new("test");
        let first = Arc::new(CountingWaker::default());
        let second = Arc::new(CountingWaker::default());
        let first_waker = Waker::from(first.clone());
        let second_waker = Waker::from(second.clone());
        assert!(
            Pin::new(&mut promise)
                .poll(&mut Context::from_waker(&first_waker))
                .is_pending()
        );
        assert!(
            Pin::new(&mut promise)
                .poll(&mut Context::from_waker(&second_waker))
                .is_pending()
        );
        resolver.reject(crate::ErrorKind::ChannelsLimitReached.into());
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        assert!(promise.try_wait().is_some_and(|result| result.is_err()));
    }

    #[test]
    fn a_resolved_promise_is_ready_at_the_first_poll_and_resolves_once() {
        let (mut promise, resolver) = Promise::<u32>::new("test");
        resolver.resolve(1);
        resolver.resolve(2);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            Pin::new(&mut promise).poll(&mut cx),
            Poll::Ready(Ok(1))
        ));
        assert!(Promise::new_with_data("test", Ok(3)).try_wait().is_some());
    }

    #[test]
    fn a_promise_awaited_and_resolved_allocates_once() {
        let mut cx = Context::from_waker(Waker::noop());
        let before = allocations();
        let (mut promise, resolver) = Promise::<u32>::new("test");
        // The marker is kept (a second allocation) only when tracing's level filter lets TRACE
        // through (it can, once another test has installed a global subscriber).
        let marker = usize::from(promise.shared.marker.is_some());
        assert!(Pin::new(&mut promise).poll(&mut cx).is_pending());
        resolver.resolve(5);
        assert!(Pin::new(&mut promise).poll(&mut cx).is_ready());
        drop((promise, resolver));
        assert_eq!(
            allocations() - before,
            1 + marker,
            "allocations of one promise"
        );
    }
}
