//! The tower service of the circuit breaker.

use super::future::ResponseFuture;
use super::handle::{Guard, LocalRef};
use super::sync::Padded;
use super::{CircuitBreaker, CircuitOpen, State};
use crate::classify::{Classify, DefaultClassifier};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};
use tower::Service;

/// A service guarded by a [`CircuitBreaker`]; made by [`CircuitBreakerLayer`](super::CircuitBreakerLayer).
pub struct CircuitBreakerService<S, C = DefaultClassifier> {
    inner: S,
    /// This service's own references to the shared breaker, shared by its clones: a response
    /// future clones the one of its thread's stripe, whose count no other thread (mostly) and no
    /// service made by another `Layer::layer` call touches.
    lanes: Arc<Lanes<C>>,
    backpressure: bool,
    reserved: Option<Reserved<C>>,
    /// The timer of the backpressure mode, allocated the first time it waits.
    sleep: Option<Pin<Box<Sleep>>>,
}

/// A service's references to its breaker, one per stripe, each made the first time a call on a
/// thread of that stripe needs it (so a service used on one thread holds one).
struct Lanes<C> {
    breaker: CircuitBreaker<C>,
    lanes: Box<[OnceLock<LocalRef<C>>]>,
}

impl<C> Lanes<C> {
    fn new(breaker: CircuitBreaker<C>, lanes: usize) -> Self {
        Self {
            breaker,
            lanes: (0..lanes.max(1).next_power_of_two())
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    /// The reference of the current thread's stripe.
    #[inline]
    fn home(&self) -> &LocalRef<C> {
        let lane = &self.lanes[crate::stripe::ordinal() & (self.lanes.len() - 1)];
        match lane.get() {
            Some(local) => local,
            None => self.make(lane),
        }
    }

    #[cold]
    fn make<'a>(&self, lane: &'a OnceLock<LocalRef<C>>) -> &'a LocalRef<C> {
        lane.get_or_init(|| Arc::new(Padded(self.breaker.clone())))
    }
}

/// The decision taken in `poll_ready`, carried to `call`.
enum Reserved<C> {
    Admitted(Guard<LocalRef<C>>),
    Rejected(CircuitOpen),
}

impl<S, C> CircuitBreakerService<S, C> {
    /// A service over `breaker` whose futures count their references in up to `lanes` lanes
    /// (rounded up to a power of two).
    pub(super) fn new(
        inner: S,
        breaker: CircuitBreaker<C>,
        backpressure: bool,
        lanes: usize,
    ) -> Self {
        Self {
            inner,
            lanes: Arc::new(Lanes::new(breaker, lanes)),
            backpressure,
            reserved: None,
            sleep: None,
        }
    }

