//! Merges of runs built from real [`Recorder`]s.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::*;
use crate::classify::ErrorClass;
use crate::client::OpKind;
use crate::layer::Outcome;
use crate::load::{new_histogram, new_phase_histogram, Recorder};
use crate::report::{
    decode_histogram, OperationReport, Parameters, Percentiles, PhaseReport, Target,
};

const LOOKUP: OpKind = OpKind::IdentityLookup;

/// One recorded attempt: its duration, or the class it failed with.
enum Attempt {
    Ok(Duration),
    Failed(ErrorClass),
}

/// A run whose `operation` recorded `attempts`; its measured window opens
/// at `window_started_at` and lasts `measured_s`.
fn run(id: &str, window_started_at: &str, measured_s: f64, attempts: &[Attempt]) -> RunResult {
    let recorder = Recorder::new();
    for attempt in attempts {
        let (duration, error) = match attempt {
            Attempt::Ok(duration) => (*duration, None),
            Attempt::Failed(class) => (Duration::from_millis(1), Some(*class)),
        };
        recorder.record(&Outcome::for_test(LOOKUP, duration, Duration::ZERO, error));
    }
    let operations = recorder
        .snapshot()
        .iter()
        .map(|(kind, stats)| OperationReport::from_stats(kind.as_str(), stats, measured_s))
        .collect();
    RunResult {
        schema: RUN_SCHEMA.to_owned(),
        run_id: id.to_owned(),
        started_at: window_started_at.to_owned(),
        finished_at: window_started_at.to_owned(),
        window_started_at: window_started_at.to_owned(),
        complete: true,
        end_reason: "finished".to_owned(),
        parameters: Parameters {
            api: "v4".to_owned(),
            target: Target {
                kind: "explicit".to_owned(),
                env: None,
                node: format!("http://{id}:5050"),
                gateway: format!("http://{id}:5050"),
            },
            scenario: "lookup".to_owned(),
            weights: BTreeMap::from([("identity.lookup".to_owned(), 1)]),
            load_model: "closed".to_owned(),
            concurrency: Some(4),
            duration_s: Some(10.0),
            seed: id.len() as u64,
            ..Parameters::default()
        },
        environment: Environment {
            cores: 2,
            threads: Some(2),
            ..Environment::default()
        },
        provisioning: ProvisioningReport::default(),
        window: Window {
            measured_s,
            started_ops: attempts.len() as u64,
            ..Window::default()
        },
        operations,
        resources: Resources::default(),
        thresholds: Vec::new(),
        stages: Vec::new(),
        capacity: None,
        merged_from: Vec::new(),
    }
}

fn ok_us(values: impl IntoIterator<Item = u64>) -> Vec<Attempt> {
    values
        .into_iter()
        .map(|us| Attempt::Ok(Duration::from_micros(us)))
        .collect()
}

fn ok_ms(values: &[u64]) -> Vec<Attempt> {
    ok_us(values.iter().map(|ms| ms * 1000))
}

#[test]
fn gives_the_figures_of_one_histogram_holding_every_sample() {
    // Two different shapes: a spread of fast lookups, and a slower machine
    // with a long tail and some failures.
    let a_us: Vec<u64> = (0..1000).map(|i| 200 + (i * i) % 9_973).collect();
    let b_us: Vec<u64> = (0..400)
        .map(|i| 5_000 + i * 37 + if i % 50 == 0 { 800_000 } else { 0 })
        .collect();
    let mut b = ok_us(b_us.iter().copied());
    b.extend((0..7).map(|_| Attempt::Failed(ErrorClass::Timeout)));
    b.push(Attempt::Failed(ErrorClass::Unavailable));
    let a = run("a", "2026-01-01T00:00:00.000Z", 10.0, &ok_us(a_us.clone()));
    let b = run("b", "2026-01-01T00:00:00.400Z", 10.0, &b);

    let merged = merge_runs(&[a, b]).unwrap();

    let mut all: Histogram<u64> = new_histogram();
    for us in a_us.iter().chain(&b_us) {
        all.record(*us).unwrap();
    }
    let op = &merged.operations[0];
    assert_eq!(op.operation, "identity.lookup");
    assert_eq!((op.attempts, op.ok), (1408, 1400));
    assert_eq!(
        op.errors,
        BTreeMap::from([("timeout".to_owned(), 7), ("unavailable".to_owned(), 1)])
    );
    assert!((op.error_rate - 8.0 / 1408.0).abs() < 1e-12);
    // Exactly, not approximately: the same buckets give the same numbers.
    assert_eq!(op.response_ms, Percentiles::of(&all));
    assert_eq!(op.service_ms, Percentiles::of(&all));
    let back = decode_histogram(&op.histograms.response_us).unwrap();
    assert_eq!(back, all);
    // The window spans both machines: 0.4 s + 10 s.
    assert!((merged.window.measured_s - 10.4).abs() < 1e-9);
    assert!((op.throughput_per_s - 1400.0 / 10.4).abs() < 1e-9);
    assert_eq!(merged.window.started_ops, 1408);
    assert_eq!(merged.merged_from.len(), 2);
    assert_eq!(merged.environment.cores, 4);
    assert!(merged.complete);
    assert!(merged.thresholds.is_empty());
}

