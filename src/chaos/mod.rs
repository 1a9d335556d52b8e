//! Injects faults (latency, errors, hangs) into calls, on purpose, to test what a stack does
//! when its dependencies misbehave.
//!
//! Use it in tests, demos and game days: wrap a dependency (or your own stack) in a [`Chaos`] and
//! watch timeouts fire, retries spend their budget and breakers open. Every decision is drawn from a
//! seeded random generator, so a scenario replays the same way each time; rates can be changed while
//! the service runs, and [`Chaos::set_enabled`] switches all injection off or on at once.
//!
//! Faults, each with its own probability, drawn independently per call in this order:
//! - **error**: the call fails at once with a value from a closure; the inner call is not made;
//! - **hang**: the call never completes (until the caller drops it, or a timeout does);
//! - **latency**: the call is delayed by a fixed duration before the inner future is first polled.
//!
//! # Standalone
//!
//! ```
//! use std::time::Duration;
//! use bulwark::chaos::Chaos;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), bulwark::chaos::BuildError> {
//! let chaos = Chaos::builder()
//!     .seed(7)
//!     .error(0.5, || "injected")
//!     .latency(0.2, Duration::from_millis(300))
//!     .build()?;
//!
//! let mut failures = 0;
//! for _ in 0..100 {
//!     if chaos.run(|| async { Ok::<_, &str>(1) }).await.is_err() {
//!         failures += 1;
//!     }
//! }
//! assert!((30..70).contains(&failures));
//!
//! chaos.set_enabled(false);
//! assert_eq!(chaos.run(|| async { Ok::<_, &str>(1) }).await, Ok(1));
//! # Ok(())
//! # }
//! ```
//!
//! # Tower
//!
//! [`Chaos::layer`] wraps a service whose error type is the chaos handle's error type, so an
//! injected error looks exactly like one the service could return:
//!
//! ```
//! use bulwark::chaos::Chaos;
//! use tower::{service_fn, BoxError, Layer, Service, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let chaos = Chaos::builder()
//!     .seed(1)
//!     .error(1.0, || BoxError::from("payment service unavailable"))
//!     .build()?;
//! let mut svc = chaos.layer().layer(service_fn(|n: u32| async move { Ok::<_, BoxError>(n) }));
//! let err = svc.ready().await?.call(1).await.unwrap_err();
//! assert_eq!(err.to_string(), "payment service unavailable");
//! # Ok(())
//! # }
//! ```
//!
//! # Clone
//!
//! Clones of a [`Chaos`] handle, its layers and their services share the rates, the switch and the
//! random generator.
//!
//! # Backpressure
//!
//! `poll_ready` is the inner service's; faults are injected in `call` and its future.
//!
//! # Cancellation
//!
//! Dropping a call's future drops the inner future, whatever fault it was in.

mod future;
mod layer;

use crate::event::{Listeners, PatternEvent};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use future::ChaosFuture;
pub use layer::{ChaosLayer, ChaosService};

/// Probabilities are stored as parts per million.
const SCALE: f64 = 1_000_000.0;

/// A fault injector. Build one with [`Chaos::builder`]; clones share all state.
pub struct Chaos<E> {
    shared: Arc<Shared<E>>,
}

struct Shared<E> {
    enabled: AtomicBool,
    error_rate: AtomicU32,
    hang_rate: AtomicU32,
    latency_rate: AtomicU32,
    latency: Duration,
    make_error: Option<Box<dyn Fn() -> E + Send + Sync>>,
    rng: Mutex<SmallRng>,
    listeners: Listeners<Event>,
}

/// The fault chosen for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The call failed at once with an injected error.
    Error,
    /// The call never completes.
    Hang,
    /// The call was delayed by this much.
    Latency(Duration),
}

/// Something the injector did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A fault was injected into a call.
    Injected(Fault),
}

impl PatternEvent for Event {
    #[cfg(feature = "tracing")]
    fn trace(&self) {
        let Event::Injected(fault) = self;
        tracing::info!(target: "bulwark::chaos", fault = ?fault, "fault injected");
    }
}

/// Which rate to change with [`Chaos::set_rate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Injected errors.
    Error,
    /// Hangs.
    Hang,
    /// Added latency.
    Latency,
}

