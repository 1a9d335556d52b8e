//! The bounded map of a keyed policy's instances: shards of `RwLock<HashMap>`, a recency stamp
//! per entry, eviction of the least recently used entry that its instance lets go.
//!
//! A key is hashed once (SipHash with random keys: keys come from requests): the hash picks the
//! shard (bits 32 and up) and finds the entry in the shard's `hashbrown::HashTable` (which indexes
//! with the low bits and tags with the top seven), each entry keeping its hash for resizing.
//! A hit takes its shard's read lock, stamps the entry's recency (one relaxed store, skipped when
//! the stamp already holds this millisecond) and clones the value out. A miss takes the shard's
//! write lock, drops the entries idle past the timeout, makes room by evicting the least recently
//! used evictable entry if the shard is at its capacity, and inserts. The shards' capacities add
//! up to the map's `max_keys`, and an entry is only inserted under its shard's write lock while
//! the shard is under its capacity, so the map never holds more than `max_keys` entries.

use hashbrown::HashTable;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use tokio::time::Instant;

/// Why an entry left the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Eviction {
    /// Its shard was full when a new key came, and it was the least recently used entry there
    /// that its instance let go.
    Capacity,
    /// It was idle longer than the idle timeout.
    Idle,
}

impl Eviction {
    /// `"capacity"` or `"idle"`: the `reason` label of the metric and the `tracing` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Eviction::Capacity => "capacity",
            Eviction::Idle => "idle",
        }
    }
}

pub(super) struct Map<K, V> {
    shards: Box<[Shard<K, V>]>,
    hasher: RandomState,
    epoch: Instant,
    /// The idle timeout in milliseconds.
    idle: Option<u64>,
}

struct Shard<K, V> {
    cap: usize,
    map: RwLock<HashTable<Slot<K, V>>>,
}

struct Slot<K, V> {
    hash: u64,
    key: K,
    value: V,
    /// Milliseconds since the map's epoch, at the entry's last use.
    used: AtomicU64,
}

/// What a miss did: the value (none when the shard was full of entries that may not go), and
/// the entries it evicted, for the caller to report once the lock is released.
pub(super) struct Inserted<K, V> {
    pub(super) value: Option<V>,
    pub(super) created: bool,
    pub(super) evicted: Vec<(K, V, Eviction)>,
}

/// How many shards `max_keys` gets: the largest power of two at most `max_keys / 64`, from 1 to
/// 16, so that a shard holds at least 64 entries (or all of them) and eviction order is exact
/// within a shard.
pub(super) fn shard_count(max_keys: usize) -> usize {
    let per = max_keys / 64;
    if per < 2 {
        1
    } else {
        (1usize << (usize::BITS - 1 - per.leading_zeros())).min(16)
    }
}

impl<K, V> Map<K, V> {
    pub(super) fn shards(&self) -> usize {
        self.shards.len()
    }
}

impl<K: Hash + Eq, V: Clone> Map<K, V> {
    pub(super) fn new(max_keys: usize, idle: Option<std::time::Duration>) -> Self {
        let n = shard_count(max_keys);
        let shards = (0..n)
            .map(|i| Shard {
                cap: max_keys / n + usize::from(i < max_keys % n),
                map: RwLock::new(HashTable::new()),
            })
            .collect();
        Self {
            shards,
            hasher: RandomState::new(),
            epoch: Instant::now(),
            idle: idle.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    fn now(&self) -> u64 {
        let ms = Instant::now()
            .saturating_duration_since(self.epoch)
            .as_millis();
        u64::try_from(ms).unwrap_or(u64::MAX)
    }

    /// The key's hash and its shard.
    #[inline]
    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> (u64, &Shard<K, V>) {
        let hash = self.hasher.hash_one(key);
        // `shards.len()` is a power of two.
        (
            hash,
            &self.shards[(hash >> 32) as usize & (self.shards.len() - 1)],
        )
    }

    /// `f` of the value for `key`, stamped as used now; `None` if the key is not in the map.
    /// `f` runs under the shard's read lock.
    #[inline]
    pub(super) fn with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, shard) = self.shard(key);
        let map = shard.map.read().unwrap_or_else(PoisonError::into_inner);
        let slot = map.find(hash, |s| s.key.borrow() == key)?;
        let now = self.now();
        if slot.used.load(Ordering::Relaxed) != now {
            slot.used.store(now, Ordering::Relaxed);
        }
        Some(f(&slot.value))
    }

