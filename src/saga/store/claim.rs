//! Claims: which run may write a saga's log, enforced by the store in its own transaction.

use rand::RngExt;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// How long a claim lasts without being renewed, unless the store is configured otherwise.
///
/// A run renews its claim every third of this (and every append it makes renews it too), so a
/// live run keeps it; a process that died leaves its claims to expire this long after its last
/// write, after which another [`Registry::recover`](crate::saga::Registry::recover) may resume its sagas.
pub const DEFAULT_CLAIM_TTL: Duration = Duration::from_secs(10);

/// A run's hold on one saga: only the run holding the saga's current claim can append to its
/// log, and a [`Registry`](crate::saga::Registry) resumes only a saga it could claim.
///
/// A claim is an owner (who: by default this process, `"{pid}@{start time}"`) and a token that
/// no other claim shares (a counter that starts at a random value in each process). The store
/// records the claim that holds each running saga, with an expiry, and checks it in the same
/// transaction as each append (see [`SagaStore`](crate::saga::SagaStore)):
///
/// - the first entry ([`LogEntry::Started`](crate::saga::LogEntry::Started)), or an operator's
///   [`LogEntry::Reopened`](crate::saga::LogEntry::Reopened), installs the claim it is written under;
/// - every other entry of a running saga is refused unless it is written under the claim that
///   holds the saga (this is the fencing: a run that lost its claim, because it stalled past the
///   expiry and another took the saga over, cannot write, so it stops before running anything);
///   a store may renew the claim with each accepted append (`SqliteStore` does);
/// - [`SagaStore::claim`](crate::saga::SagaStore::claim) takes a running saga whose claim has expired
///   (or that has none), [`renew`](crate::saga::SagaStore::renew) extends the holder's,
///   [`release`](crate::saga::SagaStore::release) gives it up, and the saga's
///   [`Finished`](crate::saga::LogEntry::Finished) entry ends it.
///
/// The token is a unique id, not a counter ordered across claims: the store compares it for
/// equality, which is all fencing inside the store needs. A service that wants to reject a
/// stale owner's requests itself gets the saga's idempotency key, and from a store that numbers
/// the holds of each saga (the in-memory and PostgreSQL stores), the claim's
/// [`fence`](Self::fence): a number that grows with every new holder of the saga, which steps
/// see as [`StepContext::fence`](crate::saga::StepContext::fence).
#[derive(Clone)]
pub struct Claim {
    owner: Arc<str>,
    token: u64,
    fence: Option<u64>,
}

/// Two claims are the same claim if they have the same owner and token; the fence is what the
/// store said about the claim, not part of it.
impl PartialEq for Claim {
    fn eq(&self, other: &Self) -> bool {
        self.owner == other.owner && self.token == other.token
    }
}

impl Eq for Claim {}

impl std::hash::Hash for Claim {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.owner.hash(state);
        self.token.hash(state);
    }
}

/// This process, as an owner: its id and its start time, so that a restarted process with the
/// same id is another owner.
static PROCESS: LazyLock<Arc<str>> = LazyLock::new(|| {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}@{started:x}", std::process::id()).into()
});

/// The next token; starts at a random value so that processes do not share tokens.
static TOKENS: LazyLock<AtomicU64> = LazyLock::new(|| AtomicU64::new(rand::rng().random()));

impl Claim {
    /// A fresh claim owned by this process.
    pub fn new() -> Self {
        Self::with_owner(PROCESS.clone())
    }

    /// A fresh claim owned by `owner` (a node's name, say), with a token no other claim of this
    /// process has.
    pub fn with_owner(owner: impl Into<Arc<str>>) -> Self {
        Self {
            owner: owner.into(),
            token: TOKENS.fetch_add(1, Ordering::Relaxed),
            fence: None,
        }
    }

    /// Who holds the claim.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The claim's token: the same owner's claims differ by it.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The claim's fencing number on its saga, if the store numbers holds: 1 for the run that
    /// started the saga, and one more for each later holder (a run that took the saga over, an
    /// operator's reopening). A later holder always has a greater number than every earlier one,
    /// so a service that remembers the greatest number it has seen for a saga can refuse a
    /// request from a stale holder (one that stalled past its expiry and was taken over).
    pub fn fence(&self) -> Option<u64> {
        self.fence
    }

    /// The claim, with the fencing number the store gave it on a saga (for stores: see
    /// [`SagaStore::fence`](crate::saga::SagaStore::fence)).
    #[must_use]
    pub fn with_fence(mut self, fence: u64) -> Self {
        self.fence = Some(fence);
        self
    }
}

impl Default for Claim {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Claim({} #{:x})", self.owner, self.token)?;
        match self.fence {
            Some(fence) => write!(f, " fence {fence}"),
            None => Ok(()),
        }
    }
}

/// What [`SagaStore::claim`](crate::saga::SagaStore::claim) did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claimed {
    /// The saga is running and now held by the claim.
    Granted,
    /// Another claim holds the saga and has not expired: a live run, or one that stopped less
    /// than the claim's time to live ago.
    Held {
        /// The holder's owner.
        owner: String,
        /// How long until the holder's claim expires, unless it is renewed.
        expires_in: Duration,
    },
    /// The saga is not running (it finished, is parked or resolved) or is not in the store:
    /// there is nothing to resume.
    NotRunning,
}
