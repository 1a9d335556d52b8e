//! The timeout handle: the standalone door (`run`) and the source of tower layers.

use super::{Event, Run, TimeoutLayer};
use crate::event::Listeners;
use std::future::IntoFuture;
use std::time::Duration;

/// A standalone timeout: bounds any future with [`run`](Self::run).
///
/// Cheap to clone; clones share their listeners.
///
/// ```
/// use bulwark::timeout::Timeout;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let timeout = Timeout::new(Duration::from_millis(100));
/// assert_eq!(timeout.run(async { 7 }).await.unwrap(), 7);
/// let hung = timeout.run(tokio::time::sleep(Duration::from_secs(5))).await;
/// assert!(hung.is_err(), "timed out after 100 ms");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Timeout {
    duration: Duration,
    listeners: Listeners<Event>,
}

impl Timeout {
    /// A timeout of `duration`.
    pub fn new(duration: Duration) -> Self {
        Self {
            duration,
            listeners: Listeners::new(&"timeout"),
        }
    }

    /// Names this timeout (`Timeout::new(d).name("payments")`): the name is in its events,
    /// `tracing` fields, metric labels and [`Elapsed`](super::Elapsed)'s message. Default:
    /// `"timeout"`.
    #[must_use]
    pub fn name(mut self, name: impl Into<crate::Name>) -> Self {
        self.listeners = self.listeners.named(name.into());
        self
    }

    /// Registers a listener for this timeout's [`Event`]s.
    #[must_use]
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.listeners = self.listeners.with(f);
        self
    }

    /// The time a call may take.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Runs `future`, failing with [`Elapsed`](super::Elapsed) if it has not completed within the timeout.
    ///
    /// The deadline starts now, not at the first poll.
    pub fn run<F: IntoFuture>(&self, future: F) -> Run<F::IntoFuture> {
        Run::new(future.into_future(), self.duration, self.listeners.clone())
    }

    /// A tower layer with this timeout and these listeners.
    pub fn layer(&self) -> TimeoutLayer {
        let mut layer = TimeoutLayer::new(self.duration);
        layer.listeners = self.listeners.clone();
        layer
    }
}
