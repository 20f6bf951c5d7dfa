//! An A/A test: identical builds compared with each other should almost
//! never get a verdict. Forty pairs of four runs against four are compared
//! the way a CI gate would. Within a pair the runs go in ABBA order (a, b,
//! b, a, a, b, b, a), so that neither a drifting machine nor whatever the
//! previous run leaves behind favours one side.
//!
//! Even with perfect statistics, four runs a side can separate completely
//! by chance (a rank-test p of 2/70), so a few pairs may get a verdict; at
//! most four in forty may, which a false-verdict rate of 3% per pair would
//! exceed less than once in a hundred CI runs, and a rate of 20% (the
//! order effect alone once gave 2 in 10) would exceed almost always.
//!
//! `compare_runs.rs` checks the other half: that a real 20 ms regression
//! is still found at four runs a side.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::bench::bench_ok;

const PAIRS: usize = 40;
const ALLOWED: usize = 4;
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
            let (first, second) = if run % 2 == 0 {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            first.push(lookups(&format!("aa-{pair}-{run}-first")));
            second.push(lookups(&format!("aa-{pair}-{run}-second")));
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
            .map(|row| {
                format!(
                    "{} {} {} in {}",
                    row["figure"], row["verdict"], row["change"], row["interval"]
                )
            })
            .collect();
        if !verdicts.is_empty() {
            assert_eq!(
                output.status.code(),
                Some(if verdicts.iter().any(|v| v.contains("\"worse\"")) {
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
        pairs_with_verdicts.len() <= ALLOWED,
        "{} of {PAIRS} A/A pairs got verdicts: {pairs_with_verdicts:?}",
        pairs_with_verdicts.len()
    );
}
