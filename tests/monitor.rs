//! `opmon monitor` against a node that goes away and comes back on the
//! same port: `/metrics` shows the synthetic operations and their failures,
//! `/readyz` follows the target's health, and no restart is needed; with
//! `--visibility` it measures what the other side sees, as XMTP's monitor
//! does.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::bench::out_dir;
use xmtp_opmon::report::RunResult;

/// How long the monitor may take to notice a change: a few periods of
/// one second, with provisioning after the node's return.
const NOTICE: Duration = Duration::from_secs(90);

/// A process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first line of `stdout` that starts with `prefix`, without it.
fn line_after(stdout: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "no `{prefix}` line"
        );
        if let Some(rest) = line.trim().strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
}

/// `opmon node` on `listen`; returns it with its URL.
fn node(listen: &str) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .args(["node", "--listen", listen])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let url = line_after(&mut stdout, "listening on ");
    (Process(child), url)
}

/// Status code and body of `GET path`.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned());
    (status, body)
}

/// `opmon monitor` of the node at `url` with `args`, groups of 3, writing
/// to `dir`; returns it with the address of its metrics listener.
fn monitor(url: &str, args: &[&str], dir: &Path) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .args(["monitor", "--node", url, "--group-size", "3"])
        .args(args)
        .args(["--metrics-listen", "127.0.0.1:0"])
        .arg("--out")
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let child = Process(child);
    let metrics = line_after(&mut stdout, "metrics on http://");
    // Whatever it prints later must not find the pipe closed.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, metrics.trim_end_matches("/metrics").to_owned())
}

fn wait_for_readyz(addr: &str, status: u16) {
    let deadline = Instant::now() + NOTICE;
    while get(addr, "/readyz").0 != status {
        assert!(Instant::now() < deadline, "/readyz never answered {status}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn readyz_follows_a_node_that_stops_and_comes_back() {
    let (first, url) = node("127.0.0.1:0");
    let listen = url.trim_start_matches("http://").to_owned();
    let dir = out_dir("monitor");
    let every = ["--every", "identity=1s,group=1s,add-members=1s"];
    let (monitor, addr) = monitor(&url, &every, &dir);

    assert_eq!(get(&addr, "/healthz").0, 200);
    wait_for_readyz(&addr, 200);
    let (status, text) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    for operation in ["identity.create", "group.create", "group.add_members"] {
        assert!(
            text.lines().any(|line| line
                .starts_with("xmtp_client_operation_duration_seconds_bucket{")
                && line.contains(&format!("xmtp_operation=\"{operation}\""))
                && line.contains("xmtp_traffic=\"synthetic\"")),
            "no synthetic {operation} histogram in\n{text}"
        );
    }

    drop(first);
    wait_for_readyz(&addr, 503);
    assert_eq!(get(&addr, "/healthz").0, 200, "alive while unready");
    let (_, text) = get(&addr, "/metrics");
    assert!(
        text.contains("xmtp_error_class=\""),
        "failures are classified:\n{text}"
    );

    // The same port: the monitor's clients reconnect by themselves.
    let (_second, again) = node(&listen);
    assert_eq!(again, url);
    wait_for_readyz(&addr, 200);

    // SIGTERM stops it cleanly, with the interval's run.json written.
    let mut monitor = monitor;
    Command::new("kill")
        .args(["-TERM", &monitor.0.id().to_string()])
        .status()
        .unwrap();
    let status = monitor.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let intervals: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(intervals.len(), 1, "{intervals:?}");
    let run = RunResult::read(&intervals[0]).unwrap();
    assert_eq!(run.parameters.scenario, "monitor");
    assert_eq!(run.end_reason, "stopped");
    let created = run
        .operations
        .iter()
        .find(|op| op.operation == "identity.create")
        .unwrap();
    assert!(
        created.ok > 0 && created.attempts > created.ok,
        "{created:?}"
    );
    // The interval is a run like any other for the report.
    let page = intervals[0].join("report.html");
    let report = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("report")
        .arg(&intervals[0])
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert!(report.status.success(), "{report:?}");
    assert!(std::fs::read_to_string(&page)
        .unwrap()
        .contains("identity.create"));
}

#[test]
fn with_visibility_the_monitor_measures_what_the_other_side_sees() {
    let (_node, url) = node("127.0.0.1:0");
    let dir = out_dir("monitor-visibility");
    let args = [
        "--every",
        "identity=300ms,add-members=300ms,message=300ms",
        "--visibility",
        "--welcomes",
        "stream",
    ];
    let (_monitor, addr) = monitor(&url, &args, &dir);

    let deadline = Instant::now() + NOTICE;
    let has = |text: &str, operation: &str| {
        text.lines().any(|line| {
            line.starts_with("xmtp_client_operation_duration_seconds_count{")
                && line.contains(&format!("xmtp_operation=\"{operation}\""))
                && line.contains("xmtp_outcome=\"ok\"")
        })
    };
    loop {
        let (_, text) = get(&addr, "/metrics");
        let visible = [
            "message.send",
            "message.visible",
            "member.visible",
            "identity.visible",
        ];
        if visible.iter().all(|operation| has(&text, operation)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no visibility measured in\n{text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `opmon monitor ARGS`: its exit code and standard error.
fn monitor_refuses(args: &[&str], expected: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("monitor")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
}

#[test]
fn bad_monitor_flags_are_refused_in_one_sentence() {
    monitor_refuses(&["--every", "chat=1s"], "is not NAME=PERIOD");
    monitor_refuses(&["--welcomes", "stream"], "--visibility");
    monitor_refuses(&["--every", "identity=1ms"], "a period must be at least");
    monitor_refuses(&["--rotate", "soon"], "is not a duration");
    // A port already taken is the user's to fix, said before anything runs.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    monitor_refuses(
        &["--metrics-listen", &addr, "--node", "http://127.0.0.1:9"],
        &format!("cannot listen on {addr} for --metrics-listen"),
    );
}
