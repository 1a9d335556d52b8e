//! Runs the order-flow example's scenario (the same code as `cargo run --example order_flow`)
//! and checks the facts its narrative tells.

#[allow(dead_code)]
#[path = "../examples/order_flow/quotes.rs"]
mod quotes;
#[allow(dead_code)]
#[path = "../examples/order_flow/report.rs"]
mod report;
#[allow(dead_code)]
#[path = "../examples/order_flow/scenario.rs"]
mod scenario;
#[allow(dead_code)]
#[path = "../examples/order_flow/services.rs"]
mod services;

use bulwark::circuit_breaker::State;
use bulwark::health::Status;
use quotes::QuoteResult;
use report::{OrderResult, Report};
use std::collections::BTreeSet;

async fn report() -> Report {
    scenario::run()
        .await
        .expect("the scenario's configuration is valid")
}

fn ids(report: &Report, pred: impl Fn(&OrderResult) -> bool) -> BTreeSet<u64> {
    report
        .orders
        .iter()
        .filter(|(_, r)| pred(r))
        .map(|(id, _)| *id)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn every_order_ends_placed_compensated_or_shed() {
    let report = report().await;
    assert_eq!(report.orders.len(), 29);
    let odd: Vec<_> = report
        .orders
        .iter()
        .filter(|(_, r)| matches!(r, OrderResult::Other(_)))
        .collect();
    assert!(odd.is_empty(), "unexpected outcomes: {odd:?}");
    assert_eq!(report.count(|r| *r == OrderResult::Placed), 17);
    assert_eq!(
        report.count(|r| matches!(r, OrderResult::Compensated { .. })),
        6
    );
    assert_eq!(report.count(|r| *r == OrderResult::Shed), 6);
}

#[tokio::test(start_paused = true)]
async fn payment_breaker_opens_then_closes_again() {
    let report = report().await;
    let payment: Vec<_> = report
        .transitions
        .iter()
        .filter(|(n, _, _)| *n == "payment")
        .map(|&(_, f, t)| (f, t))
        .collect();
    assert_eq!(
        payment,
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed)
        ]
    );
    assert!(
        report.transitions.iter().all(|(n, _, _)| *n == "payment"),
        "{:?}",
        report.transitions
    );
    assert!(
        report.rejected_fast > 0,
        "the open breaker refused calls without sending them"
    );
}

#[tokio::test(start_paused = true)]
async fn retries_absorb_the_stalls() {
    let report = report().await;
    // Phase 2 (orders 5 to 10): payment stalls, every order still placed.
    assert!((5..=10).all(|id| report.orders.contains(&(id, OrderResult::Placed))));
    assert!(report.retries > 0);
}

#[tokio::test(start_paused = true)]
async fn compensations_undo_what_failed_orders_did() {
    let report = report().await;
    let compensated: Vec<_> = report
        .orders
        .iter()
        .filter_map(|(id, r)| match r {
            OrderResult::Compensated { step, undone, .. } => Some((*id, *step, undone.clone())),
            _ => None,
        })
        .collect();
    // Payment down: inventory was reserved, then released.
    for (id, step, undone) in &compensated[..5] {
        assert!((11..=15).contains(id));
        assert_eq!(*step, "charge-payment");
        assert_eq!(undone, &["reserve-inventory"]);
    }
    // Shipping refused a charged order: refunded, then released, in reverse order.
    assert_eq!(
        compensated[5],
        (
            19,
            "create-shipment",
            vec!["charge-payment", "reserve-inventory"]
        )
    );
}

#[tokio::test(start_paused = true)]
async fn no_order_is_both_charged_and_cancelled() {
    let report = report().await;
    let placed = ids(&report, |r| *r == OrderResult::Placed);
    // Every placed order holds exactly one reservation, one charge, one shipment ...
    assert_eq!(report.reserved, placed);
    assert_eq!(report.charged, placed);
    assert_eq!(report.shipped, placed);
    // ... and no compensated or shed order holds anything.
    let failed = ids(&report, |r| *r != OrderResult::Placed);
    assert!(failed.is_disjoint(&report.charged));
    assert!(failed.is_disjoint(&report.reserved));
}

