//! Sixteen real threads against one bulkhead, a million seeded random operations (admit, cancel a
//! waiter or a running call, release), each waiter polled only when its waker was woken, as an
//! executor would: the limit holds at every moment, no wake-up is lost, and afterwards no slot is
//! lost or doubled. The threads go on past the million until the storm handed at least
//! [`MIN_HANDED`] slots to waiters (how many a million operations hand over depends on how the
//! threads share the cores), so the hand-off path is always exercised that often.

use bulwark::Error;
use bulwark::bulkhead::Bulkhead;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const THREADS: usize = 16;
const OPERATIONS: usize = 1_000_000;
const LIMIT: usize = 8;
const MAX_QUEUED: usize = 16;
/// Slots handed to waiters before the threads stop (a million operations on an idle 2-core
/// machine hand over 1,700 to 6,000; on a loaded one, as few as 444 were seen).
const MIN_HANDED: usize = 2_000;
/// Past this many operations a thread stops whatever was handed (the assertion then tells).
const MAX_OPERATIONS: usize = 20 * OPERATIONS;
/// How long a thread left with nothing but waiters may go without one being woken before the
/// test calls it a lost wake-up (every slot is being released by then, so it is generous).
const STUCK: Duration = Duration::from_secs(30);

type Call = Pin<Box<dyn Future<Output = Result<(), Error<()>>> + Send>>;

/// A waker that raises a flag.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Calls inside the bulkhead now, counted by the calls themselves.
struct Inside(Arc<AtomicUsize>);

impl Inside {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        let now = count.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(now <= LIMIT, "{now} calls inside a bulkhead of {LIMIT}");
        Inside(count.clone())
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Running {
    call: Call,
    release: oneshot::Sender<()>,
}

struct Waiting {
    call: Call,
    release: oneshot::Sender<()>,
    started: Arc<AtomicBool>,
    woken: Arc<Flag>,
    /// Polled before: if it runs now, a released slot was handed to it.
    queued: bool,
}

/// One thread's calls.
struct Worker {
    b: Bulkhead,
    inside: Arc<AtomicUsize>,
    running: Vec<Running>,
    waiting: Vec<Waiting>,
    admitted: usize,
    handed: usize,
    rejected: usize,
    /// Slots handed to waiters on every thread.
    handed_everywhere: Arc<AtomicUsize>,
}

impl Worker {
    fn new(b: Bulkhead, inside: Arc<AtomicUsize>) -> Self {
        Self::sharing(b, inside, Arc::default())
    }

    fn sharing(b: Bulkhead, inside: Arc<AtomicUsize>, handed_everywhere: Arc<AtomicUsize>) -> Self {
        Self {
            b,
            inside,
            running: Vec::new(),
            waiting: Vec::new(),
            admitted: 0,
            handed: 0,
            rejected: 0,
            handed_everywhere,
        }
    }

    /// Makes a call and polls it once: it runs, waits, or is turned away.
    fn admit(&mut self) {
        let (release, rx) = oneshot::channel::<()>();
        let started = Arc::new(AtomicBool::new(false));
        let (inside, flag) = (self.inside.clone(), started.clone());
        let call: Call = Box::pin(self.b.run(move || async move {
            let _inside = Inside::enter(&inside);
            flag.store(true, Ordering::SeqCst);
            let _ = rx.await;
            Ok(())
        }));
        let waiter = Waiting {
            call,
            release,
            started,
            woken: Arc::default(),
            queued: false,
        };
        self.poll_waiter(waiter);
    }

    /// Polls a waiter with its own waker; keeps it as running or waiting, or counts a rejection.
    fn poll_waiter(&mut self, mut w: Waiting) {
        w.woken.0.store(false, Ordering::SeqCst);
        let waker = Waker::from(w.woken.clone());
        match w.call.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(Err(Error::BulkheadFull(_))) => self.rejected += 1,
            Poll::Ready(other) => panic!("a held call ended by itself: {other:?}"),
            Poll::Pending if w.started.load(Ordering::SeqCst) => {
                self.admitted += 1;
                self.handed += usize::from(w.queued);
                self.handed_everywhere
                    .fetch_add(usize::from(w.queued), Ordering::Relaxed);
                self.running.push(Running {
                    call: w.call,
                    release: w.release,
                });
            }
            Poll::Pending => {
                w.queued = true;
                self.waiting.push(w);
            }
        }
    }

