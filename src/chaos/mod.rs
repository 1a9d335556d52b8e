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
//! # async fn main() -> Result<(), bulwark::ConfigError> {
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

mod builder;
mod events;
mod fault;
mod future;
mod handle;
mod layer;
mod service;

pub use builder::Builder;
pub use events::Event;
pub use fault::{Fault, FaultKind};
pub use future::ChaosFuture;
pub use handle::Chaos;
pub use layer::ChaosLayer;
pub use service::ChaosService;
