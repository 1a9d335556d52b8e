//! A deterministic simulation (paused clock, seeded arrivals and latencies) of a dependency whose
//! latency grows with its concurrency past a knee, offered twice the load it can take: fixed
//! limits (too low, right, too high) against the adaptive ones, on goodput and p99 latency.
//!
//! The dependency serves `KNEE` = 20 calls at once in `BASE` = 100 ms each (±10 %, seeded); past
//! the knee a call that starts with `n` calls in flight takes `BASE × (n / KNEE)²`: its
//! throughput, `n / latency`, falls as `n` grows. Calls arrive as a seeded Poisson process at
//! twice its capacity (400 a second against 200). Every figure is simulated time on tokio's
//! paused clock, the same on every run. (Times are whole milliseconds there: tokio's timer
//! ticks in milliseconds, which is why the base latency is 100 ms rather than 10.)
//!
//! `cargo test --all-features --test bulkhead adaptive_sim -- --nocapture` prints the table in
//! BENCHMARKS.md; with `ADAPTIVE_SIM_SVG=docs/adaptive-limits.svg` it also draws the limits over
//! time (a plain SVG, written by hand: no plotting dependency for every test build to compile).

use bulwark::Error;
use bulwark::bulkhead::{AdaptiveLimit, Aimd, Bulkhead, Vegas};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const KNEE: usize = 20;
const BASE: Duration = Duration::from_millis(100);
/// Calls offered per second: twice the dependency's capacity (`KNEE / BASE` = 200 a second).
const OFFERED: f64 = 400.0;
const RUN: Duration = Duration::from_secs(60);
/// Figures are taken over the second half of the run, once the limits have settled.
const WARM_UP: Duration = Duration::from_secs(30);
const SEED: u64 = 0x5EED_ADA9;

/// SplitMix64: a seeded generator with no dependency.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The dependency's latency for a call that starts with `n` calls in flight (itself included).
fn latency(n: usize, jitter: f64) -> Duration {
    let load = (n as f64 / KNEE as f64).max(1.0);
    BASE.mul_f64(load * load * jitter)
}

#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) label: String,
    /// Calls that succeeded per second (measured half).
    pub(crate) goodput: f64,
    /// Calls turned away per second (measured half).
    pub(crate) shed: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    /// The limit, sampled every 100 ms over the measured half: mean, lowest, highest.
    pub(crate) mean_limit: f64,
    pub(crate) min_limit: usize,
    pub(crate) max_limit: usize,
    /// The limit every 100 ms over the whole run.
    pub(crate) trace: Vec<usize>,
}

