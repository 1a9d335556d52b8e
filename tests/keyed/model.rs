//! The map against a model: exact LRU (one shard: fewer than 128 keys), the idle timeout, and
//! instances that refuse to go (a limiter of one call per 10 ms, evictable once its turn is
//! back), over random sequences of calls and pauses on the paused clock.

use bulwark::keyed::Keyed;
use bulwark::rate_limit::RateLimiter;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;

const INTERVAL_MS: u64 = 10;

#[derive(Clone, Debug)]
enum Op {
    /// A call with this key, a millisecond after the last step.
    Call(u8),
    /// Time passes (milliseconds, at least one so recency stamps differ).
    Wait(u64),
    /// `evict_idle`.
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..12).prop_map(Op::Call),
        3 => (1u64..25).prop_map(Op::Wait),
        1 => Just(Op::Sweep),
    ]
}

/// One key in the model: when it was last used, and when its limiter admits again.
#[derive(Clone, Copy, Debug)]
struct Entry {
    used: u64,
    tat: u64,
}

#[derive(Debug, Default)]
struct Model {
    now: u64,
    keys: BTreeMap<u8, Entry>,
    cap: usize,
    idle: Option<u64>,
}

impl Model {
    fn evictable(&self, e: &Entry) -> bool {
        e.tat <= self.now
    }

    fn expired(&self, e: &Entry) -> bool {
        self.idle
            .is_some_and(|idle| self.now - e.used > idle && self.evictable(e))
    }

    fn sweep(&mut self) -> usize {
        let expired: Vec<u8> = self
            .keys
            .iter()
            .filter(|(_, e)| self.expired(e))
            .map(|(k, _)| *k)
            .collect();
        for k in &expired {
            self.keys.remove(k);
        }
        expired.len()
    }

    /// `Some(admitted)`, or `None` when the key was refused.
    fn call(&mut self, key: u8) -> Option<bool> {
        if !self.keys.contains_key(&key) {
            self.sweep();
            if self.keys.len() >= self.cap {
                let victim = self
                    .keys
                    .iter()
                    .filter(|(_, e)| self.evictable(e))
                    .min_by_key(|(_, e)| e.used)
                    .map(|(k, _)| *k)?;
                self.keys.remove(&victim);
            }
            self.keys.insert(
                key,
                Entry {
                    used: self.now,
                    tat: self.now,
                },
            );
        }
        let now = self.now;
        let e = self.keys.get_mut(&key).expect("inserted");
        e.used = now;
        if e.tat <= now {
            e.tat = now + INTERVAL_MS;
            Some(true)
        } else {
            Some(false)
        }
    }
}

fn run(ops: &[Op], cap: usize, idle: Option<u64>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let template = RateLimiter::builder()
            .rate(1, Duration::from_millis(INTERVAL_MS))
            .build()
            .unwrap();
        let builder = Keyed::builder(template).max_keys(cap);
        let builder = match idle {
            Some(ms) => builder.idle_timeout(Duration::from_millis(ms)),
            None => builder,
        };
        let keyed: Keyed<u8, RateLimiter> = builder.build().unwrap();
        let mut model = Model {
            cap,
            idle,
            ..Model::default()
        };
        for op in ops {
            match *op {
                Op::Call(key) => {
                    // A millisecond per call, so no two keys share a recency stamp (ties are
                    // broken in the table's order, which the model cannot know).
                    tokio::time::advance(Duration::from_millis(1)).await;
                    model.now += 1;
                    let real = keyed.get(&key).ok().map(|l| l.try_acquire().is_ok());
                    prop_assert_eq!(real, model.call(key), "call {} at {}", key, model.now);
                }
                Op::Wait(ms) => {
                    tokio::time::advance(Duration::from_millis(ms)).await;
                    model.now += ms;
                }
                Op::Sweep => {
                    prop_assert_eq!(keyed.evict_idle(), model.sweep());
                }
            }
            for key in 0..12u8 {
                prop_assert_eq!(
                    keyed.contains(&key),
                    model.keys.contains_key(&key),
                    "key {} at {}",
                    key,
                    model.now
                );
            }
            prop_assert!(keyed.metrics().keys <= cap);
            prop_assert_eq!(keyed.metrics().keys, model.keys.len());
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_map_matches_an_lru_model_with_instances_that_refuse_to_go(
        ops in prop::collection::vec(op(), 1..200),
        cap in 1usize..8,
        idle in prop::option::of(1u64..60),
    ) {
        run(&ops, cap, idle)?;
    }
}
