//! Synthetic runs held against real users, end to end: the instrumented
//! example app sends real traffic through a node with 20 ms of injected
//! latency and pushes its metrics to Debian's real Pushgateway, which
//! Debian's real Prometheus scrapes; then `opmon bench` runs synthetic
//! traffic and `opmon compare RUN --vs-prometheus URL` holds it against
//! what Prometheus recorded.
//!
//! Ignored by a plain `cargo test`, which cannot assume the programs; CI
//! installs them and runs the test with `--include-ignored`.

mod common;

// The example itself, run in-process (an example's binary is not built
// for `cargo test --test`, and a test cannot run cargo).
#[allow(dead_code)]
#[path = "../examples/instrumented_app.rs"]
mod instrumented_app;

use std::process::Command;
use std::time::{Duration, Instant};

use common::bench::{bench_ok, out_dir};
use common::daemon::Daemon;
use serde_json::Value;

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// Cycles of the app: each is three identity creations, a group created
/// with one member, a member added, a lookup.
const CYCLES: u32 = 10;
/// Operations a cycle of the app runs.
const PER_CYCLE: u32 = 6;
/// The operations, each slowed by every call it makes.
const OPERATIONS: [&str; 4] = [
    "identity.create",
    "group.create",
    "group.add_members",
    "identity.lookup",
];
/// The synthetic runs: the app's mix, in groups of two as the app's.
const BENCH: [&str; 8] = [
    "--scenario",
    "mix",
    "--mix",
    "identity=3,group=1,add-members=1,lookup=1",
    "--group-size",
    "2",
    "--ops",
    "60",
];

#[test]
#[ignore = "needs prometheus and prometheus-pushgateway"]
fn synthetic_runs_are_held_against_real_users_in_prometheus() {
    let gateway = Daemon::pushgateway();
    let dir = out_dir("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            gateway.port()
        ),
    )
    .unwrap();
    let prometheus = Daemon::start(
        PROMETHEUS,
        |port| {
            vec![
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ]
        },
        "/-/ready",
    );

    // Real traffic: the example app, 20 ms added to every call.
    let args: Vec<String> = [
        "--ops",
        &CYCLES.to_string(),
        "--pushgateway",
        &gateway.url(),
        "--inject-latency",
        "fixed:20ms",
    ]
    .map(String::from)
    .to_vec();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(instrumented_app::run(&args))
        .expect("the app runs");
    wait_for_scrape(&prometheus, f64::from(CYCLES * PER_CYCLE));

    // Synthetic traffic without the latency: faster than real throughout.
    let fast = bench_ok("vs-prometheus-fast", &BENCH);
    let rows = compare(&fast.dir, &prometheus);
    for operation in OPERATIONS {
        for figure in ["p50", "p99"] {
            let row = row(&rows, operation, figure);
            assert_eq!(row["verdict"], "faster", "{row}");
        }
        let p50 = row(&rows, operation, "p50");
        let (low, high) = (
            p50["real_low"].as_f64().unwrap(),
            p50["real_high"].as_f64().unwrap(),
        );
        let real = p50["real"].as_f64().unwrap();
        assert!(low <= real && real <= high, "{p50}");
        // Every call waits 20 ms: the real median is at least that.
        assert!(high >= 20.0, "{p50}");
    }
    // Per phase: publishing a key package is one call, 20 ms slower for
    // the real users; building it is local work that no latency touches.
    let phases = compare_with(&fast.dir, &prometheus, &["--phases"]);
    let publish = phase_row(&phases, "identity.create", "key_package.publish", "p50");
    assert_eq!(publish["verdict"], "faster", "{publish}");
    assert!(publish["real_high"].as_f64().unwrap() >= 20.0, "{publish}");
    let build = phase_row(&phases, "identity.create", "key_package.build", "p50");
    assert!(build["real_high"].as_f64().unwrap() <= 10.0, "{build}");
    // The whole operations' rows are still there.
    assert_eq!(row(&phases, "identity.lookup", "p50")["verdict"], "faster");

    // A lookup is one call: its real median's bucket holds the 20 ms.
    let lookup = row(&rows, "identity.lookup", "p50");
    assert!(
        lookup["real_low"].as_f64().unwrap() <= 20.0
            && 20.0 <= lookup["real_high"].as_f64().unwrap(),
        "{lookup}"
    );

    // Synthetic traffic with the same latency: inside the real buckets.
    let mut slow_args = BENCH.to_vec();
    slow_args.extend(["--inject-latency", "fixed:20ms"]);
    let slow = bench_ok("vs-prometheus-slow", &slow_args);
    let rows = compare(&slow.dir, &prometheus);
    for operation in OPERATIONS {
        let p50 = row(&rows, operation, "p50");
        assert_eq!(p50["verdict"], "inside", "{p50}");
    }
    let phases = compare_with(&slow.dir, &prometheus, &["--phases"]);
    let publish = phase_row(&phases, "identity.create", "key_package.publish", "p50");
    assert_eq!(publish["verdict"], "inside", "{publish}");

    // The other outputs: a Markdown table, and a page overlaying the
    // synthetic spectrum and the real staircase per operation.
    let page = slow.dir.join("vs-prometheus.html");
    let markdown = opmon_compare(
        &slow.dir,
        &prometheus,
        &["--format", "markdown", "--html", page.to_str().unwrap()],
    );
    assert!(markdown.contains("| identity.lookup | p50 |"), "{markdown}");
    let page = std::fs::read_to_string(page).unwrap();
    assert_eq!(
        page.matches(r#"<svg class="plot""#).count(),
        OPERATIONS.len()
    );
    assert_eq!(
        page.matches("real (bucket bounds)").count(),
        OPERATIONS.len()
    );
    assert!(!page.contains("NaN"));
}

/// Waits until Prometheus has scraped all `operations` of the app.
fn wait_for_scrape(prometheus: &Daemon, operations: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let path = "/api/v1/query?query=sum(xmtp_client_operation_duration_seconds_count)";
    loop {
        let answer: Value = serde_json::from_str(&prometheus.get(path)).unwrap();
        let scraped = answer["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok());
        if scraped == Some(operations) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped {operations} operations: {answer}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `opmon compare RUN --vs-prometheus URL --format json`: its rows.
fn compare(run: &std::path::Path, prometheus: &Daemon) -> Vec<Value> {
    compare_with(run, prometheus, &[])
}

/// The same with more flags.
fn compare_with(run: &std::path::Path, prometheus: &Daemon, flags: &[&str]) -> Vec<Value> {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(flags);
    let stdout = opmon_compare(run, prometheus, &args);
    let comparison: Value = serde_json::from_str(&stdout).unwrap();
    eprintln!("{comparison:#}");
    comparison["rows"].as_array().unwrap().clone()
}

/// `opmon compare RUN --vs-prometheus URL --range 10m ARGS`: its output.
fn opmon_compare(run: &std::path::Path, prometheus: &Daemon, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("compare")
        .arg(run)
        .args(["--vs-prometheus", &prometheus.url(), "--range", "10m"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The row of a whole operation's figure.
fn row<'a>(rows: &'a [Value], operation: &str, figure: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["operation"] == operation && r["phase"].is_null() && r["figure"] == figure)
        .unwrap_or_else(|| panic!("no {operation} {figure} in {rows:?}"))
}

/// The row of one phase's figure.
fn phase_row<'a>(rows: &'a [Value], operation: &str, phase: &str, figure: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["operation"] == operation && r["phase"] == phase && r["figure"] == figure)
        .unwrap_or_else(|| panic!("no {operation} {phase} {figure} in {rows:?}"))
}
