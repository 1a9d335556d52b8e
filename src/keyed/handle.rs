//! The keyed policy handle: instances by key, the standalone door (`run`, `get`) and the source
//! of tower layers.

use super::map::{Eviction, Map};
use super::policy::{Policy, RunPolicy};
use super::{Builder, Event, KeyedLayer, Metrics, Owned, TooManyKeys};
use crate::event::Listeners;
use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// One policy instance per key, made from a template on the key's first use, in a map that
/// never holds more than `max_keys` keys. A cheap-to-clone handle; see the [module docs](super).
///
/// ```
/// use bulwark::keyed::Keyed;
/// use bulwark::rate_limit::RateLimiter;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), bulwark::ConfigError> {
/// // One call per second for each client.
/// let per_client = Keyed::builder(RateLimiter::builder().rate(1, Duration::from_secs(1)).build()?)
///     .max_keys(10_000)
///     .build()?;
///
/// let call = || async { Ok::<_, std::io::Error>("ok") };
/// assert!(per_client.run("alice", call).await.is_ok());
/// assert!(per_client.run("alice", call).await.is_err()); // alice is over her limit
/// assert!(per_client.run("bob", call).await.is_ok()); // bob has his own
/// # let _: &Keyed<String, RateLimiter> = &per_client;
/// # Ok(())
/// # }
/// ```
pub struct Keyed<K, P: Policy> {
    pub(super) inner: Arc<Inner<K, P>>,
}

pub(super) struct Inner<K, P: Policy> {
    template: P,
    map: Map<K, Arc<Instance<P>>>,
    max_keys: usize,
    pub(super) listeners: Listeners<Event>,
    keys: AtomicUsize,
    created: AtomicU64,
    evicted_capacity: AtomicU64,
    evicted_idle: AtomicU64,
    refused: AtomicU64,
}

/// One key's instance, and what its tower door keeps beside it.
pub(super) struct Instance<P: Policy> {
    pub(super) policy: P,
    pub(super) door: P::Door,
}

impl<K, P: Policy> Keyed<K, P> {
    /// A builder whose keys get instances made from `template` (by [`Policy::fresh`]: the
    /// template's settings, name and listeners, fresh state); see [`Builder`] for the defaults.
    pub fn builder(template: P) -> Builder<K, P> {
        Builder::new(template)
    }

    pub(super) fn from_parts(
        template: P,
        max_keys: usize,
        idle: Option<std::time::Duration>,
        listeners: Listeners<Event>,
    ) -> Self
    where
        K: Hash + Eq,
    {
        Self {
            inner: Arc::new(Inner {
                template,
                map: Map::new(max_keys, idle),
                max_keys,
                listeners,
                keys: AtomicUsize::new(0),
                created: AtomicU64::new(0),
                evicted_capacity: AtomicU64::new(0),
                evicted_idle: AtomicU64::new(0),
                refused: AtomicU64::new(0),
            }),
        }
    }

    /// The keyed policy's [name](Builder::name).
    pub fn name(&self) -> &crate::Name {
        self.inner.listeners.name()
    }

    /// The template every key's instance is made from.
    pub fn template(&self) -> &P {
        &self.inner.template
    }

    /// A snapshot of the keys held and the counts of creations, evictions and refusals. Cheap:
    /// a few atomic loads.
    pub fn metrics(&self) -> Metrics {
        let i = &self.inner;
        Metrics {
            keys: i.keys.load(Ordering::Relaxed),
            max_keys: i.max_keys,
            shards: i.map.shards(),
            created: i.created.load(Ordering::Relaxed),
            evicted_capacity: i.evicted_capacity.load(Ordering::Relaxed),
            evicted_idle: i.evicted_idle.load(Ordering::Relaxed),
            refused: i.refused.load(Ordering::Relaxed),
        }
    }

