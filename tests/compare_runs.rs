//! `opmon compare` tells a real slowdown from noise: a run against itself
//! gives no verdict; what one run cannot show is `?` with the reason;
//! injected latency is `worse`, significantly, and fails CI with exit code
//! 98 under `--fail-on-regression`. (`compare_aa.rs` checks how often
//! identical builds get a verdict.)

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::bench::bench_ok;

fn lookups(name: &str, ops: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec!["--scenario", "lookup", "--ops", ops, "--warmup", "0s"];
    args.extend_from_slice(extra);
    bench_ok(name, &args).dir
}

fn compare(base: &[&PathBuf], candidate: &[&PathBuf], extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("compare")
        .args(base)
        .arg("--vs")
        .args(candidate)
        .args(extra)
        .output()
        .unwrap()
}

fn rows_of(output: &Output) -> Vec<serde_json::Value> {
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    json["rows"].as_array().unwrap().clone()
}

fn verdict<'a>(rows: &'a [serde_json::Value], figure: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|row| row["figure"] == figure)
        .unwrap_or_else(|| panic!("no {figure} in {rows:?}"))
}

#[test]
fn a_run_compared_with_itself_shows_no_change() {
    let run = lookups("self", "200", &[]);
    let output = compare(
        &[&run],
        &[&run],
        &["--format", "json", "--fail-on-regression"],
    );
    assert_eq!(output.status.code(), Some(0));
    let rows = rows_of(&output);
    assert_eq!(rows.len(), 7, "seven figures for one operation");
    for row in &rows {
        assert!(row["verdict"] == "~" || row["verdict"] == "?", "{row}");
        assert_eq!(row["change"], 0.0, "{row}");
    }
    // What one run of 200 cannot say is said, with the reason.
    let p99 = verdict(&rows, "p99");
    assert_eq!(p99["verdict"], "?");
    assert_eq!(p99["reason"], "too few samples: 200 < 1,000 for p99");
    let p50 = verdict(&rows, "p50");
    assert_eq!(p50["verdict"], "?");
    assert!(
        p50["reason"].as_str().unwrap().contains("4 times or more"),
        "{p50}"
    );
    assert_eq!(verdict(&rows, "error_rate")["method"], "two-proportion");
}

