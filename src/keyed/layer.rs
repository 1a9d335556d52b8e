//! The tower layer of a keyed policy.

use super::policy::Policy;
use super::{Keyed, KeyedService};
use std::fmt;
use std::marker::PhantomData;
use tower::Layer;

/// Wraps services in a [`Keyed`] policy; made by [`Keyed::layer`].
///
/// Every service it makes, and every clone of those, shares the keyed policy's one map of
/// instances, however many times [`Layer::layer`] is called.
pub struct KeyedLayer<K, P: Policy, F, Q: ?Sized> {
    keyed: Keyed<K, P>,
    key: F,
    _query: PhantomData<fn(&Q)>,
}

impl<K, P: Policy, F, Q: ?Sized> KeyedLayer<K, P, F, Q> {
    pub(super) fn new(keyed: Keyed<K, P>, key: F) -> Self {
        Self {
            keyed,
            key,
            _query: PhantomData,
        }
    }

    /// The keyed policy this layer's services share.
    pub fn keyed(&self) -> &Keyed<K, P> {
        &self.keyed
    }
}

impl<S, K, P: Policy, F: Clone, Q: ?Sized> Layer<S> for KeyedLayer<K, P, F, Q> {
    type Service = KeyedService<S, K, P, F, Q>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedService::new(inner, self.keyed.clone(), self.key.clone())
    }
}

impl<K, P: Policy, F: Clone, Q: ?Sized> Clone for KeyedLayer<K, P, F, Q> {
    fn clone(&self) -> Self {
        Self::new(self.keyed.clone(), self.key.clone())
    }
}

impl<K, P: Policy, F, Q: ?Sized> fmt::Debug for KeyedLayer<K, P, F, Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLayer")
            .field("name", self.keyed.name())
            .field("key", &std::any::type_name::<F>())
            .finish()
    }
}
