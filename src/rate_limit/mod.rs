//! Limits how often calls are made: at most `n` per period, with a burst, on the generic cell
//! rate algorithm (GCRA).
//!
//! Put a rate limiter in front of a dependency that has a quota (a paid API, a database that
//! must not be flooded) or in front of your own handler, to keep one client from taking the
//! whole service. A call over the limit is turned away at once with [`RateLimited`], which says
//! when to come back ([`RateLimited::retry_after`]); or, with [`Builder::max_wait`], it waits for
//! its turn if that turn is near enough.
//!
//! # The guarantee
//!
//! With `rate(n, per)` and `burst(b)`, **no window of any length `len` admits more than
//! `b + n * len / per` calls**, counting each call at the instant it was admitted (for a call
//! that waited, the instant its turn came). That holds for calls on any number of threads: each
//! decision is one compare-and-swap of one atomic word (the theoretical arrival time), and the
//! bound follows from the swaps' order whatever order the threads read the clock in. The
//! interval between cells is `per / n` rounded up to a whole nanosecond, so rounding never
//! admits more than asked. After an idle period the full burst is available again; at the
//! steady rate one call is admitted every `per / n`.
//!
//! The instant a call is admitted at is the clock reading of its decision, taken just before
//! its swap (and taken again when the swap fails, so a call that lost the race to a call with a
//! later reading is not turned away on its stale one): a thread descheduled between the reading
//! and the swap is counted at its reading.
//!
//! # Standalone
//!
//! [`RateLimiter::run`] runs a closure's future once the call is admitted, and returns the
//! crate's flat [`Error`](crate::Error); [`RateLimiter::try_acquire`] decides one call without
//! running anything:
//!
//! ```
//! use std::time::Duration;
//! use bulwark::Error;
//! use bulwark::rate_limit::RateLimiter;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // 2 calls per second, 2 at once.
//! let limiter = RateLimiter::builder()
//!     .rate(2, Duration::from_secs(1))
//!     .burst(2)
//!     .build()?;
//!
//! for order in 1..=2 {
//!     let n = limiter.run(|| async move { Ok::<_, std::io::Error>(order) }).await?;
//!     assert_eq!(n, order);
//! }
//! match limiter.run(|| async { Ok::<_, std::io::Error>(3) }).await {
//!     Err(Error::RateLimited(limited)) => {
//!         assert_eq!(limited.retry_after(), Duration::from_millis(500));
//!     }
//!     other => unreachable!("{other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Tower
//!
//! [`RateLimiter::layer`] gives a [`RateLimitLayer`]; its errors are
//! [`BoxError`](crate::BoxError)s, and a rejection is a [`RateLimited`] inside one:
//!
//! ```
//! use std::time::Duration;
//! use bulwark::rate_limit::{RateLimited, RateLimiter};
//! use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! let limiter = RateLimiter::builder().rate(1, Duration::from_secs(1)).build()?;
//! let mut svc = ServiceBuilder::new()
//!     .layer(limiter.layer())
//!     .service(service_fn(|name: &'static str| async move { Ok::<_, BoxError>(name) }));
//!
//! assert_eq!(svc.ready().await?.call("first").await?, "first");
//! let err = svc.ready().await?.call("second").await.unwrap_err();
//! let limited = err.downcast_ref::<RateLimited>().ok_or("not a rate limit")?;
//! assert_eq!(limited.retry_after(), Duration::from_secs(1));
//! # Ok(())
//! # }
//! ```
//!
//! With [`ServiceBuilderExt::bulwark_rate_limit`](crate::ServiceBuilderExt::bulwark_rate_limit)
//! the same stack reads `ServiceBuilder::new().bulwark_rate_limit(&limiter)`.
//!
//! # Waiting for a turn
//!
//! With [`Builder::max_wait`], a call over the limit whose turn is at most `max_wait` away
//! reserves that turn when it is decided and waits for it; a call whose turn is further away is
//! turned away at once (it does not wait to be refused). Reserved turns are taken in the order
//! the calls were decided, so waiting calls are served first come, first served, and the
//! guarantee above counts each at its turn.
//!
//! # Across replicas: Redis
//!
//! With the `redis` feature, [`Builder::redis`] keeps the limit's state in Redis instead of in
//! the process, so every replica of a service shares one limit: limiters built with the same
//! key (a prefix and a name, see `RedisStore`) count against the same arrival time, in
//! any process. Each decision is one round trip, an `EVALSHA` of a Lua script that runs the
//! same algorithm atomically on the server's clock (so replicas need no synchronised clocks),
//! in whole microseconds (the interval rounded up). The key expires once the limit is full
//! again, so idle limits leave nothing behind.
//!
//! The round trip is bounded by a timeout (50 ms by default). When Redis does not answer in
//! time, or answers with an error, the store's `OnUnavailable` policy decides the call:
//! `FailClosed` (the default) turns it away with a [`RateLimited`] that says
//! `is_unavailable`; `FailOpen` admits it; `Local { replicas }` decides on a limiter in the
//! process with `rate / replicas`. The default fails fast and safe: the limit is there to
//! protect something, and neither admitting everything nor a local share computed from a guessed
//! replica count keeps that promise without the user saying so; the short timeout means callers
//! are told at once instead of queueing behind a dead connection.
//!
//! What differs from a local limiter: a decision is a round trip, so through the tower door it
//! is made in the response future (after `call`, with the service made ready for it, as a
//! waiting call); the round trip allocates (the Redis client's command and this future, boxed);
//! a waiting call that is dropped does not give its turn back; and
//! [`RateLimiter::try_acquire`], which cannot wait for a round trip, turns every call away as
//! unavailable.
//!
//! # Clone
//!
//! [`RateLimiter`] is a handle: clones, the layers it makes, their services and those services'
//! clones all share one limit and one set of counters.
//!
//! # Backpressure
//!
//! `poll_ready` is the inner service's and takes nothing from the limit: each call is decided
//! in `call`. A cell taken in `poll_ready` would be spent by a service that is made ready and then
//! never called (a balancer probing its endpoints, a `Buffer` worker between requests), and tower
//! lets a caller do that. A call over the limit fails inside its response future, without
//! reaching the inner service; a call that may wait ([`Builder::max_wait`]) waits inside its
//! response future, holding the service that was made ready for it (which is why the inner
//! service must be `Clone`: a fresh clone is left in the service for the next call).
//!
//! # Cancellation
//!
//! A call that was admitted has spent its cell, whatever becomes of its future. A call dropped
//! while it waits for its turn gives the turn back if no other call has reserved a later turn
//! since (the limit is then as if the call had never come); otherwise its turn goes unused, and
//! the limit admits one call fewer than it could have at that instant, never one more. Either
//! way it counts as `cancelled` in the [`Metrics`]. With the state in Redis, a waiting call's
//! turn is never given back, and a call dropped during its round trip may have taken its cell
//! there (the script runs whether or not anyone reads its answer).
//!
//! # Metrics and events
//!
//! [`RateLimiter::metrics`] is a snapshot of the calls admitted, waited, rejected and cancelled,
//! and the settings. [`Builder::on_event`] registers listeners for [`Event`]s (rejected, waited);
//! with the `tracing` feature every event is also a `tracing` event with target
//! `bulwark::rate_limit`.
//!
//! # Cost
//!
//! On a local limiter, an admitted call costs one read of tokio's clock and one compare-and-swap (both again only
//! when another thread swapped in between), one counter increment and one reference count: no heap
//! allocation, no lock. A call that waits creates one tokio timer inside its own future (no
//! allocation either).

mod builder;
mod error;
mod events;
mod future;
pub(crate) mod gcra;
mod handle;
mod layer;
#[cfg(feature = "redis")]
mod redis;
mod service;
mod settings;
mod state;
pub(crate) mod sync;

pub use builder::Builder;
pub use error::RateLimited;
pub use events::{Event, Metrics};
pub use future::{ResponseFuture, Run};
pub use handle::RateLimiter;
pub use layer::RateLimitLayer;
#[cfg(feature = "redis")]
pub use redis::{OnUnavailable, RedisStore, RedisStoreBuilder};
pub use service::RateLimitService;
pub use settings::Settings;
