//! How the tower layer gets a request to send again (reissues it).

use crate::BoxError;
use std::fmt;

/// How the tower layer gets the request for another attempt.
///
/// Before sending an attempt that may be followed by another, the service asks [`keep`] for a
/// copy to send next time. If an attempt fails and nothing was kept, it asks [`recover`] to take
/// the request back out of the error (clients that fail before sending, such as a connection
/// pool that gives the request back, report it that way). If neither has a request, the call is
/// not retried: the request is sent once ([`GiveUpReason::NoRequest`](super::GiveUpReason)).
///
/// [`keep`]: Reissue::keep
/// [`recover`]: Reissue::recover
///
/// Implemented by [`CloneRequest`] (the default), [`RebuildWith`] and [`RecoverWith`]; implement it
/// yourself to do both.
pub trait Reissue<Req> {
    /// A copy of `request` to send if this attempt has to be retried, or `None`. Called just
    /// before an attempt is sent, and only if another attempt may follow it.
    fn keep(&self, request: &Req) -> Option<Req> {
        let _ = request;
        None
    }

    /// The request taken back from a failed attempt's error, or `None`. Called only when nothing
    /// was kept.
    fn recover(&self, error: &mut BoxError) -> Option<Req> {
        let _ = error;
        None
    }
}

/// Keeps a clone of the request: the default, for `Clone` requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct CloneRequest;

impl<Req: Clone> Reissue<Req> for CloneRequest {
    #[inline]
    fn keep(&self, request: &Req) -> Option<Req> {
        Some(request.clone())
    }
}

/// Keeps a rebuilt copy of each request, made by a closure `Fn(&Req) -> Option<Req>`; see
/// [`RetryLayer::rebuild_with`](super::RetryLayer::rebuild_with).
#[derive(Clone, Copy)]
pub struct RebuildWith<F>(pub(crate) F);

impl<F, Req> Reissue<Req> for RebuildWith<F>
where
    F: Fn(&Req) -> Option<Req>,
{
    #[inline]
    fn keep(&self, request: &Req) -> Option<Req> {
        (self.0)(request)
    }
}

/// Takes the request back from the error of a failed attempt, with a closure
/// `Fn(&mut BoxError) -> Option<Req>`; see [`RetryLayer::recover_with`](super::RetryLayer::recover_with).
#[derive(Clone, Copy)]
pub struct RecoverWith<F>(pub(crate) F);

impl<F, Req> Reissue<Req> for RecoverWith<F>
where
    F: Fn(&mut BoxError) -> Option<Req>,
{
    #[inline]
    fn recover(&self, error: &mut BoxError) -> Option<Req> {
        (self.0)(error)
    }
}

impl<F> fmt::Debug for RebuildWith<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RebuildWith")
            .field(&std::any::type_name::<F>())
            .finish()
    }
}

impl<F> fmt::Debug for RecoverWith<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RecoverWith")
            .field(&std::any::type_name::<F>())
            .finish()
    }
}
