//! The handle of the pipeline: its parts, running a call through them, and its tower layer.

use super::future::Run;
use super::hint::PipelineHint;
use super::{ApplyFallback, NoFallback, PipelineBuilder, PipelineLayer};
use crate::backoff::{Backoff, MakeDelays};
use crate::bulkhead::Bulkhead;
use crate::circuit_breaker::CircuitBreaker;
use crate::classify::{Classify, DefaultClassifier};
use crate::event::Listeners;
use crate::retry::{CloneRequest, DefaultHint, OnError, Retry, RetryAfter, ShouldRetry};
use crate::timeout::{Elapsed, Event as TimeoutEvent};
use crate::{Error, Name};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Timeout, retry, circuit breaker and bulkhead around one call; see the [module docs](crate::pipeline).
///
/// Cheap to clone: one reference count (the parts are shared handles, kept together).
///
/// ```
/// use bulwark::circuit_breaker::CircuitBreaker;
/// use bulwark::pipeline::Pipeline;
/// use bulwark::retry::Retry;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// let pipeline = Pipeline::builder()
///     .total_timeout(Duration::from_secs(5))
///     .retry(Retry::builder().max_attempts(3).build()?)
///     .circuit_breaker(CircuitBreaker::builder().build()?)
///     .build()?;
/// let reply = pipeline.run(|| async { Ok::<_, std::io::Error>("stock: 12") }).await;
/// assert_eq!(reply.unwrap(), "stock: 12");
/// # Ok(())
/// # }
/// ```
pub struct Pipeline<
    C = DefaultClassifier,
    B = Backoff,
    P = OnError,
    H = DefaultHint,
    Fb = NoFallback,
> {
    pub(super) parts: Arc<Parts<C, B, P, H, Fb>>,
}

/// A reference to the parts counted in one stripe of threads (what a response future holds).
pub(crate) type PartsLane<C, B, P, H, Fb> = crate::stripe::Lane<Arc<Parts<C, B, P, H, Fb>>>;

/// A service's references to the parts, one per stripe of threads.
pub(crate) type PartsLanes<C, B, P, H, Fb> = crate::stripe::Lanes<Arc<Parts<C, B, P, H, Fb>>>;

/// What a pipeline is made of, shared by its clones, its layers and their services.
pub(crate) struct Parts<C, B, P, H, Fb> {
    pub(crate) total: Option<Duration>,
    pub(crate) retry: Option<Retry<B, P, PipelineHint<H>>>,
    pub(crate) breaker: Option<CircuitBreaker<C>>,
    pub(crate) bulkhead: Option<Bulkhead>,
    pub(crate) attempt: Option<Duration>,
    pub(crate) timeouts: Timeouts,
    /// Applied last, to the call's outcome.
    pub(crate) fallback: Fb,
}

/// The pipeline's name and its two timeouts' listeners (named `<name>.total_timeout` and
/// `<name>.attempt_timeout`): their events, `tracing` events and metrics are a timeout's.
#[derive(Clone)]
pub(crate) struct Timeouts {
    name: Name,
    total: Listeners<TimeoutEvent>,
    attempt: Listeners<TimeoutEvent>,
}

impl Timeouts {
    pub(crate) fn new(name: Option<Name>) -> Self {
        let named = |part: &str, default: &'static &'static str| match &name {
            None => Listeners::new(default),
            Some(name) => Listeners::new(default).named(Name::from(format!("{name}.{part}"))),
        };
        Self {
            total: named("total_timeout", &"pipeline.total_timeout"),
            attempt: named("attempt_timeout", &"pipeline.attempt_timeout"),
            name: name.unwrap_or(Name::from_static(&"pipeline")),
        }
    }

    /// Reports that the total timeout (`total`) or an attempt's ran out, and returns the error.
    #[cold]
    pub(crate) fn elapsed(&self, total: bool, after: Duration) -> Elapsed {
        let listeners = if total { &self.total } else { &self.attempt };
        listeners.emit(|name| TimeoutEvent::TimedOut {
            name,
            after,
            waiting_for_readiness: false,
        });
        Elapsed::call(after, *listeners.name())
    }
}

impl Pipeline {
    /// A builder with no part set: add the parts you want, outermost first or in any order.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::new()
    }
}

impl<C, B, P, H, Fb> Pipeline<C, B, P, H, Fb> {
    /// The pipeline's [name](PipelineBuilder::name).
    pub fn name(&self) -> &Name {
        &self.parts.timeouts.name
    }