/// An invalid chaos setting: the field and why.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid chaos setting `{field}`: {reason}")]
pub struct BuildError {
    field: &'static str,
    reason: String,
}

impl<E> Chaos<E> {
    /// Starts a builder: no fault is injected until a rate is set.
    pub fn builder() -> Builder<E> {
        Builder {
            seed: None,
            error: None,
            hang: 0.0,
            latency: None,
            listeners: Listeners::new(),
        }
    }

    /// Turns all injection on or off, for every clone and service.
    pub fn set_enabled(&self, enabled: bool) {
        self.shared.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Whether injection is on.
    pub fn is_enabled(&self) -> bool {
        self.shared.enabled.load(Ordering::Relaxed)
    }

    /// Changes the probability of one kind of fault while running.
    ///
    /// Fails if `probability` is not within [0, 1], or if it is an error rate and no error
    /// closure was configured.
    pub fn set_rate(&self, kind: FaultKind, probability: f64) -> Result<(), BuildError> {
        let (field, slot) = match kind {
            FaultKind::Error => ("error", &self.shared.error_rate),
            FaultKind::Hang => ("hang", &self.shared.hang_rate),
            FaultKind::Latency => ("latency", &self.shared.latency_rate),
        };
        let ppm = to_ppm(field, probability)?;
        if kind == FaultKind::Error && ppm > 0 && self.shared.make_error.is_none() {
            return Err(invalid("error", "no error closure was configured".into()));
        }
        slot.store(ppm, Ordering::Relaxed);
        Ok(())
    }

    /// Draws the fault for one call, if any.
    pub(crate) fn draw(&self) -> Option<Fault> {
        let s = &*self.shared;
        if !s.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let rates = [
            (s.error_rate.load(Ordering::Relaxed), Fault::Error),
            (s.hang_rate.load(Ordering::Relaxed), Fault::Hang),
            (
                s.latency_rate.load(Ordering::Relaxed),
                Fault::Latency(s.latency),
            ),
        ];
        if rates.iter().all(|(ppm, _)| *ppm == 0) {
            return None;
        }
        let fault = {
            let mut rng = s.rng.lock().unwrap_or_else(|p| p.into_inner());
            rates
                .into_iter()
                .find(|(ppm, _)| *ppm > 0 && rng.random_range(0..1_000_000) < *ppm)
                .map(|(_, fault)| fault)
        };
        if let Some(f) = fault {
            s.listeners.emit(|| Event::Injected(f));
        }
        fault
    }

    /// A fresh injected error. Only called after [`Fault::Error`] was drawn, which requires a closure.
    pub(crate) fn make_error(&self) -> Option<E> {
        self.shared.make_error.as_ref().map(|f| f())
    }

    /// Runs the future `f` builds, with a fault injected according to the rates.
    ///
    /// With an injected error, `f` is not called at all.
    pub fn run<T, F, Fut>(&self, f: F) -> ChaosFuture<Fut, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        match self.draw() {
            Some(Fault::Error) => match self.make_error() {
                Some(e) => ChaosFuture::failed(e),
                None => ChaosFuture::new(f(), None),
            },
            fault => ChaosFuture::new(f(), fault),
        }
    }

    /// A tower layer sharing this injector.
    pub fn layer(&self) -> ChaosLayer<E> {
        ChaosLayer::new(self.clone())
    }
}

impl<E> Clone for Chaos<E> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<E> fmt::Debug for Chaos<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &*self.shared;
        let rate = |a: &AtomicU32| f64::from(a.load(Ordering::Relaxed)) / SCALE;
        f.debug_struct("Chaos")
            .field("enabled", &self.is_enabled())
            .field("error_rate", &rate(&s.error_rate))
            .field("hang_rate", &rate(&s.hang_rate))
            .field("latency_rate", &rate(&s.latency_rate))
            .field("latency", &s.latency)
            .field("error", &std::any::type_name::<E>())
            .finish()
    }
}

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
    pub fn build(self) -> Result<Chaos<E>, BuildError> {
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
                listeners: self.listeners,
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

fn to_ppm(field: &'static str, p: f64) -> Result<u32, BuildError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(invalid(
            field,
            format!("probability {p} is not within [0, 1]"),
        ));
    }
    Ok((p * SCALE).round() as u32)
}

fn invalid(field: &'static str, reason: String) -> BuildError {
    BuildError { field, reason }
}
