//! [`Name`]: the name of one pattern instance, carried by its events, `tracing` fields, metric
//! labels, health details and rejection errors.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

/// The name of a pattern instance (`"payments"`), set with the builder's `.name(..)`.
///
/// Every [`Event`](crate::circuit_breaker::Event) of every pattern carries it in a `name` field
/// (and `event.name()` returns it), every `tracing` event has it as its `name` field, every metric
/// has it as its `name` label, and rejection errors print it (`circuit breaker "payments" is
/// open`). An instance that was not named is named after its kind: `"timeout"`, `"retry"`,
/// `"circuit_breaker"`, `"bulkhead"`, `"pipeline"`, `"chaos"`, `"health"`.
///
/// A name is one pointer to a `&'static str`: `Copy`, free to clone and to drop, and no wider
/// than a word, so carrying it in every event, rejection and response future costs a call
/// nothing. Naming an instance interns the name: its text (or, for a `&'static str`, a
/// reference to it) is kept for the life of the process, once per distinct name. Names are
/// meant to be few (one per dependency, as a metric label must be); do not make one per request.
///
/// ```
/// use bulwark::Name;
///
/// let name = Name::from("payments");
/// assert_eq!(name, "payments");
/// assert_eq!(name.as_str(), "payments");
/// let shard = Name::from(format!("shard-{}", 3));
/// assert_eq!(shard.to_string(), "shard-3");
/// // The same text is interned once.
/// assert!(std::ptr::eq(shard.as_str(), Name::from(String::from("shard-3")).as_str()));
/// ```
#[derive(Clone, Copy)]
pub struct Name(&'static &'static str);

impl Name {
    /// A name known at compile time, as a reference to a string literal
    /// (`Name::from_static(&"payments")`): nothing interned or allocated, ever.
    pub const fn from_static(name: &'static &'static str) -> Self {
        Self(name)
    }

    /// The name as a string slice, for as long as the process lives.
    pub const fn as_str(&self) -> &'static str {
        self.0
    }

    /// The interned name for `text`: the same reference for the same text, made once (`leak`
    /// makes the `&'static str` when the text is not static already).
    fn intern(text: &str, leak: impl FnOnce() -> &'static str) -> Self {
        static INTERNED: Mutex<BTreeMap<&'static str, &'static &'static str>> =
            Mutex::new(BTreeMap::new());
        let mut map = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(name) = map.get(text) {
            return Self(name);
        }
        let text = leak();
        let name: &'static &'static str = Box::leak(Box::new(text));
        map.insert(text, name);
        Self(name)
    }

    /// The name as a `metrics` label value (called when handles are registered, not per call).
    #[cfg(feature = "metrics")]
    pub(crate) fn label(&self) -> metrics::SharedString {
        metrics::SharedString::from(*self.0)
    }
}

/// For messages: ` "payments"` (a space, then the name quoted), or nothing for an instance that
/// kept its default name, so an unnamed breaker says `circuit breaker is open` and a named one
/// `circuit breaker "payments" is open`.
#[cfg_attr(
    not(any(
        feature = "timeout",
        feature = "circuit-breaker",
        feature = "bulkhead",
        feature = "keyed"
    )),
    allow(dead_code)
)]
pub(crate) struct Quoted<'a>(pub(crate) &'a Name, pub(crate) &'static str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.as_str() == self.1 {
            Ok(())
        } else {
            write!(f, " {:?}", self.0.as_str())
        }
    }
}

impl From<&'static &'static str> for Name {
    fn from(name: &'static &'static str) -> Self {
        Self::from_static(name)
    }
}

impl From<&'static str> for Name {
    /// Interns the name (see [`Name`]): a reference to the text, not a copy of it.
    fn from(name: &'static str) -> Self {
        Self::intern(name, || name)
    }
}

impl From<String> for Name {
    /// Interns the name (see [`Name`]).
    fn from(name: String) -> Self {
        Self::intern(&name, || Box::leak(name.clone().into_boxed_str()))
    }
}

impl From<Arc<str>> for Name {
    /// Interns the name (see [`Name`]).
    fn from(name: Arc<str>) -> Self {
        Self::intern(&name, || Box::leak(Box::<str>::from(&*name)))
    }
}

impl From<&Name> for Name {
    fn from(name: &Name) -> Self {
        *name
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
