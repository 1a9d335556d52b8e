//! Runs the HTTP order-service example's story (the same code as `cargo run --example
//! order_service_http --features http,metrics`) on loopback, and checks what an operator sees:
//! log lines that name the breaker, and a Prometheus scrape of `/metrics` with each breaker's
//! state and each bulkhead's figures, labelled by name, and a policies file reloaded once.

#[allow(dead_code)]
#[path = "../examples/order_service_http/net.rs"]
mod net;
#[allow(dead_code)]
#[path = "../examples/order_service_http/scenario.rs"]
mod scenario;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_logs_names_and_serves_prometheus_metrics() {
    let log = scenario::Log::new(false);
    let scrape = scenario::run(&log).await.expect("the story runs");
    let lines = log.lines();

    // The log says which breaker opened.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("circuit breaker \"shipping\": closed -> open (failure_rate)")),
        "{lines:#?}"
    );

    // The scrape, taken while shipping was down.
    let has = |needle: &str| scrape.lines().any(|l| l == needle || l.starts_with(needle));
    for name in ["inventory", "payment", "shipping"] {
        assert!(
            has(&format!(
                "bulwark_bulkhead_max_concurrent{{name=\"{name}\"}} 4"
            )),
            "{scrape}"
        );
        assert!(
            has(&format!("bulwark_bulkhead_in_flight{{name=\"{name}\"}} ")),
            "{scrape}"
        );
        assert!(
            has(&format!("bulwark_bulkhead_queued{{name=\"{name}\"}} ")),
            "{scrape}"
        );
    }
    for (name, open) in [("inventory", "0"), ("payment", "0"), ("shipping", "1")] {
        assert!(
            has(&format!(
                "bulwark_circuit_breaker_state{{name=\"{name}\",state=\"open\"}} {open}"
            )),
            "{scrape}"
        );
    }
    assert!(
        has("bulwark_circuit_breaker_calls{name=\"inventory\",outcome=\"success\"} "),
        "{scrape}"
    );
    assert!(
        has(
            "bulwark_health_check_status{name=\"gateway\",check=\"shipping\",status=\"degraded\"} 1"
        ),
        "{scrape}"
    );

    // The policies file reloaded once: inventory's bulkhead grew, the others and the open
    // breaker kept theirs.
    let after = lines
        .iter()
        .skip_while(|l| !l.contains("the gateway reloads it"))
        .collect::<Vec<_>>();
    for (name, limit) in [("inventory", 8), ("payment", 4), ("shipping", 4)] {
        let line = format!("  bulwark_bulkhead_max_concurrent{{name=\"{name}\"}} {limit}");
        assert!(after.contains(&&line), "{line} in {lines:#?}");
    }
    assert!(
        after
            .iter()
            .any(|l| l.contains("kept its state through the reload: open")),
        "{lines:#?}"
    );
}
