//! The tower service of a keyed policy.

use super::future::{Refusal, ResponseFuture};
use super::policy::{Policy, ServicePolicy};
use super::{Keyed, NoKey};
use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::{Context, Poll};
use tower::Service;

/// A service whose calls each go through the instance of their key; made by
/// [`KeyedLayer`](super::KeyedLayer).
///
/// `poll_ready` is the inner service's: the key is not known until `call`, so no instance can
/// be asked for readiness (see [Backpressure](super#backpressure)). In `call` the key is read
/// from the request, its instance found (or made), and the service that was made ready is handed
/// to the instance with the request, a clone taking its place here.
pub struct KeyedService<S, K, P: Policy, F, Q: ?Sized> {
    inner: S,
    keyed: Keyed<K, P>,
    key: F,
    _query: PhantomData<fn(&Q)>,
}

impl<S, K, P: Policy, F, Q: ?Sized> KeyedService<S, K, P, F, Q> {
    pub(super) fn new(inner: S, keyed: Keyed<K, P>, key: F) -> Self {
        Self {
            inner,
            keyed,
            key,
            _query: PhantomData,
        }
    }

    /// The keyed policy this service's calls go through.
    pub fn keyed(&self) -> &Keyed<K, P> {
        &self.keyed
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes this service, returning the inner one.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, K, P, F, Q, Req> Service<Req> for KeyedService<S, K, P, F, Q>
where
    S: Service<Req> + Clone,
    S::Error: Into<crate::BoxError>,
    K: Hash + Eq + Borrow<Q> + fmt::Debug,
    P: ServicePolicy<S, Req>,
    F: for<'a> Fn(&'a Req) -> &'a Q,
    Q: Hash + Eq + ToOwned<Owned = K> + fmt::Debug + ?Sized,
{
    type Response = S::Response;
    type Error = crate::BoxError;
    type Future = ResponseFuture<P::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        // The key function is user code: a panic in it fails this call, not the service.
        let found = match catch_unwind(AssertUnwindSafe(|| (self.key)(&request))) {
            Ok(key) => self.keyed.instance(key).map_err(Refusal::TooManyKeys),
            Err(_) => Err(Refusal::NoKey(NoKey::new(*self.keyed.name()))),
        };
        match found {
            Ok(instance) => {
                // The service made ready goes with the call; a clone (not ready) stays here.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                let future = instance.policy.call(&instance.door, ready, request);
                ResponseFuture::running(future, instance)
            }
            Err(refusal) => ResponseFuture::refused(refusal),
        }
    }
}

/// A key function that returns an owned key, for keys that must be computed from the request
/// (made by [`Keyed::layer_owned`](super::Keyed::layer_owned)).
#[derive(Clone, Copy)]
pub struct Owned<F>(pub(super) F);

impl<F> fmt::Debug for Owned<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Owned")
            .field(&std::any::type_name::<F>())
            .finish()
    }
}

impl<S, K, P, F, Req> Service<Req> for KeyedService<S, K, P, Owned<F>, K>
where
    S: Service<Req> + Clone,
    S::Error: Into<crate::BoxError>,
    K: Hash + Eq + Clone + fmt::Debug,
    P: ServicePolicy<S, Req>,
    F: Fn(&Req) -> K,
{
    type Response = S::Response;
    type Error = crate::BoxError;
    type Future = ResponseFuture<P::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, request: Req) -> Self::Future {
        let found = match catch_unwind(AssertUnwindSafe(|| (self.key.0)(&request))) {
            Ok(key) => self.keyed.instance(&key).map_err(Refusal::TooManyKeys),
            Err(_) => Err(Refusal::NoKey(NoKey::new(*self.keyed.name()))),
        };
        match found {
            Ok(instance) => {
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                let future = instance.policy.call(&instance.door, ready, request);
                ResponseFuture::running(future, instance)
            }
            Err(refusal) => ResponseFuture::refused(refusal),
        }
    }
}

impl<S: Clone, K, P: Policy, F: Clone, Q: ?Sized> Clone for KeyedService<S, K, P, F, Q> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), self.keyed.clone(), self.key.clone())
    }
}

impl<S: fmt::Debug, K, P: Policy, F, Q: ?Sized> fmt::Debug for KeyedService<S, K, P, F, Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedService")
            .field("inner", &self.inner)
            .field("name", self.keyed.name())
            .field("key", &std::any::type_name::<F>())
            .finish()
    }
}
