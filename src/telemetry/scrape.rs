//! A Prometheus scrape endpoint, with the two probes Kubernetes asks of a
//! long-running process.
//!
//! Pull is Prometheus' convention for processes that live for days: the
//! server decides when to scrape, and a scrape that fails is visible as
//! `up == 0`. The endpoint answers three paths:
//!
//! - `GET /metrics`: the metrics in the Prometheus text format, the same
//!   rendering the Pushgateway pusher sends;
//! - `GET /healthz`: `200` while the process serves at all (liveness);
//! - `GET /readyz`: `200` when the owner says it is ready, `503` otherwise
//!   (readiness: `opmon monitor` is ready when its last round of operations
//!   succeeded).
//!
//! Like the pusher, it is a tiny HTTP/1.1 server over `std::net` on its own
//! thread: one request per connection, no keep-alive, no TLS, no runtime.
//! That is all a scraper or a kubelet needs, and it keeps working when the
//! process' async runtime is saturated by the load it generates.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

use super::TelemetryError;

/// Bound on reading a request and writing its answer: a client that stalls
/// cannot hold the server.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request head read; scrapers send a few hundred bytes.
const MAX_HEAD: u64 = 8 * 1024;

/// Whether the process is ready for traffic, as `/readyz` reports it.
/// Cheap to clone; every clone sees the same flag. Starts not ready.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A flag that starts not ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets what `/readyz` answers from now on.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    /// What `/readyz` answers now.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A listener to serve `/metrics`, `/healthz` and `/readyz` on, and the
/// flag behind `/readyz`.
#[derive(Debug, Clone)]
pub struct ScrapeEndpoint {
    listener: Arc<TcpListener>,
    readiness: Readiness,
}

impl ScrapeEndpoint {
    /// Serves on `listener` (bound by the caller, so a port taken is the
    /// caller's clear error and port 0 works), with `readiness` behind
    /// `/readyz`.
    pub fn new(listener: TcpListener, readiness: Readiness) -> Self {
        Self {
            listener: Arc::new(listener),
            readiness,
        }
    }

    /// Starts the server thread. It serves until the process exits: a
    /// scrape endpoint is wanted for as long as there is something to
    /// scrape.
    pub(super) fn start(self, handle: PrometheusHandle) -> Result<(), TelemetryError> {
        thread::Builder::new()
            .name("opmon-scrape".into())
            .spawn(move || self.serve(&handle))
            .map(drop)
            .map_err(TelemetryError::Runtime)
    }

    fn serve(self, handle: &PrometheusHandle) {
        for stream in self.listener.incoming() {
            // A failed accept (a peer that reset, too many files) concerns
            // that connection only.
            let Ok(stream) = stream else { continue };
            if let Err(error) = answer(stream, handle, &self.readiness) {
                tracing::debug!(%error, "scrape request failed");
            }
        }
    }
}

fn answer(
    stream: TcpStream,
    handle: &PrometheusHandle,
    readiness: &Readiness,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new((&stream).take(MAX_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Read the rest of the head, so closing does not reset the connection
    // under a client still sending.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            // Nothing else drains the histograms in recorder-only mode.
            handle.run_upkeep();
            (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                handle.render(),
            )
        }
        ("GET" | "HEAD", "/healthz") => ("200 OK", "text/plain", "ok\n".to_owned()),
        ("GET" | "HEAD", "/readyz") if readiness.is_ready() => {
            ("200 OK", "text/plain", "ready\n".to_owned())
        }
        ("GET" | "HEAD", "/readyz") => (
            "503 Service Unavailable",
            "text/plain",
            "not ready\n".to_owned(),
        ),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain",
            "not found: try /metrics, /healthz or /readyz\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET and HEAD are served\n".to_owned(),
        ),
    };
    let body = if method == "HEAD" { "" } else { body.as_str() };
    let mut out = &stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn serves_metrics_and_probes() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("probe_rounds_total", "outcome" => "ok").increment(3);
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let readiness = Readiness::new();
        ScrapeEndpoint::new(listener, readiness.clone())
            .start(handle)
            .unwrap();

        let metrics = get(addr, "/metrics");
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(
            metrics.contains("probe_rounds_total{outcome=\"ok\"} 3"),
            "{metrics}"
        );
        assert!(get(addr, "/healthz").starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/readyz").starts_with("HTTP/1.1 503"));
        readiness.set(true);
        assert!(get(addr, "/readyz").starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/nothing").starts_with("HTTP/1.1 404"));
    }
}
