//! Which outcomes of a call count as failures: shared by the circuit breaker and retry.
//!
//! A [`Classify`] looks at a call's `&Result<T, E>` and says whether it was a
//! [`Success`](Verdict::Success), a [`Failure`](Verdict::Failure), or should be
//! [`Ignored`](Verdict::Ignored) (neither: not the downstream's fault, e.g. a 4xx response, or a
//! cancelled request). [`DefaultClassifier`] counts every `Err` as a failure and every `Ok` as a
//! success. Any closure `Fn(&Result<T, E>) -> Verdict` is a classifier too:
//!
//! ```
//! use bulwark::classify::{Classify, Verdict};
//!
//! struct Status(u16);
//!
//! // A 5xx (or a transport error) is the downstream's fault; a 4xx is the caller's.
//! let by_status = |result: &Result<Status, std::io::Error>| match result {
//!     Ok(Status(code)) if *code >= 500 => Verdict::Failure,
//!     Ok(Status(code)) if *code >= 400 => Verdict::Ignored,
//!     Ok(_) => Verdict::Success,
//!     Err(_) => Verdict::Failure,
//! };
//!
//! assert_eq!(by_status.classify(&Ok(Status(503))), Verdict::Failure);
//! assert_eq!(by_status.classify(&Ok(Status(404))), Verdict::Ignored);
//! assert_eq!(by_status.classify(&Ok(Status(200))), Verdict::Success);
//! ```

/// What a call's result means to a resilience pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The call worked.
    Success,
    /// The call failed in a way that says something about the health of the downstream.
    Failure,
    /// The call says nothing about the downstream's health: it is not counted at all.
    Ignored,
}

impl Verdict {
    /// A short snake-case name, as in `tracing` fields and metric labels: `"success"`,
    /// `"failure"`, `"ignored"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Success => "success",
            Verdict::Failure => "failure",
            Verdict::Ignored => "ignored",
        }
    }

    /// Whether this is [`Verdict::Failure`].
    pub const fn is_failure(self) -> bool {
        matches!(self, Verdict::Failure)
    }
}

/// Classifies the result of a call; see the [module docs](self).
///
/// Implemented for [`DefaultClassifier`] and for every closure `Fn(&Result<T, E>) -> Verdict`.
/// Classifiers run on the hot path, once per call: keep them cheap and free of locks.
pub trait Classify<T, E> {
    /// What `result` means.
    fn classify(&self, result: &Result<T, E>) -> Verdict;
}

/// `Err` is a failure, `Ok` is a success.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefaultClassifier;

impl<T, E> Classify<T, E> for DefaultClassifier {
    #[inline]
    fn classify(&self, result: &Result<T, E>) -> Verdict {
        match result {
            Ok(_) => Verdict::Success,
            Err(_) => Verdict::Failure,
        }
    }
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Verdict,
{
    #[inline]
    fn classify(&self, result: &Result<T, E>) -> Verdict {
        self(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_classifier_counts_err_as_failure() {
        let ok: Result<u8, ()> = Ok(1);
        let err: Result<u8, ()> = Err(());
        assert_eq!(DefaultClassifier.classify(&ok), Verdict::Success);
        assert_eq!(DefaultClassifier.classify(&err), Verdict::Failure);
        assert!(Verdict::Failure.is_failure());
        assert!(!Verdict::Ignored.is_failure());
    }

    #[test]
    fn closures_are_classifiers() {
        let ignore_all = |_: &Result<u8, ()>| Verdict::Ignored;
        assert_eq!(ignore_all.classify(&Err(())), Verdict::Ignored);
    }
}
