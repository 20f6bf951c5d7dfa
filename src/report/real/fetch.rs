//! Reading the real users' histograms out of Prometheus, per operation.
//!
//! What is wanted is how many operations of each kind, outcome, error
//! class and latency bucket the real users completed within the window:
//! the increase of `…_bucket`, `…_count` and `…_sum` over it.
//!
//! PromQL's `increase(m[range])` was the obvious query, and it is wrong
//! for this data in two ways. It extrapolates to the window's edges, so
//! counts come back fractional; and a series that is *born* inside the
//! window contributes nothing for its first sample. Apps pushing to a
//! Pushgateway, and short-lived ones scraped directly, are exactly such
//! series: a run that pushed once, at exit, has `increase() == 0` and all
//! of its operations vanish. So the samples themselves are read instead:
//! one `/api/v1/query` of the range selector at the window's end (every
//! raw sample of every series in the window), and one of the plain
//! selector at its start (each series' value then, if it existed). A
//! series' increase is then exact: the sum of its rises from the value at
//! the start (0 for a series born later), a drop being a counter reset
//! (the app restarted) after which the new value counts whole. The
//! sums over series are made here, by operation, outcome, class and `le`
//! — and, for the phase histogram, by phase too.

use std::collections::BTreeMap;

use super::api::{Prometheus, Series};
use super::buckets::Buckets;
use super::selector::{quote, Selector};
use super::window::Window;
use super::RealError;
use crate::semconv;

/// The Prometheus name of the operation-duration histogram, as our
/// recorder renders `xmtp.client.operation.duration` in seconds.
pub const OPERATION_HISTOGRAM: &str = "xmtp_client_operation_duration_seconds";
/// The same for `xmtp.client.phase.duration`.
pub const PHASE_HISTOGRAM: &str = "xmtp_client_phase_duration_seconds";
/// The Prometheus form of an attribute name (`xmtp.operation` →
/// `xmtp_operation`), as every Prometheus exporter sanitizes it.
pub fn label(attribute: &str) -> String {
    attribute.replace('.', "_")
}

/// What Prometheus recorded for one operation within the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RealOperation {
    /// Successful operations' latency buckets (seconds).
    pub ok_buckets: Buckets,
    /// Successful operations.
    pub ok: f64,
    /// Failed operations.
    pub failed: f64,
    /// Failed operations by `xmtp_error_class`.
    pub errors: BTreeMap<String, f64>,
    /// Seconds spent in successful operations (`_sum`).
    pub ok_seconds: f64,
}

/// The real side: every operation Prometheus has in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct RealSide {
    /// The PromQL selector of the histogram series read (without suffix).
    pub selector: String,
    /// Per operation.
    pub operations: BTreeMap<String, RealOperation>,
    /// Per operation and phase, when asked for (failures have no class).
    pub phases: BTreeMap<(String, String), RealOperation>,
}

/// Which series to read.
#[derive(Debug, Clone)]
pub struct RealQuery {
    /// `--selector`.
    pub selector: Selector,
    /// `--traffic`: the `xmtp_traffic` value of real users.
    pub traffic: String,
    /// The window.
    pub window: Window,
    /// `--phases`: the phase histogram too.
    pub phases: bool,
}

impl RealQuery {
    /// The operation histogram's base name.
    fn metric(&self) -> &str {
        self.selector
            .metric
            .as_deref()
            .unwrap_or(OPERATION_HISTOGRAM)
    }

    /// The label matchers, `--traffic` first.
    fn matchers(&self) -> Vec<String> {
        let traffic = format!("{}={}", label(semconv::XMTP_TRAFFIC), quote(&self.traffic));
        std::iter::once(traffic)
            .chain(self.selector.matchers.iter().map(ToString::to_string))
            .collect()
    }

    /// `{__name__=~"metric_(bucket|count|sum)",…}`: the three at once.
    fn histogram_selector(&self, metric: &str) -> String {
        let name = regex_escape(metric);
        let mut matchers = vec![format!("__name__=~\"{name}_(bucket|count|sum)\"")];
        matchers.extend(self.matchers());
        format!("{{{}}}", matchers.join(","))
    }

    /// The operation histogram with the matchers, for messages and the report.
    pub fn describe(&self) -> String {
        self.describe_metric(self.metric())
    }

    fn describe_metric(&self, metric: &str) -> String {
        format!("{metric}{{{}}}", self.matchers().join(","))
    }
}

/// Reads the real side from `prometheus`.
pub async fn fetch(prometheus: &Prometheus, query: &RealQuery) -> Result<RealSide, RealError> {
    let operations = read(prometheus, query, query.metric(), None)
        .await?
        .into_iter()
        .map(|((operation, _), op)| (operation, op))
        .collect();
    let phases = if query.phases {
        read(
            prometheus,
            query,
            PHASE_HISTOGRAM,
            Some(semconv::XMTP_PHASE),
        )
        .await?
    } else {
        BTreeMap::new()
    };
    Ok(RealSide {
        selector: query.describe(),
        operations,
        phases,
    })
}

