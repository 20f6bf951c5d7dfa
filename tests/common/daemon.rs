//! A server program (the Pushgateway, Prometheus) as a child process on a
//! free loopback port, ready once it answers a path, killed on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server program.
pub struct Daemon {
    child: Child,
    port: u16,
}

impl Daemon {
    /// Starts `program` with `args(port)` and waits until `GET ready`
    /// answers 200. Panics, saying how to install it, if it is missing.
    pub fn start(program: &str, args: impl FnOnce(u16) -> Vec<String>, ready: &str) -> Daemon {
        assert!(
            Path::new(program).exists(),
            "{program} is missing: run `apt-get install {}`",
            Path::new(program).file_name().unwrap().to_string_lossy()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .args(args(port))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let daemon = Daemon { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while daemon.try_get(ready).is_none() {
            assert!(Instant::now() < deadline, "{program} never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    /// Debian's Pushgateway.
    pub fn pushgateway() -> Daemon {
        Daemon::start(
            "/usr/bin/prometheus-pushgateway",
            |port| vec![format!("--web.listen-address=127.0.0.1:{port}")],
            "/-/ready",
        )
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The body of the `200 OK` answer to `GET path`.
    pub fn get(&self, path: &str) -> String {
        self.try_get(path).expect("the server answers 200")
    }

    /// The body of a `200 OK` answer to `GET path`, if there is one.
    pub fn try_get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        // HTTP/1.0: the answer comes whole, not in chunks.
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        (head.split_whitespace().nth(1) == Some("200")).then(|| body.to_owned())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
