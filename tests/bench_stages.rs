//! `opmon bench --stages` and `--find-capacity` through the CLI, against
//! the embedded node: ramps start what they integrate to, closed stages
//! reach their concurrency, stages add up to the run, and a capacity
//! search finds a node's known capacity.

mod common;

use std::sync::{Mutex, MutexGuard};

use common::bench::{bench, bench_ok};
use hdrhistogram::Histogram;
use xmtp_opmon::report::{decode_histogram, RunResult, StageReport};

const LOOKUP: &str = "identity.lookup";

/// The tests here measure rates and CPU, so they run one at a time: a
/// second run on a 2-core machine would be the saturation they detect.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// The sum of the stages' response-time histograms of `op`.
fn stage_sum(run: &RunResult, op: &str) -> Histogram<u64> {
    let mut sum = xmtp_opmon::load::new_histogram();
    for stage in &run.stages {
        if let Some(report) = stage.operation(op) {
            sum.add(decode_histogram(&report.histograms.response_us).unwrap())
                .unwrap();
        }
    }
    sum
}

fn whole(run: &RunResult, op: &str) -> Histogram<u64> {
    let report = run.operations.iter().find(|o| o.operation == op).unwrap();
    decode_histogram(&report.histograms.response_us).unwrap()
}

fn attempts(stage: &StageReport) -> u64 {
    stage.operations.iter().map(|op| op.attempts).sum()
}

#[test]
fn a_ramp_starts_what_it_integrates_to_and_its_stages_add_up() {
    let _alone = alone();
    let ran = bench_ok(
        "ramp",
        &[
            "--scenario",
            "lookup",
            "--stages",
            "2s:50/s,2s:100/s",
            "--warmup",
            "0s",
        ],
    );
    let run = ran.run();
    // 0→50/s over 2 s starts 50, 50→100/s over 2 s starts 150.
    let started = run.window.started_ops as f64;
    assert!((started - 200.0).abs() <= 4.0, "started {started}");
    assert_eq!(run.parameters.stages.as_deref(), Some("2s:50/s,2s:100/s"));
    assert_eq!(run.stages.len(), 2);
    let (first, second) = (attempts(&run.stages[0]), attempts(&run.stages[1]));
    assert!(
        first.abs_diff(50) <= 1 && second.abs_diff(150) <= 2,
        "{first} then {second}"
    );
    assert_eq!(run.stages[1].target_rate_per_s, Some(100.0));
    assert_eq!((run.stages[1].start_s, run.stages[1].end_s), (2.0, 4.0));
    // Every measured operation is in exactly one stage.
    assert_eq!(stage_sum(&run, LOOKUP), whole(&run, LOOKUP));

    let csv = std::fs::read_to_string(ran.dir.join("summary.csv")).unwrap();
    // The header, the whole run's row, and one row per stage.
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains(",2,2.000,4.000,100/s,"), "{csv}");
    assert!(ran.stdout().contains("stage"), "{}", ran.stdout());
}

#[test]
fn closed_stages_reach_each_concurrency_and_add_up() {
    let _alone = alone();
    // With every call taking 100 ms, Little's law gives the workers in
    // use: completions per second times the mean response time.
    let ran = bench_ok(
        "steps",
        &[
            "--scenario",
            "lookup",
            "--stages",
            "2s:c=2,2s:c=8",
            "--warmup",
            "0s",
            "--inject-latency",
            "fixed:100ms",
        ],
    );
    let run = ran.run();
    assert_eq!(run.parameters.load_model, "closed");
    for (stage, workers) in run.stages.iter().zip([2.0, 8.0]) {
        let op = stage.operation(LOOKUP).unwrap();
        let in_use = stage.achieved_rate_per_s * op.response_ms.mean / 1000.0;
        assert!(
            (in_use - workers).abs() <= workers * 0.25,
            "stage {}: {in_use:.2} workers in use, {workers} asked",
            stage.target
        );
    }
    assert_eq!(stage_sum(&run, LOOKUP), whole(&run, LOOKUP));
}

