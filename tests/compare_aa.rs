//! An A/A test: identical builds compared with each other should almost
//! never get a verdict. Ten pairs of four runs against four, each pair's
//! runs interleaved so that a drifting machine favours neither side, are
//! compared the way a CI gate would; at most one pair may show any
//! `better` or `worse` (the false-discovery rate is controlled at 5%
//! within a comparison, so one in ten is already generous).
//!
//! `compare_runs.rs` checks the other half: that a real 20 ms regression
//! is still found at four runs a side.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::bench::bench_ok;

const PAIRS: usize = 10;
const RUNS_A_SIDE: usize = 4;

fn lookups(name: &str) -> PathBuf {
    bench_ok(
        name,
        &["--scenario", "lookup", "--ops", "120", "--warmup", "0s"],
    )
    .dir
}

#[test]
fn identical_builds_get_no_verdicts() {
    let mut pairs_with_verdicts = Vec::new();
    for pair in 0..PAIRS {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for run in 0..RUNS_A_SIDE {
            a.push(lookups(&format!("aa-{pair}-a{run}")));
            b.push(lookups(&format!("aa-{pair}-b{run}")));
        }
        let output = Command::new(env!("CARGO_BIN_EXE_opmon"))
            .arg("compare")
            .args(&a)
            .arg("--vs")
            .args(&b)
            .args(["--format", "json", "--fail-on-regression"])
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
        let rows = json["rows"].as_array().unwrap();
        let tested = rows.iter().filter(|row| row["method"] == "mann-whitney");
        assert!(
            tested.count() >= 4,
            "p50, p90, mean, error rate, throughput: {rows:?}"
        );
        let verdicts: Vec<String> = rows
            .iter()
            .filter(|row| row["verdict"] == "better" || row["verdict"] == "worse")
            .map(|row| format!("{} {}", row["figure"], row["verdict"]))
            .collect();
        if !verdicts.is_empty() {
            assert_eq!(
                output.status.code(),
                Some(if verdicts.iter().any(|v| v.ends_with("\"worse\"")) {
                    98
                } else {
                    0
                })
            );
            pairs_with_verdicts.push((pair, verdicts));
        }
    }
    eprintln!("pairs with verdicts: {pairs_with_verdicts:?}");
    assert!(
        pairs_with_verdicts.len() <= 1,
        "{} of {PAIRS} A/A pairs got verdicts: {pairs_with_verdicts:?}",
        pairs_with_verdicts.len()
    );
}
