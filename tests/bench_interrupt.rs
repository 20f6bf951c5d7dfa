//! Ctrl-C stops a run without losing what it measured: the partial results
//! are written, marked incomplete, and the exit code is 130. A reader that
//! goes away (`opmon bench … | head -1`) costs nothing either.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::bench::{command, out_dir};
use xmtp_opmon::report::RunResult;

fn stderr_of(child: &mut Child) -> String {
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

/// Starts `opmon bench ARGS`, interrupts it after `after`, and returns
/// what it wrote, once it has exited with 130.
fn interrupt(name: &str, args: &[&str], after: Duration) -> RunResult {
    let dir = out_dir(name);
    let mut child = command(&dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    assert!(
        summary
            .lines()
            .skip(1)
            .all(|row| row.contains(",false,v4,")),
        "rows say the run is incomplete: {summary}"
    );
    RunResult::read(&dir).unwrap()
}

#[test]
fn sigint_writes_partial_results_and_exits_130() {
    // Past provisioning and the two-second warm-up, into the measured window.
    let run = interrupt(
        "interrupt",
        &["--scenario", "lookup", "--rate", "50", "--duration", "10m"],
        Duration::from_secs(4),
    );
    assert!(!run.complete);
    assert_eq!(run.end_reason, "interrupted");
    let lookups = &run.operations[0];
    assert_eq!(lookups.operation, "identity.lookup");
    assert!(lookups.ok > 0, "measured operations are kept: {lookups:?}");
    assert_eq!(run.window.abandoned_ops, 0);
}

#[test]
fn operations_stuck_in_flight_are_waited_for_a_bounded_time_then_cancelled() {
    // The node stalls for a minute as soon as the run starts: both workers'
    // lookups hang until the interrupt's grace period runs out.
    let sent = Instant::now();
    let run = interrupt(
        "stuck",
        &[
            "--scenario",
            "lookup",
            "--concurrency",
            "2",
            "--duration",
            "10m",
            "--warmup",
            "0s",
            "--stall",
            "60s/120s",
        ],
        Duration::from_secs(2),
    );
    assert!(sent.elapsed() < Duration::from_secs(30), "bounded wait");
    assert!(!run.complete);
    assert_eq!(run.window.abandoned_ops, 2);
    let lookups = &run.operations[0];
    assert_eq!(lookups.attempts, 2);
    assert_eq!(lookups.errors.get("cancelled"), Some(&2), "{lookups:?}");
}

#[test]
fn a_closed_stdout_neither_panics_nor_loses_the_results() {
    let dir = out_dir("closed-stdout");
    let mut child = command(
        &dir,
        &["--scenario", "lookup", "--ops", "50", "--warmup", "0s"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Nobody will read what the run prints.
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let run = RunResult::read(&dir).unwrap();
    assert!(run.complete);
    assert_eq!(run.operations[0].attempts, 50);
}
