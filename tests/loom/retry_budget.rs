//! loom model of the retry budget's withdrawals: retries taken concurrently never exceed what the
//! budget holds.
//!
//! Run with `RUSTFLAGS="--cfg bulwark_loom" cargo test --release --test loom` (as `.ci/run`
//! does): the budget's atomics and its rotation mutex are then loom's, and loom explores every
//! interleaving of the threads below.
#![cfg(all(bulwark_loom, feature = "retry"))]

use bulwark::retry::{Retry, RetryBudget};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// Polls `fut` to completion with a waker that does nothing (the retry's futures here never wait
/// on anything but their own yield).
fn run_to_end<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        loom::thread::yield_now();
    }
}

/// One call that fails its first attempt and succeeds if it gets a retry; adds to `retried`.
fn call(retry: &Retry<impl bulwark::backoff::MakeDelays>, retried: &AtomicU32) {
    let out = run_to_end(
        retry.run(|attempt| async move { if attempt.is_retry() { Ok(()) } else { Err(()) } }),
    );
    if out.is_ok() {
        retried.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn concurrent_retries_never_exceed_the_budget() {
    loom::model(|| {
        // 40 %, no floor, a window far longer than the model runs. One call already made: with the
        // two calls below the window holds 3 requests, funds for 1.2 retries: one at most.
        let budget = RetryBudget::builder()
            .ratio(0.4)
            .min_per_second(0)
            .window(Duration::from_secs(3600))
            .build()
            .unwrap();
        let retry = Retry::builder()
            .max_attempts(2)
            .backoff(|| std::iter::repeat(Duration::ZERO))
            .budget(budget.clone())
            .build()
            .unwrap();
        let retried = Arc::new(AtomicU32::new(0));
        let _ = run_to_end(retry.run(|_| async { Ok::<_, ()>(()) }));

        let threads: Vec<_> = (0..2)
            .map(|_| {
                let retry = retry.clone();
                let retried = retried.clone();
                loom::thread::spawn(move || call(&retry, &retried))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let granted = retried.load(Ordering::SeqCst);
        assert!(granted <= 1, "{granted} retries granted, the budget held 1");
        assert_eq!(budget.metrics().retries, u64::from(granted));
        assert_eq!(budget.metrics().requests, 3);
    });
}
