//! What a pipeline does last with a call's outcome: nothing, or a fallback's value.

/// What a [`Pipeline`](super::Pipeline) does last with a call's outcome, outside everything
/// else: nothing ([`NoFallback`], the default), or replace it with a
/// [`Fallback`](crate::fallback::Fallback)'s value when it is one of the fallback's chosen
/// outcomes (set with [`PipelineBuilder::fallback`](super::PipelineBuilder::fallback)).
///
/// Sealed: implemented by those two only.
pub trait ApplyFallback<T, X>: sealed::Sealed {
    /// The outcome to return in place of `outcome`.
    fn apply_fallback(&self, outcome: Result<T, X>) -> Result<T, X>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoFallback {}
    #[cfg(feature = "fallback")]
    impl<F, C> Sealed for crate::fallback::Fallback<F, C> {}
}

/// A pipeline without a fallback (the default): the outcome is returned as it is, at no cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoFallback;

impl<T, X> ApplyFallback<T, X> for NoFallback {
    #[inline(always)]
    fn apply_fallback(&self, outcome: Result<T, X>) -> Result<T, X> {
        outcome
    }
}

#[cfg(feature = "fallback")]
impl<T, E, F, C> ApplyFallback<T, crate::Error<E>> for crate::fallback::Fallback<F, C>
where
    F: Fn(crate::fallback::Reason) -> T,
    C: crate::classify::Classify<T, E>,
{
    #[inline]
    fn apply_fallback(&self, outcome: Result<T, crate::Error<E>>) -> Result<T, crate::Error<E>> {
        self.apply(outcome)
    }
}

#[cfg(feature = "fallback")]
impl<T, F, C> ApplyFallback<T, crate::BoxError> for crate::fallback::Fallback<F, C>
where
    F: Fn(crate::fallback::Reason) -> T,
    C: crate::classify::Classify<T, crate::BoxError>,
{
    #[inline]
    fn apply_fallback(&self, outcome: Result<T, crate::BoxError>) -> Result<T, crate::BoxError> {
        self.shared.apply_boxed(outcome)
    }
}