#[test]
fn sums_each_operations_phases() {
    let with_phase = |id: &str, ms: &[u64], failed: u64| {
        let mut run = run(id, "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(ms));
        let mut histogram: Histogram<u64> = new_phase_histogram();
        for ms in ms {
            histogram.record(ms * 1000).unwrap();
        }
        run.operations[0].phases = vec![PhaseReport::new(
            "inbox.lookup".into(),
            ms.len() as u64,
            failed,
            &histogram,
        )];
        (run, histogram)
    };
    let (a, mut all) = with_phase("a", &[3, 4, 5], 1);
    let (b, part) = with_phase("b", &[40, 50], 0);
    all.add(&part).unwrap();

    let merged = merge_runs(&[a, b]).unwrap();
    let phases = &merged.operations[0].phases;
    assert_eq!(phases.len(), 1);
    assert_eq!((phases[0].ok, phases[0].failed), (5, 1));
    assert_eq!(decode_histogram(&phases[0].duration_us).unwrap(), all);
    assert_eq!(phases[0].duration_ms, Percentiles::of(&all));
}

#[test]
fn aligns_timelines_on_the_wall_clock() {
    // Timeline seconds come from completion times, so durations place the
    // successes: `a` in its seconds 0, 1 and 2, `b` in its seconds 0 and 1.
    let a = run(
        "a",
        "2026-01-01T00:00:00.000Z",
        3.0,
        &ok_ms(&[10, 10, 10, 1_500, 2_500]),
    );
    // 2.3 s later: rounded, `b`'s second 0 is the merged second 2.
    let b = run(
        "b",
        "2026-01-01T00:00:02.300Z",
        2.0,
        &ok_ms(&[20, 20, 1_200]),
    );

    let merged = merge_runs(&[a, b]).unwrap();
    let timeline = &merged.operations[0].timeline;
    let counts: Vec<(u64, u64)> = timeline.iter().map(|p| (p.second, p.ok)).collect();
    assert_eq!(counts, [(0, 3), (1, 1), (2, 3), (3, 1)]);
    // Second 2 holds `a`'s 2.5 s success and `b`'s two 20 ms ones.
    let overlap = timeline[2];
    assert!((overlap.mean_response_ms - (2_500.0 + 20.0 + 20.0) / 3.0).abs() < 0.01);
    assert!((overlap.max_response_ms - 2_500.0).abs() < 2.5);
    assert_eq!(merged.window_started_at, "2026-01-01T00:00:00.000Z");
    assert!((merged.window.measured_s - 4.3).abs() < 1e-9);
}

#[test]
fn refuses_runs_configured_differently() {
    let a = run("a", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5]));
    let mut b = run("b", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5]));
    b.parameters.scenario = "group".to_owned();
    let error = merge_runs(&[a.clone(), b]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot merge: run b used scenario `group`, run a `lookup`"
    );

    let mut c = run("c", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5]));
    c.parameters.rate = Some(50.0);
    let error = merge_runs(&[a.clone(), c]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot merge: run c used rate `50/s`, run a `none`"
    );
    assert_eq!(
        merge_runs(std::slice::from_ref(&a)).unwrap_err(),
        MergeError::TooFew(1)
    );
}

#[test]
fn ignores_urls_seeds_and_disagreeing_tags() {
    let mut a = run("a", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5]));
    let mut b = run("bb", "2026-01-01T00:00:01.000Z", 1.0, &ok_ms(&[6]));
    a.parameters.tags = BTreeMap::from([
        ("build".to_owned(), "42".to_owned()),
        ("host".to_owned(), "a".to_owned()),
    ]);
    b.parameters.tags = BTreeMap::from([
        ("build".to_owned(), "42".to_owned()),
        ("host".to_owned(), "b".to_owned()),
    ]);
    let merged = merge_runs(&[a, b]).unwrap();
    assert_eq!(
        merged.parameters.tags,
        BTreeMap::from([("build".to_owned(), "42".to_owned())])
    );
    assert_eq!(merged.parameters.target.node, "http://a:5050");
}