    /// Polls the waiters whose wakers were woken; returns how many there were.
    fn poll_woken(&mut self) -> usize {
        let (woken, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.woken.0.load(Ordering::SeqCst));
        self.waiting = rest;
        let n = woken.len();
        for w in woken {
            self.poll_waiter(w);
        }
        n
    }

    /// Lets a running call complete, which releases its slot.
    fn release(&mut self, i: usize) {
        let Running { mut call, release } = self.running.swap_remove(i);
        release.send(()).unwrap();
        let waker = Waker::noop();
        assert!(matches!(
            call.as_mut().poll(&mut Context::from_waker(waker)),
            Poll::Ready(Ok(()))
        ));
    }

    fn step(&mut self, rng: &mut SmallRng) {
        match rng.random_range(0..100) {
            0..30 => self.admit(),
            30..65 if !self.running.is_empty() => {
                let i = rng.random_range(0..self.running.len());
                self.release(i);
            }
            65..75 if !self.running.is_empty() => {
                // A running call cancelled: dropped without completing.
                let i = rng.random_range(0..self.running.len());
                drop(self.running.swap_remove(i));
            }
            75..85 if !self.waiting.is_empty() => {
                // A waiter cancelled, whether or not a slot was handed to it meanwhile.
                let i = rng.random_range(0..self.waiting.len());
                drop(self.waiting.swap_remove(i));
            }
            _ => {
                self.poll_woken();
            }
        }
    }

    /// Releases everything and waits (polling woken waiters only) until no waiter is left.
    fn drain(&mut self) {
        let mut progress = Instant::now();
        loop {
            while !self.running.is_empty() {
                self.release(0);
            }
            if self.waiting.is_empty() {
                return;
            }
            if self.poll_woken() > 0 {
                progress = Instant::now();
            } else {
                assert!(
                    progress.elapsed() < STUCK,
                    "{} waiters never woken although every slot was released: a lost wake-up",
                    self.waiting.len()
                );
                std::thread::yield_now();
            }
        }
    }
}

#[test]
fn a_million_random_operations_on_16_threads_lose_and_double_no_slot() {
    let b = Bulkhead::builder()
        .max_concurrent(LIMIT)
        .max_queued(MAX_QUEUED)
        .build()
        .unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(THREADS));
    let handed_everywhere = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (b, inside, barrier) = (b.clone(), inside.clone(), barrier.clone());
            let handed_everywhere = handed_everywhere.clone();
            std::thread::spawn(move || {
                let mut rng = SmallRng::seed_from_u64(0xB01_4EAD + t as u64);
                let mut w = Worker::sharing(b, inside, handed_everywhere.clone());
                barrier.wait();
                for done in 0..MAX_OPERATIONS / THREADS {
                    if done >= OPERATIONS / THREADS
                        && handed_everywhere.load(Ordering::Relaxed) >= MIN_HANDED
                    {
                        break;
                    }
                    w.step(&mut rng);
                }
                w.drain();
                (w.admitted, w.handed, w.rejected)
            })
        })
        .collect();
    let (mut admitted, mut handed, mut rejected) = (0, 0, 0);
    for t in threads {
        let (a, h, r) = t.join().unwrap();
        admitted += a;
        handed += h;
        rejected += r;
    }
    // The storm did happen: calls ran at once, waited and were handed slots (at least
    // MIN_HANDED: the threads went on until they were), were turned away.
    eprintln!("{admitted} {handed} {rejected}");
    assert!(
        admitted > handed && handed >= MIN_HANDED && rejected > 0,
        "{admitted} admitted, {handed} of them after a wait, {rejected} turned away"
    );
    assert_eq!(inside.load(Ordering::SeqCst), 0);
    let m = b.metrics();
    assert_eq!((m.in_flight, m.queued), (0, 0), "{m:?}");
    assert_eq!(m.rejected_queue_full as usize, rejected);

    // Exactly LIMIT slots remain: LIMIT calls run, the next is turned away.
    b.set_max_queued(0);
    let mut held = Vec::new();
    for _ in 0..LIMIT {
        let mut w = Worker::new(b.clone(), inside.clone());
        w.admit();
        assert_eq!(w.running.len(), 1, "a slot was lost");
        held.push(w);
    }
    let mut over = Worker::new(b.clone(), inside);
    over.admit();
    assert_eq!(over.rejected, 1, "a slot was doubled");
    assert_eq!(b.metrics().in_flight, LIMIT);
}
