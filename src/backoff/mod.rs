//! Delays between attempts: constant, linear or exponential growth, capped, with jitter.
//!
//! Use it wherever something is tried again after a failure: the retry pattern sleeps for these
//! delays between attempts, the circuit breaker can grow its open duration with them, and the saga
//! uses them between compensation retries. A [`Backoff`] is a small, `Copy` configuration;
//! [`Backoff::delays`] makes a fresh iterator of delays ([`Delays`]) for one caller, without
//! allocating.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use bulwark::backoff::{Backoff, Jitter};
//!
//! # fn main() -> Result<(), bulwark::ConfigError> {
//! let backoff = Backoff::exponential(Duration::from_millis(100))
//!     .factor(2.0)
//!     .max_delay(Duration::from_secs(5))
//!     .jitter(Jitter::None)
//!     .build()?;
//!
//! let delays: Vec<_> = backoff.delays().take(8).map(|d| d.as_millis()).collect();
//! assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
//!
//! // With full jitter (the default), each delay is drawn from [0, capped delay].
//! let jittered = Backoff::exponential(Duration::from_millis(100))
//!     .max_delay(Duration::from_secs(5))
//!     .build()?;
//! assert!(jittered.delays().take(50).all(|d| d <= Duration::from_secs(5)));
//! # Ok(())
//! # }
//! ```
//!
//! # Growth
//!
//! The `n`th delay (counting from 0, before any jitter) is
//!
//! | curve | delay `n` |
//! |---|---|
//! | [`constant(d)`](Backoff::constant) | `d` |
//! | [`linear(d)`](Backoff::linear) | `d × (n + 1)` |
//! | [`exponential(d)`](Backoff::exponential) | `d × factorⁿ` (factor 2 unless set) |
//!
//! and is then capped at [`max_delay`](BackoffBuilder::max_delay) (30 seconds, or the base delay
//! if that is larger, unless set). Unlike some crates, "exponential" here is `base × factorⁿ`, not
//! `baseⁿ`.
//!
//! # Jitter
//!
//! Clients that failed together retry together unless their delays are spread. With `c` the capped
//! delay of the curve:
//!
//! | [`Jitter`] | delay |
//! |---|---|
//! | `None` | `c` |
//! | `Full` (default) | uniform in `[0, c]` |
//! | `Equal` | `c / 2` plus uniform in `[0, c / 2]` |
//! | `Decorrelated` | uniform in `[base, min(max, 3 × previous delay)]` |
//!
//! `Decorrelated` is the "decorrelated jitter" of the AWS Architecture Blog ("Exponential Backoff
//! and Jitter"), which Polly's `DecorrelatedJitterBackoffV2` refines: each delay depends on the
//! previous one rather than on the curve. The published formula draws first and caps afterwards,
//! `min(max, uniform(base, 3 × previous))`, so once it reaches the cap most clients sit exactly
//! *at* the cap, in lockstep again. Here the cap is applied to the *range* before drawing, so
//! clients at the cap stay spread over `[base, max]`.
//!
//! **Every delay lies within `[0, max_delay]`**, whatever the jitter, the seed and the attempt: the
//! jitter is drawn inside the capped range, never added on top of it (a property test checks this
//! for arbitrary settings). And since the range is never collapsed to a point by the cap, jitter
//! keeps spreading clients that have reached the cap.
//!
//! # Randomness
//!
//! Jitter draws from a small, fast generator (`rand`'s `SmallRng`) held inside each [`Delays`].
//! It is seeded lazily, at the first jittered delay, from the thread's random generator, so a caller
//! that never needs a delay never touches randomness. [`BackoffBuilder::seed`] fixes the seed for
//! tests: every `delays()` of that backoff then yields the same sequence.
//!
//! # Your own delays
//!
//! Code that takes a backoff (the retry pattern, for one) takes any [`MakeDelays`]: [`Backoff`]
//! itself, or a closure returning a fresh iterator of delays. A finite iterator ends the retries
//! when it runs out.
//!
//! ```
//! use std::time::Duration;
//! use bulwark::backoff::MakeDelays;
//!
//! let fixed = || [Duration::from_millis(10), Duration::from_millis(50)].into_iter();
//! assert_eq!(fixed.delays().count(), 2);
//! ```

mod builder;
mod delays;
mod settings;
mod tries;

use std::time::Duration;

