//! The closed and open load models: how many operations start, and how
//! response time relates to service time.

mod common;

use common::bench::bench_ok;

#[test]
fn the_closed_model_runs_exactly_the_requested_operations() {
    let ran = bench_ok(
        "closed",
        &[
            "--scenario",
            "lookup",
            "--concurrency",
            "4",
            "--ops",
            "40",
            "--warmup",
            "0s",
        ],
    );
    let run = ran.run();
    assert_eq!(run.parameters.load_model, "closed");
    assert_eq!(run.parameters.concurrency, Some(4));
    let op = ran.op("identity.lookup");
    assert_eq!((op.attempts, op.ok), (40, 40));
    // No schedule to fall behind: response time is service time.
    assert_eq!(op.response_ms, op.service_ms);
    assert_eq!(op.max_schedule_lag_ms, 0.0);
}

#[test]
fn the_open_model_starts_operations_on_schedule() {
    // 100/s for one second: the schedule holds exactly 100 starts.
    let ran = bench_ok(
        "open",
        &[
            "--scenario",
            "lookup",
            "--rate",
            "100/s",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--samples",
        ],
    );
    let run = ran.run();
    assert_eq!(run.parameters.load_model, "open");
    assert_eq!(run.parameters.rate, Some(100.0));
    let op = ran.op("identity.lookup");
    assert_eq!(op.attempts, 100, "{:?}", op.errors);
    // Each attempt's intended start lies on the 10 ms grid, one per slot,
    // and its response time is its service time plus how late it started.
    let samples = std::fs::read_to_string(ran.dir.join("samples.csv")).unwrap();
    let mut slots = Vec::new();
    for row in samples.lines().skip(1) {
        let fields: Vec<&str> = row.split(',').collect();
        let start_s: f64 = fields[0].parse().unwrap();
        let [response, service, lag] = [4, 5, 6].map(|i| fields[i].parse::<i64>().unwrap());
        let slot = (start_s * 100.0).round();
        assert!((start_s * 100.0 - slot).abs() < 1e-3, "off the grid: {row}");
        slots.push(slot as u32);
        assert!(
            (response - service - lag).abs() <= 2,
            "response is not service plus lag: {row}"
        );
    }
    slots.sort_unstable();
    assert_eq!(slots, (0..100).collect::<Vec<_>>());
    assert_eq!(
        op.timeline.iter().map(|s| s.ok + s.errors).sum::<u64>(),
        100
    );
    assert!(
        ran.stdout().contains("largest scheduling lag"),
        "{}",
        ran.stdout()
    );
}

#[test]
fn warm_up_operations_are_left_out() {
    let ran = bench_ok(
        "warmup",
        &[
            "--scenario",
            "lookup",
            "--rate",
            "50",
            "--duration",
            "1s",
            "--warmup",
            "1s",
        ],
    );
    let run = ran.run();
    assert_eq!(run.window.warmup_ops, 50);
    assert_eq!(ran.op("identity.lookup").attempts, 50);
    assert_eq!(run.window.started_ops, 100);
}