#[test]
fn stages_refuse_mixed_models_and_a_warm_up_that_covers_them() {
    let _alone = alone();
    for (args, says) in [
        (vec!["--stages", "1s:50/s,1s:c=2"], "one load model"),
        (vec!["--stages", "1s:50"], "neither a rate"),
        (vec!["--stages", "1s:50/s", "--warmup", "2s"], "warm-up"),
        (
            vec!["--stages", "1s:50/s", "--rate", "5"],
            "cannot be used with",
        ),
    ] {
        let ran = bench(
            "bad-stages",
            &[&["--scenario", "lookup"], &args[..]].concat(),
        );
        assert_eq!(ran.code(), Some(1), "{args:?}: {}", ran.stderr());
        assert!(ran.stderr().contains(says), "{args:?}: {}", ran.stderr());
    }
}

#[test]
fn staged_runs_compare_stage_by_stage() {
    let _alone = alone();
    let args = [
        "--scenario",
        "lookup",
        "--stages",
        "1s:50/s,1s:100/s",
        "--warmup",
        "0s",
    ];
    let (a, b) = (bench_ok("compare-a", &args), bench_ok("compare-b", &args));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("compare")
        .arg(&a.dir)
        .arg("--vs")
        .arg(&b.dir)
        .args(["--single-run", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let operations: Vec<&str> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["operation"].as_str().unwrap())
        .collect();
    for name in [
        LOOKUP,
        "stage 1 (50/s) identity.lookup",
        "stage 2 (100/s) identity.lookup",
    ] {
        assert!(
            operations.contains(&name),
            "no rows for {name}: {operations:?}"
        );
    }
}

/// A capacity search's arguments against a node with `workers` workers
/// and 10 ms per call: a capacity of `workers` × 100 calls a second.
fn search_args(workers: &'static str, rule: &'static str) -> Vec<&'static str> {
    vec![
        "--scenario",
        "lookup",
        "--workers",
        workers,
        "--inject-latency",
        "fixed:10ms",
        "--find-capacity",
        rule,
        "--step",
        "2s",
        "--warmup",
        "500ms",
    ]
}

#[test]
fn a_capacity_search_finds_a_known_capacity() {
    // Past the capacity the queue grows without end, so any limit well
    // above the 10 ms a call takes marks the knee; 100 ms leaves room for
    // a debug build on a busy machine.
    let _alone = alone();
    let ran = bench_ok("capacity", &search_args("4", "identity.lookup:p99<100ms"));
    let run = ran.run();
    let capacity = run.capacity.as_ref().expect("a capacity report");
    assert_eq!(capacity.outcome, "found", "{}", ran.stdout());
    let found = capacity.capacity_per_s.unwrap();
    assert!(
        (found - 400.0).abs() <= 60.0,
        "capacity {found}/s\n{}",
        ran.stdout()
    );
    // Every step is a stage, judged; the last that held is the capacity.
    assert!(run.stages.len() >= 7, "{}", ran.stdout());
    assert!(run.stages.iter().all(|s| s.passed.is_some()));
    let held = run.stages.iter().filter(|s| s.passed == Some(true));
    let best = held.filter_map(|s| s.target_rate_per_s).fold(0.0, f64::max);
    assert_eq!(best, found);
    assert!(ran.stdout().contains("capacity"), "{}", ran.stdout());
}

#[test]
fn a_search_above_the_generators_reach_says_so() {
    let _alone = alone();
    // 64 workers can take 6,400 calls a second, more than this machine
    // can send and serve in a debug build: the search must stop at the
    // saturation and say so, or find the real capacity, or (on a machine
    // other processes keep busy) caution that it could not tell.
    let ran = bench_ok("saturated", &search_args("64", "identity.lookup:p99<100ms"));
    let capacity = ran.run().capacity.expect("a capacity report");
    match capacity.outcome.as_str() {
        "generator_saturated" => assert!(
            capacity.verdict.contains("saturated"),
            "{}",
            capacity.verdict
        ),
        "found" if capacity.caution.is_some() => {}
        "found" => {
            let found = capacity.capacity_per_s.unwrap();
            assert!((found - 6400.0).abs() <= 960.0, "{}", capacity.verdict);
        }
        other => panic!("{other}: {}", capacity.verdict),
    }
}

#[test]
fn a_search_that_breaks_at_its_lowest_rate_exits_99() {
    let _alone = alone();
    let ran = bench("lowest", &search_args("4", "identity.lookup:p50<5ms"));
    assert_eq!(ran.code(), Some(99), "{}\n{}", ran.stdout(), ran.stderr());
    let capacity = ran.run().capacity.unwrap();
    assert_eq!(capacity.outcome, "below_lowest");
    assert_eq!(capacity.capacity_per_s, None);
}
