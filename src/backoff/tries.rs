//! The attempt loop's core: counts attempts, keeps the time limit for starting them, and asks the
//! delays for the wait before the next one. The retry pattern's future and the saga's step and
//! compensation loops drive it; each adds its own reasons to stop (a predicate, a budget, a log).

// The saga (without retry) uses a subset: the time limit belongs to retry.
#![cfg_attr(not(feature = "retry"), allow(dead_code))]

use std::time::Duration;
use tokio::time::Instant;

/// Why [`Tries::next_delay`] says to give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GiveUp {
    /// The last attempt allowed has been made, or the delays ran out.
    Attempts,
    /// The wait would end at or past the time limit for starting attempts.
    TimeUp,
}

/// What follows an attempt that may be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait this long, then start the next attempt (after [`Tries::begin_next`]).
    RetryAfter(Duration),
    /// Stop: no attempt follows.
    GiveUp(GiveUp),
}

/// The attempts of one call (or one step, or one compensation): the attempt in flight, the most
/// attempts allowed, when attempts stop starting, and the caller's iterator of delays.
///
/// It allocates nothing itself, and reads the clock only when a time limit is set. The delays
/// `D` are made at the first retry (by the closure passed to [`next_delay`](Self::next_delay)),
/// so a call that succeeds at once never touches the backoff; a caller that wants its future
/// small passes a `Box` of them.
#[derive(Debug)]
pub(crate) struct Tries<D> {
    /// The number of the attempt in flight, from 1.
    number: u32,
    max_attempts: u32,
    /// No attempt starts, and no wait ends, at or after this instant.
    stop_at: Option<Instant>,
    /// The delays kept here (the saga's loops); the retry keeps its own (`next_delay_with`).
    #[cfg_attr(not(feature = "saga"), allow(dead_code))]
    delays: Option<D>,
}

impl<D> Tries<D> {
    /// Starts counting at attempt 1, with at most `max_attempts` attempts, none started once
    /// `stop_retrying_after` has passed from now (the clock is read only if it is set).
    #[cfg(test)]
    pub(crate) fn start(max_attempts: u32, stop_retrying_after: Option<Duration>) -> Self {
        let stop_at = stop_retrying_after.and_then(|d| Instant::now().checked_add(d));
        Self::start_until(max_attempts, stop_at)
    }

    /// [`start`](Self::start) with the stop instant already known (`None`: no time limit).
    pub(crate) const fn start_until(max_attempts: u32, stop_at: Option<Instant>) -> Self {
        Self {
            number: 1,
            max_attempts,
            stop_at,
            delays: None,
        }
    }

    /// The number of the attempt in flight: 1 for the first, 2 for the first retry, ...
    pub(crate) const fn number(&self) -> u32 {
        self.number
    }

    /// The instant after which no attempt starts, if there is a time limit.
    pub(crate) const fn stop_at(&self) -> Option<Instant> {
        self.stop_at
    }

    /// Whether an attempt is allowed after the one in flight (by count; time and delays aside).
    pub(crate) const fn attempts_left(&self) -> bool {
        self.number < self.max_attempts
    }

    /// Whether the time for starting attempts has run out (checked after a wait: a wait may
    /// end late, and no attempt starts then).
    pub(crate) fn past_stop(&self) -> bool {
        self.stop_at.is_some_and(|d| Instant::now() >= d)
    }

    /// Counts the next attempt as started and returns its number.
    pub(crate) fn begin_next(&mut self) -> u32 {
        self.number = self.number.saturating_add(1);
        self.number
    }
}

