//! The bulkhead's queue of waiters: a first-in, first-out list linked through a slab of nodes, so
//! a waiter is found, unlinked and moved by its index in constant time, without `unsafe` and
//! without an allocation per waiter (the slab grows to the most waiters queued at once and its
//! vacant nodes are reused; a slab of more than `KEEP` nodes is freed when the queue empties).
//!
//! Lives inside the semaphore's mutex; every method is called with it held.

use std::task::Waker;
use tokio::time::Instant;

const NIL: usize = usize::MAX;
/// Nodes kept for reuse when the queue empties; a larger slab (left by a burst of waiters) is freed.
const KEEP: usize = 256;

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Turn {
    /// Vacant: on the free list.
    Vacant,
    /// In the waiting list, in line for a slot.
    Waiting,
    /// Out of the list, holding a slot its waiter has not collected yet.
    Granted,
}

#[derive(Debug)]
struct Node {
    prev: usize,
    next: usize,
    turn: Turn,
    waker: Option<Waker>,
    /// When its waiter joined the queue (kept here rather than in the waiter's future, which every
    /// call carries, waiting or not).
    since: Option<Instant>,
}

/// The waiters: `Waiting` nodes in FIFO order, `Granted` nodes owned by their waiters until they
/// collect their slot or give it back.
#[derive(Debug)]
pub(super) struct Waiters {
    nodes: Vec<Node>,
    /// The first vacant node (vacant nodes are chained through `next`).
    vacant: usize,
    head: usize,
    tail: usize,
    /// Waiting and granted nodes: the queue's length as `metrics()` and `max_queued` count it.
    occupied: usize,
}

impl Waiters {
    pub(super) const fn new() -> Self {
        Self {
            nodes: Vec::new(),
            vacant: NIL,
            head: NIL,
            tail: NIL,
            occupied: 0,
        }
    }

    /// Waiting and granted nodes.
    pub(super) fn len(&self) -> usize {
        self.occupied
    }

    /// Whether some node waits for a slot (granted nodes do not).
    pub(super) fn any_waiting(&self) -> bool {
        self.head != NIL
    }

    pub(super) fn turn(&self, key: usize) -> Turn {
        self.nodes.get(key).map_or(Turn::Vacant, |n| n.turn)
    }

    /// A new node at the back of the line, joined at `since`; returns its key.
    pub(super) fn push_back(&mut self, since: Instant) -> usize {
        let key = if self.vacant == NIL {
            self.nodes.push(Node {
                prev: NIL,
                next: NIL,
                turn: Turn::Vacant,
                waker: None,
                since: None,
            });
            self.nodes.len() - 1
        } else {
            let key = self.vacant;
            self.vacant = self.nodes[key].next;
            key
        };
        self.occupied += 1;
        self.nodes[key].since = Some(since);
        self.link_back(key);
        key
    }

    /// When the node's waiter joined the queue.
    pub(super) fn since(&self, key: usize) -> Option<Instant> {
        self.nodes.get(key).and_then(|n| n.since)
    }

    /// Puts an existing (granted) node back in line, at the back.
    pub(super) fn requeue(&mut self, key: usize) {
        if self.turn(key) == Turn::Granted {
            self.link_back(key);
        }
    }

    fn link_back(&mut self, key: usize) {
        let tail = self.tail;
        let node = &mut self.nodes[key];
        node.prev = tail;
        node.next = NIL;
        node.turn = Turn::Waiting;
        match self.nodes.get_mut(tail) {
            Some(t) => t.next = key,
            None => self.head = key,
        }
        self.tail = key;
    }

    fn unlink(&mut self, key: usize) {
        let (prev, next) = (self.nodes[key].prev, self.nodes[key].next);
        match self.nodes.get_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.nodes.get_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    /// Grants a slot to the first waiting node: takes it out of the line and returns its waker.
    /// `None` if nobody waits; `Some(None)` if the first waiter registered no waker.
    pub(super) fn grant_first(&mut self) -> Option<Option<Waker>> {
        let key = self.head;
        if key == NIL {
            return None;
        }
        self.unlink(key);
        let node = &mut self.nodes[key];
        node.turn = Turn::Granted;
        Some(node.waker.take())
    }

    /// Remembers the waker of a waiting node (cloned only if it would not wake the same task).
    pub(super) fn set_waker(&mut self, key: usize, waker: &Waker) {
        if let Some(node) = self.nodes.get_mut(key) {
            match &mut node.waker {
                // `clone_from` keeps `w` when it would wake the same task.
                Some(w) => w.clone_from(waker),
                None => node.waker = Some(waker.clone()),
            }
        }
    }

    /// Removes a node, waiting or granted; returns the turn it had.
    pub(super) fn remove(&mut self, key: usize) -> Turn {
        let turn = self.turn(key);
        match turn {
            Turn::Vacant => return turn,
            Turn::Waiting => self.unlink(key),
            Turn::Granted => {}
        }
        let node = &mut self.nodes[key];
        node.turn = Turn::Vacant;
        node.waker = None;
        node.since = None;
        node.prev = NIL;
        node.next = self.vacant;
        self.vacant = key;
        self.occupied -= 1;
        if self.occupied == 0 && self.nodes.len() > KEEP {
            // Nobody waits or holds a node (so the line is empty too): start afresh.
            self.nodes = Vec::new();
            self.vacant = NIL;
        }
        turn
    }
}

#[cfg(all(test, not(bulwark_loom)))]
mod tests {
    use super::{KEEP, Turn, Waiters};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};
    use tokio::time::Instant;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_waiter_polled_from_another_task_is_woken_there() {
        let mut waiters = Waiters::new();
        let key = waiters.push_back(Instant::now());
        let (first, second) = (Arc::new(Count::default()), Arc::new(Count::default()));
        waiters.set_waker(key, &Waker::from(first.clone()));
        waiters.set_waker(key, &Waker::from(second.clone()));
        let waker = waiters
            .grant_first()
            .expect("one waits")
            .expect("a waker is set");
        waker.wake();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        assert_eq!(waiters.turn(key), Turn::Granted);
    }

    /// Fills the slab with `n` nodes, then empties it; returns how many nodes it keeps.
    fn kept_after(n: usize) -> usize {
        let mut waiters = Waiters::new();
        let keys: Vec<usize> = (0..n).map(|_| waiters.push_back(Instant::now())).collect();
        for key in keys {
            waiters.remove(key);
        }
        assert!(!waiters.any_waiting());
        assert_eq!(waiters.len(), 0);
        waiters.nodes.len()
    }

    #[test]
    fn an_emptied_slab_of_more_than_keep_nodes_is_freed() {
        assert_eq!(kept_after(1), 1);
        assert_eq!(kept_after(KEEP), KEEP);
        assert_eq!(kept_after(KEEP + 1), 0);
        // And one freed starts afresh.
        let mut waiters = Waiters::new();
        let keys: Vec<usize> = (0..=KEEP)
            .map(|_| waiters.push_back(Instant::now()))
            .collect();
        keys.into_iter().for_each(|k| {
            waiters.remove(k);
        });
        assert_eq!(waiters.push_back(Instant::now()), 0);
    }
}
