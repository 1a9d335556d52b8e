//! The retry's hint inside a pipeline: the user's hint, and the pipeline's own open-circuit
//! rejections seen as such.

use crate::retry::RetryAfter;
use crate::{BoxError, Error};
use std::fmt;
use std::time::Duration;

#[derive(Clone, Copy)]
pub(crate) struct PipelineHint<H> {
    inner: H,
}

impl<H: Clone> PipelineHint<H> {
    pub(crate) fn new(inner: &H) -> Self {
        Self {
            inner: inner.clone(),
        }
    }
}

impl<T, E, H> RetryAfter<T, Error<E>> for PipelineHint<H>
where
    H: RetryAfter<T, Error<E>>,
{
    fn retry_after(&self, outcome: &Result<T, Error<E>>) -> Option<Duration> {
        self.inner.retry_after(outcome)
    }

    fn open_circuit(&self, outcome: &Result<T, Error<E>>) -> Option<Duration> {
        match outcome {
            Err(Error::CircuitOpen(open)) => Some(open.retry_after()),
            _ => self.inner.open_circuit(outcome),
        }
    }
}

/// The tower door: the outcome's error is a `BoxError`, in which the user's hint (by default
/// [`DefaultHint`](crate::retry::DefaultHint)) finds a boxed [`CircuitOpen`](crate::circuit_breaker::CircuitOpen).
impl<T, H> RetryAfter<T, BoxError> for PipelineHint<H>
where
    H: RetryAfter<T, BoxError>,
{
    fn retry_after(&self, outcome: &Result<T, BoxError>) -> Option<Duration> {
        self.inner.retry_after(outcome)
    }

    fn open_circuit(&self, outcome: &Result<T, BoxError>) -> Option<Duration> {
        self.inner.open_circuit(outcome)
    }
}

impl<H> fmt::Debug for PipelineHint<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PipelineHint")
            .field(&std::any::type_name::<H>())
            .finish()
    }
}
