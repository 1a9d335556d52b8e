//! The gateway's shipping quotes, per client and per carrier: a rate limit for each client and
//! a circuit breaker for each carrier host, both keyed (`bulwark::keyed`), behind one tower
//! stack. Example code, shared with `tests/order_flow.rs`.

use bulwark::BoxError;
use bulwark::circuit_breaker::{CircuitBreaker, CircuitOpen, State};
use bulwark::keyed::Keyed;
use bulwark::rate_limit::{RateLimited, RateLimiter};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

/// The carrier hosts the gateway asks for quotes.
pub(crate) const CARRIERS: [&str; 3] = ["dhl.example", "fedex.example", "ups.example"];

/// A quote request: which client asks, which carrier is asked.
#[derive(Clone, Debug)]
pub(crate) struct Quote {
    pub(crate) client: &'static str,
    pub(crate) carrier: &'static str,
}

/// How one quote request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum QuoteResult {
    /// The carrier answered.
    Quoted,
    /// The client was over its own rate limit.
    Limited,
    /// The carrier's breaker was open: nothing sent.
    Refused,
    /// The carrier failed.
    Failed,
}

/// The quote service's stack and its keyed policies.
pub(crate) struct Quotes {
    pub(crate) per_client: Keyed<String, RateLimiter>,
    pub(crate) per_carrier: Keyed<String, CircuitBreaker>,
    /// The carrier hosts that are down.
    pub(crate) down: Arc<Mutex<BTreeSet<&'static str>>>,
    stack: BoxCloneSyncService<Quote, String, BoxError>,
}

impl Quotes {
    pub(crate) fn new() -> Result<Self, BoxError> {
        // Two quotes a second for each client, a burst of two; up to 10,000 clients.
        let per_client = Keyed::builder(
            RateLimiter::builder()
                .rate(2, Duration::from_secs(1))
                .burst(2)
                .build()?,
        )
        .name("per-client")
        .max_keys(10_000)
        .build()?;
        // A breaker per carrier host: open after 3 failures in a row, for 30 s.
        let per_carrier = Keyed::builder(
            CircuitBreaker::builder()
                .name("carrier")
                .consecutive_failures(3)
                .open_duration(Duration::from_secs(30))
                .build()?,
        )
        .name("carriers")
        .max_keys(100)
        .build()?;
        let down = Arc::new(Mutex::new(BTreeSet::new()));
        let hosts = down.clone();
        let carrier = service_fn(move |q: Quote| {
            let is_down = hosts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(q.carrier);
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                if is_down {
                    Err(BoxError::from(format!(
                        "{}: 503 service unavailable",
                        q.carrier
                    )))
                } else {
                    Ok(format!("{} quotes 7.50 for {}", q.carrier, q.client))
                }
            }
        });
        let stack = ServiceBuilder::new()
            .layer(per_client.layer(|q: &Quote| q.client))
            .layer(per_carrier.layer(|q: &Quote| q.carrier))
            .service(carrier);
        Ok(Self {
            per_client,
            per_carrier,
            down,
            stack: BoxCloneSyncService::new(stack),
        })
    }

    /// Asks `carrier` for a quote on behalf of `client`.
    pub(crate) async fn ask(&self, client: &'static str, carrier: &'static str) -> QuoteResult {
        let mut stack = self.stack.clone();
        let quote = Quote { client, carrier };
        let answer = match stack.ready().await {
            Ok(svc) => svc.call(quote).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(_) => QuoteResult::Quoted,
            Err(e) if e.is::<RateLimited>() => QuoteResult::Limited,
            Err(e) if e.is::<CircuitOpen>() => QuoteResult::Refused,
            Err(_) => QuoteResult::Failed,
        }
    }

    /// Each carrier's breaker state, for the carriers asked so far.
    pub(crate) fn carrier_states(&self) -> Vec<(&'static str, State)> {
        CARRIERS
            .into_iter()
            .filter(|c| self.per_carrier.contains(*c))
            .filter_map(|c| Some((c, self.per_carrier.get(c).ok()?.state())))
            .collect()
    }
}
