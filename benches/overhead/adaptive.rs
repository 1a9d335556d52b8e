//! Adaptive limit rows: baseline, bulwark's bulkhead with a fixed limit, with AIMD and with
//! Vegas, and tower-resilience's adaptive limiter with AIMD and with Vegas. The limits start high
//! enough that no call waits, and the inner service never fails: this is the cost of admission
//! plus reporting each completed call to the algorithm.

use crate::support::{
    Echo, PendingOnce, TASKS, WORKERS, contended_row, current_thread, multi_thread, single_row,
};
use bulwark::bulkhead::{AdaptiveLimit, Aimd, Bulkhead, Vegas};
use criterion::Criterion;
use tower::Layer;
use tower_resilience_adaptive as peer;

const LIMIT: usize = 64;

fn fixed() -> Bulkhead {
    Bulkhead::builder()
        .max_concurrent(LIMIT)
        .max_queued(LIMIT)
        .build()
        .expect("bulkhead")
}

fn adaptive(limit: impl Into<AdaptiveLimit>) -> Bulkhead {
    Bulkhead::builder()
        .adaptive(limit)
        .max_queued(LIMIT)
        .build()
        .expect("bulkhead")
}

fn aimd() -> Bulkhead {
    let limit = Aimd::builder().initial_limit(LIMIT).max_limit(4 * LIMIT);
    adaptive(limit.build().expect("aimd"))
}

fn vegas() -> Bulkhead {
    let limit = Vegas::builder().initial_limit(LIMIT).max_limit(4 * LIMIT);
    adaptive(limit.build().expect("vegas"))
}

fn peer_aimd() -> peer::AdaptiveLimiterLayer<peer::Aimd> {
    let aimd = peer::Aimd::builder()
        .initial_limit(LIMIT)
        .max_limit(4 * LIMIT)
        .build()
        .expect("peer aimd");
    peer::AdaptiveLimiterLayer::new(aimd)
}

fn peer_vegas() -> peer::AdaptiveLimiterLayer<peer::Vegas> {
    let vegas = peer::Vegas::builder()
        .initial_limit(LIMIT)
        .max_limit(4 * LIMIT)
        .build()
        .expect("peer vegas");
    peer::AdaptiveLimiterLayer::new(vegas)
}

pub(crate) fn bench(c: &mut Criterion) {
    let rt = current_thread();
    for (group, pending) in [("adaptive/single", false), ("adaptive/pending-once", true)] {
        let mut g = c.benchmark_group(group);
        macro_rules! row {
            ($name:expr, $layer:expr) => {
                if pending {
                    single_row(&mut g, group, &rt, $name, $layer.layer(PendingOnce));
                } else {
                    single_row(&mut g, group, &rt, $name, $layer.layer(Echo));
                }
            };
        }
        if pending {
            single_row(&mut g, group, &rt, "baseline", PendingOnce);
        } else {
            single_row(&mut g, group, &rt, "baseline", Echo);
        }
        row!("bulwark-fixed", fixed().layer());
        row!("bulwark-aimd", aimd().layer());
        row!("bulwark-vegas", vegas().layer());
        row!("tower-resilience-aimd", peer_aimd());
        row!("tower-resilience-vegas", peer_vegas());
        g.finish();
    }

    let rt = multi_thread(WORKERS);
    for tasks in TASKS {
        let mut g = c.benchmark_group(format!("adaptive/contended-{tasks}"));
        contended_row(&mut g, &rt, tasks, "baseline", Echo);
        contended_row(
            &mut g,
            &rt,
            tasks,
            "bulwark-fixed",
            fixed().layer().layer(Echo),
        );
        contended_row(
            &mut g,
            &rt,
            tasks,
            "bulwark-aimd",
            aimd().layer().layer(Echo),
        );
        contended_row(
            &mut g,
            &rt,
            tasks,
            "bulwark-vegas",
            vegas().layer().layer(Echo),
        );
        let svc = peer_aimd().layer(Echo);
        contended_row(&mut g, &rt, tasks, "tower-resilience-aimd", svc);
        let svc = peer_vegas().layer(Echo);
        contended_row(&mut g, &rt, tasks, "tower-resilience-vegas", svc);
        g.finish();
    }
}
