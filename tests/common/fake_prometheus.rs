//! A stand-in for Prometheus' query API on 127.0.0.1: it answers every
//! `GET /api/v1/query` with the JSON a function makes of the decoded
//! PromQL. Only for the ways a comparison must fail; success is tested
//! against the real Prometheus.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::thread;

/// The server's address, e.g. `http://127.0.0.1:PORT`. It runs until the
/// test process ends.
pub fn start(answer: fn(&str) -> String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // The rest of the head; GET has no body.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let target = request_line.split_whitespace().nth(1).unwrap_or("");
            let promql = target
                .split_once('?')
                .map(|(_, query)| query)
                .unwrap_or("")
                .split('&')
                .find_map(|pair| pair.strip_prefix("query="))
                .map(percent_decode)
                .unwrap_or_default();
            let body = answer(&promql);
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// A `vector` answer of `(labels as JSON object, value)` pairs.
pub fn vector(series: &[(&str, &str)]) -> String {
    let items: Vec<String> = series
        .iter()
        .map(|(labels, value)| format!(r#"{{"metric":{labels},"value":[1,"{value}"]}}"#))
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
        items.join(",")
    )
}

/// A `matrix` answer: each series' labels and its sample values.
pub fn matrix(series: &[(&str, &[&str])]) -> String {
    let items: Vec<String> = series
        .iter()
        .map(|(labels, values)| {
            let samples: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| format!(r#"[{i},"{v}"]"#))
                .collect();
            format!(r#"{{"metric":{labels},"values":[{}]}}"#, samples.join(","))
        })
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}}}"#,
        items.join(",")
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
