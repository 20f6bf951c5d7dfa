//! Bad input gets one clear sentence and exit code 1, never a panic; an
//! unreachable target is measured as such, every failure classified
//! `connect`, and its results are still written.

mod common;

use common::bench::{bench, out_dir};

fn refused(name: &str, args: &[&str], expected: &str) {
    let ran = bench(name, args);
    let stderr = ran.stderr();
    assert_eq!(ran.code(), Some(1), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(stderr.lines().count() <= 6, "{args:?}: {stderr}");
}

#[test]
fn bad_flags_are_refused_in_one_sentence() {
    refused("scenario", &["--scenario", "chat"], "invalid value 'chat'");
    refused(
        "flag",
        &["--frobnicate"],
        "unexpected argument '--frobnicate'",
    );
    refused(
        "duration",
        &["--duration", "5 parsecs"],
        "is not a duration",
    );
    refused(
        "checkpoint",
        &["--checkpoint-every", "100ms"],
        "checkpoints are written at most once a second",
    );
    refused("rate", &["--rate", "-3"], "is not a rate");
    refused("rate-zero", &["--rate", "0/s"], "is not a rate");
    refused("threads", &["--threads", "0"], "invalid value '0'");
    refused(
        "threshold",
        &["--threshold", "identity.lookup:p99"],
        "threshold",
    );
    refused(
        "threshold-op",
        &["--threshold", "messages:p99<1s"],
        "unknown operation",
    );
    refused(
        "max-error",
        &["--max-error-rate", "lots"],
        "--max-error-rate",
    );
    refused(
        "mix",
        &["--mix", "identity=two"],
        "mix entry `identity=two`",
    );
    refused(
        "mix-scenario",
        &["--scenario", "lookup", "--mix", "identity=1"],
        "--mix applies only to --scenario mix",
    );
    refused(
        "models",
        &["--rate", "5", "--concurrency", "2"],
        "cannot be used with",
    );
    refused("api", &["--api", "v5"], "invalid value 'v5'");
    refused(
        "faults-remote",
        &[
            "--node",
            "http://127.0.0.1:1",
            "--gateway",
            "http://127.0.0.1:1",
            "--stall",
            "1s/5s",
        ],
        "fault flags apply only to the embedded node",
    );
    refused(
        "scw-remote",
        &[
            "--node",
            "http://127.0.0.1:1",
            "--gateway",
            "http://127.0.0.1:1",
            "--scw-signatures",
            "accept-unverified",
        ],
        "--scw-signatures applies only to the embedded node",
    );
    refused(
        "scw-policy",
        &["--scw-signatures", "maybe"],
        "expected refuse or accept-unverified",
    );
    refused(
        "url",
        &["--node", "not a url", "--gateway", "http://127.0.0.1:1"],
        "`not a url` is not a usable gRPC endpoint",
    );
}

#[test]
fn an_unwritable_output_directory_is_refused_before_running() {
    let file = out_dir("not-a-dir");
    std::fs::write(&file, b"a file, not a directory").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_opmon"))
        .args(["bench", "--scenario", "lookup", "--ops", "1", "--out"])
        .arg(file.join("results"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write results to"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn an_unreachable_target_is_measured_as_connect_failures() {
    // Nothing listens on port 1.
    let ran = bench(
        "unreachable",
        &[
            "--node",
            "http://127.0.0.1:1",
            "--gateway",
            "http://127.0.0.1:1",
            "--scenario",
            "identity",
            "--ops",
            "3",
            "--warmup",
            "0s",
        ],
    );
    assert_eq!(ran.code(), Some(1), "{}", ran.stderr());
    assert!(
        ran.stderr().contains("every operation failed (connect 3)"),
        "{}",
        ran.stderr()
    );
    let op = ran.op("identity.create");
    assert_eq!(op.attempts, 3);
    assert_eq!(op.errors.get("connect"), Some(&3), "{:?}", op.errors);
    assert_eq!(ran.run().parameters.target.kind, "explicit");
}

#[test]
fn a_scenario_that_cannot_be_provisioned_says_why_and_still_writes_results() {
    let ran = bench(
        "unprovisioned",
        &[
            "--node",
            "http://127.0.0.1:1",
            "--gateway",
            "http://127.0.0.1:1",
            "--scenario",
            "lookup",
        ],
    );
    assert_eq!(ran.code(), Some(1), "{}", ran.stderr());
    assert!(
        ran.stderr()
            .contains("cannot provision the lookup scenario"),
        "{}",
        ran.stderr()
    );
    let run = ran.run();
    assert!(!run.complete);
    assert!(run.end_reason.contains("connect"), "{}", run.end_reason);
}