    /// A pipeline with this one's settings, name and listeners, a fresh breaker and a fresh
    /// bulkhead (made by `bulkhead`), and the same retry, whose budget is shared (a keyed
    /// pipeline's instance for a new key).
    #[cfg(feature = "keyed")]
    pub(crate) fn fresh(&self, bulkhead: impl FnOnce(&Bulkhead) -> Bulkhead) -> Self
    where
        C: Clone,
        Fb: Clone,
    {
        let p = &self.parts;
        Self {
            parts: Arc::new(Parts {
                total: p.total,
                retry: p.retry.clone(),
                breaker: p.breaker.as_ref().map(CircuitBreaker::fresh),
                bulkhead: p.bulkhead.as_ref().map(bulkhead),
                attempt: p.attempt,
                timeouts: p.timeouts.clone(),
                fallback: p.fallback.clone(),
            }),
        }
    }

    /// The shared parts (the keyed tower door makes its services from them).
    #[cfg(feature = "keyed")]
    pub(crate) fn parts(&self) -> Arc<Parts<C, B, P, H, Fb>> {
        Arc::clone(&self.parts)
    }

    /// The circuit breaker, if the pipeline has one.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker<C>> {
        self.parts.breaker.as_ref()
    }

    /// The bulkhead, if the pipeline has one.
    pub fn bulkhead(&self) -> Option<&Bulkhead> {
        self.parts.bulkhead.as_ref()
    }

    /// Runs `f`'s call through the pipeline, calling `f` again for each retry.
    ///
    /// `f` is called once per attempt, only after the breaker and the bulkhead admitted the
    /// attempt. The returned [`Run`] is one state machine for the whole call (see the
    /// [module docs](crate::pipeline#cost)). The call starts when `run` is called, as with
    /// [`Timeout::run`](crate::timeout::Timeout::run): the total deadline counts from then, and the
    /// retry budget counts the call then; the first attempt asks the breaker and the bulkhead at
    /// the first poll.
    pub fn run<F, Fut, T, E>(&self, f: F) -> Run<'_, F, Fut, C, B, P, H, Fb>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<T, E>,
        E: 'static,
        B: MakeDelays,
        P: ShouldRetry<T, Error<E>>,
        H: RetryAfter<T, Error<E>>,
        Fb: ApplyFallback<T, Error<E>>,
    {
        Run::new(&self.parts, f)
    }

    /// A tower layer whose services run every call through this pipeline (the same circuit,
    /// bulkhead and retry budget as every other user of its parts). Requests are cloned for
    /// retries; see [`PipelineLayer::reissue`] for requests that are not `Clone`.
    ///
    /// ```
    /// use bulwark::circuit_breaker::CircuitBreaker;
    /// use bulwark::pipeline::Pipeline;
    /// use bulwark::retry::Retry;
    /// use std::time::Duration;
    /// use tower::{Service, ServiceBuilder, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let pipeline = Pipeline::builder()
    ///     .total_timeout(Duration::from_secs(5))
    ///     .retry(Retry::builder().max_attempts(3).build()?)
    ///     .circuit_breaker(CircuitBreaker::builder().build()?)
    ///     .build()?;
    /// let mut client = ServiceBuilder::new()
    ///     .layer(pipeline.layer())
    ///     .service_fn(|name: &'static str| async move {
    ///         Ok::<_, std::io::Error>(format!("hello, {name}"))
    ///     });
    /// let reply = client.ready().await?.call("orders").await?;
    /// assert_eq!(reply, "hello, orders");
    /// # Ok(())
    /// # }
    /// ```
    pub fn layer(&self) -> PipelineLayer<C, B, P, H, CloneRequest, Fb> {
        PipelineLayer::new(self.parts.clone(), CloneRequest)
    }
}

impl<C, B, P, H, Fb> Clone for Pipeline<C, B, P, H, Fb> {
    fn clone(&self) -> Self {
        Self {
            parts: Arc::clone(&self.parts),
        }
    }
}

impl<C, B, P, H, Fb> fmt::Debug for Pipeline<C, B, P, H, Fb> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.parts.fmt(f)
    }
}

impl<C, B, P, H, Fb> fmt::Debug for Parts<C, B, P, H, Fb> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("name", &self.timeouts.name)
            .field("total_timeout", &self.total)
            .field("retry", &self.retry)
            .field("circuit_breaker", &self.breaker)
            .field("bulkhead", &self.bulkhead)
            .field("attempt_timeout", &self.attempt)
            .field("fallback", &std::any::type_name::<Fb>())
            .finish()
    }
}
