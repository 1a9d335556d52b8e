//! The builder of a fault injector.

use super::handle::Shared;
use super::{Chaos, Event};
use crate::ConfigError;
use crate::event::Listeners;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Probabilities are stored as parts per million.
pub(super) const SCALE: f64 = 1_000_000.0;

/// Builds a [`Chaos`]; see [`Chaos::builder`].
#[must_use]
pub struct Builder<E> {
    seed: Option<u64>,
    error: Option<(f64, Box<dyn Fn() -> E + Send + Sync>)>,
    hang: f64,
    latency: Option<(f64, Duration)>,
    listeners: Listeners<Event>,
}

impl<E> Builder<E> {
    pub(super) fn new() -> Self {
        Self {
            seed: None,
            error: None,
            hang: 0.0,
            latency: None,
            listeners: Listeners::new(&"chaos"),
        }
    }

    /// Seeds the random generator, so a run replays the same faults. Without a seed, it is
    /// seeded from the operating system.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Fails a call with probability `probability`, with the error `make` returns.
    pub fn error(mut self, probability: f64, make: impl Fn() -> E + Send + Sync + 'static) -> Self {
        self.error = Some((probability, Box::new(make)));
        self
    }

    /// Names the injector (`"payments-chaos"`): the name is in its events, `tracing` fields and
    /// metric labels. Default: `"chaos"`.
    pub fn name(mut self, name: impl Into<crate::Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Makes a call hang forever with probability `probability`.
    pub fn hang(mut self, probability: f64) -> Self {
        self.hang = probability;
        self
    }

    /// Delays a call by `delay` with probability `probability`.
    pub fn latency(mut self, probability: f64, delay: Duration) -> Self {
        self.latency = Some((probability, delay));
        self
    }

    /// Registers a listener for [`Event`]s.
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// Checks the settings (every probability within [0, 1]) and builds the injector.
    pub fn build(self) -> Result<Chaos<E>, ConfigError> {
        let (error_rate, make_error) = match self.error {
            Some((p, make)) => (to_ppm("error", p)?, Some(make)),
            None => (0, None),
        };
        let (latency_rate, latency) = match self.latency {
            Some((p, d)) => (to_ppm("latency", p)?, d),
            None => (0, Duration::ZERO),
        };
        let rng = match self.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        Ok(Chaos {
            shared: Arc::new(Shared {
                enabled: AtomicBool::new(true),
                error_rate: AtomicU32::new(error_rate),
                hang_rate: AtomicU32::new(to_ppm("hang", self.hang)?),
                latency_rate: AtomicU32::new(latency_rate),
                latency,
                make_error,
                rng: Mutex::new(rng),
                listeners: self.listeners.finish(),
            }),
        })
    }
}

impl<E> fmt::Debug for Builder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("seed", &self.seed)
            .field("error", &self.error.as_ref().map(|(p, _)| p))
            .field("hang", &self.hang)
            .field("latency", &self.latency)
            .finish()
    }
}

pub(super) fn to_ppm(field: &'static str, p: f64) -> Result<u32, ConfigError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(ConfigError::new(
            "chaos",
            field,
            format!("probability {p} is not within [0, 1]"),
        ));
    }
    Ok((p * SCALE).round() as u32)
}