pub use builder::BackoffBuilder;
pub use delays::Delays;
pub use settings::{Curve, Settings};
#[cfg(any(feature = "retry", feature = "saga"))]
#[cfg_attr(not(feature = "retry"), allow(unused_imports))]
pub(crate) use tries::{GiveUp, Next, Tries};

/// How the delay grows with the attempt, before the cap and jitter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Growth {
    Constant,
    Linear,
    Exponential(f64),
}

/// How delays are spread around the curve. See the [module docs](self#jitter) for the formulas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Deserialize, serde::Serialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Jitter {
    /// No jitter: the delays follow the curve exactly.
    None,
    /// Uniform in `[0, c]`, `c` being the capped delay of the curve.
    #[default]
    Full,
    /// Half the capped delay, plus uniform in `[0, c / 2]`.
    Equal,
    /// Uniform in `[base, min(max, 3 × previous delay)]`; ignores the growth curve.
    Decorrelated,
}

/// A validated backoff configuration: the curve, its cap, its jitter and an optional seed.
///
/// `Copy` and small: share it freely, and call [`delays`](Self::delays) once per caller (per
/// call, per retry loop) to get that caller's own iterator of delays.
///
/// ```
/// use std::time::Duration;
/// use bulwark::backoff::{Backoff, Jitter};
///
/// # fn main() -> Result<(), bulwark::ConfigError> {
/// let backoff = Backoff::exponential(Duration::from_millis(100))
///     .max_delay(Duration::from_millis(500))
///     .jitter(Jitter::None)
///     .build()?;
/// let delays: Vec<_> = backoff.delays().take(4).collect();
/// assert_eq!(delays, [100, 200, 400, 500].map(Duration::from_millis));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// Nanoseconds; all arithmetic is saturating integer arithmetic on nanoseconds.
    pub(crate) base: u64,
    pub(crate) max: u64,
    pub(crate) growth: Growth,
    pub(crate) jitter: Jitter,
    pub(crate) seed: Option<u64>,
}

impl Backoff {
    /// The same delay every time.
    pub fn constant(delay: Duration) -> BackoffBuilder {
        BackoffBuilder::new(delay, Growth::Constant)
    }

    /// Delays that grow by `step` each time: `step`, `2 × step`, `3 × step`, ...
    pub fn linear(step: Duration) -> BackoffBuilder {
        BackoffBuilder::new(step, Growth::Linear)
    }

    /// Delays that grow by a factor each time: `base`, `base × factor`, `base × factor²`, ...
    /// The factor is 2 unless set with [`BackoffBuilder::factor`].
    pub fn exponential(base: Duration) -> BackoffBuilder {
        BackoffBuilder::new(base, Growth::Exponential(2.0))
    }

    /// A fresh iterator of delays, starting from the first. Never allocates.
    ///
    /// The iterator is infinite; bound it with `take` or let the caller's own limits stop it.
    pub fn delays(&self) -> Delays {
        Delays::new(*self)
    }

    /// The first delay of the curve, before jitter.
    pub fn base_delay(&self) -> Duration {
        Duration::from_nanos(self.base)
    }

    /// The cap: no delay is longer.
    pub fn max_delay(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The jitter applied to the curve.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }
}

impl Default for Backoff {
    /// Exponential from 100 ms, factor 2, capped at 30 s, full jitter.
    fn default() -> Self {
        Self {
            base: 100_000_000,
            max: 30_000_000_000,
            growth: Growth::Exponential(2.0),
            jitter: Jitter::Full,
            seed: None,
        }
    }
}

/// Makes a fresh iterator of delays for each caller: what code that takes a backoff accepts.
///
/// Implemented by [`Backoff`] and by closures `Fn() -> I` where `I` is an iterator (or anything
/// `IntoIterator`) of `Duration`s.
pub trait MakeDelays {
    /// The iterator of delays for one caller.
    type Delays: Iterator<Item = Duration>;

    /// A fresh iterator of delays, starting from the first.
    fn delays(&self) -> Self::Delays;
}

impl MakeDelays for Backoff {
    type Delays = Delays;

    #[inline]
    fn delays(&self) -> Delays {
        Backoff::delays(self)
    }
}

impl<F, I> MakeDelays for F
where
    F: Fn() -> I,
    I: IntoIterator<Item = Duration>,
{
    type Delays = I::IntoIter;

    fn delays(&self) -> Self::Delays {
        self().into_iter()
    }
}

#[cfg(test)]
mod tests;
