//! Pushing the Prometheus rendering to a Pushgateway.
//!
//! A tiny HTTP/1.1 client over `std::net::TcpStream` on a plain thread:
//! every interval it renders the recorder and `PUT`s the text to
//! `{url}/metrics/job/{job}`. It needs no async runtime and no TLS stack,
//! and, unlike the upstream push task, it pushes one last time when the
//! guard stops it, so the tail of a short run is not lost.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::PrometheusHandle;

use super::TelemetryError;

/// Bound on each network step (connect, write, read) of one push.
const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// At most one warning per this period while pushes keep failing.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// How much of the response is read (status line and a short error).
const MAX_RESPONSE: u64 = 4096;

/// Where to push: parsed and checked at `init`.
#[derive(Debug, Clone)]
pub(super) struct PushTarget {
    /// The URL as given, for messages.
    url: String,
    host: String,
    port: u16,
    /// `host[:port]` as sent in the `Host` header.
    authority: String,
    /// `[/prefix]/metrics/job/{job}`.
    path: String,
}

impl PushTarget {
    pub(super) fn parse(url: &str, job: &str) -> Result<Self, TelemetryError> {
        let invalid = |reason: &str| TelemetryError::InvalidPushgatewayUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = url.trim();
        if trimmed.len() >= 8 && trimmed[..8].eq_ignore_ascii_case("https://") {
            return Err(TelemetryError::PushgatewayTlsUnsupported {
                url: url.to_owned(),
            });
        }
        let rest = match trimmed.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("http://") => &trimmed[7..],
            _ => return Err(invalid("the scheme must be http://")),
        };
        let (authority, prefix) = match rest.find(['/', '?', '#']) {
            Some(at) if rest[at..].starts_with('/') => (&rest[..at], &rest[at..]),
            Some(_) => return Err(invalid("query strings and fragments are not supported")),
            None => (rest, ""),
        };
        if prefix.contains(['?', '#']) {
            return Err(invalid("query strings and fragments are not supported"));
        }
        if authority.contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| invalid("bad host or port"))?;
        if job.is_empty() {
            return Err(TelemetryError::EmptyPushJob);
        }
        Ok(Self {
            url: url.to_owned(),
            host,
            port,
            authority: authority.to_owned(),
            path: format!(
                "{}/metrics/job{}",
                prefix.trim_end_matches('/'),
                job_segment(job)
            ),
        })
    }

    /// One `PUT` of `body`; `Err` says why it failed, never with secrets.
    fn put(&self, body: &str) -> Result<(), String> {
        let addresses = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?;
        let mut last_error = format!("{} resolves to no address", self.host);
        let mut stream = None;
        for address in addresses {
            match TcpStream::connect_timeout(&address, IO_TIMEOUT) {
                Ok(connected) => {
                    stream = Some(connected);
                    break;
                }
                Err(e) => last_error = format!("cannot connect to {address}: {e}"),
            }
        }
        let mut stream = stream.ok_or(last_error)?;
        let io = |e: std::io::Error| format!("push to {} failed: {e}", self.url);
        stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        let head = format!(
            "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: xmtp-opmon/{}\r\n\r\n",
            self.path,
            self.authority,
            body.len(),
            env!("CARGO_PKG_VERSION"),
        );
        stream.write_all(head.as_bytes()).map_err(io)?;
        stream.write_all(body.as_bytes()).map_err(io)?;
        stream.flush().map_err(io)?;

        let mut response = Vec::new();
        // `Connection: close` ends the response; a server that stays silent
        // runs into the read timeout. A partial read is enough for the status.
        let read = stream.take(MAX_RESPONSE).read_to_end(&mut response);
        if response.is_empty() {
            return Err(match read {
                Err(e) => io(e),
                Ok(_) => format!("{} closed the connection without a response", self.url),
            });
        }
        let text = String::from_utf8_lossy(&response);
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("{} sent a malformed HTTP response", self.url))?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            let detail = text.split("\r\n\r\n").nth(1).unwrap_or("").trim();
            let detail: String = detail.chars().take(200).collect();
            Err(format!("{} answered HTTP {status}: {detail}", self.url))
        }
    }
}

/// Splits `host[:port]` (IPv6 in brackets); the port defaults to 80.
fn split_host_port(authority: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => 80,
    };
    Some((host.to_owned(), port))
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
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
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
    let mut warnings = Warnings::default();
    let mut push = || {
        // Nothing else runs upkeep in recorder-only mode.
        handle.run_upkeep();
        let result = target.put(&handle.render());
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
        assert_eq!((target.host.as_str(), target.port), ("127.0.0.1", 9091));
        assert_eq!(target.path, "/gw/metrics/job/xmtp_opmon");
        let target = PushTarget::parse("http://[::1]", "a/b").unwrap();
        assert_eq!((target.host.as_str(), target.port), ("::1", 80));
        assert_eq!(target.path, "/metrics/job@base64/YS9i");

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

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64_url(b""), "");
        assert_eq!(base64_url(b"f"), "Zg==");
        assert_eq!(base64_url(b"fo"), "Zm8=");
        assert_eq!(base64_url(b"foo"), "Zm9v");
        assert_eq!(base64_url(b"\xfb\xff"), "-_8=");
    }
}
