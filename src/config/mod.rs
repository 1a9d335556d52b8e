//! Settings from files: a named set of policies in TOML or JSON, validated when it is read, and
//! applied to running instances without losing their state.
//!
//! Every pattern's settings are plain data ([`circuit_breaker::Settings`],
//! [`retry::Settings`], [`retry::BudgetSettings`], [`bulkhead::Settings`],
//! [`rate_limit::Settings`], and a duration per timeout), named as their builder's methods, with
//! the builder's defaults for whatever a file leaves out. Durations are written as people write
//! them: `"250ms"`, `"2s"`, `"1m 30s"`. [`Policies`] holds one table per pattern and one entry
//! per instance name:
//!
//! ```toml
//! [circuit_breaker.payments]
//! failure_rate_threshold = 0.5
//! minimum_calls = 20
//! open_duration = "30s"
//!
//! [retry.payments]
//! max_attempts = 3
//! backoff = { curve = "exponential", base = "100ms", max_delay = "2s" }
//!
//! [bulkhead.payments]
//! max_concurrent = 10
//! max_queued = 20
//! max_wait = "50ms"
//!
//! [timeout]
//! payments = "2s"
//! ```
//!
//! # Reading
//!
//! [`Policies::from_path`] reads a `.toml` or `.json` file ([`from_toml`](Policies::from_toml)
//! and [`from_json`](Policies::from_json) read text) and checks every entry as its builder
//! would. An error names the file, the line where the format tells it, and the key of the
//! setting at fault, so a log line says what to fix:
//!
//! ```text
//! policies.toml:2: circuit_breaker.payments.failure_rate_threshold: must be in (0, 1], got 1.5
//! ```
//!
//! Unknown tables and unknown settings are errors too: a typo never passes silently.
//!
//! # Building and reconfiguring
//!
//! [`Policies::circuit_breaker`] (and its siblings) gives the named instance's builder with
//! the file's settings and the name applied; code adds what is code (a classifier, listeners).
//! When the file changes, [`Policies::reconfigure`] applies the new settings to a running
//! breaker or bulkhead, found by its name, keeping its state: a breaker its window, its state
//! and its calls in flight, a bulkhead its calls in flight and waiting
//! ([`CircuitBreaker::reconfigure`](crate::circuit_breaker::CircuitBreaker::reconfigure),
//! [`Bulkhead::reconfigure`](crate::bulkhead::Bulkhead::reconfigure)); a keyed breaker or
//! bulkhead, found by its template's name, gives every key the new settings
//! ([`Keyed::reconfigure`](crate::keyed::Keyed::reconfigure)); a retry budget keeps its balance
//! ([`Policies::reconfigure_retry_budget`]). A retry, a timeout and a rate limiter
//! hold no state worth keeping across a change of their settings: build new ones. A reload that
//! fails changes nothing, so the old settings stay in force (see the `reload` example, which
//! reloads a file while traffic flows).
//!
//! ```
//! use bulwark::config::Policies;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policies = Policies::from_toml(r#"
//!     [circuit_breaker.payments]
//!     failure_rate_threshold = 0.5
//!     open_duration = "30s"
//!
//!     [bulkhead.payments]
//!     max_concurrent = 10
//! "#)?;
//! let breaker = policies.circuit_breaker("payments")?.build()?;
//! let bulkhead = policies.bulkhead("payments")?.build()?;
//! assert_eq!(breaker.name(), "payments");
//!
//! // Later, the file changed: the same instances take the new settings.
//! let changed = Policies::from_toml(r#"
//!     [circuit_breaker.payments]
//!     failure_rate_threshold = 0.25
//!     open_duration = "10s"
//!
//!     [bulkhead.payments]
//!     max_concurrent = 4
//! "#)?;
//! changed.reconfigure(&breaker)?;
//! changed.reconfigure(&bulkhead)?;
//! assert_eq!(breaker.settings().failure_rate_threshold, Some(0.25));
//! assert_eq!(bulkhead.metrics().max_concurrent, 4);
//!
//! let typo = Policies::from_toml("[bulkhead.payments]\nmax_concurent = 4\n").unwrap_err();
//! assert_eq!(typo.key(), "bulkhead.payments.max_concurent");
//! assert_eq!(typo.line(), Some(2));
//! # Ok(())
//! # }
//! ```
//!
//! [`circuit_breaker::Settings`]: crate::circuit_breaker::Settings
//! [`retry::Settings`]: crate::retry::Settings
//! [`retry::BudgetSettings`]: crate::retry::BudgetSettings
//! [`bulkhead::Settings`]: crate::bulkhead::Settings
//! [`rate_limit::Settings`]: crate::rate_limit::Settings

// With some patterns' features off, some of these functions have no caller.
#![cfg_attr(
    not(all(
        feature = "circuit-breaker",
        feature = "retry",
        feature = "bulkhead",
        feature = "rate-limit",
        feature = "timeout"
    )),
    allow(dead_code, unused_imports)
)]

pub(crate) mod duration;
mod error;
mod policies;
mod reconfigure;

pub use error::LoadError;
pub use policies::Policies;
pub use reconfigure::Reconfigure;
