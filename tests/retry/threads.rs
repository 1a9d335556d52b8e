//! One retry budget shared by bare threads, a runtime each (so each deposits on its own stripe):
//! every call is counted once, and the retries the budget allows never exceed its share, however
//! the threads' withdrawals interleave.

use crate::common::fixed;
use bulwark::retry::{Event, GiveUpReason, Retry, RetryBudget};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const THREADS: u64 = 8;
const CALLS: u64 = 20_000;

#[test]
fn a_budget_shared_by_threads_counts_every_call_and_allows_at_most_its_share() {
    // A fifth of the requests, no floor; a window no call outlives.
    let budget = RetryBudget::builder()
        .ratio(0.2)
        .min_per_second(0)
        .window(Duration::from_secs(600))
        .build()
        .unwrap();
    let (retried, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (on_retry, on_refusal) = (retried.clone(), refused.clone());
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(fixed(Duration::ZERO))
        .budget(budget.clone())
        .on_event(move |e| match e {
            Event::Retrying { .. } => {
                on_retry.fetch_add(1, Ordering::SeqCst);
            }
            Event::GaveUp {
                reason: GiveUpReason::Budget,
                ..
            } => {
                on_refusal.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        })
        .build()
        .unwrap();
    let attempts = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (retry, attempts) = (retry.clone(), &attempts);
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    for call in 0..CALLS {
                        // Two calls in three fail every attempt; the others succeed at once.
                        let fails = (thread + call) % 3 != 0;
                        let _ = retry
                            .run(|_| {
                                attempts.fetch_add(1, Ordering::SeqCst);
                                async move { if fails { Err(()) } else { Ok(()) } }
                            })
                            .await;
                    }
                });
            });
        }
    });
    let m = budget.metrics();
    let calls = THREADS * CALLS;
    assert_eq!(m.requests, calls, "every call deposits once, on any thread");
    assert_eq!(m.retries, retried.load(Ordering::SeqCst));
    assert_eq!(attempts.load(Ordering::SeqCst), calls + m.retries);
    assert!(
        m.retries * 5 <= m.requests,
        "{} retries for {} requests, more than a fifth",
        m.retries,
        m.requests
    );
    assert!(
        refused.load(Ordering::SeqCst) > 0,
        "the failures outran the budget"
    );

    // Alone, a call that keeps failing takes exactly what is left (with what its own deposit
    // adds), and no more: the threads' refusals left nothing behind but what they could not take.
    let before = m.retries;
    let one_thread = Retry::builder()
        .max_attempts(u32::MAX)
        .backoff(fixed(Duration::ZERO))
        .budget(budget.clone())
        .build()
        .unwrap();
    let mut tries = 0u64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let out: Result<(), ()> = rt.block_on(one_thread.run(|_| {
        tries += 1;
        async { Err(()) }
    }));
    assert_eq!(out, Err(()));
    let m = budget.metrics();
    assert_eq!(m.requests, calls + 1);
    assert_eq!(m.retries, m.requests / 5);
    assert_eq!(tries - 1, m.retries - before);
    assert_eq!(m.available, 0);
}