#[test]
fn injected_latency_is_a_significant_regression() {
    let base = lookups("fast", "200", &[]);
    let slow = lookups("slow", "200", &["--inject-latency", "fixed:20ms"]);
    // One run a side: no latency verdict by default, so noise cannot fail CI.
    let output = compare(
        &[&base],
        &[&slow],
        &["--format", "json", "--fail-on-regression"],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(verdict(&rows_of(&output), "p50")["verdict"], "?");
    // Asked for, a single run is judged from its own samples.
    let single = ["--format", "json", "--fail-on-regression", "--single-run"];
    let output = compare(&[&base], &[&slow], &single);
    assert_eq!(output.status.code(), Some(98));
    let rows = rows_of(&output);
    for (figure, method) in [("p50", "order-statistic"), ("mean", "bootstrap")] {
        let row = verdict(&rows, figure);
        assert_eq!(row["verdict"], "worse", "{row}");
        assert!(row["p_adjusted"].as_f64().unwrap() < 0.05, "{row}");
        assert!(row["ratio"].as_f64().unwrap() > 2.0, "{row}");
        assert_eq!(row["method"], method);
    }
    assert_eq!(verdict(&rows, "p99")["verdict"], "?", "200 samples");
    // Read the other way round, the same change is an improvement.
    let output = compare(&[&slow], &[&base], &single);
    assert_eq!(verdict(&rows_of(&output), "p50")["verdict"], "better");
    // Each side is named by what sets it apart.
    let table = compare(&[&base], &[&slow], &["--single-run"]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("base: faults=none") && table.contains("candidate: faults=inject-latency"),
        "{table}"
    );
    assert!(table.contains("warning: --single-run"), "{table}");

    // The other formats carry the same verdicts.
    assert!(
        table.contains("worse") && table.contains("95% CI"),
        "{table}"
    );
    let markdown = compare(&[&base], &[&slow], &["--format", "markdown"]);
    assert!(String::from_utf8_lossy(&markdown.stdout).contains("| identity.lookup | p50 |"));
    let csv = compare(&[&base], &[&slow], &["--format", "csv"]);
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(csv.starts_with("operation,figure,unit,base,candidate,change"));
    assert_eq!(csv.lines().count(), 8);

    // The page overlays the two spectra and needs nothing from outside.
    let page = base.join("comparison.html");
    let output = compare(
        &[&base],
        &[&slow],
        &["--single-run", "--html", page.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        html.matches("<svg class=\"plot\"").count(),
        1,
        "one operation"
    );
    assert!(html.contains("identity.lookup: base and candidate"));
    assert!(html.contains(">worse<"));
    assert!(html.contains("<tr class=\"unjudged\">"), "p99 is greyed");
    assert!(!html.contains("<script") && !html.contains("src="));
}

#[test]
fn four_runs_a_side_use_the_rank_test() {
    let base: Vec<PathBuf> = (0..4)
        .map(|i| lookups(&format!("b{i}"), "120", &[]))
        .collect();
    let slow: Vec<PathBuf> = (0..4)
        .map(|i| lookups(&format!("c{i}"), "120", &["--inject-latency", "fixed:20ms"]))
        .collect();
    let output = compare(
        &base.iter().collect::<Vec<_>>(),
        &slow.iter().collect::<Vec<_>>(),
        &["--format", "json", "--fail-on-regression"],
    );
    assert_eq!(output.status.code(), Some(98));
    let rows = rows_of(&output);
    let p50 = verdict(&rows, "p50");
    assert_eq!(p50["method"], "mann-whitney");
    assert_eq!(p50["verdict"], "worse", "{p50}");
    // Four runs against four, fully separated: the exact p-value is 2/70,
    // which alone would not survive the adjustment; the figures that moved
    // together do.
    assert!((p50["p_value"].as_f64().unwrap() - 2.0 / 70.0).abs() < 1e-9);
    assert!(p50["p_adjusted"].as_f64().unwrap() < 0.05, "{p50}");
}

#[test]
fn a_random_mix_judges_its_total_throughput_not_each_operations() {
    let mix = |name: &str| {
        bench_ok(
            name,
            &[
                "--scenario",
                "mix",
                "--ops",
                "60",
                "--warmup",
                "0s",
                "--group-size",
                "3",
            ],
        )
        .dir
    };
    let (a, b) = (mix("mix-a"), mix("mix-b"));
    let rows = rows_of(&compare(&[&a], &[&b], &["--format", "json"]));
    let throughputs: Vec<_> = rows
        .iter()
        .filter(|row| row["figure"] == "throughput")
        .collect();
    assert!(throughputs.len() > 1, "{rows:?}");
    for row in throughputs {
        if row["operation"] == "total" {
            assert_eq!(row["verdict"], "?", "one run a side: {row}");
        } else {
            assert_eq!(row["verdict"], "-", "{row}");
            assert!(row["reason"].as_str().unwrap().contains("draw"), "{row}");
        }
    }
}

#[test]
fn runs_of_different_scenarios_are_refused_unless_forced() {
    let run = lookups("lookups", "5", &[]);
    let identities = bench_ok(
        "identities",
        &["--scenario", "identity", "--ops", "5", "--warmup", "0s"],
    )
    .dir;
    let output = compare(&[&run], &[&identities], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot compare: run"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    // Forced, they still share no operation.
    let output = compare(&[&run], &[&identities], &["--force"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no operation in common"), "{stderr}");
}

#[test]
fn unreadable_run_files_get_one_sentence() {
    let run = lookups("good", "5", &[]);
    let dir = common::bench::out_dir("bad-files");
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("truncated.json", "{\"schema\":\"opmon.run.v1\",\"run_id\":"),
        ("future.json", "{\"schema\":\"opmon.run.v9\"}"),
        ("other.json", "[1, 2, 3]"),
        ("garbage.json", "\u{0}\u{1}not json"),
    ];
    for (name, text) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let output = compare(&[&run], &[&path], &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let missing = dir.join("missing.json");
    let output = compare(&[&missing], &[&run], &[]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
}

#[test]
fn by_api_splits_a_directory_of_runs_as_vs_would() {
    let parent = common::bench::out_dir("by-api");
    let mut dirs = Vec::new();
    for (name, api) in [
        ("a-v4", "v4"),
        ("b-v3", "v3"),
        ("c-v4", "v4"),
        ("d-v3", "v3"),
    ] {
        let dir = parent.join(name);
        let args = [
            "--scenario",
            "lookup",
            "--ops",
            "40",
            "--warmup",
            "0s",
            "--api",
            api,
        ];
        let ran = common::bench::command(&dir, &args).output().unwrap();
        assert!(ran.status.success(), "{ran:?}");
        dirs.push(dir);
    }
    let explicit = compare(
        &[&dirs[1], &dirs[3]],
        &[&dirs[0], &dirs[2]],
        &["--format", "json"],
    );
    let by = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_opmon"))
            .arg("compare")
            .arg(&parent)
            .args(["--by", "api", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let split = by(&[]);
    assert!(split.status.success(), "{split:?}");
    assert_eq!(rows_of(&split), rows_of(&explicit));
    let json: serde_json::Value = serde_json::from_slice(&split.stdout).unwrap();
    assert_eq!(json["base_label"].as_str().unwrap(), "api=v3 (2 runs)");

    let flipped = by(&["--base", "v4"]);
    let json: serde_json::Value = serde_json::from_slice(&flipped.stdout).unwrap();
    assert_eq!(json["base_label"].as_str().unwrap(), "api=v4 (2 runs)");

    let unknown = by(&["--base", "v5"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr).trim(),
        "opmon: no run has api=v5"
    );
    let one_side = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("compare")
        .args([&dirs[0], &dirs[2]])
        .args(["--by", "api"])
        .output()
        .unwrap();
    assert_eq!(one_side.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&one_side.stderr)
            .contains("exactly two values of api, found 1: v4"),
        "{one_side:?}"
    );
}
