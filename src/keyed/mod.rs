//! Runs each key's calls through its own instance of a pattern (a breaker per downstream host,
//! a rate limit per client), made from a template on the key's first use, in a map of bounded
//! size.
//!
//! A gateway protects each host, route or tenant separately: one host failing must open its
//! own breaker and leave the others closed, one client flooding must spend its own limit and
//! leave the others theirs. [`Keyed<K, P>`] keeps one instance of the policy `P` (a
//! [`CircuitBreaker`](crate::circuit_breaker::CircuitBreaker), a
//! [`RateLimiter`](crate::rate_limit::RateLimiter), a [`Bulkhead`](crate::bulkhead::Bulkhead),
//! a [`Timeout`](crate::timeout::Timeout), a [`Retry`](crate::retry::Retry) or a
//! [`Pipeline`](crate::pipeline::Pipeline)) per key `K`. The name says what it is: the
//! pattern, keyed (a "registry" would suggest instances registered by hand).
//!
//! ```
//! use bulwark::Error;
//! use bulwark::circuit_breaker::{CircuitBreaker, State};
//! use bulwark::keyed::Keyed;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), bulwark::ConfigError> {
//! let breaker = CircuitBreaker::builder()
//!     .consecutive_failures(2)
//!     .open_duration(Duration::from_secs(30))
//!     .build()?;
//! let per_host: Keyed<String, _> = Keyed::builder(breaker).max_keys(1_000).build()?;
//!
//! for _ in 0..2 {
//!     let down = || async { Err::<(), _>(std::io::Error::other("refused")) };
//!     let _ = per_host.run("a.example", down).await;
//! }
//! let up = || async { Ok::<_, std::io::Error>(()) };
//! assert!(matches!(per_host.run("a.example", up).await, Err(Error::CircuitOpen(_))));
//! assert!(per_host.run("b.example", up).await.is_ok()); // b has its own breaker
//! assert_eq!(per_host.get("a.example").map(|b| b.state()), Ok(State::Open));
//! assert_eq!(per_host.get("b.example").map(|b| b.state()), Ok(State::Closed));
//! # Ok(())
//! # }
//! ```
//!
//! # Two doors
//!
//! [`Keyed::run`] takes the key explicitly and runs a closure's call through the key's
//! instance, with the crate's flat [`Error`](crate::Error) ([`Keyed::get`] hands out the
//! instance itself). [`Keyed::layer`] gives a tower layer that reads the key from each request
//! with a function (`|req: &Request<B>| req.uri().host().unwrap_or("")`), borrowing it, so a
//! `String`-keyed map is looked up with a `&str` and a key already held costs no allocation
//! (`K: Borrow<Q>`, as `HashMap::get`); [`Keyed::layer_owned`] takes a function that builds the key,
//! for a key computed from the request. The tower door hands each call to the key's instance as
//! that pattern's own service would take it, so its response future is the pattern's own.
//!
//! [`Keyed::run`] returns the pattern's own `run` future inside an `impl Future` (no box): the
//! patterns' futures differ in type, and some borrow their handle, which the returned future owns.
//!
//! # Bounded memory
//!
//! The map holds **never more than `max_keys` keys**, on any number of threads. It is split in
//! `n` shards (the largest power of two at most `max_keys / 64`, from 1 to 16: a map of fewer
//! than 128 keys is one shard), each a `RwLock` over a hash table with a capacity of `max_keys / n`
//! (the first `max_keys % n` shards one more), and a key is inserted only under its shard's
//! write lock while the shard is under its capacity. A new key in a full shard takes the place of
//! the **least recently used key of that shard whose instance may be evicted** (exact LRU within
//! the shard, to the millisecond: recency is the last lookup, stamped in milliseconds of tokio's
//! clock, and keys last used in the same millisecond are taken in the table's order). So eviction is approximate across the map: a shard may evict while another has room.
//! With an [idle timeout](Builder::idle_timeout), a key not looked up for longer than the timeout
//! is evicted (if its instance may be) when a new key is inserted into its shard, or by
//! [`Keyed::evict_idle`]; until then a call finds it as it was.
//!
//! Eviction never loses protection silently. An instance is asked whether it may go
//! ([`Policy::is_evictable`]), and refuses while replacing it by a fresh one would let more
//! through than it would:
//!
//! - a breaker that is **open stays until its open duration ends** (then a fresh closed breaker
//!   is what its next probe would be heading to), and a forced-open breaker stays for good
//!   (an operator's decision); closed and half-open breakers may go when idle;
//! - a rate limiter stays **until its whole burst is available again**: a fresh one then
//!   decides exactly as it would, so eviction never admits a call over the limit;
//! - a bulkhead stays while a call holds or waits for a slot;
//! - a pipeline stays while its breaker or its bulkhead would; a timeout and a retry (which
//!   share their budget across keys, see below) may go when no call is in flight (below).
//!
//! When no key of the shard may go, the new key's call is turned away with [`TooManyKeys`]
//! (an [`Event::Refused`] and a metric): failing closed keeps the bound and every open
//! breaker; the alternative, an instance outside the map, would let a new key's calls through a
//! policy that forgets them at once. An evicted key that comes back gets a fresh instance.
//! Every eviction is an [`Event::Evicted`] (with the key and the reason) and a metric.
//!
//! A key with a call in flight through either door (its future not yet complete nor dropped) is
//! never evicted: the call holds the key's instance, and the map lets go only of an instance it
//! alone holds. So a call that looked its key up is decided, and its outcome recorded, on the
//! instance that stays in the map, and eviction cannot run a key's calls on two instances at
//! once (which would double a limiter's burst or a bulkhead's slots). A handle taken with
//! [`Keyed::get`] is not counted: used after its key was evicted, it acts on an instance no
//! longer in the map.
//!
//! # What each pattern keeps per key
//!
//! Each key's instance is the template's [`Policy::fresh`]: its settings, classifier, name and
//! listeners (so the instances' events and metrics are the template's, under its name: a
//! label per key would grow the metrics without bound), and fresh state: a closed breaker
//! with an empty window, a full burst, free slots. A [`Retry`](crate::retry::Retry), and the
//! retry of a [`Pipeline`](crate::pipeline::Pipeline), keep the template's retry budget, shared
//! by every key: a budget per key would multiply its floor of retries by the number of keys. A
//! bulkhead's instances are rebuilt from its public settings and carry its name (so its
//! metrics), not its listeners. A rate limiter whose state is in Redis cannot be keyed
//! (`build()` says so): every key would share its one Redis key.
//!
//! # Health
//!
//! With the `health` feature, [`KeyedCircuitBreakerCheck`](crate::health::KeyedCircuitBreakerCheck)
//! reports a keyed breaker: each open key in the details.
//!
//! # Clone
//!
//! [`Keyed`] is a handle: clones, the layers it makes, their services and those services'
//! clones all share one map of instances.
//!
//! # Backpressure
//!
//! `poll_ready` is the inner service's: the key is read from the request, which `poll_ready`
//! does not see, so no instance can take part in readiness. Each instance decides in `call`,
//! as the pattern's own service does in its default mode (a rejection fails inside the
//! response future; a rate limiter with `max_wait` or a bulkhead with a queue waits inside it,
//! holding the service that was made ready for the call). A pattern's backpressure mode is not
//! available keyed.
//!
//! # Cancellation
//!
//! As the key's pattern: the response future is the pattern's own (a dropped call gives back
//! its bulkhead slot, its half-open probe, its reserved turn as that pattern says). Looking up a
//! key is synchronous and done when `call` (or [`Keyed::run`]) is called.
//!
//! # Cost
//!
//! A call whose key is held hashes the key once (`std`'s SipHash with random keys, since keys
//! come from requests: the hash picks the shard and finds the entry), takes the shard's read
//! lock, stamps the entry's recency (a clock read and, at most once a millisecond, a relaxed
//! store), clones the instance's `Arc` (for [`Keyed::get`], the handle) and releases the lock: no allocation, no write lock. A new key takes its
//! shard's write lock, allocates the key and the instance, and in a full shard scans the shard
//! for the entry to evict (`max_keys / n` entries). Figures are in `BENCHMARKS.md`.
//!
//! Memory is `max_keys` instances: about 290 bytes a key for a rate limiter, about 4 KB for a
//! breaker with the default count window of 100 calls (its atomics are padded to cache lines).
//! Size `max_keys`, and a breaker's window, for the keys a process really sees.

mod builder;
mod error;
mod events;
mod future;
mod handle;
mod layer;
mod map;
mod policy;
mod service;
#[cfg(any(feature = "circuit-breaker", feature = "bulkhead"))]
mod settings;

pub use builder::Builder;
pub use error::{NoKey, TooManyKeys};
pub use events::{Event, Metrics};
pub use future::ResponseFuture;
pub use handle::Keyed;
pub use layer::KeyedLayer;
pub use map::Eviction;
pub use policy::{Policy, RunPolicy, ServicePolicy};
pub use service::{KeyedService, Owned};
