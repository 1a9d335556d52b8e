//! Policies files: what they read, and how they fail.

use bulwark::backoff::{Curve, Jitter};
use bulwark::circuit_breaker::{DroppedCall, SlowCall};
use bulwark::config::Policies;
use std::time::Duration;

const FULL: &str = r#"
[circuit_breaker.payments]
time_window = "1m"
minimum_calls = 20
failure_rate_threshold = 0.25
slow_call_threshold = { slower_than = "2s", rate = 0.8 }
consecutive_failures = 5
open_duration = "45s"
open_duration_backoff = { curve = "linear", base = "10s", max_delay = "5m", jitter = "none" }
permitted_calls_in_half_open = 3
max_wait_in_half_open = "1m 30s"
dropped_calls = "failure"

[circuit_breaker.shipping]
failure_rate_threshold = "off"
consecutive_failures = 3

[retry.payments]
max_attempts = 4
stop_retrying_after = "5s"
wait_for_open_circuit = "1s"
backoff = { curve = "constant", base = "250ms", jitter = "equal", seed = 7 }
budget = { ratio = 0.1, min_per_second = 2 }

[retry.shipping]
budget = "off"

[retry_budget.shared]
ratio = 0.5
window = "20s"

[bulkhead.inventory]
max_concurrent = 10
max_queued = 20
max_wait = "50ms"

[rate_limit.clients]
rate = 50
per = "1s"
burst = 10
max_wait = "100ms"

[timeout]
payments = "2s"
shipping = "750ms"
"#;

#[test]
fn a_toml_file_sets_every_field_of_every_pattern() {
    let p = Policies::from_toml(FULL).expect("valid policies");
    let cb = &p.circuit_breaker["payments"];
    assert_eq!(cb.count_window, None);
    assert_eq!(cb.time_window, Some(Duration::from_secs(60)));
    assert_eq!(cb.minimum_calls, 20);
    assert_eq!(cb.failure_rate_threshold, Some(0.25));
    assert_eq!(
        cb.slow_call_threshold,
        Some(SlowCall {
            slower_than: Duration::from_secs(2),
            rate: 0.8
        })
    );
    assert_eq!(cb.consecutive_failures, Some(5));
    assert_eq!(cb.open_duration, Duration::from_secs(45));
    let backoff = cb.open_duration_backoff.expect("a backoff");
    assert_eq!(backoff.curve, Curve::Linear);
    assert_eq!(backoff.base, Duration::from_secs(10));
    assert_eq!(backoff.max_delay, Some(Duration::from_secs(300)));
    assert_eq!(backoff.jitter, Jitter::None);
    assert_eq!(cb.permitted_calls_in_half_open, 3);
    assert_eq!(cb.max_wait_in_half_open, Some(Duration::from_secs(90)));
    assert_eq!(cb.dropped_calls, DroppedCall::Failure);

    let shipping = &p.circuit_breaker["shipping"];
    assert_eq!(shipping.failure_rate_threshold, None, "\"off\"");
    assert_eq!(shipping.consecutive_failures, Some(3));

    let retry = &p.retry["payments"];
    assert_eq!(retry.max_attempts, 4);
    assert_eq!(retry.stop_retrying_after, Some(Duration::from_secs(5)));
    assert_eq!(retry.wait_for_open_circuit, Some(Duration::from_secs(1)));
    assert_eq!(retry.backoff.curve, Curve::Constant);
    assert_eq!(retry.backoff.base, Duration::from_millis(250));
    assert_eq!(retry.backoff.jitter, Jitter::Equal);
    assert_eq!(retry.backoff.seed, Some(7));
    let budget = retry.budget.expect("a budget");
    assert_eq!((budget.ratio, budget.min_per_second), (0.1, 2));
    assert_eq!(budget.window, Duration::from_secs(10), "the default window");
    assert_eq!(p.retry["shipping"].budget, None, "\"off\"");
    assert_eq!(p.retry["shipping"].max_attempts, 3, "the default");

    let shared = &p.retry_budget["shared"];
    assert_eq!(
        (shared.ratio, shared.min_per_second, shared.window),
        (0.5, 10, Duration::from_secs(20))
    );

    let bulkhead = &p.bulkhead["inventory"];
    assert_eq!(
        (
            bulkhead.max_concurrent,
            bulkhead.max_queued,
            bulkhead.max_wait
        ),
        (10, 20, Some(Duration::from_millis(50)))
    );
    let limit = &p.rate_limit["clients"];
    assert_eq!(
        (limit.rate, limit.per, limit.burst, limit.max_wait),
        (50, Duration::from_secs(1), 10, Duration::from_millis(100))
    );
    assert_eq!(p.timeout["payments"], Duration::from_secs(2));
    assert_eq!(p.timeout["shipping"], Duration::from_millis(750));
}

