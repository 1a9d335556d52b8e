//! The semaphore's words after each step, read directly: `free << 1 | SLOW`. A flag left set makes
//! every later release take the mutex and a flag cleared too early loses a wake-up; neither shows
//! in what one call observes, so these tests read the words themselves. Most use one stripe; the
//! last ones, several.

use super::{Join, ONE, SLOW, Semaphore, Wait};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};
use tokio::time::Instant;

/// Counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    (count.clone(), Waker::from(count))
}

/// The word of stripe 0 (the only one, in the single-stripe tests).
fn word(s: &Semaphore) -> usize {
    s.word(0).load(Ordering::SeqCst)
}

/// Every stripe's word.
fn words(s: &Semaphore) -> Vec<usize> {
    s.stripes.iter().map(|w| w.load(Ordering::SeqCst)).collect()
}

fn queued(s: &Semaphore) -> usize {
    match s.join(usize::MAX, Instant::now) {
        Join::Queued { key, .. } => key,
        other => panic!("expected to queue, got {other:?}"),
    }
}

#[test]
fn the_common_path_moves_only_the_free_count() {
    let s = Semaphore::new(3, 1);
    assert_eq!(word(&s), 3 * ONE);
    assert!(s.try_acquire(0));
    assert!(s.try_acquire(0));
    assert_eq!(word(&s), ONE);
    s.release(0);
    assert_eq!(word(&s), 2 * ONE);
    assert_eq!(s.held(), 1);
}

#[test]
fn joining_a_semaphore_with_a_free_slot_takes_it_without_reading_the_clock() {
    let s = Semaphore::new(1, 1);
    let join = s.join(4, || panic!("the clock is read only to join the queue"));
    assert_eq!(join, Join::Admitted);
    assert_eq!(word(&s), 0);
    assert_eq!(s.queued(), 0);
}

#[test]
fn a_waiter_sets_the_flag_and_the_last_grant_clears_it() {
    let s = Semaphore::new(1, 1);
    assert!(s.try_acquire(0));
    let key = queued(&s);
    assert_eq!(word(&s), SLOW, "a waiter in line sets the flag");
    assert!(!s.try_acquire(0), "nobody takes a slot past a waiter");
    let (wakes, waker) = counting();
    assert_eq!(s.poll_wait(key, &waker, false), Wait::Pending);

    s.release(0);
    assert_eq!(
        word(&s),
        0,
        "the slot went to the waiter and nobody is left: flag clear"
    );
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert!(matches!(
        s.poll_wait(key, &waker, false),
        Wait::Admitted { since: Some(_) }
    ));
    assert_eq!(s.queued(), 0);
    s.release(0);
    assert_eq!(word(&s), ONE, "an ordinary release once nobody waits");
}

#[test]
fn slots_left_after_the_waiters_are_granted_go_back_to_the_word_with_the_flag_clear() {
    let s = Semaphore::new(0, 1);
    let keys: Vec<usize> = (0..3).map(|_| queued(&s)).collect();
    assert_eq!(word(&s), SLOW);
    s.set_max_concurrent(5);
    assert_eq!(word(&s), 2 * ONE, "three granted, two free, nobody waiting");
    for key in keys {
        let (_, waker) = counting();
        assert!(matches!(
            s.poll_wait(key, &waker, false),
            Wait::Admitted { .. }
        ));
    }
    assert_eq!(s.held(), 3);
}

/// `n` waiters in line, each with its waker registered (and counting its wake-ups).
fn registered(s: &Semaphore, n: usize) -> Vec<(usize, Arc<Count>, Waker)> {
    (0..n)
        .map(|_| {
            let key = queued(s);
            let (wakes, waker) = counting();
            assert_eq!(s.poll_wait(key, &waker, false), Wait::Pending);
            (key, wakes, waker)
        })
        .collect()
}