#[test]
fn refuses_a_run_given_twice_even_inside_a_merged_run() {
    let a = run("a", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5]));
    let b = run("b", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5]));
    let error = merge_runs(&[a.clone(), b.clone(), a.clone()]).unwrap_err();
    assert_eq!(error.to_string(), "cannot merge: run a is given twice");

    let ab = merge_runs(&[a.clone(), b]).unwrap();
    let error = merge_runs(&[ab, a]).unwrap_err();
    assert_eq!(error, MergeError::Duplicate("a".to_owned()));
}

#[test]
fn a_merged_run_merges_again_into_its_flattened_parts() {
    let a = run("a", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5, 6]));
    let b = run("b", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[7]));
    let mut c = run("c", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[8]));
    c.complete = false;
    c.end_reason = "interrupted".to_owned();
    let all_at_once = merge_runs(&[a.clone(), b.clone(), c.clone()]).unwrap();
    let in_two_steps = merge_runs(&[merge_runs(&[a, b]).unwrap(), c]).unwrap();

    let ids: Vec<&str> = in_two_steps
        .merged_from
        .iter()
        .map(|part| part.run_id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(in_two_steps.operations, all_at_once.operations);
    assert_eq!(in_two_steps.run_id, all_at_once.run_id);
    assert!(!in_two_steps.complete);
    assert_eq!(in_two_steps.end_reason, "run c: interrupted");
}

#[test]
fn an_operation_one_run_lacks_comes_from_the_others() {
    let a = run("a", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5, 6]));
    let mut b = run("b", "2026-01-01T00:00:00.000Z", 1.0, &[]);
    assert!(b.operations.is_empty());
    b.window.started_ops = 0;
    let merged = merge_runs(&[a.clone(), b]).unwrap();
    assert_eq!(merged.operations.len(), 1);
    assert_eq!(merged.operations[0].ok, 2);
    assert_eq!(
        merged.operations[0].response_ms,
        a.operations[0].response_ms
    );
}

#[test]
fn refuses_unreadable_times_and_histograms() {
    let a = run("a", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5]));
    let mut b = run("b", "yesterday", 1.0, &ok_ms(&[5]));
    let error = merge_runs(&[a.clone(), b.clone()]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot merge: run b has window_started_at `yesterday`"),
        "{error}"
    );
    b.window_started_at = a.window_started_at.clone();
    b.started_at = a.started_at.clone();
    b.finished_at = a.finished_at.clone();
    b.operations[0].histograms.service_us = "aGVsbG8=".to_owned();
    let error = merge_runs(&[a, b]).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot merge: run b has an unusable identity.lookup service histogram"),
        "{error}"
    );
}

#[test]
fn refuses_a_gap_between_windows_unless_forced() {
    let a = run("a", "2026-01-01T00:00:00.000Z", 2.0, &ok_ms(&[5, 6]));
    let b = run("b", "2026-01-01T00:00:01.000Z", 2.0, &ok_ms(&[7]));
    let c = run("c", "2026-01-01T00:00:10.000Z", 4.0, &ok_ms(&[8, 9, 10]));
    // `a` and `b` overlap; `c` opens 7 s after `b` closed.
    let error = merge_runs(&[c.clone(), a.clone(), b.clone()]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot merge: run c's window opens 7.0 s after run b's closed, so they never ran together (--force merges them anyway)"
    );
    let merged = merge_runs_with(&[a, b, c], MergeOptions { force: true }).unwrap();
    // 0–3 s and 10–14 s: 7 measured seconds, not the 14 s span.
    assert!((merged.window.measured_s - 7.0).abs() < 1e-9);
    assert!((merged.operations[0].throughput_per_s - 6.0 / 7.0).abs() < 1e-9);
    // The timeline keeps wall-clock seconds, gap included.
    assert_eq!(merged.operations[0].timeline.len(), 11);
}

#[test]
fn a_timeline_far_from_the_others_stays_bounded() {
    let a = run("a", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5]));
    let mut b = run("b", "2026-01-01T00:00:00.000Z", 1.0, &ok_ms(&[5]));
    b.operations[0].timeline[0].second = 1_000_000_000_000;
    let merged = merge_runs(&[a, b]).unwrap();
    let timeline = &merged.operations[0].timeline;
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].ok, 1);
}