    /// The breaker this service shares.
    pub fn breaker(&self) -> &CircuitBreaker<C> {
        &self.lanes.breaker
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes this service, returning the inner one. A probe slot reserved by `poll_ready`
    /// is given back.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Waits out an open circuit in backpressure mode; true once the wait is over.
    fn poll_wait(&mut self, open: &CircuitOpen, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = Instant::now().checked_add(open.retry_after()) else {
            return false;
        };
        crate::sleep::arm(&mut self.sleep, deadline)
            .poll(cx)
            .is_ready()
    }
}

impl<S, C, Req> Service<Req> for CircuitBreakerService<S, C>
where
    S: Service<Req>,
    S::Error: Into<crate::BoxError>,
    C: Classify<S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = crate::BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        loop {
            match self.reserved {
                Some(Reserved::Admitted(_)) => {
                    return self.inner.poll_ready(cx).map_err(Into::into);
                }
                Some(Reserved::Rejected(_)) => return Poll::Ready(Ok(())),
                None => {}
            }
            match self.lanes.breaker.core().acquire(!self.backpressure) {
                Ok(ticket) => {
                    self.reserved = Some(Reserved::Admitted(Guard::new(
                        self.lanes.home().clone(),
                        ticket,
                    )));
                    return self.inner.poll_ready(cx).map_err(Into::into);
                }
                Err(open) if self.backpressure && open.state() == State::Open => {
                    if !self.poll_wait(&open, cx) {
                        return Poll::Pending;
                    }
                }
                Err(open) => {
                    if self.backpressure {
                        self.lanes.breaker.core().count_rejection(&open);
                    }
                    self.reserved = Some(Reserved::Rejected(open));
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let reserved = match self.reserved.take() {
            Some(reserved) => reserved,
            // Called without `poll_ready`: decide now rather than panic.
            None => match self.lanes.breaker.core().acquire(true) {
                Ok(ticket) => Reserved::Admitted(Guard::new(self.lanes.home().clone(), ticket)),
                Err(open) => Reserved::Rejected(open),
            },
        };
        match reserved {
            Reserved::Admitted(mut guard) => {
                guard.begin();
                ResponseFuture::running(self.inner.call(req), guard)
            }
            Reserved::Rejected(open) => ResponseFuture::rejected(open),
        }
    }
}

#[cfg(feature = "keyed")]
impl<C> CircuitBreakerService<(), C> {
    /// A keyed breaker's door for one key: default mode, one lane (a lane per stripe for each
    /// of many keys would cost more memory than their calls save).
    pub(crate) fn door(breaker: CircuitBreaker<C>) -> Self {
        Self::new((), breaker, false, 1)
    }

    /// Decides a call to `ready` (a service made ready by the caller) as `call` does without
    /// `poll_ready`. A keyed breaker keeps one of these per key, so the calls of every keyed
    /// service share its reference to the breaker and allocate nothing.
    pub(crate) fn call_for<S, Req>(&self, mut ready: S, req: Req) -> ResponseFuture<S::Future, C>
    where
        S: Service<Req>,
    {
        match self.lanes.breaker.core().acquire(true) {
            Ok(ticket) => {
                let mut guard = Guard::new(self.lanes.home().clone(), ticket);
                guard.begin();
                ResponseFuture::running(ready.call(req), guard)
            }
            Err(open) => ResponseFuture::rejected(open),
        }
    }
}

impl<S: Clone, C> Clone for CircuitBreakerService<S, C> {
    /// The clone shares the breaker, through this service's reference to it (a reference count,
    /// no allocation: a retry layer above clones the service it wraps for every call); a
    /// reservation made by `self.poll_ready` is not carried over, so the clone must be made ready
    /// itself.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            lanes: Arc::clone(&self.lanes),
            backpressure: self.backpressure,
            reserved: None,
            sleep: None,
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for CircuitBreakerService<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reserved = match &self.reserved {
            None => "none",
            Some(Reserved::Admitted(_)) => "admitted",
            Some(Reserved::Rejected(_)) => "rejected",
        };
        f.debug_struct("CircuitBreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.lanes.breaker)
            .field("backpressure", &self.backpressure)
            .field("reserved", &reserved)
            .finish()
    }
}

#[cfg(all(test, not(bulwark_loom)))]
mod tests {
    use super::*;

    fn made(lanes: &Lanes<DefaultClassifier>) -> usize {
        lanes.lanes.iter().filter(|l| l.get().is_some()).count()
    }

    /// A lane is made the first time a thread of its stripe needs it, and is that thread's from
    /// then on; a call counts its reference in its thread's lane only.
    #[test]
    fn a_thread_makes_its_lane_once_and_its_calls_count_there() {
        let breaker = CircuitBreaker::builder().build().unwrap();
        let lanes = Lanes::new(breaker, 3);
        assert_eq!(lanes.lanes.len(), 4, "rounded up to a power of two");
        assert_eq!(made(&lanes), 0, "nothing is made before a call");
        let mine = Arc::clone(lanes.home());
        assert!(Arc::ptr_eq(&mine, lanes.home()));
        assert_eq!(made(&lanes), 1);
        assert_eq!(Arc::strong_count(&mine), 2, "the lane and this call");
        drop(mine);
        let theirs = std::thread::scope(|s| {
            s.spawn(|| Arc::as_ptr(lanes.home()) as usize)
                .join()
                .unwrap()
        });
        let ours = Arc::as_ptr(lanes.home()) as usize;
        let expected = if theirs == ours { 1 } else { 2 };
        assert_eq!(
            made(&lanes),
            expected,
            "another thread: its own lane, or ours"
        );
        assert_eq!(
            Lanes::new(CircuitBreaker::builder().build().unwrap(), 0)
                .lanes
                .len(),
            1
        );
    }
}
