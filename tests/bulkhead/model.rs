//! A property test of the admission logic against a plain model: random sequences of calls,
#![cfg(feature = "bulkhead")]
//! completions, cancellations, limit changes and clock advances, with the bulkhead's outcomes,
//! order of admission and counters compared with the model after every step.

use bulwark::Error;
use bulwark::bulkhead::Bulkhead;
use proptest::prelude::*;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;

const MAX_WAIT_MS: u64 = 20;

#[derive(Clone, Debug)]
enum Op {
    Start,
    Finish(usize),
    Cancel(usize),
    SetLimit(usize),
    SetQueue(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Start),
        2 => any::<usize>().prop_map(Op::Finish),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (1usize..5).prop_map(Op::SetLimit),
        1 => (0usize..4).prop_map(Op::SetQueue),
        1 => (0u64..15).prop_map(Op::Advance),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Admitted(u32),
    QueueFull(u32),
    TimedOut(u32),
}

/// The rules, written as plainly as possible.
struct Model {
    limit: usize,
    max_queued: usize,
    now: u64,
    running: Vec<u32>,
    queue: VecDeque<(u32, u64)>,
    log: Vec<Seen>,
}

impl Model {
    fn start(&mut self, id: u32) {
        if self.queue.is_empty() && self.running.len() < self.limit {
            self.running.push(id);
            self.log.push(Seen::Admitted(id));
        } else if self.queue.len() < self.max_queued {
            self.queue.push_back((id, self.now));
        } else {
            self.log.push(Seen::QueueFull(id));
        }
    }

    fn admit(&mut self) {
        while self.running.len() < self.limit {
            let Some((id, _)) = self.queue.pop_front() else {
                break;
            };
            self.running.push(id);
            self.log.push(Seen::Admitted(id));
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        let now = self.now;
        let log = &mut self.log;
        self.queue.retain(|&(id, since)| {
            let keep = since + MAX_WAIT_MS > now;
            if !keep {
                log.push(Seen::TimedOut(id));
            }
            keep
        });
    }
}

type Call = Pin<Box<dyn Future<Output = Result<u32, Error<Infallible>>>>>;

struct Live {
    id: u32,
    call: Call,
    release: Option<oneshot::Sender<()>>,
}

/// Polls every live call once, in the order they were made, logging what happened.
fn poll_all(live: &mut Vec<Live>, started: &Arc<Mutex<Vec<u32>>>, log: &mut Vec<Seen>) {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    live.retain_mut(|call| {
        let before = started.lock().unwrap().len();
        let out = call.call.as_mut().poll(&mut cx);
        if started.lock().unwrap().len() > before {
            log.push(Seen::Admitted(call.id));
        }
        match out {
            Poll::Pending => true,
            Poll::Ready(Ok(_)) => false,
            Poll::Ready(Err(Error::BulkheadFull(full))) if full.is_timed_out() => {
                log.push(Seen::TimedOut(call.id));
                false
            }
            Poll::Ready(Err(_)) => {
                log.push(Seen::QueueFull(call.id));
                false
            }
        }
    });
}

fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let b = Bulkhead::builder()
            .max_concurrent(2)
            .max_queued(2)
            .max_wait(Duration::from_millis(MAX_WAIT_MS))
            .build()
            .unwrap();
        let mut model = Model {
            limit: 2,
            max_queued: 2,
            now: 0,
            running: Vec::new(),
            queue: VecDeque::new(),
            log: Vec::new(),
        };
        let started = Arc::new(Mutex::new(Vec::new()));
        let mut live: Vec<Live> = Vec::new();
        let mut log = Vec::new();
        for (id, op) in (0u32..).zip(ops) {
            match op {
                Op::Start => {
                    let (tx, rx) = oneshot::channel::<()>();
                    let s = started.clone();
                    let call = b.run(move || async move {
                        s.lock().unwrap().push(id);
                        let _ = rx.await;
                        Ok(id)
                    });
                    live.push(Live {
                        id,
                        call: Box::pin(call),
                        release: Some(tx),
                    });
                    model.start(id);
                }
                Op::Finish(k) | Op::Cancel(k) if !model.running.is_empty() => {
                    let done = model.running.remove(k % model.running.len());
                    let call = live.iter_mut().find(|c| c.id == done).unwrap();
                    if matches!(op, Op::Finish(_)) {
                        let _ = call.release.take().unwrap().send(());
                    } else {
                        live.retain(|c| c.id != done);
                    }
                    model.admit();
                }
                Op::Finish(_) | Op::Cancel(_) => {
                    if let Some((gone, _)) = model.queue.pop_front() {
                        live.retain(|c| c.id != gone);
                    }
                }
                Op::SetLimit(n) => {
                    b.set_max_concurrent(n).unwrap();
                    model.limit = n;
                    model.admit();
                }
                Op::SetQueue(n) => {
                    b.set_max_queued(n);
                    model.max_queued = n;
                }
                Op::Advance(ms) => {
                    tokio::time::advance(Duration::from_millis(ms)).await;
                    model.advance(ms);
                }
            }
            poll_all(&mut live, &started, &mut log);
            prop_assert_eq!(&log, &model.log);
            let m = b.metrics();
            prop_assert_eq!(m.in_flight, model.running.len(), "in flight");
            prop_assert_eq!(m.queued, model.queue.len(), "queued");
            prop_assert!(model.queue.len() <= 3);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn admission_matches_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        check(ops)?;
    }
}
