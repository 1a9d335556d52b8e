//! The iterator of delays and the jitter arithmetic.

use super::{Backoff, Growth, Jitter};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::fmt;
use std::iter::FusedIterator;
use std::time::Duration;

/// One caller's iterator of delays, made by [`Backoff::delays`]. Infinite, and never allocates.
///
/// Every item lies within `[0, max_delay]` of its [`Backoff`].
#[derive(Clone)]
pub struct Delays {
    config: Backoff,
    /// The index of the next delay, from 0.
    pub(super) next: u32,
    /// The previous delay (decorrelated jitter), in nanoseconds.
    prev: u64,
    /// Seeded at the first jittered delay.
    rng: Option<SmallRng>,
}

impl Delays {
    pub(super) fn new(config: Backoff) -> Self {
        Self {
            config,
            next: 0,
            prev: config.base,
            rng: None,
        }
    }

    /// How many delays this iterator has yielded.
    pub fn yielded(&self) -> u32 {
        self.next
    }

    /// Starts again from the first delay (the random generator carries on).
    pub fn reset(&mut self) {
        self.next = 0;
        self.prev = self.config.base;
    }

    /// The `n`th delay of the curve, capped, before jitter, in nanoseconds.
    fn curve(&self, n: u32) -> u64 {
        let Backoff { base, max, .. } = self.config;
        let raw = match self.config.growth {
            Growth::Constant => base,
            Growth::Linear => base.saturating_mul(u64::from(n) + 1),
            Growth::Exponential(_) if n == 0 => base,
            Growth::Exponential(factor) => {
                let power = i32::try_from(n).unwrap_or(i32::MAX);
                let x = base as f64 * factor.powi(power);
                // `as` saturates and maps NaN to 0; the cap below bounds the result either way.
                if x >= max as f64 { max } else { x as u64 }
            }
        };
        raw.min(max)
    }

    fn rng(&mut self) -> &mut SmallRng {
        let seed = self.config.seed;
        self.rng.get_or_insert_with(|| match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_rng(&mut rand::rng()),
        })
    }
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let n = self.next;
        self.next = self.next.saturating_add(1);
        let nanos = match self.config.jitter {
            Jitter::None => self.curve(n),
            Jitter::Full => {
                let c = self.curve(n);
                self.rng().random_range(0..=c)
            }
            Jitter::Equal => {
                let c = self.curve(n);
                let half = c / 2;
                half + self.rng().random_range(0..=c - half)
            }
            Jitter::Decorrelated => {
                let Backoff { base, max, .. } = self.config;
                let hi = self.prev.saturating_mul(3).min(max);
                let lo = base.min(hi);
                let d = self.rng().random_range(lo..=hi);
                self.prev = d;
                d
            }
        };
        Some(Duration::from_nanos(nanos))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl FusedIterator for Delays {}

impl fmt::Debug for Delays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delays")
            .field("config", &self.config)
            .field("yielded", &self.next)
            .field("seeded", &self.rng.is_some())
            .finish()
    }
}