#[tokio::test(start_paused = true)]
async fn built_instances_carry_the_files_settings_and_the_policy_name() {
    let p = Policies::from_toml(FULL).expect("valid policies");
    let breaker = p.circuit_breaker("payments").unwrap().build().unwrap();
    assert_eq!(breaker.name(), "payments");
    assert_eq!(breaker.settings(), p.circuit_breaker["payments"]);
    let bulkhead = p.bulkhead("inventory").unwrap().build().unwrap();
    assert_eq!(bulkhead.name(), "inventory");
    assert_eq!(bulkhead.settings(), p.bulkhead["inventory"]);
    let limiter = p.rate_limit("clients").unwrap().build().unwrap();
    assert_eq!(limiter.settings(), p.rate_limit["clients"]);
    let budget = p.retry_budget("shared").unwrap();
    assert_eq!(budget.settings(), p.retry_budget["shared"]);
    let timeout = p.timeout("shipping").unwrap();
    assert_eq!(timeout.duration(), Duration::from_millis(750));
    let elapsed = timeout.run(std::future::pending::<()>()).await.unwrap_err();
    assert_eq!(elapsed.name(), "shipping");
    p.retry("payments").unwrap().build().unwrap();

    let missing = p.bulkhead("payments").unwrap_err();
    assert_eq!(missing.key(), "bulkhead.payments");
    assert_eq!(missing.to_string(), "bulkhead.payments: no such policy");
}

#[test]
fn a_json_file_reads_the_same_as_its_toml() {
    let toml = Policies::from_toml(FULL).unwrap();
    let json = serde_json::to_string(&toml).expect("serializable");
    assert_eq!(Policies::from_json(&json).expect("valid json"), toml);
    let again = toml::to_string(&toml).expect("serializable as toml");
    assert_eq!(Policies::from_toml(&again).expect("valid toml"), toml);
}

#[test]
fn left_out_settings_take_the_builders_defaults() {
    let p = Policies::from_toml("[circuit_breaker.a]\n[bulkhead.b]\n[retry.c]\n").unwrap();
    let default_breaker = bulwark::circuit_breaker::CircuitBreaker::builder()
        .build()
        .unwrap();
    let mut expected = default_breaker.settings();
    expected.count_window = None;
    assert_eq!(p.circuit_breaker["a"], expected);
    assert_eq!(
        p.circuit_breaker("a").unwrap().build().unwrap().settings(),
        default_breaker.settings(),
        "no window set: the last 100 calls"
    );
    assert_eq!(
        p.bulkhead["b"],
        bulwark::bulkhead::Bulkhead::builder()
            .build()
            .unwrap()
            .settings()
    );
    assert_eq!(p.retry["c"], bulwark::retry::Settings::default());
}

#[test]
fn an_invalid_value_names_the_key_and_the_reason() {
    let e = Policies::from_toml("[circuit_breaker.payments]\nfailure_rate_threshold = 1.5\n")
        .unwrap_err();
    assert_eq!(e.key(), "circuit_breaker.payments.failure_rate_threshold");
    assert_eq!(e.reason(), "must be in (0, 1], got 1.5");

    let e = Policies::from_toml("[bulkhead.inventory]\nmax_concurrent = 0\n").unwrap_err();
    assert_eq!(e.key(), "bulkhead.inventory.max_concurrent");

    let e = Policies::from_toml("[retry.payments]\nbudget = { ratio = 20.0 }\n").unwrap_err();
    assert_eq!(e.key(), "retry.payments.budget.ratio");

    let e =
        Policies::from_toml("[retry.payments]\nbackoff = { curve = \"linear\", factor = 3.0 }\n")
            .unwrap_err();
    assert_eq!(e.key(), "retry.payments.backoff.factor");
    assert_eq!(e.reason(), "applies to an exponential backoff only");

    let e = Policies::from_toml(
        "[circuit_breaker.x]\nopen_duration_backoff = { base = \"1s\", max_delay = \"1ms\" }\n",
    )
    .unwrap_err();
    assert_eq!(e.key(), "circuit_breaker.x.open_duration_backoff.max_delay");

    let e = Policies::from_toml("[circuit_breaker.x]\ncount_window = 10\ntime_window = \"1m\"\n")
        .unwrap_err();
    assert_eq!(e.key(), "circuit_breaker.x.time_window");

    let e = Policies::from_toml("[rate_limit.x]\nrate = 0\n").unwrap_err();
    assert_eq!(e.key(), "rate_limit.x.rate");

    let e = Policies::from_toml("[retry_budget.x]\nwindow = \"1ms\"\n").unwrap_err();
    assert_eq!(e.key(), "retry_budget.x.window");
}

