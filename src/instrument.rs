//! Metric handles through the `metrics` facade (feature `metrics`).
//!
//! Every handle is registered once per instance, when it is built, with the instance's name as
//! its `name` label: recording is then an atomic operation on the recorder's handle, with no
//! key built, no label formatted and nothing allocated per call. The names and labels are
//! listed in the table of the crate docs (`# Metrics` in `lib.rs`).

// With `metrics` but no pattern, nothing registers a handle.
#![allow(dead_code)]

use crate::Name;
use metrics::{Counter, Gauge, Histogram, Label, Unit};

/// The `name` label and the given static labels.
fn labels(name: &Name, extra: &[(&'static str, &'static str)]) -> Vec<Label> {
    let mut labels = Vec::with_capacity(1 + extra.len());
    labels.push(Label::new("name", name.label()));
    labels.extend(extra.iter().map(|&(k, v)| Label::new(k, v)));
    labels
}

/// A counter `key` for instance `name`, with `extra` labels.
pub(crate) fn counter(
    key: &'static str,
    description: &'static str,
    name: &Name,
    extra: &[(&'static str, &'static str)],
) -> Counter {
    metrics::describe_counter!(key, description);
    metrics::counter!(key, labels(name, extra))
}

/// A gauge `key` for instance `name`, with `extra` labels.
pub(crate) fn gauge(
    key: &'static str,
    description: &'static str,
    name: &Name,
    extra: &[(&'static str, &'static str)],
) -> Gauge {
    metrics::describe_gauge!(key, description);
    metrics::gauge!(key, labels(name, extra))
}

/// A histogram of seconds `key` for instance `name`, with `extra` labels (`Label`s, so a
/// check's own name can be one).
pub(crate) fn seconds(
    key: &'static str,
    description: &'static str,
    name: &Name,
    extra: Vec<Label>,
) -> Histogram {
    metrics::describe_histogram!(key, Unit::Seconds, description);
    let mut all = labels(name, &[]);
    all.extend(extra);
    metrics::histogram!(key, all)
}

/// A gauge per value of a one-hot label (a state, a status): exactly one of them is 1.
#[derive(Debug)]
pub(crate) struct OneHot<const N: usize> {
    gauges: [Gauge; N],
}

impl<const N: usize> OneHot<N> {
    pub(crate) fn new(
        key: &'static str,
        description: &'static str,
        name: &Name,
        label: &'static str,
        values: [&'static str; N],
        extra: Vec<Label>,
    ) -> Self {
        metrics::describe_gauge!(key, description);
        let gauges = values.map(|value| {
            let mut all = labels(name, &[]);
            all.extend(extra.iter().cloned());
            all.push(Label::new(label, value));
            metrics::gauge!(key, all)
        });
        Self { gauges }
    }

    /// Sets the gauge of value `index` to 1 and every other one to 0.
    pub(crate) fn set(&self, index: usize) {
        for (i, gauge) in self.gauges.iter().enumerate() {
            gauge.set(if i == index { 1.0 } else { 0.0 });
        }
    }
}