    /// A tower layer whose services run each request through the instance of the key `key`
    /// reads from it (an HTTP authority, a route, a tenant header), borrowed from the request,
    /// so a key already held costs no allocation.
    ///
    /// ```
    /// use bulwark::circuit_breaker::CircuitBreaker;
    /// use bulwark::keyed::Keyed;
    /// use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
    ///
    /// struct Request { host: String }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), BoxError> {
    /// let per_host = Keyed::<String, _>::builder(CircuitBreaker::builder().build()?).build()?;
    /// let mut client = ServiceBuilder::new()
    ///     .layer(per_host.layer(|req: &Request| req.host.as_str()))
    ///     .service(service_fn(|req: Request| async move { Ok::<_, BoxError>(req.host) }));
    /// let host = client.ready().await?.call(Request { host: "a.example".into() }).await?;
    /// assert_eq!(host, "a.example");
    /// assert!(per_host.contains("a.example"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn layer<Req, Q, F>(&self, key: F) -> KeyedLayer<K, P, F, Q>
    where
        F: for<'a> Fn(&'a Req) -> &'a Q,
        Q: ?Sized,
    {
        KeyedLayer::new(self.clone(), key)
    }

    /// A tower layer like [`layer`](Self::layer) whose key function returns an owned key, for a
    /// key computed from the request (a host name lower-cased, a tenant id parsed from a
    /// header). The key is the function's to build on every call: a `String` key then costs an
    /// allocation per call; a `Copy` key (an id) costs none.
    pub fn layer_owned<Req, F>(&self, key: F) -> KeyedLayer<K, P, Owned<F>, K>
    where
        F: Fn(&Req) -> K,
    {
        KeyedLayer::new(self.clone(), Owned(key))
    }
}

