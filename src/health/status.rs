//! The vocabulary of checks: [`Status`], [`Tag`] and [`Detail`] values.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// The status of one check, or of a whole report. Ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Working.
    Healthy,
    /// Working, with something wrong that needs attention (an optional dependency is down, a
    /// circuit is open). Probes still pass.
    Degraded,
    /// Not working. Readiness and liveness probes fail.
    Unhealthy,
}

impl Status {
    /// The worse of two statuses.
    #[must_use]
    pub fn worst(self, other: Status) -> Status {
        self.max(other)
    }

    /// Whether a probe passes: `Healthy` or `Degraded`.
    pub fn is_up(self) -> bool {
        self != Status::Unhealthy
    }

    /// Every status, best first.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) const ALL: [Status; 3] = [Status::Healthy, Status::Degraded, Status::Unhealthy];

    /// The lower-case name: `healthy`, `degraded` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A label on a check, used to ask for a report of one kind of check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// The process is alive; failing means "restart me". Keep these checks free of dependencies.
    Liveness,
    /// The process can serve traffic; failing means "take me out of the load balancer".
    Readiness,
    /// The process has finished starting.
    Startup,
    /// Any other label.
    Custom(Cow<'static, str>),
}

impl Tag {
    /// A custom tag.
    pub fn custom(name: impl Into<Cow<'static, str>>) -> Self {
        Tag::Custom(name.into())
    }
}

/// One value in a check's details.
#[derive(Clone, Debug, PartialEq)]
pub enum Detail {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(Cow<'static, str>),
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Bool(v) => v.fmt(f),
            Detail::Int(v) => v.fmt(f),
            Detail::UInt(v) => v.fmt(f),
            Detail::Float(v) => v.fmt(f),
            Detail::Text(v) => v.fmt(f),
        }
    }
}

macro_rules! detail_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for Detail {
            fn from(v: $t) -> Self {
                Detail::$variant(<$as>::from(v))
            }
        }
    )*};
}

detail_from!(
    bool => Bool as bool,
    i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int as i64,
    u8 => UInt as u64, u16 => UInt as u64, u32 => UInt as u64, u64 => UInt as u64,
    f32 => Float as f64, f64 => Float as f64,
    &'static str => Text as Cow<'static, str>, String => Text as Cow<'static, str>,
    Cow<'static, str> => Text as Cow<'static, str>,
);

impl From<crate::Name> for Detail {
    fn from(v: crate::Name) -> Self {
        Detail::Text(Cow::Owned(v.as_str().to_owned()))
    }
}

impl From<usize> for Detail {
    fn from(v: usize) -> Self {
        Detail::UInt(u64::try_from(v).unwrap_or(u64::MAX))
    }
}

/// A check's details: named values, shown by the HTTP endpoint only when configured to.
pub type Details = BTreeMap<Cow<'static, str>, Detail>;
