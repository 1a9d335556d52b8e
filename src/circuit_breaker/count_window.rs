//! The count-based sliding window: exactly the last `size` recorded calls, in a ring.
//!
//! Every slot holds one call's flags tagged with the generation of the closed period that
//! recorded it; a slot with an older tag is empty, so a new generation starts with an empty window
//! without touching the ring. The totals (calls, failures, slow calls) are one packed word, changed
//! only when a call's flags differ from those of the call it replaces: a breaker that sees nothing
//! but successes writes no shared word at all once its window is full.
//!
//! Calls get their ring positions from per-thread blocks of [`BLOCK`] consecutive positions, kept
//! in thread-local memory (per-stripe atomic cursors are the fallback), so a thread writes a shared
//! counter once per [`BLOCK`] calls and otherwise no atomic at all. Calls recorded on one thread fill the
//! ring in order, so the window is exactly the last `size` calls. Calls recorded on several threads
//! at once fill their blocks side by side: the ring then holds the last `size` positions handed
//! out, and a block a thread has not finished keeps its older calls until the ring comes round.

use super::sync::{AtomicU64, Ordering, Padded, stripe};
use super::window::{Counts, FAILURE, OCCUPIED, SLOW};

/// Ring positions reserved by a stripe at a time.
pub(crate) const BLOCK: u64 = 32;

/// The largest window: the packed totals keep 16 bits per count, with room for transient excess.
pub(crate) const MAX_SIZE: u32 = 32_767;

#[derive(Debug)]
pub(crate) struct CountWindow {
    /// Unique per window: the key of the calling thread's cached block.
    #[cfg_attr(bulwark_loom, allow(dead_code))]
    id: u64,
    size: u64,
    slots: Box<[AtomicU64]>,
    next_block: Padded<AtomicU64>,
    cursors: Box<[Padded<AtomicU64>]>,
    /// `gen (16) | calls (16) | failures (16) | slow (16)`, each count wrapping.
    totals: Padded<AtomicU64>,
}

const fn tag(generation: u32, flags: u8) -> u64 {
    ((generation as u64) << 8) | flags as u64
}

const fn pack(generation: u32, calls: u16, failures: u16, slow: u16) -> u64 {
    ((generation as u16 as u64) << 48)
        | ((calls as u64) << 32)
        | ((failures as u64) << 16)
        | slow as u64
}

/// Reads a wrapped 16-bit count: transiently (while two recorders of one slot apply their changes
/// out of order) a count may dip below zero; it reads as zero.
fn count(word: u64, shift: u32) -> u32 {
    (((word >> shift) as u16) as i16).max(0) as u32
}

impl CountWindow {
    /// `size` is validated by the builder (1 ..= MAX_SIZE); `generation` is the current one.
    pub(crate) fn new(size: u32, stripes: usize, generation: u32) -> Self {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self {
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            size: u64::from(size.max(1)),
            slots: (0..size.max(1)).map(|_| AtomicU64::new(0)).collect(),
            next_block: Padded(AtomicU64::new(0)),
            cursors: (0..stripes).map(|_| Padded(AtomicU64::new(0))).collect(),
            totals: Padded(AtomicU64::new(pack(generation, 0, 0, 0))),
        }
    }

    /// The ring index of the next call on the calling thread: from the thread's own cached block
    /// (plain thread-local memory, no atomic operation), or from its stripe's cursor when the
    /// thread-local cache is not available.
    #[inline]
    fn next_index(&self) -> u64 {
        #[cfg(not(bulwark_loom))]
        if let Some(index) = local::next_index(self.id, || self.take_block()) {
            return index;
        }
        self.next_index_striped()
    }

    /// Reserves the next block of positions: its first ring index, and the ring size.
    #[cfg(not(bulwark_loom))]
    fn take_block(&self) -> (u64, u64) {
        let base = self.next_block.fetch_add(BLOCK, Ordering::Relaxed) % self.size;
        (base, self.size)
    }

