//! `opmon compare RUN --vs-prometheus URL` refuses, in one sentence and
//! with exit 1, what it cannot compare: an unreachable server, a window
//! without operations, no matching series, a series that is not a
//! histogram, and bad flags. (The comparison itself is tested against the
//! real Prometheus in tests/compare_prometheus.rs.)

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::fake_prometheus::{self, matrix, vector};

fn fixture() -> String {
    format!("{}/tests/fixtures/run.json", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `opmon compare FIXTURE ARGS` and returns its one-line refusal.
fn refusal(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("compare")
        .arg(fixture())
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(output.stdout.is_empty(), "{args:?} printed a result");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    stderr
}

fn vs(url: &str, extra: &[&str]) -> String {
    let mut args = vec!["--vs-prometheus", url, "--range", "10m"];
    args.extend_from_slice(extra);
    refusal(&args)
}

/// Whether the query reads raw samples over the window (a matrix).
fn over_range(promql: &str) -> bool {
    promql.ends_with("ms]")
}

const COUNT: &str = r#"{"__name__":"xmtp_client_operation_duration_seconds_count","xmtp_operation":"identity.create","xmtp_outcome":"ok","xmtp_traffic":"real"}"#;
const BUCKET: &str = r#"{"__name__":"xmtp_client_operation_duration_seconds_bucket","le":"+Inf","xmtp_operation":"identity.create","xmtp_outcome":"ok","xmtp_traffic":"real"}"#;
const NO_LE: &str = r#"{"__name__":"xmtp_client_operation_duration_seconds_bucket","xmtp_operation":"identity.create","xmtp_outcome":"ok","xmtp_traffic":"real"}"#;

#[test]
fn an_unreachable_prometheus_is_one_sentence() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = vs(&format!("http://127.0.0.1:{port}"), &[]);
    assert!(error.contains("cannot reach Prometheus at"), "{error}");
}

#[test]
fn no_matching_series_is_one_sentence() {
    let url = fake_prometheus::start(|q| {
        if over_range(q) {
            matrix(&[])
        } else {
            vector(&[])
        }
    });
    let error = vs(&url, &["--selector", r#"{job="nobody"}"#]);
    assert!(error.contains("has no series"), "{error}");
    assert!(error.contains(r#"job="nobody""#), "{error}");
}

#[test]
fn a_window_without_operations_is_one_sentence() {
    // The series exist, and stand still: 5 before the window and in it.
    let url = fake_prometheus::start(|q| {
        if over_range(q) {
            matrix(&[(COUNT, &["5", "5"]), (BUCKET, &["5", "5"])])
        } else {
            vector(&[(COUNT, "5"), (BUCKET, "5")])
        }
    });
    let error = vs(&url, &[]);
    assert!(error.contains("did not increase"), "{error}");
}

#[test]
fn a_gauge_is_not_a_histogram() {
    let url = fake_prometheus::start(|q| {
        let gauge = r#"{"__name__":"xmtp_client_operation_active","xmtp_traffic":"real"}"#;
        match (
            over_range(q),
            q.contains(r#"__name__="xmtp_client_operation_active""#),
        ) {
            (true, true) => matrix(&[(gauge, &["1"])]),
            (true, false) => matrix(&[]),
            (false, _) => vector(&[]),
        }
    });
    let error = vs(
        &url,
        &["--selector", r#"xmtp_client_operation_active{job="app"}"#],
    );
    assert!(
        error.contains("xmtp_client_operation_active is not a histogram"),
        "{error}"
    );
}

#[test]
fn buckets_without_le_are_not_a_histogram() {
    let url = fake_prometheus::start(|q| {
        if over_range(q) {
            matrix(&[(NO_LE, &["1", "2"]), (COUNT, &["1", "2"])])
        } else {
            vector(&[])
        }
    });
    let error = vs(&url, &[]);
    assert!(
        error.contains("not a histogram") && error.contains("`le`"),
        "{error}"
    );
}

#[test]
fn phases_without_phase_series_are_one_sentence() {
    // The operations are there; their phases are not.
    let url = fake_prometheus::start(|q| match (over_range(q), q.contains("phase")) {
        (true, false) => matrix(&[(COUNT, &["1", "2"]), (BUCKET, &["1", "2"])]),
        _ if over_range(q) => matrix(&[]),
        _ => vector(&[]),
    });
    // The fixture with one phase, as a run written with phases has.
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    let op = &mut run["operations"][0];
    op["phases"] = serde_json::json!([{
        "phase": "key_package.publish",
        "ok": op["ok"],
        "failed": 0,
        "duration_ms": op["service_ms"],
        "duration_us": op["histograms"]["service_us"],
    }]);
    let dir = common::bench::out_dir("phases-fixture");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("run.json"), run.to_string()).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("compare")
        .arg(&dir)
        .args(["--vs-prometheus", &url, "--range", "10m", "--phases"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("has no series xmtp_client_phase_duration_seconds{"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_one_sentence() {
    // Nothing listens here, and nothing needs to: the flags fail first.
    let url = "http://127.0.0.1:9";
    for (args, says) in [
        (vec!["--range", "soon"], "--range `soon`"),
        (vec!["--start", "yesterday"], "--start `yesterday`"),
        (vec!["--end", "2026-13-01T00:00:00Z"], "--end"),
        (
            vec![
                "--start",
                "2026-12-02T10:00:00Z",
                "--end",
                "2026-12-02T09:00:00Z",
            ],
            "after --start",
        ),
        (vec!["--selector", "{job=x}"], "--selector `{job=x}`"),
        (
            vec!["--selector", r#"{xmtp_traffic="x"}"#],
            "flag of its own",
        ),
        (
            vec!["--phases"],
            "--phases needs the runs' phase histograms",
        ),
    ] {
        let mut all = vec!["--vs-prometheus", url];
        all.extend(args.iter().copied());
        let error = refusal(&all);
        assert!(error.contains(says), "{args:?}: {error}");
    }
    let error = refusal(&["--vs-prometheus", "localhost:9090"]);
    assert!(error.contains("--vs-prometheus localhost:9090"), "{error}");
}

#[test]
fn vs_prometheus_excludes_the_other_sides() {
    let run = fixture();
    for args in [
        vec![
            "--vs-prometheus",
            "http://127.0.0.1:9",
            "--vs",
            run.as_str(),
        ],
        vec!["--vs-prometheus", "http://127.0.0.1:9", "--by", "api"],
        vec!["--range", "1h"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_opmon"))
            .arg("compare")
            .arg(&run)
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot be used with") || stderr.contains("required"),
            "{stderr}"
        );
    }
}
