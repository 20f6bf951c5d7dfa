//! The embedded node's store bounds, shared by `opmon node`, `opmon bench`
//! and `opmon monitor` (the last two pass them on to the node they start).

use std::time::Duration;

use clap::Args;
use xmtp_opmon::node::{parse_duration, parse_size, NodeConfig};

/// How much the embedded node keeps.
#[derive(Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// How long envelopes no rule keeps stay readable (identity logs, the
    /// newest key package of each installation and the last commit of each
    /// group are always kept) [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub retention: Option<Duration>,
    /// The store's size cap: past it, the oldest envelopes no rule keeps are
    /// evicted before their retention ends [default: 512MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_store: Option<u64>,
}

impl StoreArgs {
    /// Whether either bound was given.
    pub fn any(&self) -> bool {
        self.retention.is_some() || self.max_store.is_some()
    }

    /// The bounds, with the node's defaults for what was not given.
    pub fn bounds(&self) -> (Duration, u64) {
        let defaults = NodeConfig::default();
        (
            self.retention.unwrap_or(defaults.retention),
            self.max_store.unwrap_or(defaults.max_store),
        )
    }

    /// The flags, for a node started as a child process.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(retention) = self.retention {
            args.push("--retention".to_owned());
            args.push(format!("{}ms", retention.as_millis()));
        }
        if let Some(max_store) = self.max_store {
            args.push("--max-store".to_owned());
            args.push(max_store.to_string());
        }
        args
    }
}
