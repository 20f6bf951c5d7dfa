//! A run killed without warning (SIGKILL, the OOM killer) still leaves its
//! results up to the last checkpoint: a readable run.json, marked
//! incomplete.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use common::bench::{command, out_dir};
use xmtp_opmon::report::RunResult;

/// Slack on top of the checkpoint interval for a busy machine: the
/// sampler ticks once a second and shares two cores with the run.
const SLACK: Duration = Duration::from_secs(5);

#[test]
fn sigkill_leaves_a_recent_incomplete_run_json() {
    let dir = out_dir("checkpoint");
    let every = Duration::from_secs(1);
    let mut child = command(
        &dir,
        &[
            "--scenario",
            "lookup",
            "--rate",
            "50",
            "--duration",
            "10m",
            "--checkpoint-every",
            "1s",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Wait for a checkpoint that has measured operations in it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no checkpoint with results came");
        if let Ok(run) = RunResult::read(&dir) {
            if run.operations.iter().any(|op| op.ok > 0) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let a few more checkpoints replace it, then kill.
    std::thread::sleep(3 * every);
    child.kill().unwrap();
    let killed_at = SystemTime::now();
    child.wait().unwrap();

    let run = RunResult::read(&dir).expect("the checkpoint is a readable run");
    assert!(!run.complete);
    assert!(run.end_reason.contains("checkpoint"), "{}", run.end_reason);
    let lookups = &run.operations[0];
    assert_eq!(lookups.operation, "identity.lookup");
    assert!(lookups.ok > 0, "{lookups:?}");
    assert!(
        !run.resources.samples.is_empty(),
        "resource samples are kept"
    );
    let written = humantime::parse_rfc3339_weak(&run.finished_at).unwrap();
    let age = killed_at.duration_since(written).unwrap_or_default();
    assert!(
        age <= every + SLACK,
        "the last checkpoint is {age:?} old at the kill"
    );
}
