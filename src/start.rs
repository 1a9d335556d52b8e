//! What a call runs once a pattern admits it (a bulkhead slot, a rate limiter's turn): the
//! standalone closure, or a tower call deferred with the service that was made ready for it.
//! Each pattern keeps its own deferred tower call; the closure's side is here, once.

/// Starts an admitted call.
pub(crate) trait Start {
    /// The call's future.
    type Future;
    /// Starts the call.
    fn start(self) -> Self::Future;
}

impl<F: FnOnce() -> Fut, Fut> Start for F {
    type Future = Fut;

    #[inline]
    fn start(self) -> Fut {
        self()
    }
}
