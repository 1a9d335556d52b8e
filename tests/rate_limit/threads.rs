//! Real threads: eight threads hammer one limiter on a paused clock that they all read, so the
//! count admitted is exact: the burst at the start, then one per interval that passed (at most
//! the burst again).

use crate::limiter;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const THREADS: usize = 8;

/// Eight threads, each trying `tries` calls at the same frozen instant; returns how many got in.
fn hammer(l: &bulwark::rate_limit::RateLimiter, tries: usize) -> u64 {
    let handle = tokio::runtime::Handle::current();
    let admitted = AtomicU64::new(0);
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                // The runtime's paused clock, read from this thread.
                let _guard = handle.enter();
                barrier.wait();
                for _ in 0..tries {
                    if l.try_acquire().is_ok() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    admitted.into_inner()
}

#[tokio::test(start_paused = true)]
async fn eight_threads_get_exactly_the_burst_then_exactly_the_rate() {
    let l = limiter(1_000, Duration::from_secs(1), 50);
    assert_eq!(hammer(&l, 10_000), 50);
    let mut total = 50;
    for step_ms in [1u64, 7, 250, 3, 1_000] {
        tokio::time::advance(Duration::from_millis(step_ms)).await;
        let got = hammer(&l, 2_000);
        // One per millisecond that passed, up to the burst (a full burst after 50 ms idle).
        assert_eq!(got, step_ms.min(50), "after {step_ms} ms");
        total += got;
    }
    let m = l.metrics();
    assert_eq!(m.admitted, total);
    assert_eq!(m.admitted + m.rejected, 8 * 10_000 + 5 * 8 * 2_000);
}

#[tokio::test(start_paused = true)]
async fn threads_on_the_tower_door_and_the_standalone_door_share_one_limit() {
    use futures::FutureExt;
    let l = limiter(10, Duration::from_secs(1), 20);
    let handle = tokio::runtime::Handle::current();
    let admitted = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (l, handle, admitted) = (&l, &handle, &admitted);
            s.spawn(move || {
                let _guard = handle.enter();
                for _ in 0..100 {
                    let ok = if t % 2 == 0 {
                        l.run(|| async { Ok::<_, ()>(()) }).now_or_never() == Some(Ok(()))
                    } else {
                        use tower::{Layer, Service};
                        let mut svc = l.layer().layer(tower::service_fn(|()| async {
                            Ok::<_, std::convert::Infallible>(())
                        }));
                        matches!(svc.call(()).now_or_never(), Some(Ok(())))
                    };
                    if ok {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(admitted.into_inner(), 20);
}