    /// The value for `key`, made by `make` and inserted if the key is not in the map. Room is made
    /// by evicting entries whose value `evictable` lets go; when none does, nothing is inserted.
    pub(super) fn insert<Q>(
        &self,
        key: &Q,
        make: impl FnOnce() -> V,
        evictable: impl Fn(&V) -> bool,
    ) -> Inserted<K, V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let (hash, shard) = self.shard(key);
        let now = self.now();
        let mut map = shard.map.write().unwrap_or_else(PoisonError::into_inner);
        let mut evicted = Vec::new();
        if let Some(slot) = map.find(hash, |s| s.key.borrow() == key) {
            // Another caller inserted it since our read.
            slot.used.store(now, Ordering::Relaxed);
            let value = Some(slot.value.clone());
            return Inserted {
                value,
                created: false,
                evicted,
            };
        }
        if let Some(idle) = self.idle {
            let expired = |s: &Slot<K, V>| {
                now.saturating_sub(s.used.load(Ordering::Relaxed)) > idle && evictable(&s.value)
            };
            evicted.extend(
                map.extract_if(|s| expired(s))
                    .map(|s| (s.key, s.value, Eviction::Idle)),
            );
        }
        if map.len() >= shard.cap {
            let oldest = map
                .iter()
                .filter(|s| evictable(&s.value))
                .map(|s| s.used.load(Ordering::Relaxed))
                .min();
            let victim = oldest.and_then(|oldest| {
                // The write lock is held: no stamp changes between the two passes.
                map.extract_if(|s| s.used.load(Ordering::Relaxed) == oldest && evictable(&s.value))
                    .next()
            });
            match victim {
                Some(s) => evicted.push((s.key, s.value, Eviction::Capacity)),
                None => {
                    return Inserted {
                        value: None,
                        created: false,
                        evicted,
                    };
                }
            }
        }
        let value = make();
        let slot = Slot {
            hash,
            key: key.to_owned(),
            value: value.clone(),
            used: AtomicU64::new(now),
        };
        map.insert_unique(hash, slot, |s| s.hash);
        Inserted {
            value: Some(value),
            created: true,
            evicted,
        }
    }

    /// Removes every entry idle longer than the idle timeout whose value `evictable` lets go.
    pub(super) fn evict_idle(&self, evictable: impl Fn(&V) -> bool) -> Vec<(K, V, Eviction)> {
        let Some(idle) = self.idle else {
            return Vec::new();
        };
        let now = self.now();
        let mut evicted = Vec::new();
        for shard in &self.shards {
            let mut map = shard.map.write().unwrap_or_else(PoisonError::into_inner);
            evicted.extend(
                map.extract_if(|s| {
                    now.saturating_sub(s.used.load(Ordering::Relaxed)) > idle && evictable(&s.value)
                })
                .map(|s| (s.key, s.value, Eviction::Idle)),
            );
        }
        evicted
    }

    /// Calls `f` with every key and value (one shard's read lock at a time).
    pub(super) fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for shard in &self.shards {
            let map = shard.map.read().unwrap_or_else(PoisonError::into_inner);
            for s in map.iter() {
                f(&s.key, &s.value);
            }
        }
    }

    /// Whether `key` is in the map (its recency untouched).
    pub(super) fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (hash, shard) = self.shard(key);
        let map = shard.map.read().unwrap_or_else(PoisonError::into_inner);
        map.find(hash, |s| s.key.borrow() == key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::shard_count;

    #[test]
    fn shards_hold_at_least_64_keys_and_are_at_most_16() {
        assert_eq!(shard_count(1), 1);
        assert_eq!(shard_count(127), 1);
        assert_eq!(shard_count(128), 2);
        assert_eq!(shard_count(1_000), 8);
        assert_eq!(shard_count(1_024), 16);
        assert_eq!(shard_count(100_000), 16);
    }
}