#[test]
fn a_pass_that_fills_its_wakers_with_slots_left_hands_them_out_in_a_second_pass() {
    // Eight wakers a pass: nine registered waiters and eleven slots.
    let s = Semaphore::new(0, 1);
    let waiters = registered(&s, 9);
    s.set_max_concurrent(11);
    assert_eq!(word(&s), 2 * ONE, "nine granted, two free, flag clear");
    for (key, wakes, waker) in &waiters {
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            s.poll_wait(*key, waker, false),
            Wait::Admitted { .. }
        ));
    }
    // Exactly eight waiters and slots to spare: the first pass grants them all and stops full.
    let s = Semaphore::new(0, 1);
    let waiters = registered(&s, 8);
    s.set_max_concurrent(10);
    assert_eq!(word(&s), 2 * ONE);
    assert!(
        waiters
            .iter()
            .all(|(_, w, _)| w.0.load(Ordering::SeqCst) == 1)
    );
    assert!(s.try_acquire(0) && s.try_acquire(0) && !s.try_acquire(0));
}

#[test]
fn a_debt_keeps_the_flag_until_returned_slots_pay_it() {
    let s = Semaphore::new(3, 1);
    assert!(s.try_acquire(0));
    assert!(s.try_acquire(0));
    // Three slots owed: the free one pays one at once, the two held are owed still.
    s.set_max_concurrent(0);
    assert_eq!(word(&s), SLOW, "a debt is owed: flag set, nothing free");
    assert_eq!(s.held(), 2);
    s.release(0);
    assert_eq!(word(&s), SLOW, "one slot still owed");
    s.release(0);
    assert_eq!(
        word(&s),
        0,
        "the release paid the last of the debt, and nothing is freed"
    );
    assert_eq!(s.held(), 0);
    s.set_max_concurrent(2);
    assert_eq!(word(&s), 2 * ONE);
}

#[test]
fn raising_the_limit_pays_the_debt_before_freeing_slots() {
    let s = Semaphore::new(4, 1);
    for _ in 0..4 {
        assert!(s.try_acquire(0));
    }
    s.set_max_concurrent(1); // three owed
    assert_eq!(word(&s), SLOW);
    s.set_max_concurrent(3); // two of them forgiven: one owed, nothing free
    assert_eq!(word(&s), SLOW);
    s.release(0); // pays the last
    assert_eq!(word(&s), 0);
    s.release(0);
    assert_eq!(word(&s), ONE);
    s.set_max_concurrent(6); // three more, no debt
    assert_eq!(word(&s), 4 * ONE);
    assert_eq!(s.held(), 2);
}

#[test]
fn a_granted_waiter_that_meets_a_debt_pays_it_and_waits_again() {
    let s = Semaphore::new(1, 1);
    assert!(s.try_acquire(0));
    let key = queued(&s);
    s.release(0); // granted, not collected
    assert_eq!(word(&s), 0);
    s.set_max_concurrent(0); // the granted slot is now owed
    assert_eq!(word(&s), SLOW);
    let (_, waker) = counting();
    assert_eq!(s.poll_wait(key, &waker, false), Wait::Pending);
    assert_eq!(word(&s), SLOW, "back in line: the flag stays");
    assert_eq!(s.poll_wait(key, &waker, true), Wait::TimedOut);
    assert_eq!(word(&s), 0, "nobody waits, nothing owed: flag clear");
    assert_eq!(s.queued(), 0);
}

#[test]
fn a_waiter_leaving_hands_its_granted_slot_on_or_back() {
    let s = Semaphore::new(1, 1);
    assert!(s.try_acquire(0));
    let first = queued(&s);
    let second = queued(&s);
    let (wakes, waker) = counting();
    assert_eq!(s.poll_wait(second, &waker, false), Wait::Pending);
    s.release(0); // to `first`
    assert_eq!(word(&s), SLOW, "`second` still waits");
    s.abandon(first); // its slot goes to `second`
    assert_eq!(word(&s), 0);
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    s.abandon(second); // and back to the word
    assert_eq!(word(&s), ONE);
    assert_eq!(s.queued(), 0);
}

#[test]
fn taking_and_returning_a_slot_while_nobody_waits_takes_no_lock() {
    let s = Arc::new(Semaphore::new(1, 1));
    // The queue's mutex is held here throughout: a call that needed it would block.
    let queue = s.lock();
    let (done, finished) = std::sync::mpsc::channel();
    let other = std::thread::spawn({
        let s = Arc::clone(&s);
        move || {
            assert!(s.try_acquire(0));
            s.release(0);
            done.send(()).unwrap();
        }
    });
    let result = finished.recv_timeout(std::time::Duration::from_secs(10));
    drop(queue);
    other.join().unwrap();
    assert!(result.is_ok(), "the fast path waited for the queue's mutex");
    assert_eq!(word(&s), ONE);
}

