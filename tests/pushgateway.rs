//! The final push at shutdown reaches a real Pushgateway (Debian's
//! `prometheus-pushgateway`), even when the push interval never elapsed.
//!
//! Ignored by a plain `cargo test`, which cannot assume the program; CI
//! installs it and runs the test with `--include-ignored`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xmtp_opmon::semconv;
use xmtp_opmon::telemetry::TelemetryBuilder;

const PUSHGATEWAY: &str = "/usr/bin/prometheus-pushgateway";

#[test]
#[ignore = "needs prometheus-pushgateway"]
fn final_push_at_shutdown_reaches_the_pushgateway() {
    assert!(
        Path::new(PUSHGATEWAY).exists(),
        "{PUSHGATEWAY} is missing: run `apt-get install prometheus-pushgateway`"
    );
    let gateway = Gateway::start();

    let guard = TelemetryBuilder::from_env()
        .pushgateway(gateway.url())
        // Never elapses: only the final push at shutdown can deliver.
        .push_interval(Duration::from_secs(3600))
        .init()
        .expect("telemetry starts");

    metrics::histogram!(semconv::RPC_CLIENT_CALL_DURATION, "server.port" => "443", "rpc.method" => "x.v1.S/M")
        .record(0.004);
    metrics::histogram!(semconv::OPERATION_DURATION, "xmtp.operation" => "identity.create")
        .record(1.5);
    metrics::gauge!(semconv::OPERATION_ACTIVE).increment(2.0);

    assert!(
        !gateway.get("/metrics").contains("rpc_client_call_duration"),
        "nothing is pushed before shutdown"
    );
    guard.shutdown();

    let exposed = gateway.get("/metrics");
    let line = |prefix: &str, parts: &[&str]| {
        exposed
            .lines()
            .find(|l| l.starts_with(prefix) && parts.iter().all(|p| l.contains(p)))
            .unwrap_or_else(|| panic!("no `{prefix}` line with {parts:?} in:\n{exposed}"))
            .to_owned()
    };
    let first_bucket = line(
        "rpc_client_call_duration_seconds_bucket{",
        &[
            r#"job="xmtp_opmon""#,
            r#"le="0.005""#,
            r#"server_port="443""#,
        ],
    );
    assert!(first_bucket.ends_with(" 1"), "{first_bucket}");
    // All 14 semconv boundaries plus +Inf.
    let buckets = exposed
        .lines()
        .filter(|l| l.starts_with("rpc_client_call_duration_seconds_bucket{"))
        .count();
    assert_eq!(buckets, 15, "{exposed}");
    let slow = line(
        "xmtp_client_operation_duration_seconds_bucket{",
        &[r#"le="2.5""#, r#"xmtp_operation="identity.create""#],
    );
    assert!(slow.ends_with(" 1"), "{slow}");
    let active = line("xmtp_client_operation_active{", &[r#"job="xmtp_opmon""#]);
    assert!(active.ends_with(" 2"), "{active}");
    assert!(exposed.contains("# TYPE rpc_client_call_duration_seconds histogram"));
}

/// A Pushgateway child process on a free port, killed on drop.
struct Gateway {
    child: Child,
    port: u16,
}

impl Gateway {
    fn start() -> Gateway {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(PUSHGATEWAY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let gateway = Gateway { child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while gateway.try_get("/-/ready").is_none() {
            assert!(
                Instant::now() < deadline,
                "the Pushgateway never became ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        gateway
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn get(&self, path: &str) -> String {
        self.try_get(path).expect("the Pushgateway answers")
    }

    /// The body of a `200 OK` answer to `GET path`.
    fn try_get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
