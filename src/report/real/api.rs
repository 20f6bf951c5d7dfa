//! Prometheus' HTTP API, the little of it a comparison needs.
//!
//! One call, `GET /api/v1/query?query=…&time=…`, answered with JSON: a
//! `vector` (one value per series) or a `matrix` (every sample per series
//! in a range). The client is hyper-util's, as for the Pushgateway pusher:
//! plain HTTP, no TLS (put Prometheus behind a local port or a proxy).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use super::window::Window;
use super::RealError;

/// Bound on one query, from connecting to the last byte.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read: a day of raw samples of a few hundred series.
const MAX_ANSWER: usize = 256 * 1024 * 1024;

/// One series of an answer: its labels and its values in time order (one
/// for a vector, all in the range for a matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Labels, `__name__` included.
    pub labels: BTreeMap<String, String>,
    /// Sample values, oldest first.
    pub values: Vec<f64>,
}

/// A Prometheus server.
#[derive(Debug, Clone)]
pub struct Prometheus {
    /// As given, for messages.
    url: String,
    /// `http://host:port[/prefix]` without a trailing slash.
    base: String,
    client: Client<HttpConnector, Empty<Bytes>>,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorItem>),
    Matrix(Vec<MatrixItem>),
    // Read only to say that the answer was not series.
    #[allow(dead_code)]
    Scalar(serde_json::Value),
    #[allow(dead_code)]
    String(serde_json::Value),
}

#[derive(Deserialize)]
struct VectorItem {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct MatrixItem {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

impl Prometheus {
    /// A client for the server at `url` (`http://host:port[/prefix]`).
    pub fn new(url: &str) -> Result<Self, RealError> {
        let invalid = |reason: &str| RealError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed: http::Uri = url.trim().parse().map_err(|_| invalid("is not a URL"))?;
        match parsed.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => {}
            Some(s) if s.eq_ignore_ascii_case("https") => {
                return Err(invalid("uses https, which is not supported (use http://)"))
            }
            _ => return Err(invalid("needs http:// and a host")),
        }
        let authority = parsed
            .authority()
            .filter(|a| !a.host().is_empty())
            .ok_or_else(|| invalid("has no host"))?;
        if parsed.query().is_some() {
            return Err(invalid("has a query string"));
        }
        Ok(Self {
            url: url.trim().to_owned(),
            base: format!("http://{authority}{}", parsed.path().trim_end_matches('/')),
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The series `promql` evaluates to at `time`.
    pub async fn query(&self, promql: &str, time: SystemTime) -> Result<Vec<Series>, RealError> {
        let uri = format!(
            "{}/api/v1/query?query={}&time={}",
            self.base,
            percent_encode(promql),
            Window::unix(time)
        );
        let unreachable = |reason: String| RealError::Unreachable {
            url: self.url.clone(),
            reason,
        };
        let request = http::Request::get(&uri)
            .header(
                http::header::USER_AGENT,
                concat!("xmtp-opmon/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| unreachable(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| unreachable(root_cause(&e)))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| unreachable(format!("the answer broke off or is too large ({e})")))?
                .to_bytes();
            Ok::<_, RealError>((status, body))
        };
        let (status, body) = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {}s", TIMEOUT.as_secs())))??;
        let answer: Answer = serde_json::from_slice(&body).map_err(|_| RealError::Answer {
            url: self.url.clone(),
            reason: format!(
                "HTTP {} without Prometheus JSON (is this the Prometheus API?)",
                status.as_u16()
            ),
        })?;
        if answer.status != "success" {
            return Err(RealError::Answer {
                url: self.url.clone(),
                reason: format!(
                    "refused the query: {}",
                    answer
                        .error
                        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()))
                ),
            });
        }
        let number = |text: &str| text.parse::<f64>().unwrap_or(f64::NAN);
        Ok(match answer.data {
            Some(Data::Vector(items)) => items
                .into_iter()
                .map(|item| Series {
                    labels: item.metric,
                    values: vec![number(&item.value.1)],
                })
                .collect(),
            Some(Data::Matrix(items)) => items
                .into_iter()
                .map(|item| Series {
                    labels: item.metric,
                    values: item.values.iter().map(|(_, v)| number(v)).collect(),
                })
                .collect(),
            _ => {
                return Err(RealError::Answer {
                    url: self.url.clone(),
                    reason: "answered with a scalar or string, not series".into(),
                })
            }
        })
    }
}

/// The innermost cause of an error, which says most ("Connection
/// refused") without hyper's layers of context.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `text` for a URL query value: everything but unreserved characters
/// percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_queries_are_encoded() {
        assert_eq!(
            percent_encode(r#"a{b="c d"}[5s]"#),
            "a%7Bb%3D%22c%20d%22%7D%5B5s%5D"
        );
        assert_eq!(
            Prometheus::new("http://h:9090/p/").unwrap().base,
            "http://h:9090/p"
        );
        for bad in [
            "h:9090",
            "https://h",
            "http://",
            "http://h/?x=1",
            "not a url",
        ] {
            assert!(Prometheus::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_parse_as_vectors_and_matrices() {
        let vector: Answer = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"le":"0.1"},"value":[1.5,"3"]}]}}"#,
        )
        .unwrap();
        assert!(matches!(vector.data, Some(Data::Vector(ref v)) if v[0].value.1 == "3"));
        let matrix: Answer = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"+Inf"]]}]}}"#,
        )
        .unwrap();
        assert!(matches!(matrix.data, Some(Data::Matrix(ref m)) if m[0].values.len() == 2));
    }
}
