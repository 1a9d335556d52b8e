//! The hedge handle: the standalone door (`run`) and the source of tower layers.

use super::future::Run;
use super::state::Shared;
use super::{Builder, HedgeLayer, Metrics};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// Hedged calls: when an attempt has not answered after a delay, another is sent, and the first
/// to succeed answers the call.
///
/// A cheap-to-clone handle; see the [module docs](super).
///
/// ```
/// use std::time::Duration;
/// use bulwark::hedge::Hedge;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let hedge = Hedge::builder().delay(Duration::from_millis(50)).build()?;
///
/// // The first replica is stuck; the second answers.
/// let replies = ["stuck", "fast"];
/// let mut attempt = 0;
/// let reply = hedge
///     .run(|| {
///         let replica = replies[attempt];
///         attempt += 1;
///         async move {
///             if replica == "stuck" {
///                 std::future::pending::<()>().await;
///             }
///             Ok::<_, std::io::Error>(replica)
///         }
///     })
///     .await?;
/// assert_eq!(reply, "fast");
/// assert_eq!(hedge.metrics().hedge_wins, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Hedge {
    pub(super) shared: Arc<Shared>,
}

impl Hedge {
    /// A builder; see [`Builder`] for the defaults.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs a hedged call: `f` is called once per attempt, the first time at the future's
    /// first poll.
    ///
    /// The output is the first successful attempt's, or, when every attempt sent failed, the
    /// last failure: hedging adds no error of its own. Waiting for a delay needs a tokio
    /// runtime with time enabled, as `tokio::time::sleep` does.
    pub fn run<F, Fut, T, E>(&self, f: F) -> Run<F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Run::new(Arc::clone(&self.shared), f)
    }

    /// A tower layer whose services hedge their calls; requests are cloned for each attempt.
    pub fn layer(&self) -> HedgeLayer {
        HedgeLayer::new(self.clone())
    }

    /// A snapshot of the hedge's counters and its current delay. Cheap: a few atomic loads.
    pub fn metrics(&self) -> Metrics {
        self.shared.metrics()
    }
}

impl fmt::Debug for Hedge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hedge")
            .field("name", self.shared.listeners.name())
            .field("metrics", &self.metrics())
            .finish()
    }
}