#[test]
fn a_typo_is_an_error_at_its_line() {
    let text = "[bulkhead.inventory]\nmax_concurrent = 4\nmax_queud = 2\n";
    let e = Policies::from_toml(text).unwrap_err();
    assert_eq!(e.key(), "bulkhead.inventory.max_queud");
    assert_eq!(e.line(), Some(3));
    assert!(e.reason().contains("unknown field `max_queud`"), "{e}");

    let e = Policies::from_toml("[circuit_braker.payments]\n").unwrap_err();
    assert!(e.reason().contains("unknown field `circuit_braker`"), "{e}");
    assert_eq!(e.line(), Some(1));
}

#[test]
fn a_bad_duration_says_what_a_duration_looks_like() {
    let e = Policies::from_toml("\n[timeout]\npayments = \"2 parsecs\"\n").unwrap_err();
    assert_eq!(e.key(), "timeout.payments");
    assert_eq!(e.line(), Some(3));
    assert!(e.reason().contains("invalid duration \"2 parsecs\""), "{e}");

    let e = Policies::from_json(r#"{"bulkhead": {"b": {"max_wait": 5}}}"#).unwrap_err();
    assert_eq!(e.key(), "bulkhead.b.max_wait");
    assert!(e.reason().contains("a duration such as \"250ms\""), "{e}");
    assert_eq!(e.line(), Some(1));
}

#[test]
fn a_json_error_names_its_line_once() {
    let e =
        Policies::from_json("{\n  \"bulkhead\": {\n    \"b\": {\"max_concurrent\": -1}\n  }\n}")
            .unwrap_err();
    assert_eq!(e.key(), "bulkhead.b.max_concurrent");
    assert_eq!(e.line(), Some(3));
    assert!(
        !e.reason().contains("line"),
        "the line is not repeated: {e}"
    );
    assert!(Policies::from_json("{").unwrap_err().line().is_some());
}

#[test]
fn a_files_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policies.toml");
    std::fs::write(
        &path,
        "[circuit_breaker.payments]\nopen_duration = \"30s\"\nminimum_calls = 0\n",
    )
    .unwrap();
    let e = Policies::from_path(&path).unwrap_err();
    assert_eq!(e.path(), Some(path.as_path()));
    assert_eq!(
        e.to_string(),
        format!(
            "{}: circuit_breaker.payments.minimum_calls: must be at least 1",
            path.display()
        )
    );

    std::fs::write(&path, "[bulkhead.x]\nmax_concurrent = \"ten\"\n").unwrap();
    let e = Policies::from_path(&path).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "{}:2: bulkhead.x.max_concurrent: ",
            path.display()
        )),
        "{e}"
    );

    let json = dir.path().join("policies.json");
    std::fs::write(&json, r#"{"timeout": {"payments": "2s"}}"#).unwrap();
    assert_eq!(
        Policies::from_path(&json).unwrap().timeout["payments"],
        Duration::from_secs(2)
    );

    let yaml = dir.path().join("policies.yaml");
    std::fs::write(&yaml, "timeout: {}").unwrap();
    let e = Policies::from_path(&yaml).unwrap_err();
    assert!(e.reason().starts_with("unknown format"), "{e}");
    assert_eq!(e.path(), Some(yaml.as_path()));

    let e = Policies::from_path(dir.path().join("absent.toml")).unwrap_err();
    assert!(e.reason().starts_with("cannot read the file"), "{e}");
}

#[test]
fn names_and_errors_may_be_any_text() {
    let e =
        Policies::from_toml("# Bücher\n[bulkhead.\"bücher-ü\"]\nmax_concurent = 1\n").unwrap_err();
    assert_eq!(e.key(), "bulkhead.bücher-ü.max_concurent");
    assert_eq!(e.line(), Some(3));
    let p = Policies::from_toml("[bulkhead.\"bücher-ü\"]\nmax_concurrent = 3\n").unwrap();
    let b = p.bulkhead("bücher-ü").unwrap().build().unwrap();
    assert_eq!(
        (b.name().as_ref(), b.metrics().max_concurrent),
        ("bücher-ü", 3)
    );
}
