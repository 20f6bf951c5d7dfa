//! The fault flags, shared by `opmon node` and `opmon bench`.
//!
//! They are kept as written (after checking them), so `bench` can pass
//! them on to the node it starts and record them in the run's parameters
//! exactly as the user typed them.

use std::collections::BTreeMap;

use clap::Args;
use xmtp_opmon::node::{parse_duration, parse_errors, parse_workers, Faults, Latency, Stall};

fn checked<T, E: std::fmt::Display>(
    parse: impl Fn(&str) -> Result<T, E> + Clone,
) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |text| {
        parse(text)
            .map(|_| text.to_owned())
            .map_err(|e| e.to_string())
    }
}

/// Faults the embedded node injects.
#[derive(Args, Debug, Clone, Default)]
pub struct FaultArgs {
    /// Latency added to each call: fixed:10ms | uniform:5ms..15ms | lognormal:p50=20ms,p99=200ms.
    #[arg(long, value_name = "SPEC", value_parser = checked(|s: &str| s.parse::<Latency>()))]
    pub inject_latency: Option<String>,
    /// Periodic stalls, DURATION/EVERY: e.g. 500ms/5s answers nothing for 500 ms every 5 s.
    #[arg(long, value_name = "D/EVERY", value_parser = checked(|s: &str| s.parse::<Stall>()))]
    pub stall: Option<String>,
    /// Error codes at rates, e.g. unavailable=1%,resource_exhausted=0.5% (exact: 1% fails every hundredth call).
    #[arg(long, value_name = "SPEC", value_parser = checked(parse_errors))]
    pub inject_error: Option<String>,
    /// Delay before chain-path writes (identity updates, commits) become readable.
    #[arg(long, value_name = "DURATION", value_parser = checked(parse_duration))]
    pub indexer_lag: Option<String>,
    /// Handle at most N calls at once, queueing the rest: with --inject-latency fixed:10ms
    /// the node's capacity is exactly N x 100 calls a second.
    #[arg(long, value_name = "N", value_parser = checked(parse_workers))]
    pub workers: Option<String>,
}

impl FaultArgs {
    /// The flags as `(flag, value)` pairs, in a fixed order.
    fn given(&self) -> impl Iterator<Item = (&'static str, &String)> {
        [
            ("inject-latency", &self.inject_latency),
            ("stall", &self.stall),
            ("inject-error", &self.inject_error),
            ("indexer-lag", &self.indexer_lag),
            ("workers", &self.workers),
        ]
        .into_iter()
        .filter_map(|(flag, value)| value.as_ref().map(|v| (flag, v)))
    }

    /// Whether any fault was asked for.
    pub fn any(&self) -> bool {
        self.given().next().is_some()
    }

    /// The faults, for a node in this process.
    pub fn faults(&self) -> anyhow::Result<Faults> {
        fn read<T>(
            text: &Option<String>,
            parse: impl Fn(&str) -> Result<T, xmtp_opmon::node::FaultSpecError>,
        ) -> anyhow::Result<Option<T>> {
            Ok(text.as_deref().map(parse).transpose()?)
        }
        if self.workers.is_some() && self.inject_latency.is_none() && self.stall.is_none() {
            anyhow::bail!(
                "--workers needs --inject-latency or --stall: a worker is busy only through the injected delay"
            );
        }
        Ok(Faults {
            latency: read(&self.inject_latency, str::parse::<Latency>)?,
            stall: read(&self.stall, str::parse::<Stall>)?,
            errors: read(&self.inject_error, parse_errors)?.unwrap_or_default(),
            indexer_lag: read(&self.indexer_lag, parse_duration)?.unwrap_or_default(),
            workers: read(&self.workers, parse_workers)?,
        })
    }

    /// The flags, for a node started as a child process.
    pub fn to_args(&self) -> Vec<String> {
        self.given()
            .flat_map(|(flag, value)| [format!("--{flag}"), value.clone()])
            .collect()
    }

    /// The flags, for the run's parameters.
    pub fn recorded(&self) -> BTreeMap<String, String> {
        self.given()
            .map(|(flag, value)| (flag.to_owned(), value.clone()))
            .collect()
    }
}
