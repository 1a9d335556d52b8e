//! Settings and an event recorder shared by the retry test files: `mod retry_common;`.
#![allow(dead_code)]

use bulwark::backoff::{Backoff, Jitter};
use bulwark::retry::Event;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) const MS: Duration = Duration::from_millis(1);

/// The same delay every time, without jitter.
pub(crate) fn fixed(delay: Duration) -> Backoff {
    Backoff::constant(delay)
        .jitter(Jitter::None)
        .build()
        .unwrap_or_default()
}

/// Collects events.
pub(crate) fn recorder() -> (
    Arc<Mutex<Vec<Event>>>,
    impl Fn(&Event) + Send + Sync + 'static,
) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (events, move |e: &Event| {
        sink.lock().unwrap().push(e.clone())
    })
}