#[test]
fn the_stripes_are_a_power_of_two_and_the_slots_start_on_the_first() {
    let s = Semaphore::new(3, 3);
    assert_eq!(s.stripe_count(), 4);
    assert_eq!(words(&s), [3 * ONE, 0, 0, 0]);
    assert_eq!(Semaphore::new(1, 0).stripe_count(), 1);
    assert!(s.home() < 4);
}

#[test]
fn a_thread_takes_from_its_own_stripe_first_then_from_the_next_ones_in_turn() {
    let s = Semaphore::new(2, 4);
    assert!(
        s.try_acquire(3),
        "stripe 3 is empty: it wraps round to stripe 0"
    );
    assert_eq!(words(&s), [ONE, 0, 0, 0]);
    s.release(3);
    assert_eq!(
        words(&s),
        [ONE, 0, 0, ONE],
        "returned to the releaser's stripe"
    );
    assert!(
        s.try_acquire(1),
        "from stripe 3, the first after 1 with a slot"
    );
    assert_eq!(words(&s), [ONE, 0, 0, 0]);
    assert!(s.try_acquire(0));
    assert!(!s.try_acquire(2), "no slot on any stripe");
    assert_eq!(s.held(), 2);
    s.release(2);
    assert!(s.try_acquire(2), "its own stripe");
    assert_eq!(words(&s), [0, 0, 0, 0]);
}

#[test]
fn a_waiter_flags_every_stripe_and_a_release_on_any_of_them_reaches_it() {
    let s = Semaphore::new(1, 4);
    assert!(s.try_acquire(0));
    let key = queued(&s);
    assert_eq!(words(&s), [SLOW; 4], "the flag is on every stripe");
    for stripe in 0..4 {
        assert!(!s.try_acquire(stripe), "nobody takes a slot past a waiter");
    }
    let (wakes, waker) = counting();
    assert_eq!(s.poll_wait(key, &waker, false), Wait::Pending);
    s.release(3);
    assert_eq!(
        words(&s),
        [0; 4],
        "granted, nobody left: every flag cleared"
    );
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert!(matches!(
        s.poll_wait(key, &waker, false),
        Wait::Admitted { .. }
    ));
}

#[test]
fn slots_left_over_by_a_distribution_go_to_the_stripe_of_the_thread_that_ran_it() {
    let s = Semaphore::new(0, 4);
    s.set_max_concurrent(3);
    let mut expected = [0; 4];
    expected[s.home()] = 3 * ONE;
    assert_eq!(words(&s), expected);
    // From another thread (another ordinal): its own stripe.
    let other = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                s.set_max_concurrent(4);
                s.home()
            })
            .join()
            .unwrap()
    });
    let mut expected = [0; 4];
    expected[other] = 4 * ONE;
    assert_eq!(words(&s), expected);
}

#[test]
fn a_debt_is_paid_from_the_free_slots_of_every_stripe() {
    let s = Semaphore::new(4, 4);
    for _ in 0..4 {
        assert!(s.try_acquire(0));
    }
    s.release(1);
    s.release(2);
    s.release(3);
    s.set_max_concurrent(0); // four owed: the three free slots pay three
    assert_eq!(words(&s), [SLOW; 4]);
    assert_eq!(s.held(), 1);
    s.release(2); // pays the last
    assert_eq!(words(&s), [0; 4]);
    assert_eq!(s.held(), 0);
}

#[test]
fn joining_finds_a_free_slot_on_any_stripe_and_refuses_only_when_there_is_none() {
    let s = Semaphore::new(1, 4);
    assert!(s.try_acquire(0));
    s.release(2);
    let join = s.join(0, || panic!("admitted without queueing"));
    assert_eq!(join, Join::Admitted, "the slot on stripe 2 is found");
    assert_eq!(words(&s), [0; 4]);
    assert_eq!(s.join(0, || panic!("no room to queue")), Join::Full);
    assert_eq!(words(&s), [0; 4], "a refusal leaves no flag behind");
    assert_eq!(s.held(), 1);
}
