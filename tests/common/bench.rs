//! Running `opmon bench` as a user would, and reading what it wrote.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use xmtp_opmon::report::{OperationReport, RunResult};

/// A fresh, empty directory for one run's results.
pub fn out_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "opmon-test-{}-{name}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `opmon bench ARGS --out DIR --quiet`.
pub fn command(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_opmon"));
    command
        .arg("bench")
        .args(args)
        .arg("--out")
        .arg(dir)
        .arg("--quiet");
    command
}

/// A finished run: how the process ended and what it wrote.
pub struct Ran {
    pub output: Output,
    pub dir: PathBuf,
}

impl Ran {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn run(&self) -> RunResult {
        RunResult::read(&self.dir)
            .unwrap_or_else(|e| panic!("{e}\nstdout: {}\nstderr: {}", self.stdout(), self.stderr()))
    }

    pub fn op(&self, name: &str) -> OperationReport {
        self.run()
            .operations
            .into_iter()
            .find(|op| op.operation == name)
            .unwrap_or_else(|| panic!("no {name} in the results\n{}", self.stdout()))
    }
}

/// Runs `opmon bench` to the end.
pub fn bench(name: &str, args: &[&str]) -> Ran {
    let dir = out_dir(name);
    let output = command(&dir, args).output().expect("opmon runs");
    Ran { output, dir }
}

/// Runs `opmon bench` and expects a clean exit.
pub fn bench_ok(name: &str, args: &[&str]) -> Ran {
    let ran = bench(name, args);
    assert_eq!(
        ran.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        ran.stdout(),
        ran.stderr()
    );
    ran
}
