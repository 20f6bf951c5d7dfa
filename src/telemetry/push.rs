//! Pushing the Prometheus rendering to a Pushgateway.
//!
//! A plain thread owns a small current-thread Tokio runtime and hyper-util's
//! HTTP/1.1 client: every interval it renders the recorder and `PUT`s the
//! text to `{url}/metrics/job/{job}`. The thread keeps pushes off the
//! application's runtime, and, unlike the upstream push task, it pushes
//! one last time when the guard stops it, so the tail of a short run is not
//! lost. TLS is not built in (`https://` is refused at `init`).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics_exporter_prometheus::PrometheusHandle;

use super::TelemetryError;

/// Bound on one push, from connecting to reading the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// At most one warning per this period while pushes keep failing.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// How much of an error response is read.
const MAX_RESPONSE: usize = 4096;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// Where to push: parsed and checked at `init`.
#[derive(Debug, Clone)]
pub(super) struct PushTarget {
    /// The URL as given, for messages.
    url: String,
    /// `http://host[:port][/prefix]/metrics/job/{job}`.
    uri: http::Uri,
}

impl PushTarget {
    pub(super) fn parse(url: &str, job: &str) -> Result<Self, TelemetryError> {
        let invalid = |reason: &str| TelemetryError::InvalidPushgatewayUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed: http::Uri = url
            .trim()
            .parse()
            .map_err(|_| invalid("not a URL (http://host:port[/prefix])"))?;
        match parsed.scheme_str() {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => {
                return Err(TelemetryError::PushgatewayTlsUnsupported {
                    url: url.to_owned(),
                })
            }
            Some(scheme) if scheme.eq_ignore_ascii_case("http") => {}
            _ => return Err(invalid("the scheme must be http://")),
        }
        let authority = parsed
            .authority()
            .ok_or_else(|| invalid("bad host or port"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        // `http::Uri` keeps a non-numeric port as text; the port must be a
        // number when present (after an IPv6 host's closing bracket).
        let text = authority.as_str();
        let after_host = &text[text.rfind(']').map_or(0, |at| at + 1)..];
        let bad_port = after_host
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_err());
        if authority.host().is_empty() || bad_port {
            return Err(invalid("bad host or port"));
        }
        if parsed.query().is_some() {
            return Err(invalid("query strings and fragments are not supported"));
        }
        if job.is_empty() {
            return Err(TelemetryError::EmptyPushJob);
        }
        let path = format!(
            "{}/metrics/job{}",
            parsed.path().trim_end_matches('/'),
            job_segment(job)
        );
        let uri = http::Uri::builder()
            .scheme("http")
            .authority(authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|_| invalid("bad path"))?;
        Ok(Self {
            url: url.to_owned(),
            uri,
        })
    }

    /// One `PUT` of `body`; `Err` says why it failed, never with secrets.
    async fn put(&self, client: &HttpClient, body: String) -> Result<(), String> {
        let request = http::Request::put(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .header(
                http::header::USER_AGENT,
                concat!("xmtp-opmon/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("cannot build the push to {}: {e}", self.url))?;
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| format!("push to {} failed: {}", self.url, error_chain(&e)))?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            // A short excerpt of the answer explains most refusals.
            let detail = Limited::new(response.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map(|body| String::from_utf8_lossy(&body.to_bytes()).into_owned())
                .unwrap_or_default();
            let detail: String = detail.trim().chars().take(200).collect();
            Err(format!(
                "{} answered HTTP {}: {detail}",
                self.url,
                status.as_u16()
            ))
        };
        tokio::time::timeout(IO_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("push to {} timed out", self.url)))
    }
}

/// An error and its causes, on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `/{job}` path segment. Plain if it is URL-safe, otherwise in the
/// Pushgateway's base64 form (`/job@base64/…`), which also carries slashes.
fn job_segment(job: &str) -> String {
    let plain = job
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if plain {
        format!("/{job}")
    } else {
        format!("@base64/{}", base64_url(job.as_bytes()))
    }
}

/// RFC 4648 base64 with the URL-safe alphabet, padded.
fn base64_url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

enum Command {
    PushNow(mpsc::Sender<bool>),
    Stop(mpsc::Sender<bool>),
}

/// The pusher thread; pushes periodically, on request, and once at stop.
#[derive(Debug)]
pub(super) struct Pusher {
    commands: mpsc::Sender<Command>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Pusher {
    pub(super) fn start(
        target: PushTarget,
        handle: PrometheusHandle,
        interval: Duration,
    ) -> Result<Self, TelemetryError> {
        let (commands, inbox) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("opmon-pushgateway".into())
            .spawn(move || run(target, handle, interval, inbox))
            .map_err(TelemetryError::Runtime)?;
        Ok(Self {
            commands,
            thread: Some(thread),
        })
    }

    /// Pushes now; waits at most `wait`. Returns whether the push succeeded.
    pub(super) fn push_now(&self, wait: Duration) -> bool {
        self.request(Command::PushNow, wait)
    }

    /// Pushes a last time and stops; waits at most `wait`.
    pub(super) fn stop(mut self, wait: Duration) -> bool {
        let pushed = self.request(Command::Stop, wait);
        if pushed {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
        pushed
    }

    fn request(&self, command: fn(mpsc::Sender<bool>) -> Command, wait: Duration) -> bool {
        let (reply, answer) = mpsc::channel();
        self.commands.send(command(reply)).is_ok() && answer.recv_timeout(wait).unwrap_or(false)
    }
}

fn run(
    target: PushTarget,
    handle: PrometheusHandle,
    interval: Duration,
    inbox: mpsc::Receiver<Command>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::warn!(%error, "cannot start the Pushgateway pusher; nothing will be pushed");
            return;
        }
    };
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut warnings = Warnings::default();
    let mut push = || {
        // Nothing else runs upkeep in recorder-only mode.
        handle.run_upkeep();
        let result = runtime.block_on(target.put(&client, handle.render()));
        warnings.record(&result);
        result.is_ok()
    };
    let mut next = Instant::now() + interval;
    loop {
        match inbox.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                push();
                next = Instant::now() + interval;
            }
            Ok(Command::PushNow(reply)) => {
                let _ = reply.send(push());
            }
            Ok(Command::Stop(reply)) => {
                let _ = reply.send(push());
                return;
            }
            // The guard is gone without stopping us; its drop already pushed.
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Rate-limits push failure warnings: the first one, then at most one per
/// [`WARN_EVERY`] with the number suppressed, and a note on recovery.
#[derive(Default)]
struct Warnings {
    last: Option<Instant>,
    suppressed: u64,
    failing: bool,
}

impl Warnings {
    fn record(&mut self, result: &Result<(), String>) {
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!("Pushgateway push succeeded again");
            }
            Ok(()) => {}
            Err(error) => {
                self.failing = true;
                if self.last.is_some_and(|at| at.elapsed() < WARN_EVERY) {
                    self.suppressed += 1;
                    return;
                }
                tracing::warn!(
                    suppressed = self.suppressed,
                    "Pushgateway push failed: {error}"
                );
                self.last = Some(Instant::now());
                self.suppressed = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_tls_refused() {
        let target = PushTarget::parse("http://127.0.0.1:9091/gw/", "xmtp_opmon").unwrap();
        assert_eq!(
            target.uri.to_string(),
            "http://127.0.0.1:9091/gw/metrics/job/xmtp_opmon"
        );
        let target = PushTarget::parse("http://[::1]", "a/b").unwrap();
        assert_eq!(
            target.uri.to_string(),
            "http://[::1]/metrics/job@base64/YS9i"
        );

        assert!(matches!(
            PushTarget::parse("https://gw:9091", "j"),
            Err(TelemetryError::PushgatewayTlsUnsupported { .. })
        ));
        for bad in [
            "gw:9091",
            "http://",
            "http://gw:port",
            "http://u:p@gw:9091",
            "http://gw/?x=1",
        ] {
            assert!(
                matches!(
                    PushTarget::parse(bad, "j"),
                    Err(TelemetryError::InvalidPushgatewayUrl { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            PushTarget::parse("http://gw:9091", ""),
            Err(TelemetryError::EmptyPushJob)
        ));
    }

    /// A one-shot HTTP server on loopback: answers `response` and hands
    /// back what it received.
    fn answer_once(response: &'static str) -> (String, thread::JoinHandle<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut received = Vec::new();
            let mut chunk = [0; 4096];
            // Read until the body announced by Content-Length is in.
            loop {
                let read = stream.read(&mut chunk).unwrap();
                received.extend_from_slice(&chunk[..read]);
                let text = String::from_utf8_lossy(&received).to_lowercase();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length || read == 0 {
                        break;
                    }
                }
            }
            stream.write_all(response.as_bytes()).unwrap();
            String::from_utf8_lossy(&received).into_owned()
        });
        (url, server)
    }

    #[test]
    fn pushes_put_the_rendering_and_report_refusals() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

        let (url, server) = answer_once("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        let target = PushTarget::parse(&url, "a/b").unwrap();
        let pushed = runtime.block_on(target.put(&client, "up 1\n".to_owned()));
        assert_eq!(pushed, Ok(()));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("PUT /metrics/job@base64/YS9i HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request
            .to_lowercase()
            .contains("content-type: text/plain; version=0.0.4"));
        assert!(request.ends_with("up 1\n"));

        let (url, server) =
            answer_once("HTTP/1.1 400 Bad Request\r\ncontent-length: 14\r\n\r\nbad line 1 col");
        let target = PushTarget::parse(&url, "j").unwrap();
        let refused = runtime.block_on(target.put(&client, "garbage".to_owned()));
        server.join().unwrap();
        let error = refused.unwrap_err();
        assert!(
            error.ends_with("answered HTTP 400: bad line 1 col"),
            "{error}"
        );
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64_url(b""), "");
        assert_eq!(base64_url(b"f"), "Zg==");
        assert_eq!(base64_url(b"fo"), "Zm8=");
        assert_eq!(base64_url(b"foo"), "Zm9v");
        assert_eq!(base64_url(b"\xfb\xff"), "-_8=");
    }
}
