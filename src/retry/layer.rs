//! The tower layer of the retry pattern.

use super::{CloneRequest, DefaultHint, OnError, RebuildWith, RecoverWith, Retry, RetryService};
use crate::backoff::Backoff;
use std::fmt;
use tower::Layer;

/// Retries the calls of the services it wraps; made by [`Retry::layer`].
///
/// Every service it makes shares the [`Retry`]'s configuration and budget, however many times
/// [`Layer::layer`] is called. `K` says how a request is had again (see [`Reissue`](super::Reissue)).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use bulwark::retry::Retry;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::BoxError> {
/// let calls = Arc::new(AtomicU32::new(0));
/// let seen = Arc::clone(&calls);
/// let flaky = service_fn(move |order: u32| {
///     let n = seen.fetch_add(1, Ordering::Relaxed);
///     async move {
///         if n == 0 { Err(std::io::Error::other("reset")) } else { Ok(order * 10) }
///     }
/// });
/// let retry = Retry::builder().max_attempts(3).build()?;
/// let svc = ServiceBuilder::new().layer(retry.layer()).service(flaky);
/// assert_eq!(svc.oneshot(4).await?, 40);
/// assert_eq!(calls.load(Ordering::Relaxed), 2, "one failure, one retry");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RetryLayer<B = Backoff, P = OnError, H = DefaultHint, K = CloneRequest> {
    retry: Retry<B, P, H>,
    reissue: K,
}

impl<B, P, H> RetryLayer<B, P, H> {
    pub(super) fn new(retry: Retry<B, P, H>) -> Self {
        Self {
            retry,
            reissue: CloneRequest,
        }
    }
}

impl<B, P, H, K> RetryLayer<B, P, H, K> {
    /// Gets requests to send again with `reissue` instead of cloning them.
    pub fn reissue<K2>(self, reissue: K2) -> RetryLayer<B, P, H, K2> {
        RetryLayer {
            retry: self.retry,
            reissue,
        }
    }

    /// For requests that are not `Clone`: before an attempt that may be followed by another,
    /// `rebuild` makes the copy to send next time (from a buffered body, say), or returns `None`
    /// to send the request once.
    ///
    /// ```
    /// use bulwark::retry::Retry;
    ///
    /// /// A request with a body that can be read once, and a copy of its bytes when they are small.
    /// struct Upload { name: String, body: Box<dyn std::io::Read + Send>, buffered: Option<Vec<u8>> }
    ///
    /// let layer = Retry::default().layer().rebuild_with(|req: &Upload| {
    ///     let bytes = req.buffered.clone()?;
    ///     Some(Upload {
    ///         name: req.name.clone(),
    ///         body: Box::new(std::io::Cursor::new(bytes.clone())),
    ///         buffered: Some(bytes),
    ///     })
    /// });
    /// # let _ = layer;
    /// ```
    pub fn rebuild_with<F>(self, rebuild: F) -> RetryLayer<B, P, H, RebuildWith<F>> {
        self.reissue(RebuildWith(rebuild))
    }

    /// For requests that are not `Clone`, sent by a client that gives the request back when it
    /// fails before sending it: `recover` takes the request out of the error, or returns `None`.
    /// Nothing is copied ahead of time, so only those failures are retried.
    pub fn recover_with<F>(self, recover: F) -> RetryLayer<B, P, H, RecoverWith<F>> {
        self.reissue(RecoverWith(recover))
    }

    /// The retry this layer's services share.
    pub fn retry(&self) -> &Retry<B, P, H> {
        &self.retry
    }
}

/// Each service made gets its own copy of the retry's configuration (one allocation), shared by
/// that service's clones: its calls' futures hold a reference to it, a count no service made by
/// another `layer` call touches. The budget and the listeners stay shared with the handle.
impl<S, B: Clone, P: Clone, H: Clone, K: Clone> Layer<S> for RetryLayer<B, P, H, K> {
    type Service = RetryService<S, B, P, H, K>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService::new(
            inner,
            self.retry.local_copy(),
            self.reissue.clone(),
            crate::stripe::stripe_count(),
        )
    }
}

impl<B, P, H, K: fmt::Debug> fmt::Debug for RetryLayer<B, P, H, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("retry", &self.retry)
            .field("reissue", &self.reissue)
            .finish()
    }
}
