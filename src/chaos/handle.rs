//! The fault injector's handle: the standalone door (`run`) and the source of tower layers.

use super::builder::{SCALE, to_ppm};
use super::{Builder, ChaosFuture, ChaosLayer, Event, Fault, FaultKind};
use crate::ConfigError;
use crate::event::Listeners;
use rand::RngExt;
use rand::rngs::SmallRng;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fault injector. Build one with [`Chaos::builder`]; clones share all state.
///
/// ```
/// use bulwark::chaos::Chaos;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// // Every call fails: a test of what the caller does when the payment service is down.
/// let chaos = Chaos::builder()
///     .name("payments-down")
///     .seed(7)
///     .error(1.0, || std::io::Error::other("injected"))
///     .build()?;
/// let result = chaos.run(|| async { Ok::<_, std::io::Error>("charged") }).await;
/// assert_eq!(result.unwrap_err().to_string(), "injected");
///
/// chaos.set_enabled(false);
/// let result = chaos.run(|| async { Ok::<_, std::io::Error>("charged") }).await;
/// assert_eq!(result.unwrap(), "charged");
/// # Ok(())
/// # }
/// ```
pub struct Chaos<E> {
    pub(super) shared: Arc<Shared<E>>,
}

pub(super) struct Shared<E> {
    pub(super) enabled: AtomicBool,
    pub(super) error_rate: AtomicU32,
    pub(super) hang_rate: AtomicU32,
    pub(super) latency_rate: AtomicU32,
    pub(super) latency: Duration,
    pub(super) make_error: Option<Box<dyn Fn() -> E + Send + Sync>>,
    pub(super) rng: Mutex<SmallRng>,
    pub(super) listeners: Listeners<Event>,
}

impl<E> Chaos<E> {
    /// Starts a builder: no fault is injected until a rate is set.
    pub fn builder() -> Builder<E> {
        Builder::new()
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
    pub fn set_rate(&self, kind: FaultKind, probability: f64) -> Result<(), ConfigError> {
        let (field, slot) = match kind {
            FaultKind::Error => ("error", &self.shared.error_rate),
            FaultKind::Hang => ("hang", &self.shared.hang_rate),
            FaultKind::Latency => ("latency", &self.shared.latency_rate),
        };
        let ppm = to_ppm(field, probability)?;
        if kind == FaultKind::Error && ppm > 0 && self.shared.make_error.is_none() {
            return Err(ConfigError::new(
                "chaos",
                "error",
                "no error closure was configured",
            ));
        }
        slot.store(ppm, Ordering::Relaxed);
        Ok(())
    }

    /// Draws the fault for one call, if any.
    fn draw(&self) -> Option<Fault> {
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
            s.listeners.emit(|name| Event::Injected { name, fault: f });
        }
        fault
    }

    /// A fresh injected error. Only called after [`Fault::Error`] was drawn, which requires a closure.
    fn make_error(&self) -> Option<E> {
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
        self.start(f)
    }

    /// The one door of both `run` and the tower service: draws the fault, then calls `call`
    /// unless the fault is an injected error.
    pub(super) fn start<Fut>(&self, call: impl FnOnce() -> Fut) -> ChaosFuture<Fut, E> {
        match self.draw() {
            Some(Fault::Error) => match self.make_error() {
                Some(e) => ChaosFuture::failed(e),
                None => ChaosFuture::new(call(), None),
            },
            fault => ChaosFuture::new(call(), fault),
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