/// Reads one histogram, summed by operation and, with `by`, that label
/// too (the key's second part, empty without it).
async fn read(
    prometheus: &Prometheus,
    query: &RealQuery,
    metric: &str,
    by: Option<&str>,
) -> Result<BTreeMap<(String, String), RealOperation>, RealError> {
    let selector = query.histogram_selector(metric);
    let range_ms = query.window.length().as_millis().max(1);
    let in_window = prometheus
        .query(&format!("{selector}[{range_ms}ms]"), query.window.end)
        .await?;
    let at_start = prometheus.query(&selector, query.window.start).await?;
    let buckets_name = format!("{metric}_bucket");
    if !in_window.iter().any(|s| name(s) == buckets_name) {
        return Err(absent(prometheus, query, metric).await?);
    }
    if in_window
        .iter()
        .any(|s| name(s) == buckets_name && !s.labels.contains_key("le"))
    {
        return Err(RealError::NotHistogram {
            metric: metric.to_owned(),
            reason: format!("its {buckets_name} series have no `le` label"),
        });
    }
    let before: BTreeMap<&BTreeMap<String, String>, f64> = at_start
        .iter()
        .filter_map(|s| Some((&s.labels, *s.values.first()?)))
        .collect();
    let (op_label, outcome_label, class_label) = (
        label(semconv::XMTP_OPERATION),
        label(semconv::XMTP_OUTCOME),
        label(semconv::XMTP_ERROR_CLASS),
    );
    let by_label = by.map(label);
    let mut sums: BTreeMap<(String, String), RealOperation> = BTreeMap::new();
    for series in &in_window {
        let rise = increase(before.get(&series.labels).copied(), &series.values);
        let get = |key: &str| series.labels.get(key).map(String::as_str).unwrap_or("");
        let operation = get(&op_label);
        let part = by_label.as_deref().map_or("", get);
        if operation.is_empty() || (by.is_some() && part.is_empty()) {
            continue;
        }
        let entry = sums
            .entry((operation.to_owned(), part.to_owned()))
            .or_default();
        let ok = get(&outcome_label) == "ok";
        let suffix = name(series).strip_prefix(metric).unwrap_or("");
        match (suffix, ok) {
            ("_bucket", true) => {
                let bound = get("le")
                    .parse::<f64>()
                    .map_err(|_| RealError::NotHistogram {
                        metric: metric.to_owned(),
                        reason: format!("it has a bucket bound le=\"{}\"", get("le")),
                    })?;
                entry.ok_buckets.add(bound, rise);
            }
            ("_count", true) => entry.ok += rise,
            ("_count", false) => {
                entry.failed += rise;
                let class = match get(&class_label) {
                    "" => "unclassified",
                    class => class,
                };
                *entry.errors.entry(class.to_owned()).or_default() += rise;
            }
            ("_sum", true) => entry.ok_seconds += rise,
            _ => {}
        }
    }
    let recorded: f64 = sums.values().map(|op| op.ok + op.failed).sum();
    if recorded <= 0.0 {
        return Err(RealError::EmptyRange {
            selector: query.describe_metric(metric),
            start: Window::rfc3339(query.window.start),
            end: Window::rfc3339(query.window.end),
        });
    }
    sums.retain(|_, op| op.ok + op.failed > 0.0);
    Ok(sums)
}

/// Why no `_bucket` series matched: the name is something else (a gauge,
/// a counter), or nothing matched at all.
async fn absent(
    prometheus: &Prometheus,
    query: &RealQuery,
    metric: &str,
) -> Result<RealError, RealError> {
    let bare = format!(
        "{{__name__={},{}}}[{}ms]",
        quote(metric),
        query.matchers().join(","),
        query.window.length().as_millis().max(1)
    );
    Ok(
        if prometheus.query(&bare, query.window.end).await?.is_empty() {
            RealError::NoSeries {
                selector: query.describe_metric(metric),
                start: Window::rfc3339(query.window.start),
                end: Window::rfc3339(query.window.end),
            }
        } else {
            RealError::NotHistogram {
                metric: metric.to_owned(),
                reason: format!("it has no {metric}_bucket series (a gauge or counter?)"),
            }
        },
    )
}

fn name(series: &Series) -> &str {
    series.labels.get("__name__").map_or("", String::as_str)
}

/// The exact increase of a counter from `start` (absent: the series was
/// born in the window, so from 0) through `samples`, a drop being a reset.
fn increase(start: Option<f64>, samples: &[f64]) -> f64 {
    let mut previous = start.unwrap_or(0.0);
    let mut total = 0.0;
    for &value in samples.iter().filter(|v| v.is_finite()) {
        total += if value >= previous {
            value - previous
        } else {
            value
        };
        previous = value;
    }
    total
}

/// `text` as a literal inside a PromQL (RE2) regular expression.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_') {
            // Doubled: once for the regex, once for the PromQL string.
            out.push_str("\\\\");
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increases_are_exact_and_survive_resets() {
        // Born in the window: its first sample counts whole.
        assert_eq!(increase(None, &[3.0, 3.0, 5.0]), 5.0);
        // Existing at the start: only the rise.
        assert_eq!(increase(Some(2.0), &[3.0, 5.0]), 3.0);
        // A restart: 5 → 1 is a reset, the 1 counts.
        assert_eq!(increase(Some(2.0), &[5.0, 1.0, 2.0]), 5.0);
        assert_eq!(increase(Some(4.0), &[]), 0.0);
    }

    #[test]
    fn queries_carry_the_traffic_and_the_selector() {
        let query = RealQuery {
            selector: Selector::parse(r#"{job="a"}"#, &[]).unwrap(),
            traffic: "real".into(),
            window: Window::from_flags(None, None, None, std::time::SystemTime::now()).unwrap(),
            phases: false,
        };
        assert_eq!(
            query.histogram_selector(query.metric()),
            r#"{__name__=~"xmtp_client_operation_duration_seconds_(bucket|count|sum)",xmtp_traffic="real",job="a"}"#
        );
        assert_eq!(regex_escape("a:b"), "a\\\\:b");
        assert_eq!(label(semconv::XMTP_ERROR_CLASS), "xmtp_error_class");
    }
}
