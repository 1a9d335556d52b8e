//! [`Name`]: the name of one pattern instance, carried by its events, `tracing` fields, metric
//! labels, health details and rejection errors.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// The name of a pattern instance (`"payments"`), set with the builder's `.name(..)`.
///
/// Every [`Event`](crate::circuit_breaker::Event) of every pattern carries it in a `name` field
/// (and `event.name()` returns it), every `tracing` event has it as its `name` field, every metric
/// has it as its `name` label, and rejection errors print it (`circuit breaker "payments" is
/// open`). An instance that was not named is named after its kind: `"timeout"`, `"retry"`,
/// `"circuit_breaker"`, `"bulkhead"`, `"pipeline"`, `"chaos"`, `"health"`.
///
/// Cloning is cheap and never allocates: a pattern's default name is a static reference, any
/// other is shared behind an `Arc` (made once, when the name is set). A name is two words.
///
/// ```
/// use bulwark::Name;
///
/// let name = Name::from("payments");
/// assert_eq!(Name::from_static(&"payments"), name);
/// assert_eq!(name, "payments");
/// assert_eq!(name.as_str(), "payments");
/// assert_eq!(Name::from(format!("shard-{}", 3)).to_string(), "shard-3");
/// ```
#[derive(Clone)]
pub struct Name(Repr);

// Both variants are one thin pointer, so a name is two words: it sits in every event, every
// rejection error and every response future that can hold one.
#[derive(Clone)]
enum Repr {
    Static(&'static &'static str),
    Shared(Arc<Box<str>>),
}

impl Name {
    /// A name known at compile time, as a reference to a string literal: `Name::from_static(&"payments")`
    /// (no allocation, ever). `Name::from("payments")` allocates once instead.
    pub const fn from_static(name: &'static &'static str) -> Self {
        Self(Repr::Static(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }

    /// The name as a `metrics` label value (called when handles are registered, not per call).
    #[cfg(feature = "metrics")]
    pub(crate) fn label(&self) -> metrics::SharedString {
        match &self.0 {
            Repr::Static(s) => metrics::SharedString::from(**s),
            Repr::Shared(s) => metrics::SharedString::from(String::from(&***s)),
        }
    }
}

/// For messages: ` "payments"` (a space, then the name quoted), or nothing for an instance that
/// kept its default name, so an unnamed breaker says `circuit breaker is open` and a named one
/// `circuit breaker "payments" is open`.
#[cfg_attr(
    not(any(feature = "timeout", feature = "circuit-breaker", feature = "bulkhead")),
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

impl From<&str> for Name {
    fn from(name: &str) -> Self {
        Self(Repr::Shared(Arc::new(name.into())))
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Self(Repr::Shared(Arc::new(name.into_boxed_str())))
    }
}

impl From<Arc<str>> for Name {
    fn from(name: Arc<str>) -> Self {
        Self::from(&*name)
    }
}

impl From<&Name> for Name {
    fn from(name: &Name) -> Self {
        name.clone()
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
