//! Observing patterns in production: instance names in every event and error, and (feature
//! `metrics`) the metrics each pattern records through the `metrics` facade. The `tracing`
//! fields are tested in their own binary (`observe_tracing`), since `tracing` caches per call
//! site whether anyone listens.

// Each test needs its pattern's feature, and the metrics ones `metrics` as well: a module is
// built only when at least one of its tests is.
#[cfg(all(
    feature = "metrics",
    any(
        feature = "timeout",
        feature = "retry",
        feature = "circuit-breaker",
        feature = "bulkhead",
        feature = "chaos",
        feature = "rate-limit",
        feature = "hedge",
        feature = "health",
        feature = "saga"
    )
))]
mod metrics;
#[cfg(any(
    feature = "timeout",
    feature = "retry",
    feature = "circuit-breaker",
    feature = "bulkhead",
    feature = "chaos",
    feature = "rate-limit",
    feature = "hedge",
    feature = "health",
    feature = "saga"
))]
mod names;