impl<D: Iterator<Item = Duration>> Tries<D> {
    /// After an attempt that failed and may be tried again: the wait before the next one, or why
    /// none follows. `hint` replaces the delays for this wait (an HTTP `Retry-After`, an open
    /// circuit); otherwise the next delay is drawn, `make` making the delays at the first draw.
    /// No wait is allowed to end at or past the time limit.
    #[cfg_attr(not(feature = "saga"), allow(dead_code))]
    pub(crate) fn next_delay(&mut self, hint: Option<Duration>, make: impl FnOnce() -> D) -> Next {
        let mut delays = self.delays.take();
        let next = self.next_delay_with(&mut delays, hint, make);
        self.delays = delays;
        next
    }
}

impl<X> Tries<X> {
    /// [`next_delay`](Tries::next_delay) with the delays kept by the caller in `delays` (made
    /// there by `make` at the first draw), for a caller that keeps them beside other state.
    pub(crate) fn next_delay_with<D: Iterator<Item = Duration>>(
        &mut self,
        delays: &mut Option<D>,
        hint: Option<Duration>,
        make: impl FnOnce() -> D,
    ) -> Next {
        if !self.attempts_left() {
            return Next::GiveUp(GiveUp::Attempts);
        }
        let delay = match hint {
            Some(delay) => delay,
            None => match delays.get_or_insert_with(make).next() {
                Some(delay) => delay,
                None => return Next::GiveUp(GiveUp::Attempts),
            },
        };
        if let Some(stop_at) = self.stop_at
            && Instant::now()
                .checked_add(delay)
                .is_none_or(|end| end >= stop_at)
        {
            return Next::GiveUp(GiveUp::TimeUp);
        }
        Next::RetryAfter(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::{GiveUp, Next, Tries};
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

    fn delays() -> std::vec::IntoIter<Duration> {
        vec![10 * MS, 20 * MS].into_iter()
    }

    #[test]
    fn counts_attempts_and_gives_up_after_the_last() {
        let mut tries = Tries::start(3, None);
        assert_eq!(tries.number(), 1);
        assert_eq!(tries.next_delay(None, delays), Next::RetryAfter(10 * MS));
        assert_eq!(tries.begin_next(), 2);
        assert_eq!(tries.next_delay(None, delays), Next::RetryAfter(20 * MS));
        assert_eq!(tries.begin_next(), 3);
        assert!(!tries.attempts_left());
        assert_eq!(
            tries.next_delay(None, delays),
            Next::GiveUp(GiveUp::Attempts)
        );
    }

    #[test]
    fn delays_that_run_out_end_the_attempts() {
        let mut tries = Tries::start(10, None);
        for _ in 0..2 {
            assert!(matches!(
                tries.next_delay(None, delays),
                Next::RetryAfter(_)
            ));
            tries.begin_next();
        }
        assert_eq!(
            tries.next_delay(None, delays),
            Next::GiveUp(GiveUp::Attempts)
        );
    }

    #[test]
    fn a_hint_replaces_the_delay_and_draws_none() {
        let mut tries = Tries::start(3, None);
        assert_eq!(
            tries.next_delay(Some(7 * MS), delays),
            Next::RetryAfter(7 * MS)
        );
        tries.begin_next();
        // The first delay is still the first: the hint drew nothing.
        assert_eq!(tries.next_delay(None, delays), Next::RetryAfter(10 * MS));
    }

    #[tokio::test(start_paused = true)]
    async fn no_wait_ends_at_or_past_the_time_limit() {
        let mut tries = Tries::start(5, Some(30 * MS));
        assert_eq!(tries.next_delay(None, delays), Next::RetryAfter(10 * MS));
        tokio::time::advance(10 * MS).await;
        tries.begin_next();
        // 10 ms + 20 ms ends exactly at the limit: not allowed.
        assert_eq!(tries.next_delay(None, delays), Next::GiveUp(GiveUp::TimeUp));
        assert_eq!(
            tries.next_delay(Some(Duration::MAX), delays),
            Next::GiveUp(GiveUp::TimeUp)
        );
        assert!(!tries.past_stop());
        tokio::time::advance(20 * MS).await;
        assert!(tries.past_stop());
    }
}
