//! Faults injected into the embedded node show up in the results exactly:
//! error counts by class, and latency in the percentiles. Provisioning runs
//! before the faults are armed, so every injected error lands on a
//! measured operation.

mod common;

use common::bench::bench;

#[test]
fn injected_errors_are_counted_exactly_by_class() {
    // One call per lookup. Over 199 calls, 10% fails calls 10, 20 … 190
    // (19) and 4% fails calls 25, 50, 75 … (7; a call both codes fall due
    // on goes to the first, the other waits one call).
    let ran = bench(
        "errors",
        &[
            "--scenario",
            "lookup",
            "--ops",
            "199",
            "--warmup",
            "0s",
            "--inject-error",
            "unavailable=10%,internal=4%",
        ],
    );
    assert_eq!(ran.code(), Some(0), "{}\n{}", ran.stdout(), ran.stderr());
    let op = ran.op("identity.lookup");
    assert_eq!(op.attempts, 199);
    assert_eq!(op.errors.get("unavailable"), Some(&19), "{:?}", op.errors);
    assert_eq!(op.errors.get("server"), Some(&7), "{:?}", op.errors);
    assert_eq!(op.ok, 199 - 26);
    assert!(ran
        .stdout()
        .contains("errors identity.lookup: server 7, unavailable 19"));
    let run = ran.run();
    assert_eq!(
        run.parameters.faults["inject-error"],
        "unavailable=10%,internal=4%"
    );
}

#[test]
fn injected_latency_shows_in_every_percentile() {
    let ran = bench(
        "latency",
        &[
            "--scenario",
            "lookup",
            "--ops",
            "20",
            "--warmup",
            "0s",
            "--inject-latency",
            "fixed:30ms",
        ],
    );
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr());
    let op = ran.op("identity.lookup");
    assert_eq!(op.ok, 20);
    // Every call waits 30 ms, so every figure of both times is at least that.
    for (time, p) in [("service", op.service_ms), ("response", op.response_ms)] {
        let figures = [
            ("p50", p.p50),
            ("p90", p.p90),
            ("p99", p.p99),
            ("p99.9", p.p99_9),
            ("max", p.max),
            ("mean", p.mean),
        ];
        for (name, ms) in figures {
            assert!(ms >= 30.0, "{time} {name} is {ms} ms: {p:?}");
        }
    }
    assert_eq!(ran.run().parameters.faults["inject-latency"], "fixed:30ms");
}

#[test]
fn workers_cap_the_node_at_a_known_capacity() {
    // One worker busy 20 ms a call serves at most 50 calls a second, and
    // four callers each wait for the three others.
    let ran = bench(
        "workers",
        &[
            "--scenario",
            "lookup",
            "--ops",
            "40",
            "--concurrency",
            "4",
            "--warmup",
            "0s",
            "--workers",
            "1",
            "--inject-latency",
            "fixed:20ms",
        ],
    );
    assert_eq!(ran.code(), Some(0), "{}", ran.stderr());
    let op = ran.op("identity.lookup");
    assert_eq!(op.ok, 40);
    assert!(op.throughput_per_s <= 50.0, "{op:?}");
    assert!(op.response_ms.p50 >= 60.0, "{:?}", op.response_ms);
    assert_eq!(ran.run().parameters.faults["workers"], "1");

    let refused = bench("no-workers", &["--scenario", "lookup", "--workers", "0"]);
    assert_eq!(refused.code(), Some(1));
    assert!(
        refused.stderr().contains("not a number of workers"),
        "{}",
        refused.stderr()
    );
}
