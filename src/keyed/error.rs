//! The rejections of a keyed policy.

use crate::Name;
use std::fmt;

/// A keyed policy turned a call away: its key was new, and every key in its shard was in use
/// by an instance that may not be evicted yet (an open breaker, a limiter still recovering its
/// burst, a bulkhead with calls in flight), so the key could not get an instance without
/// going over [`max_keys`](super::Builder::max_keys).
///
/// The call was never started. The tower layer returns it boxed in a
/// [`BoxError`](crate::BoxError); [`Keyed::run`](super::Keyed::run) returns it inside
/// [`Error::TooManyKeys`](crate::Error::TooManyKeys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyKeys {
    name: Name,
    max_keys: usize,
}

impl TooManyKeys {
    pub(super) fn new(name: Name, max_keys: usize) -> Self {
        Self { name, max_keys }
    }

    /// The name of the keyed policy that turned the call away.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The most keys the policy keeps.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }
}

impl fmt::Display for TooManyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "too many keys{}: all {} in use",
            crate::name::Quoted(&self.name, "keyed"),
            self.max_keys
        )
    }
}

impl std::error::Error for TooManyKeys {}

/// The tower door could not derive the request's key: the key function panicked. The call was
/// never started, and the service carries on with the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoKey {
    name: Name,
}

impl NoKey {
    pub(super) fn new(name: Name) -> Self {
        Self { name }
    }

    /// The name of the keyed policy.
    pub fn name(&self) -> &Name {
        &self.name
    }
}

impl fmt::Display for NoKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no key{}: the key function panicked",
            crate::name::Quoted(&self.name, "keyed")
        )
    }
}

impl std::error::Error for NoKey {}