impl<K, P> Keyed<K, P>
where
    K: Hash + Eq + fmt::Debug,
    P: Policy,
{
    /// The instance of `key`, made from the template if the key is new (evicting an idle key if
    /// the map is full). A clone of the handle: cheap, and for a key already held, no
    /// allocation and no write lock.
    ///
    /// Unlike a call through [`run`](Self::run) or the layer, the handle does not keep its key
    /// from being evicted: used after that, it acts on an instance no longer in the map.
    ///
    /// # Errors
    ///
    /// [`TooManyKeys`] when the key is new and no key of its shard may be evicted yet.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Result<P, TooManyKeys>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + fmt::Debug + ?Sized,
    {
        // A hit clones the handle under the shard's read lock, not the entry's `Arc`.
        match self.inner.map.with(key, |i| i.policy.clone()) {
            Some(policy) => Ok(policy),
            None => self.miss(key, |i| i.policy.clone()),
        }
    }

    /// Runs the call `f` makes through the instance of `key` (made from the template if the key
    /// is new), with the pattern's own `run` and the crate's flat [`Error`](crate::Error).
    ///
    /// The key is looked up when `run` is called; the call then runs as the pattern's `run`
    /// runs it (`f` is called again for each retry of a [`Retry`](crate::retry::Retry) or a
    /// [`Pipeline`](crate::pipeline::Pipeline)). A new key that cannot get an instance fails
    /// with [`Error::TooManyKeys`](crate::Error::TooManyKeys), `f` never called.
    pub fn run<Q, F, Fut, T, E>(
        &self,
        key: &Q,
        f: F,
    ) -> impl Future<Output = Result<T, crate::Error<E>>> + use<K, P, Q, F, Fut, T, E>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + fmt::Debug + ?Sized,
        P: RunPolicy<T, E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        // The future holds the key's instance until it completes: a key with a call in flight
        // is not evicted.
        let found = self.instance(key);
        async move {
            match found {
                Ok(instance) => instance.policy.run_call(f).await,
                Err(refused) => Err(crate::Error::TooManyKeys(refused)),
            }
        }
    }

    /// Whether `key` holds an instance now (its recency untouched).
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.inner.map.contains(key)
    }

    /// Calls `f` with every key held and its instance, one shard at a time (a shard's read lock
    /// is held while `f` runs on its keys: `f` must not call into this keyed policy).
    pub fn for_each(&self, mut f: impl FnMut(&K, &P)) {
        self.inner.map.for_each(|k, i| f(k, &i.policy));
    }

    /// Evicts every key idle longer than the [idle timeout](Builder::idle_timeout) whose
    /// instance may be evicted, and returns how many went. Keys idle past the timeout are also
    /// evicted from a shard whenever a new key is inserted into it; call this from a periodic
    /// task to give their memory back sooner.
    pub fn evict_idle(&self) -> usize {
        let evicted = self.inner.map.evict_idle(evictable);
        let n = evicted.len();
        self.report(evicted);
        n
    }

    #[inline]
    pub(super) fn instance<Q>(&self, key: &Q) -> Result<Arc<Instance<P>>, TooManyKeys>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + fmt::Debug + ?Sized,
    {
        match self.inner.map.with(key, Arc::clone) {
            Some(instance) => Ok(instance),
            None => self.miss(key, Arc::clone),
        }
    }

    #[cold]
    #[inline(never)]
    fn miss<Q, R>(
        &self,
        key: &Q,
        take: impl FnOnce(&Arc<Instance<P>>) -> R,
    ) -> Result<R, TooManyKeys>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + fmt::Debug + ?Sized,
    {
        let inner = &self.inner;
        let template = &inner.template;
        let inserted = inner.map.insert(
            key,
            || {
                let policy = template.fresh();
                Arc::new(Instance {
                    door: policy.door(),
                    policy,
                })
            },
            evictable,
        );
        if inserted.created {
            inner.created.fetch_add(1, Ordering::Relaxed);
            inner.keys.fetch_add(1, Ordering::Relaxed);
        }
        // What the caller takes, then the map's reference dropped before reporting, so that this
        // lookup holds the key no longer than it must.
        let taken = inserted.value.as_ref().map(take);
        drop(inserted.value);
        // Reported once the shard's lock is released: listeners are user code.
        self.report(inserted.evicted);
        match taken {
            Some(taken) => Ok(taken),
            None => {
                inner.refused.fetch_add(1, Ordering::Relaxed);
                inner.listeners.emit(|name| Event::Refused {
                    name,
                    key: format!("{key:?}"),
                });
                Err(TooManyKeys::new(*self.name(), inner.max_keys))
            }
        }
    }

    /// Counts and reports evicted keys; their instances are dropped here, outside any lock.
    fn report(&self, evicted: Vec<(K, Arc<Instance<P>>, Eviction)>) {
        let inner = &self.inner;
        for (key, _, reason) in &evicted {
            inner.keys.fetch_sub(1, Ordering::Relaxed);
            let counter = match reason {
                Eviction::Capacity => &inner.evicted_capacity,
                Eviction::Idle => &inner.evicted_idle,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            inner.listeners.emit(|name| Event::Evicted {
                name,
                key: format!("{key:?}"),
                reason: *reason,
            });
        }
        #[cfg(feature = "metrics")]
        if let Some(i) = inner.listeners.instruments() {
            i.keys.set(inner.keys.load(Ordering::Relaxed) as f64);
        }
    }
}

/// Whether a key's instance may be evicted: no call in flight through the keyed doors holds it
/// (the map's is then the only reference: read under the shard's write lock, when no lookup
/// can take another), and the instance lets go.
fn evictable<P: Policy>(instance: &Arc<Instance<P>>) -> bool {
    Arc::strong_count(instance) == 1 && instance.policy.is_evictable()
}

impl<K, P: Policy> Clone for Keyed<K, P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, P: Policy + fmt::Debug> fmt::Debug for Keyed<K, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyed")
            .field("name", self.name())
            .field("template", &self.inner.template)
            .field("metrics", &self.metrics())
            .finish()
    }
}