#[tokio::test(start_paused = true)]
async fn health_goes_healthy_degraded_healthy() {
    let report = report().await;
    assert_eq!(
        report.health,
        [
            ("start", Status::Healthy),
            ("payment down", Status::Degraded),
            ("payment back", Status::Healthy),
            ("mid-burst", Status::Degraded),
            ("after the burst", Status::Healthy),
            ("ups down", Status::Degraded),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn one_client_is_limited_while_the_others_pass() {
    let report = report().await;
    let outcomes = |client: &str| -> Vec<QuoteResult> {
        report
            .quotes
            .iter()
            .filter(|(c, carrier, _)| *c == client && *carrier == "dhl.example")
            .map(|(_, _, r)| r.clone())
            .collect()
    };
    // The scraper's burst of two passes, the rest of its five are limited...
    assert_eq!(
        outcomes("scraper"),
        [
            QuoteResult::Quoted,
            QuoteResult::Quoted,
            QuoteResult::Limited,
            QuoteResult::Limited,
            QuoteResult::Limited
        ]
    );
    // ...while the clients asking between its requests have limits of their own.
    assert!(outcomes("alice").iter().all(|r| *r == QuoteResult::Quoted));
    assert!(outcomes("bob").iter().all(|r| *r == QuoteResult::Quoted));
    assert!(
        report
            .quotes
            .iter()
            .filter(|(c, _, _)| *c != "scraper")
            .all(|(_, _, r)| *r != QuoteResult::Limited)
    );
}

#[tokio::test(start_paused = true)]
async fn one_carriers_breaker_opens_while_the_other_carriers_stay_closed() {
    let report = report().await;
    assert_eq!(
        report.carriers,
        [
            ("dhl.example", State::Closed),
            ("fedex.example", State::Closed),
            ("ups.example", State::Open)
        ]
    );
    let ups: Vec<_> = report
        .quotes
        .iter()
        .filter(|(_, carrier, _)| *carrier == "ups.example")
        .map(|(_, _, r)| r.clone())
        .collect();
    // Three failures open its breaker; the next request is refused without being sent.
    assert_eq!(
        ups,
        [
            QuoteResult::Failed,
            QuoteResult::Failed,
            QuoteResult::Failed,
            QuoteResult::Refused
        ]
    );
    // The other carriers answered throughout, and the order breakers saw none of it.
    assert!(
        report
            .quotes
            .iter()
            .filter(|(_, carrier, _)| *carrier != "ups.example")
            .all(|(_, _, r)| matches!(r, QuoteResult::Quoted | QuoteResult::Limited))
    );
    assert!(report.transitions.iter().all(|(n, _, _)| *n == "payment"));
}

#[tokio::test(start_paused = true)]
async fn the_story_is_the_same_every_run() {
    assert_eq!(report().await.narrative, report().await.narrative);
}

/// The README's guided tour pastes the example's output: its quoted lines (other than `...`) must
/// be lines the scenario prints, in the order it prints them, and lines quoted one after the other
/// (with no `...` between them, inside one block) must be printed one after the other. So the tour
/// can neither drift from the code nor tell the story out of order.
#[tokio::test(start_paused = true)]
async fn readme_tour_quotes_the_real_output_in_order() {
    let report = report().await;
    let printed: Vec<String> = report
        .narrative
        .iter()
        .flat_map(|line| line.lines().map(str::to_string).collect::<Vec<_>>())
        .chain(report.summary())
        .collect();

    let readme = include_str!("../README.md");
    let tour = readme
        .split("## Guided tour")
        .nth(1)
        .expect("README has a guided tour");
    let tour = tour.split("\n## ").next().unwrap_or(tour);
    let quoted = tour_quotes(tour);
    assert!(
        quoted.len() > 20,
        "the tour quotes the output ({} lines)",
        quoted.len()
    );
    if let Err(e) = check_quotes_in_order(&quoted, &printed) {
        panic!("{e}");
    }
}

/// The quoted lines of every `text` block, each with whether it must follow the previous quoted
/// line directly (same block, no `...` between them).
fn tour_quotes(tour: &str) -> Vec<(&str, bool)> {
    let mut quoted = Vec::new();
    for block in tour.split("```text\n").skip(1) {
        let block = block.split("```").next().unwrap_or(block);
        let mut adjacent = false;
        for line in block.lines() {
            if line == "..." {
                adjacent = false;
                continue;
            }
            quoted.push((line, adjacent));
            adjacent = true;
        }
    }
    quoted
}

/// Finds each quoted line in `printed` after the previous one (directly after it when `adjacent`).
fn check_quotes_in_order(quoted: &[(&str, bool)], printed: &[String]) -> Result<(), String> {
    let mut next = 0;
    for (i, &(line, adjacent)) in quoted.iter().enumerate() {
        let found = if adjacent {
            (printed.get(next).map(String::as_str) == Some(line)).then_some(next)
        } else {
            printed[next..]
                .iter()
                .position(|p| p == line)
                .map(|at| next + at)
        };
        match found {
            Some(at) => next = at + 1,
            None if printed.iter().any(|p| p == line) => {
                let after = if i == 0 { "(start)" } else { quoted[i - 1].0 };
                return Err(format!(
                    "README quotes a line out of order (or not right after the line before it):\n{line}\nafter:\n{after}"
                ));
            }
            None => {
                return Err(format!(
                    "README quotes a line the example does not print:\n{line}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn the_tour_check_rejects_lines_out_of_order_and_gaps_without_an_ellipsis() {
    let printed: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
    let tour = tour_quotes;
    assert!(check_quotes_in_order(&tour("```text\na\nb\n...\nd\n```\n"), &printed).is_ok());
    assert!(check_quotes_in_order(&tour("```text\na\n```\n```text\nc\n```\n"), &printed).is_ok());
    // The same line quoted twice, as the tour once did, is out of order.
    assert!(check_quotes_in_order(&tour("```text\na\n...\na\n```\n"), &printed).is_err());
    assert!(check_quotes_in_order(&tour("```text\nb\na\n```\n"), &printed).is_err());
    // A gap needs `...`.
    assert!(check_quotes_in_order(&tour("```text\na\nc\n```\n"), &printed).is_err());
    assert!(check_quotes_in_order(&tour("```text\nz\n```\n"), &printed).is_err());
}
