//! A collector that is down, or that accepts connections and never
//! answers, must cost telemetry data only: emitting never blocks the
//! caller, and `shutdown` returns within its bound.
//!
//! Each scenario needs its own process (telemetry globals are
//! process-wide): the test re-runs this binary for just that scenario.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use xmtp_opmon::semconv;
use xmtp_opmon::telemetry::TelemetryBuilder;

const SCENARIO_VAR: &str = "OPMON_DEAD_COLLECTOR_SCENARIO";
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);
const EMITTED: usize = 5_000;
/// Lookups per round; three rounds of two spans each are 18,000 spans.
const ROUND_OPS: usize = 3_000;

#[test]
fn closed_port() {
    in_own_process("closed_port", || {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        emit_and_shut_down(format!("http://127.0.0.1:{port}"));
    });
}

#[test]
fn silent_listener() {
    in_own_process("silent_listener", || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        // Accept every connection and keep it open without a byte in reply.
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        emit_and_shut_down(endpoint);
    });
}

fn emit_and_shut_down(endpoint: String) {
    let guard = TelemetryBuilder::from_env()
        .otlp_endpoint(endpoint)
        // Export often so exports are in flight (and failing) during the run.
        .metric_interval(Duration::from_millis(200))
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .init()
        .expect("a dead collector is not an init error");

    let started = Instant::now();
    for i in 0..EMITTED {
        tracing::info_span!("op", otel.kind = "client", i).in_scope(|| {
            metrics::histogram!(semconv::RPC_CLIENT_CALL_DURATION, "server.port" => "443")
                .record(0.01);
            let active = metrics::gauge!(semconv::OPERATION_ACTIVE);
            active.increment(1.0);
            active.decrement(1.0);
        });
    }
    let emitting = started.elapsed();
    eprintln!("emitted {EMITTED} spans and metric sets in {emitting:?}");
    assert!(
        emitting < Duration::from_secs(20),
        "emitting took {emitting:?}"
    );

    // Real operations through both layers still succeed, far past the span
    // queue's 2,048 entries: lookups (an op span and an RPC span each, no
    // node state) in three equal rounds. The first fills whatever the
    // spans above left free; if dropped spans were kept anywhere, the
    // third round would grow as much as the second.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let rss = runtime.block_on(async {
        use tower::{Service, ServiceBuilder, ServiceExt};
        use xmtp_opmon::client::Op;
        use xmtp_opmon::client::{ApiVersion, ClientConfig, V4Client};
        use xmtp_opmon::layer::OpTelemetryLayer;
        let node = xmtp_opmon::node::EmbeddedNode::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let client =
            V4Client::connect_traced(node.url(), node.url(), ClientConfig::default()).unwrap();
        let mut ops = ServiceBuilder::new()
            .layer(OpTelemetryLayer::new(ApiVersion::V4))
            .service(client);
        let mut rss = vec![rss_kib()];
        for round in 0..3 {
            for i in 0..ROUND_OPS {
                let address = format!("0x{:040x}", round * ROUND_OPS + i);
                ops.ready()
                    .await
                    .unwrap()
                    .call(Op::LookupIdentity { address })
                    .await
                    .expect("operations succeed with a dead collector");
            }
            rss.push(rss_kib());
        }
        rss
    });
    eprintln!("RSS after each round of {ROUND_OPS} lookups: {rss:?} KiB");
    let (second, third) = (rss[2].saturating_sub(rss[1]), rss[3].saturating_sub(rss[2]));
    // With the queue made unbounded (OTEL_BSP_MAX_QUEUE_SIZE=200000) each
    // round adds about 7 MiB; bounded, the third adds a few hundred KiB.
    assert!(
        third < 2048,
        "RSS still grows in the third round: {second} KiB then {third} KiB ({rss:?})"
    );

    // Let a few periodic exports hit the dead collector.
    std::thread::sleep(Duration::from_millis(700));

    let started = Instant::now();
    guard.flush();
    let flushing = started.elapsed();
    eprintln!("flush returned after {flushing:?}");
    assert!(
        flushing < SHUTDOWN_TIMEOUT + Duration::from_secs(2),
        "flush took {flushing:?}"
    );

    let started = Instant::now();
    guard.shutdown();
    let shutting_down = started.elapsed();
    eprintln!("shutdown returned after {shutting_down:?}");
    assert!(
        shutting_down < SHUTDOWN_TIMEOUT + Duration::from_secs(2),
        "shutdown took {shutting_down:?}"
    );
}

/// Runs `scenario` in a child process of this test binary (filtered to
/// `name`), or right here when this is that child.
fn in_own_process(name: &str, scenario: impl FnOnce()) {
    if std::env::var(SCENARIO_VAR).as_deref() == Ok(name) {
        scenario();
        return;
    }
    let started = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO_VAR, name)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "--- {name} (child ran {:?}) ---\n{stderr}",
        started.elapsed()
    );
    assert!(
        output.status.success(),
        "scenario {name} failed:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "the child ran the scenario"
    );
}

/// Resident set size of this process, from /proc (0 where unavailable).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
