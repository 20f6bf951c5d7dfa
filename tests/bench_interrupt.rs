//! Ctrl-C stops a run without losing what it measured: the partial results
//! are written, marked incomplete, and the exit code is 130.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bench::{command, out_dir};
use xmtp_opmon::report::RunResult;

#[test]
fn sigint_writes_partial_results_and_exits_130() {
    let dir = out_dir("interrupt");
    let mut child = command(
        &dir,
        &["--scenario", "lookup", "--rate", "50", "--duration", "10m"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Past provisioning and the two-second warm-up, into the measured window.
    std::thread::sleep(Duration::from_secs(4));
    let sent = Instant::now();
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(sent.elapsed() < Duration::from_secs(60), "the run stopped");
    assert!(stderr.contains("interrupted"), "{stderr}");

    let run = RunResult::read(&dir).unwrap();
    assert!(!run.complete);
    assert_eq!(run.end_reason, "interrupted");
    let lookups = &run.operations[0];
    assert_eq!(lookups.operation, "identity.lookup");
    assert!(lookups.ok > 0, "measured operations are kept: {lookups:?}");
    assert!(std::fs::read_to_string(dir.join("summary.csv"))
        .unwrap()
        .contains(",false,v4,"));
}
