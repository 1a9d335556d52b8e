//! Observing patterns in production: instance names in every event and error, and (feature
//! `metrics`) the metrics each pattern records through the `metrics` facade. The `tracing`
//! fields are tested in their own binary (`observe_tracing`), since `tracing` caches per call
//! site whether anyone listens.

mod metrics;
mod names;
