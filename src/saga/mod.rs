//! Runs a business transaction as a sequence of local steps, undoing the completed ones in
//! reverse when a later step fails.
//!
//! Use a saga when one operation spans services that share no transaction: reserve stock in
//! one, charge a card in another, book a shipment in a third. Each step has an action and, if it
//! changes anything, a compensation that undoes it. The saga either completes every step or
//! undoes every step that may have taken effect, and if an undo itself keeps failing it parks
//! the saga with every error for an operator, never dropping it silently.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use bulwark::backoff::Backoff;
//! use bulwark::saga::{Outcome, RetryPolicy, Saga, Step, StepContext};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Order { sku: String, quantity: u32, card: String, address: String }
//!
//! #[derive(Serialize, Deserialize)]
//! struct Reservation { id: u64 }
//! #[derive(Serialize, Deserialize)]
//! struct Charge { id: String, cents: u64 }
//! #[derive(Serialize, Deserialize)]
//! struct Shipment { tracking: String }
//!
//! # mod inventory { pub async fn reserve(_: &str, _: u32, _: &str) -> Result<u64, std::io::Error> { Ok(7) }
//! #     pub async fn release(_: Option<u64>, _: &str) -> Result<(), std::io::Error> { Ok(()) } }
//! # mod payments { pub async fn charge(_: &str, cents: u64, _reservation: u64, key: &str) -> Result<String, std::io::Error> { Ok(format!("ch-{key}-{cents}")) }
//! #     pub async fn refund_by_key(_: &str) -> Result<(), std::io::Error> { Ok(()) } }
//! # mod shipping { pub async fn create(_: &str, _: u64, _: &str) -> Result<String, std::io::Error> { Ok("TRACK-1".into()) }
//! #     pub async fn cancel(_: &str) -> Result<(), std::io::Error> { Ok(()) } }
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut saga = Saga::<Order>::builder("place-order")
//!     .version(1)
//!     .deadline(Duration::from_secs(30));
//!
//! let reserve = saga.step(
//!     Step::new("reserve-inventory", |ctx: StepContext<Order>| async move {
//!         let order = ctx.input();
//!         let key = ctx.idempotency_key().to_string();
//!         let id = inventory::reserve(&order.sku, order.quantity, &key).await?;
//!         Ok::<_, std::io::Error>(Reservation { id })
//!     })
//!     // Runs if a later step fails, or if this one timed out (then `output()` is `None` and
//!     // the reservation is released by the action's idempotency key).
//!     .compensate(|ctx| async move {
//!         let id = ctx.output().map(|r| r.id);
//!         inventory::release(id, &ctx.action_key().to_string()).await
//!     })
//!     .timeout(Duration::from_secs(2))
//!     .retry(RetryPolicy::new(3, Backoff::exponential(Duration::from_millis(50)).build()?)),
//! );
//!
//! let charge = saga.step(
//!     Step::new("charge-payment", move |ctx: StepContext<Order>| async move {
//!         let reservation = ctx.output(&reserve)?; // typed: &Reservation
//!         let cents = 1999 * u64::from(ctx.input().quantity);
//!         let key = ctx.idempotency_key().to_string();
//!         let id = payments::charge(&ctx.input().card, cents, reservation.id, &key).await?;
//!         Ok::<_, bulwark::BoxError>(Charge { id, cents })
//!     })
//!     .compensate(|ctx| async move {
//!         // Refunds by the charge's idempotency key: safe if the charge never happened.
//!         payments::refund_by_key(&ctx.action_key().to_string()).await
//!     })
//!     .timeout(Duration::from_secs(5)),
//! );
//!
//! let ship = saga.step(
//!     Step::new("create-shipment", move |ctx: StepContext<Order>| async move {
//!         let reservation = ctx.output(&reserve)?.id;
//!         let tracking = shipping::create(&ctx.input().address, reservation, &ctx.idempotency_key().to_string()).await?;
//!         Ok::<_, bulwark::BoxError>(Shipment { tracking })
//!     })
//!     .compensate(|ctx| async move {
//!         match ctx.output() {
//!             Some(shipment) => shipping::cancel(&shipment.tracking).await,
//!             None => Ok(()),
//!         }
//!     }),
//! );
//!
//! let saga = saga.build()?;
//!
//! let order = Order { sku: "mug".into(), quantity: 2, card: "tok_visa".into(), address: "1 Main St".into() };
//! match saga.run(order).await? {
//!     Outcome::Completed(outputs) => {
//!         let charged = outputs.get(&charge).map(|c| c.cents);
//!         assert_eq!(charged, Some(3998));
//!         assert_eq!(outputs.get(&ship).map(|s| s.tracking.as_str()), Some("TRACK-1"));
//!     }
//!     Outcome::Compensated(undone) => eprintln!("order not placed: {undone}"),
//!     Outcome::Parked(parked) => eprintln!("needs an operator: {parked}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The context's type is written out (`ctx: StepContext<Order>`) because a closure's argument
//! type is settled before the method chain around it (`.compensate(..)`, `.timeout(..)`) tells
//! the compiler which saga the step is for. A step written as a function returning
//! `Step<Order, Charge>` (the usual shape once a step captures a client) needs no annotation.
//!
//! # Typed steps, and why keys
//!
//! A step is a [`Step<I, T>`](Step): its action gets a [`StepContext<I>`] (the saga's input
//! `I`, its idempotency key, its attempt) and returns a `T`. Adding the step to the builder
//! returns a [`StepKey<T>`], and a later step reads the output with `ctx.output(&key)`, which
//! returns a `&T`: no strings, no casts at the call site. Two alternatives were set aside:
//!
//! - a typestate builder that threads every earlier output into the next action as a growing
//!   tuple is checked entirely at compile time, but the types grow with every step, a parallel
//!   group needs its own tuple arithmetic, and closures end up destructuring `((((), a), b), c)`;
//! - a shared mutable state struct would hide which step produced what, and could not be
//!   rebuilt from the log of a resumed saga step by step.
//!
//! Keys give almost the same safety: a key only exists once its step is added, so a closure can
//! only capture the keys of steps added before it. What the compiler cannot see (a key from
//! another definition, or from the same parallel group, whose output does not exist yet) is
//! caught on every call, deterministically, as a [`MissingOutput`] error, which converts into the
//! step's error with `?`; it never panics and never races.
//!
//! Outputs (and the input) are `serde` types: the orchestrator records each output as JSON in
//! the [`SagaStore`] when the step completes, so a durable store can hand it back to a saga
//! resumed in another process. In memory the typed value is kept as is; serialization is only
//! for the log.
//!
//! # Compensation
//!
//! A step's compensation is armed before its action's first attempt: it runs if the saga fails
//! later, and also if this step's action may have taken effect without completing (an attempt
//! that timed out, panicked, or was abandoned on cancellation or at the deadline). It gets a
//! [`CompensationContext`] with the step's output if there is one, and the action's
//! idempotency key, so a compensation must be written to be safe when the action did nothing.
//! A step whose every attempt returned an error is taken at its word and not compensated.
//!
//! Compensations run in reverse order of the steps (a parallel group's concurrently), each with
//! its own [`RetryPolicy`] ([`RetryPolicy::compensation_default`] unless the saga or step says
//! otherwise) and optional timeout. If one still fails, the steps before it are left alone
//! (nothing is undone out of order) and the outcome is [`Outcome::Parked`], with every error of
//! every attempt ([`Parked::stuck`], [`Parked::cause`]) and the steps still to undo
//! ([`Parked::pending`]).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use bulwark::BoxError;
//! use bulwark::saga::{Cause, Outcome, Saga, Step};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let undone = Arc::new(Mutex::new(Vec::new()));
//! let step = |name: &'static str| {
//!     let undone = undone.clone();
//!     Step::<u32, ()>::new(name, |_ctx| async { Ok::<_, BoxError>(()) }).compensate(move |_ctx| {
//!         let undone = undone.clone();
//!         async move {
//!             undone.lock().unwrap().push(name);
//!             Ok::<_, BoxError>(())
//!         }
//!     })
//! };
//! let mut saga = Saga::<u32>::builder("undo-demo");
//! saga.step(step("reserve"));
//! saga.step(step("charge"));
//! saga.step(Step::new("ship", |_ctx| async { Err::<(), BoxError>("no courier".into()) }));
//!
//! let Outcome::Compensated(compensated) = saga.build()?.run(7).await? else { unreachable!() };
//! let Cause::Step(failure) = compensated.cause() else { unreachable!() };
//! assert_eq!(failure.step(), "ship");
//! assert_eq!(*undone.lock().unwrap(), ["charge", "reserve"]);
//! # Ok(())
//! # }
//! ```
//!
//! # Timeouts, retries, deadline
//!
//! Per step: [`Step::timeout`] bounds each attempt (through [`crate::timeout`]), and
//! [`Step::retry`] sets the attempts and the pauses between them (a [`Backoff`](crate::backoff::Backoff)
//! from the shared [`backoff`](crate::backoff) module, so jitter and caps work as for the retry
//! pattern); every attempt carries the
//! same [`IdempotencyKey`] (`"{saga id}/{step}"`, the compensation's is
//! `"{saga id}/{step}/compensate"`). Per saga: [`SagaBuilder::deadline`] bounds the forward
//! steps; when it passes, the step in flight is abandoned and the saga compensates.
//!
//! # The log
//!
//! Every transition is appended to the saga's log in a [`SagaStore`] before the work it
//! announces starts: an action never runs unless its [`LogEntry::StepStarted`] is recorded, a
//! compensation never runs unless its [`LogEntry::CompensationStarted`] is, and nothing is
//! undone unless the turn ([`LogEntry::Compensating`]) is. The first entry names the definition
//! and its version and holds the input as JSON; [`LogEntry::StepCompleted`] holds the output. So
//! a log alone says where a saga stood: which steps completed (with their outputs), which was in
//! flight (and may have taken effect), whether it was compensating and which compensations
//! finished. [`Replay::from_log`] reads it back that way, for an operator or for recovery,
//! deciding the phase from every entry (a compensation entry means the saga was compensating);
//! [`Replay::to_compensate`] lists what is left to undo.
//!
//! # When the log cannot be written
//!
//! An append the store fails (a locked database, a full disk, a lost connection) is tried again
//! per [`SagaBuilder::store_retry`] (3 attempts by default); one the store refuses after
//! checking it is not. If an append still fails, the run **stops where it is**: it starts
//! nothing more (a step of the same parallel stage that is in flight finishes its attempt and
//! records it; none starts anew), and its caller gets [`SagaError::Unsettled`] instead of an
//! outcome. The saga is then exactly where its log says, and [`Registry::recover`] finishes it
//! from there, by the rules below.
//!
//! So the caller is told [`Outcome::Completed`], [`Outcome::Compensated`] or [`Outcome::Parked`]
//! only once the [`LogEntry::Finished`] entry with that outcome is durably in the log; nothing
//! recovery does afterwards can contradict it, since recovery leaves a finished saga alone.
//! [`SagaError::Store`] means the store wrote nothing of the saga: it does not exist, nothing
//! ran and nothing will (a start whose write *may* have happened, because the store could not
//! tell, is `Unsettled` instead). `Unsettled` promises no outcome: recovery reaches one.
//!
//! An action that completed but whose [`LogEntry::StepCompleted`] could not be recorded is, as
//! the log tells it, in flight: recovery runs it again only if its step says
//! [`Resume::Rerun`], and otherwise turns the saga back and compensates it (without its output,
//! as after a timeout). Likewise a compensation whose completion could not be recorded is run
//! again, unless its step says [`Resume::Park`].
//!
//! The store interface is a few methods: append to a saga's log, load it, list the sagas
//! without a [`LogEntry::Finished`], list the parked ones, and claim, renew and release a saga
//! (see [Claims](#claims)). [`InMemoryStore`] is the default; it forgets a saga once it
//! completes or is compensated (parked sagas stay, for the operator), or keeps everything with
//! [`InMemoryStore::keep_all`]. With the `sqlite` feature, `SqliteStore` keeps the logs in a
//! file, durably. Both keep the store's contract (see [`SagaStore`]): a second start for an id
//! is refused, and so is any entry for a saga that is not running or not held by the writer.
//!
//! # Claims
//!
//! Every run holds a [`Claim`] on its saga in the store: a fresh run from its first entry (the
//! store installs the claim in the same transaction), a resumed one from before its log is read.
//! The store refuses any entry not written under the claim that holds the saga, so two runs can
//! never write one saga's log: a second [`Registry`] recovering the same store, in this process
//! or another, finds the saga [held](Recovered::held) and leaves it alone.
//!
//! A claim lasts the store's claim time to live ([`DEFAULT_CLAIM_TTL`], 10 s, unless the store
//! is configured otherwise). The run renews it every third of that (`SqliteStore` also renews
//! it with each append); a run that finishes ends it, and a run that stops unsettled releases
//! it. A process that dies leaves its claims to expire: until then [`Registry::recover`] reports those sagas as
//! held, with the time left, and resumes them when called again after it. A run that stalls
//! past its claim's expiry (a paused process) and whose saga another run has taken over cannot
//! write any more: its next append is refused, and it stops unsettled before running anything.
//!
//! # Durability and recovery
//!
//! What survives a crash is the log. With a durable store (`SqliteStore`, feature `sqlite`),
//! each append is on disk before its future resolves, so before the work it announces starts:
//! after a kill or a power cut, the log of every unfinished saga says where it stood. A
//! [`Registry`] holds the definitions a process can resume, by name and version; at start (and
//! again for sagas it found held, or runs that ended unsettled), [`Registry::recover`] claims
//! each unfinished saga no live run holds, reads its log, and resumes it on its own task:
//!
//! - **Going forward** (no compensation entry in the log): completed steps are not run again
//!   (their outputs are read back from the log, typed, for later steps and for compensations).
//!   A step that was waiting between retries goes on retrying. A step whose action was *in
//!   flight* (started, its end not in the log) may or may not have taken effect, and its
//!   [`Resume`] policy decides: [`Resume::Rerun`] runs it again with the same idempotency key
//!   (for an action the service deduplicates by that key); [`Resume::Compensate`], the
//!   default, and [`Resume::Park`] never run it twice and turn the saga back, the step's
//!   compensation running without an output, as after a timeout. A step whose last attempt had
//!   failed turns the saga back.
//! - **Compensating** (a [`LogEntry::Compensating`] or any compensation entry in the log): goes
//!   on compensating, never forward. Compensations that completed are not run again. One in
//!   flight is run again (compensations are retried by design, and are usually idempotent by
//!   their key), unless its step says [`Resume::Park`]: then it is not run twice, and the saga
//!   parks with [`StepError::InDoubt`] for an operator to check (the log goes on showing it in
//!   flight until the operator reopens the saga).
//! - **Parked**: stays parked until an operator acts. [`Registry::parked`] lists parked sagas
//!   with their logs read back ([`Replay::to_compensate`] says what is left to undo), and
//!   reports those whose logs cannot be read; [`Registry::retry_compensation`] records the
//!   operator's note and runs the stuck compensations again (those in doubt included: the
//!   operator checked them), and those before them; [`Registry::mark_resolved`] records that
//!   the operator settled it by hand, and nothing more runs for it.
//!
//! A saga is resumed only by the definition that started it: same name, same version. A log
//! whose version is not registered ([`RecoveryError::VersionMismatch`]), whose definition is
//! unknown, whose steps are not the definition's, or whose input or outputs no longer
//! deserialize is reported in [`Recovered::failed`] and left as it is in the store, never
//! guessed at: bump [`SagaBuilder::version`] when the steps change, and register the old
//! version beside the new one until its sagas have finished. A resumed saga's deadline starts
//! again, and its compensation attempts are counted afresh.
//!
//! So the guarantees are: an action or a compensation never runs unless its start is durable;
//! each runs once per attempt its log shows, and one more time after a crash or a stop only if
//! the log shows it in flight and its step's [`Resume`] policy allows it (an action: `Rerun`; a
//! compensation: `Rerun` or `Compensate`), always with the same idempotency key: **at least
//! once, with idempotency keys**, and never twice where the step says it must not be. An action
//! or compensation the log shows completed never runs again; a saga whose log shows a
//! compensation never goes forward again. A step that may have taken effect is compensated if
//! the saga turns back. Effects happen exactly once when the services deduplicate by the key:
//! that is what the key is for. The outcome a caller is told is the one in the log.
//!
//! ```
//! use bulwark::BoxError;
//! use bulwark::saga::{InMemoryStore, Outcome, Registry, Resume, Saga, Step};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: `SqliteStore::open("sagas.db").await?` (feature `sqlite`).
//! let store = InMemoryStore::new();
//! let mut refund = Saga::<u64>::builder("refund").version(2).store(store.clone());
//! refund.step(
//!     // The bank deduplicates credits by key: safe to run again after a crash.
//!     Step::new("credit", |ctx| async move { Ok::<_, BoxError>(*ctx.input()) })
//!         .on_resume(Resume::Rerun),
//! );
//! let refund = refund.build()?;
//!
//! // At start: resume what an earlier process left unfinished, before taking new work.
//! let mut registry = Registry::new(store);
//! registry.register(&refund)?;
//! let recovered = registry.recover().await?;
//! for error in &recovered.failed {
//!     eprintln!("not resumed: {error}");
//! }
//! for held in &recovered.held {
//!     eprintln!("held by {} for {:?} more: recover again then", held.owner, held.expires_in);
//! }
//! let parked = registry.parked().await?;
//! for saga in &parked.sagas {
//!     eprintln!("parked, for an operator: {} ({:?})", saga.id, saga.replay.reason);
//! }
//! for error in &parked.failed {
//!     eprintln!("parked, log unreadable: {error}");
//! }
//! assert!(matches!(refund.run(1999).await?, Outcome::Completed(_)));
//! # Ok(())
//! # }
//! ```
//!
//! # Metrics
//!
//! [`Saga::metrics`] counts the definition's runs: started, in flight, completed, compensated,
//! parked, and unsettled (stopped by the store; recovery finishes them).
//!
//! # Clone
//!
//! A [`Saga`] is an `Arc` around its definition; clones share it, its store and its listeners.
//! Each [`run`](Saga::run) has its own state.
//!
//! # Backpressure
//!
//! None: every `run` spawns one task that runs until the saga's outcome. Bound the number of
//! sagas in flight around `run` (a [`tokio::sync::Semaphore`], or a bulkhead) if they can pile up.
//! [`Registry::recover`] resumes every unfinished saga at once, one task each. A durable store
//! has its own queue: `SqliteStore` commits the appends waiting in it together, so a store
//! under load commits more per fsync rather than refusing work.
//!
//! # Cancellation
//!
//! A run is a task spawned on the current tokio runtime, and the [`Run`] future only waits for
//! it. Dropping the `Run` cancels the saga: no new step starts, the step in flight is dropped
//! (and, since it may have taken effect, compensated), and the compensations run to the end in
//! the spawned task, whether anyone waits or not; the outcome is [`Cause::Cancelled`] in the log
//! and the events. [`Run::detach`] lets the saga go on to its end unwatched instead. A runtime
//! that shuts down drops its tasks, compensations included: that is what a durable store and
//! recovery are for (see [Durability and recovery](#durability-and-recovery)).
//!
//! # Cost
//!
//! Per step, on the success path: one boxed future for the action, one box for its output, its
//! JSON value, and two appends to the store (each a boxed future; in memory, a mutex and a
//! `Vec` push). Per run, one timer renews the run's claim (every third of the store's claim
//! time to live); with no timeout and no deadline no other timer is armed. With no listener (and no
//! `tracing`) no event is built. `benches/saga.rs` measures it beside the bare closures.
//!
//! # Events
//!
//! [`SagaBuilder::on_event`] registers listeners for [`Event`]s: every step and compensation
//! attempt, retries, the turn to compensating, and the outcome (or the run's stop, unsettled).
//! An event that announces a logged transition is delivered once that entry is in the log. A listener that panics is caught
//! and reported (with `tracing`, as an error event); the run and the other listeners carry on. With the `tracing` feature
//! each event is also a `tracing` event (target `bulwark::saga`), and each run is a `saga` span
//! with a `step` (or `compensation`) span per attempt.

mod compensation;
mod definition;
mod error;
mod events;
mod handle;
mod recovery;
mod run;
mod store;

pub use definition::{
    CompensationContext, Group, IdempotencyKey, MissingOutput, Outputs, Resume, RetryPolicy,
    SagaBuilder, Step, StepContext, StepKey,
};
pub use error::{
    Cause, Compensated, Failure, NotCompleted, Parked, SagaError, StepError, Unsettled,
};
pub use events::{Event, Metrics};
pub use handle::{Run, Saga};
pub use recovery::{
    HeldSaga, ParkedSaga, ParkedSagas, Phase, Progress, Recovered, RecoveryError, Registry, Replay,
    ReplayError, StepRecord,
};
pub use recovery::{Takeover, TakeoverMetrics};
pub use run::outcome::Outcome;
pub use store::{
    Claim, Claimed, DEFAULT_CLAIM_TTL, InMemoryStore, LogEntry, OutcomeKind, SagaId, SagaStore,
    StepRef, StoreError, StoreFuture,
};
#[cfg(feature = "postgres")]
pub use store::{ExpiredSaga, PostgresStore, PostgresStoreBuilder};
#[cfg(feature = "sqlite")]
pub use store::{SqliteStore, SqliteStoreBuilder};
