//! `opmon merge` combines real `opmon bench` runs exactly and refuses
//! incompatible or unreadable ones with one sentence.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::bench::{bench_ok, out_dir, Ran};
use xmtp_opmon::report::{decode_histogram, RunResult};

// Timed rather than counted, so that two runs started together overlap
// even if one provisions a little faster.
const LOOKUPS: [&str; 8] = [
    "--scenario",
    "lookup",
    "--duration",
    "2s",
    "--warmup",
    "0s",
    "--seed",
    "7",
];

/// Two lookup runs made at the same time, as on two machines, shared by
/// the tests.
fn lookup_runs() -> &'static (Ran, Ran) {
    static RUNS: OnceLock<(Ran, Ran)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let b = std::thread::spawn(|| bench_ok("merge-b", &LOOKUPS));
        let a = bench_ok("merge-a", &LOOKUPS);
        (a, b.join().expect("the second run finishes"))
    })
}

fn merge(inputs: &[&Path], out: &Path) -> Output {
    merge_with(inputs, out, &[])
}

fn merge_with(inputs: &[&Path], out: &Path, flags: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("merge")
        .args(inputs)
        .arg("-o")
        .arg(out)
        .args(flags)
        .output()
        .expect("opmon runs")
}

/// A copy of `run`'s run.json in a directory of its own, changed by `edit`.
fn edited(run: &Ran, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let text = std::fs::read(run.dir.join("run.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&text).unwrap();
    edit(&mut value);
    let dir = out_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    path
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Expects exit 1 and one line on stderr, and returns that line.
fn refused(output: &Output) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {text}");
    assert!(!text.contains("panicked"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    text.trim_end().to_owned()
}

#[test]
fn merges_two_runs_into_their_exact_sum() {
    let (a, b) = lookup_runs();
    let out = out_dir("merged");
    let output = merge(&[&a.dir, &b.dir.join("run.json")], &out);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("identity.lookup"), "{stdout}");
    assert!(stdout.contains(&format!("results: {}", out.display())));

    let (a, b) = (a.run(), b.run());
    let merged = RunResult::read(&out).unwrap();
    assert_eq!(merged.merged_from.len(), 2);
    assert_eq!(merged.merged_from[0].run_id, a.run_id);
    assert_eq!(merged.merged_from[1].run_id, b.run_id);
    let (op, op_a, op_b) = (&merged.operations[0], &a.operations[0], &b.operations[0]);
    assert_eq!(op.attempts, op_a.attempts + op_b.attempts);
    assert!(op_a.attempts > 0 && op_b.attempts > 0);
    assert_eq!(op.ok, op_a.ok + op_b.ok);

    let histogram = |text: &str| decode_histogram(text).unwrap();
    let mut sum = histogram(&op_a.histograms.response_us);
    sum.add(histogram(&op_b.histograms.response_us)).unwrap();
    let merged_histogram = histogram(&op.histograms.response_us);
    assert_eq!(merged_histogram.len(), sum.len());
    assert_eq!(merged_histogram.max(), sum.max());
    for quantile in [0.5, 0.9, 0.99, 0.999] {
        assert_eq!(
            merged_histogram.value_at_quantile(quantile),
            sum.value_at_quantile(quantile),
            "q{quantile}"
        );
    }
    assert!(out.join("summary.csv").is_file());
}

#[test]
fn refuses_runs_of_different_scenarios() {
    let (a, _) = lookup_runs();
    let identity = bench_ok(
        "merge-identity",
        &["--scenario", "identity", "--ops", "3", "--warmup", "0s"],
    );
    let out = out_dir("merged-mismatch");
    let line = refused(&merge(&[&a.dir, &identity.dir], &out));
    let expected = format!(
        "opmon: cannot merge: run {} used scenario `identity`, run {} `lookup`",
        identity.run().run_id,
        a.run().run_id
    );
    assert_eq!(line, expected);
    assert!(!out.join("run.json").exists());
}

#[test]
fn refuses_corrupt_and_future_files_naming_them() {
    let (a, _) = lookup_runs();
    let dir = out_dir("merge-bad-files");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let truncated = write("truncated.json", r#"{"schema":"opmon.run.v1""#);
    let future = write("future.json", r#"{"schema":"opmon.run.v9"}"#);
    let missing = dir.join("missing.json");
    for bad in [&truncated, &future, &missing] {
        let line = refused(&merge(&[&a.dir, bad], &dir.join("out")));
        assert!(line.starts_with("opmon: "), "{line}");
        assert!(line.contains(&bad.display().to_string()), "{line}");
    }
    let line = refused(&merge(&[&a.dir, &future], &dir.join("out")));
    assert!(line.contains("opmon.run.v9"), "{line}");
}

#[test]
fn refuses_a_single_run_and_writing_over_an_input() {
    let (a, b) = lookup_runs();
    let line = refused(&merge(&[&a.dir], &out_dir("merge-one")));
    assert!(line.contains("at least two runs"), "{line}");
    let before = std::fs::read(a.dir.join("run.json")).unwrap();
    let line = refused(&merge(&[&a.dir, &b.dir], &a.dir));
    assert!(line.contains("choose another --out"), "{line}");
    assert_eq!(std::fs::read(a.dir.join("run.json")).unwrap(), before);
}

#[test]
fn refuses_edited_counts_and_timelines_naming_the_file() {
    let (a, b) = lookup_runs();
    let more_ok = edited(a, "merge-more-ok", |run| {
        let op = &mut run["operations"][0];
        op["ok"] = (op["attempts"].as_u64().unwrap() + 1).into();
    });
    let far_second = edited(a, "merge-far-second", |run| {
        run["operations"][0]["timeline"][0]["second"] = 1_000_000_000_000u64.into();
    });
    for (bad, expected) in [
        (&more_ok, "more successes"),
        (&far_second, "timeline second 1000000000000"),
    ] {
        let line = refused(&merge(&[bad, &b.dir], &out_dir("merge-edited")));
        assert!(line.contains(&bad.display().to_string()), "{line}");
        assert!(line.contains(expected), "{line}");
    }
}

#[test]
fn refuses_runs_that_never_overlapped_unless_forced() {
    let (a, b) = lookup_runs();
    let (run_a, run_b) = (a.run(), b.run());
    // The same run an hour later: its window opens long after `a`'s closed.
    let later = edited(b, "merge-later", |run| {
        for field in ["started_at", "finished_at", "window_started_at"] {
            let at = humantime::parse_rfc3339_weak(run[field].as_str().unwrap()).unwrap();
            let moved = at + std::time::Duration::from_secs(3600);
            run[field] = humantime::format_rfc3339_millis(moved).to_string().into();
        }
    });
    let out = out_dir("merge-apart");
    let line = refused(&merge(&[&a.dir, &later], &out));
    assert!(line.contains("never ran together"), "{line}");
    assert!(line.contains("--force"), "{line}");
    assert!(!out.join("run.json").exists());

    let output = merge_with(&[&a.dir, &later], &out, &["--force"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let merged = RunResult::read(&out).unwrap();
    // Throughput over the seconds measured, not the hour between them.
    let measured = run_a.window.measured_s + run_b.window.measured_s;
    assert!((merged.window.measured_s - measured).abs() < 1e-6);
    let ok = run_a.operations[0].ok + run_b.operations[0].ok;
    let throughput = merged.operations[0].throughput_per_s;
    assert!(
        (throughput - ok as f64 / measured).abs() < 1e-6,
        "{throughput}"
    );
}