async fn simulate(label: &str, bulkhead: Bulkhead) -> Outcome {
    let start = Instant::now();
    let measured_from = start + WARM_UP;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let shed = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng(SEED);

    let sampler = {
        let bulkhead = bulkhead.clone();
        tokio::spawn(async move {
            let mut trace = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while Instant::now() < start + RUN {
                tick.tick().await;
                trace.push(bulkhead.metrics().max_concurrent);
            }
            trace
        })
    };

    let mut calls = Vec::new();
    let mut next = start;
    while next < start + RUN {
        tokio::time::sleep_until(next).await;
        let jitter = 0.9 + 0.2 * rng.next_f64();
        let (bulkhead, in_flight, latencies, shed) = (
            bulkhead.clone(),
            in_flight.clone(),
            latencies.clone(),
            shed.clone(),
        );
        calls.push(tokio::spawn(async move {
            let offered = Instant::now();
            let outcome = bulkhead
                .run(|| async {
                    let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(latency(n, jitter)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(())
                })
                .await;
            if offered < measured_from {
                return;
            }
            match outcome {
                Ok(()) => latencies.lock().unwrap().push(offered.elapsed()),
                Err(Error::BulkheadFull(_)) => {
                    shed.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }));
        // Exponential gaps: a Poisson process of rate OFFERED.
        let gap = -(1.0 - rng.next_f64()).ln() / OFFERED;
        next += Duration::from_secs_f64(gap);
    }
    for call in calls {
        call.await.unwrap();
    }
    let trace = sampler.await.unwrap();

    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let seconds = (RUN - WARM_UP).as_secs_f64();
    let measured = &trace[trace.len() / 2..];
    Outcome {
        label: label.to_owned(),
        goodput: latencies.len() as f64 / seconds,
        shed: shed.load(Ordering::Relaxed) as f64 / seconds,
        p50: pct(0.50),
        p99: pct(0.99),
        mean_limit: measured.iter().sum::<usize>() as f64 / measured.len() as f64,
        min_limit: *measured.iter().min().unwrap(),
        max_limit: *measured.iter().max().unwrap(),
        trace,
    }
}

fn fixed(n: usize) -> Bulkhead {
    Bulkhead::builder().max_concurrent(n).build().unwrap()
}

fn adaptive(limit: impl Into<AdaptiveLimit>) -> Bulkhead {
    Bulkhead::builder().adaptive(limit).build().unwrap()
}

/// The AIMD of the simulation: starts far below the knee; a call slower than 1.5 × the unloaded
/// latency counts as a drop.
pub(crate) fn sim_aimd() -> Aimd {
    Aimd::builder()
        .initial_limit(5)
        .latency_threshold(BASE.mul_f64(1.5))
        .build()
        .unwrap()
}

/// The Vegas of the simulation: its defaults, starting far below the knee.
pub(crate) fn sim_vegas() -> Vegas {
    Vegas::builder().initial_limit(5).build().unwrap()
}

/// Every configuration of the comparison, simulated on the paused clock.
pub(crate) async fn all() -> Vec<Outcome> {
    vec![
        simulate("fixed 10 (too low)", fixed(10)).await,
        simulate("fixed 20 (the knee)", fixed(20)).await,
        simulate("fixed 40 (too high)", fixed(40)).await,
        simulate("AIMD", adaptive(sim_aimd())).await,
        simulate("Vegas", adaptive(sim_vegas())).await,
    ]
}

/// The limit of each configuration over time, as an SVG line chart.
fn svg(outcomes: &[Outcome]) -> String {
    let (w, h, left, bottom, top, right) = (760.0, 360.0, 50.0, 40.0, 20.0, 170.0);
    let (max_t, max_l) = (RUN.as_secs_f64(), 45.0);
    let x = |t: f64| left + t / max_t * (w - left - right);
    let y = |l: f64| h - bottom - l / max_l * (h - bottom - top);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for l in (0..=45).step_by(15) {
        let yl = y(l as f64);
        out += &format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yl}\" y2=\"{yl}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{l}</text>\n",
            x(max_t),
            left - 6.0,
            yl + 4.0
        );
    }
    for t in (0..=60).step_by(10) {
        let xt = x(t as f64);
        out += &format!(
            "<text x=\"{xt}\" y=\"{}\" text-anchor=\"middle\">{t} s</text>\n",
            h - bottom + 16.0
        );
    }
    let knee = y(KNEE as f64);
    out += &format!(
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{knee}\" y2=\"{knee}\" stroke=\"#999\" stroke-dasharray=\"2 4\"/>\n",
        x(max_t)
    );
    let colours = ["#bbb", "#888", "#555", "#d62728", "#1f77b4"];
    for (i, (o, colour)) in outcomes.iter().zip(colours).enumerate() {
        let points: Vec<String> = o
            .trace
            .iter()
            .enumerate()
            .map(|(k, &l)| format!("{:.1},{:.1}", x(k as f64 / 10.0), y(l as f64)))
            .collect();
        let width = if i >= 3 { 2 } else { 1 };
        out += &format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\" points=\"{}\"/>\n",
            points.join(" ")
        );
        let ly = top + 16.0 * i as f64 + 10.0;
        out += &format!(
            "<line x1=\"{}\" x2=\"{}\" y1=\"{ly}\" y2=\"{ly}\" stroke=\"{colour}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
            w - right + 10.0,
            w - right + 30.0,
            w - right + 36.0,
            ly + 4.0,
            o.label
        );
    }
    out += &format!(
        "<text x=\"{}\" y=\"{}\">the knee: {KNEE}</text>\n<text x=\"{left}\" y=\"14\">max_concurrent over simulated time, offered load twice the capacity</text>\n</svg>\n",
        w - right + 10.0,
        top + 16.0 * 5.0 + 14.0
    );
    out
}

fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::from(
        "| limit | goodput (calls/s) | shed (calls/s) | p50 | p99 | limit: mean (min–max) |\n|---|---|---|---|---|---|\n",
    );
    for o in outcomes {
        out += &format!(
            "| {} | {:.1} | {:.1} | {} ms | {} ms | {:.1} ({}–{}) |\n",
            o.label,
            o.goodput,
            o.shed,
            o.p50.as_millis(),
            o.p99.as_millis(),
            o.mean_limit,
            o.min_limit,
            o.max_limit
        );
    }
    out
}

#[tokio::test(start_paused = true)]
async fn adaptive_limits_find_the_knee_and_keep_p99_within_twice_the_unloaded_latency() {
    let outcomes = all().await;
    println!("{}", table(&outcomes));
    for o in &outcomes[3..] {
        let seconds: Vec<String> = o
            .trace
            .iter()
            .step_by(10)
            .take(10)
            .map(|l| l.to_string())
            .collect();
        println!(
            "{}: the limit at 0 s, 1 s, ... 9 s: {}",
            o.label,
            seconds.join(", ")
        );
    }
    if let Some(path) = std::env::var_os("ADAPTIVE_SIM_SVG") {
        std::fs::write(path, svg(&outcomes)).unwrap();
    }
    let knee = KNEE as f64;
    let right = &outcomes[1];
    for o in &outcomes[3..] {
        assert!(
            (o.mean_limit - knee).abs() <= 0.2 * knee,
            "{}: mean limit {:.1}, not within 20 % of the knee {KNEE}",
            o.label,
            o.mean_limit
        );
        assert!(
            o.p99 <= BASE * 2,
            "{}: p99 {:?} above twice the unloaded latency",
            o.label,
            o.p99
        );
        // As much goodput as the right fixed limit, give or take 10 %.
        assert!(
            o.goodput >= 0.9 * right.goodput,
            "{}: goodput {:.1} against {:.1} at the knee",
            o.label,
            o.goodput,
            right.goodput
        );
    }
    // The fixed limits show what the adaptive ones avoid: too low wastes capacity, too high
    // queues at the dependency (latency up, goodput down).
    let (low, high) = (&outcomes[0], &outcomes[2]);
    assert!(low.goodput < 0.7 * right.goodput, "{low:?}");
    assert!(high.p99 > BASE * 3, "{high:?}");
    assert!(high.goodput < 0.7 * right.goodput, "{high:?}");
}
