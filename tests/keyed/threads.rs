//! The bound on real threads: eight threads inserting distinct keys never make the map hold
//! more than `max_keys`; a held key is found without the shard's write lock.

use bulwark::keyed::Keyed;
use bulwark::timeout::Timeout;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn held(keyed: &Keyed<String, Timeout>) -> usize {
    let mut n = 0;
    keyed.for_each(|_, _| n += 1);
    n
}

#[test]
fn eight_threads_inserting_distinct_keys_never_exceed_max_keys() {
    // (max_keys, shards): a shard holds at least 64 keys.
    for (max_keys, shards) in [(1, 1), (7, 1), (100, 1), (1_000, 8)] {
        let keyed: Keyed<String, _> = Keyed::builder(Timeout::new(Duration::from_secs(1)))
            .max_keys(max_keys)
            .build()
            .unwrap();
        let most = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for t in 0..8 {
                let keyed = keyed.clone();
                let most = most.clone();
                s.spawn(move || {
                    for i in 0..2_000 {
                        let key = format!("t{t}-k{i}");
                        // A key another thread is inserting (holding it for an instant) may
                        // not be evicted: a new key can then be refused, never admitted over.
                        let _ = keyed.get(key.as_str());
                        if i % 64 == 0 {
                            let n = held(&keyed);
                            most.fetch_max(n, Ordering::Relaxed);
                            assert!(n <= max_keys, "{n} keys held, at most {max_keys}");
                        }
                    }
                });
            }
        });
        let m = keyed.metrics();
        assert_eq!(m.shards, shards);
        assert_eq!(held(&keyed), m.keys);
        assert!(m.keys <= max_keys);
        assert!(most.load(Ordering::Relaxed) <= max_keys);
        // Every key was created or refused; every insertion beyond the bound evicted one key.
        assert_eq!(m.created + m.refused, 16_000);
        assert!(m.created >= max_keys as u64, "{m:?}");
        assert_eq!(m.evicted_capacity, m.created - m.keys as u64);
        // Every shard filled up: the map holds exactly max_keys.
        assert_eq!(m.keys, max_keys);
    }
}

#[test]
fn threads_sharing_keys_get_one_instance_per_key() {
    use bulwark::rate_limit::RateLimiter;
    // One call per hour per key: each key admits exactly one call, whichever thread makes it.
    let keyed: Keyed<u32, _> = Keyed::builder(
        RateLimiter::builder()
            .rate(1, Duration::from_secs(3_600))
            .build()
            .unwrap(),
    )
    .max_keys(1_000)
    .build()
    .unwrap();
    let admitted = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for key in 0..500u32 {
                    if keyed.get(&key).unwrap().try_acquire().is_ok() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(admitted.load(Ordering::Relaxed), 500);
    assert_eq!(keyed.metrics().created, 500);
}

#[test]
fn a_held_key_is_found_while_another_thread_reads_its_shard() {
    let keyed: Keyed<String, _> = Keyed::builder(Timeout::new(Duration::from_secs(1)))
        .max_keys(10)
        .build()
        .unwrap();
    keyed.get("a").unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let mut other = None;
    let mut result = None;
    // `for_each` holds the one shard's read lock while it runs: a lookup that took the write
    // lock would wait for it.
    keyed.for_each(|_, _| {
        let keyed = keyed.clone();
        let done = done.clone();
        other = Some(std::thread::spawn(move || {
            keyed.get("a").unwrap();
            done.send(()).unwrap();
        }));
        result = Some(finished.recv_timeout(Duration::from_secs(10)));
    });
    other.unwrap().join().unwrap();
    assert!(
        result.unwrap().is_ok(),
        "the lookup of a held key waited for the shard's readers"
    );
    assert_eq!(keyed.metrics().created, 1);
}