    /// The ring index of the next call, from the calling thread's stripe.
    ///
    /// A stripe's cursor is `index (32) | left in block (32)`: taking a position is one
    /// compare-and-swap on the stripe's own line, and the division that maps a position to the
    /// ring happens once per block.
    fn next_index_striped(&self) -> u64 {
        let Some(cursor) = self.cursors.get(stripe(self.cursors.len())) else {
            return self.next_block.fetch_add(1, Ordering::Relaxed) % self.size;
        };
        let mut current = cursor.load(Ordering::Relaxed);
        loop {
            let (index, left) = (current >> 32, current & u64::from(u32::MAX));
            if left != 0 {
                let mut next = index + 1;
                if next == self.size {
                    next = 0;
                }
                match cursor.compare_exchange_weak(
                    current,
                    (next << 32) | (left - 1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return index,
                    Err(actual) => current = actual,
                }
            } else {
                // The block is used up (or none was taken yet): take the next one. If another
                // thread of this stripe installed one meanwhile, this call still uses the first
                // position of its own block and leaves the rest unused for this turn of the ring.
                let base = self.next_block.fetch_add(BLOCK, Ordering::Relaxed) % self.size;
                let next = if base + 1 == self.size { 0 } else { base + 1 };
                let _ = cursor.compare_exchange(
                    current,
                    (next << 32) | (BLOCK - 1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                return base;
            }
        }
    }

    /// Records one call of `generation` with `flags`. Returns the totals after it when they
    /// changed, `None` when they did not (or the call belongs to an older generation).
    #[inline]
    pub(crate) fn record(&self, generation: u32, flags: u8) -> Option<Counts> {
        let slot = self.slots.get(self.next_index() as usize)?;
        let new = tag(generation, flags);
        let mut old = slot.load(Ordering::Relaxed);
        loop {
            if old == new {
                return None;
            }
            let old_generation = (old >> 8) as u32;
            if (old_generation.wrapping_sub(generation) as i32) > 0 {
                return None; // a newer generation owns the ring: this call is stale
            }
            match slot.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => old = actual,
            }
        }
        let old_flags = if (old >> 8) as u32 == generation {
            old as u8
        } else {
            0
        };
        if old_flags == flags {
            return None;
        }
        let delta = |bit: u8| i32::from(flags & bit != 0) - i32::from(old_flags & bit != 0);
        let (dc, df, ds) = (delta(OCCUPIED), delta(FAILURE), delta(SLOW));
        let mut word = self.totals.load(Ordering::Relaxed);
        loop {
            if (word >> 48) as u16 != generation as u16 {
                return None;
            }
            let field = |shift: u32, d: i32| ((word >> shift) as u16).wrapping_add(d as u16);
            let next = pack(generation, field(32, dc), field(16, df), field(0, ds));
            match self.totals.compare_exchange_weak(
                word,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Self::unpack(next)),
                Err(actual) => word = actual,
            }
        }
    }

    fn unpack(word: u64) -> Counts {
        Counts {
            calls: count(word, 32),
            failures: count(word, 16),
            slow: count(word, 0),
        }
    }

    /// The totals of `generation` (empty if the window belongs to another one).
    pub(crate) fn counts(&self, generation: u32) -> Counts {
        let word = self.totals.load(Ordering::Relaxed);
        if (word >> 48) as u16 == generation as u16 {
            Self::unpack(word)
        } else {
            Counts::default()
        }
    }

    /// Empties the window for a new generation: the ring's older tags now read as empty.
    pub(crate) fn reset(&self, generation: u32) {
        self.totals
            .store(pack(generation, 0, 0, 0), Ordering::Relaxed);
    }
}

/// Each thread's cache of ring blocks, for up to [`WAYS`](local::WAYS) windows at once.
#[cfg(not(bulwark_loom))]
mod local {
    use super::BLOCK;
    use std::cell::Cell;

    /// Windows a thread keeps a block for. A thread that records into more windows than this
    /// in turn evicts blocks before using them up, leaving their other positions unused this
    /// turn of the ring.
    pub(super) const WAYS: usize = 4;

    #[derive(Clone, Copy)]
    struct Block {
        window: u64,
        index: u64,
        size: u64,
        left: u64,
    }

    const EMPTY: Block = Block {
        window: 0,
        index: 0,
        size: 1,
        left: 0,
    };

    thread_local! {
        static BLOCKS: [Cell<Block>; WAYS] = const { [const { Cell::new(EMPTY) }; WAYS] };
        static VICTIM: Cell<usize> = const { Cell::new(0) };
    }

    /// The next ring index of `window` for this thread; `take` reserves a new block and returns
    /// its first index and the ring size. `None` while the thread is being torn down.
    #[inline]
    pub(super) fn next_index(window: u64, take: impl FnOnce() -> (u64, u64)) -> Option<u64> {
        BLOCKS
            .try_with(|blocks| {
                let cell = match blocks.iter().find(|c| c.get().window == window) {
                    Some(cell) => cell,
                    None => evict(blocks),
                };
                let mut block = cell.get();
                if block.window != window || block.left == 0 {
                    let (index, size) = take();
                    block = Block {
                        window,
                        index,
                        size,
                        left: BLOCK,
                    };
                }
                let index = block.index;
                block.index = if index + 1 >= block.size {
                    0
                } else {
                    index + 1
                };
                block.left -= 1;
                cell.set(block);
                index
            })
            .ok()
    }

    /// A free (used up) entry, or the next one in turn.
    fn evict(blocks: &[Cell<Block>; WAYS]) -> &Cell<Block> {
        if let Some(free) = blocks.iter().find(|c| c.get().left == 0) {
            return free;
        }
        let victim = VICTIM
            .try_with(|v| {
                let n = v.get();
                v.set((n + 1) % WAYS);
                n
            })
            .unwrap_or(0);
        &blocks[victim % WAYS]
    }
}
