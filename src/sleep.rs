//! The one way the crate arms a reusable timer: a boxed [`Sleep`] made on first use and reset
//! afterwards, so a service clone or a call that waits many times allocates once.

#![cfg_attr(
    not(any(feature = "timeout", feature = "retry", feature = "circuit-breaker")),
    allow(dead_code)
)]

use std::pin::Pin;
use tokio::time::{Instant, Sleep};

/// Arms `slot` to fire at `deadline`: resets the timer already there, or makes one.
/// Returns the armed timer, ready to be polled.
pub(crate) fn arm(slot: &mut Option<Pin<Box<Sleep>>>, deadline: Instant) -> Pin<&mut Sleep> {
    match slot {
        Some(sleep) => {
            sleep.as_mut().reset(deadline);
            sleep.as_mut()
        }
        None => slot
            .insert(Box::pin(tokio::time::sleep_until(deadline)))
            .as_mut(),
    }
}
