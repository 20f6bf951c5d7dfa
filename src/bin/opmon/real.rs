//! `opmon compare RUN... --vs-prometheus URL`: synthetic runs against the
//! real users' telemetry in Prometheus.

use std::process::ExitCode;
use std::time::SystemTime;

use clap::Args;
use xmtp_opmon::report::real::{self, Prometheus, RealQuery, Selector, Window};
use xmtp_opmon::semconv;

use crate::compare::{write_page, CompareArgs, Format};
use crate::run_sides::read_runs;

/// The flags of the comparison with real users.
#[derive(Args, Debug)]
pub struct RealArgs {
    /// Compare the runs with the real users' operations in this Prometheus
    /// (its HTTP API, e.g. http://localhost:9090).
    #[arg(long, value_name = "URL", conflicts_with = "candidate")]
    pub vs_prometheus: Option<String>,
    /// The window of real traffic: this long, back from --end or now (default 1h).
    #[arg(long, value_name = "DURATION", requires = "vs_prometheus")]
    pub range: Option<String>,
    /// The window's start (RFC 3339), with --end or --range.
    #[arg(long, value_name = "TIME", requires = "vs_prometheus")]
    pub start: Option<String>,
    /// The window's end (RFC 3339; default now).
    #[arg(long, value_name = "TIME", requires = "vs_prometheus")]
    pub end: Option<String>,
    /// Label matchers added to every query, e.g. '{job="my-app",xmtp_api="v4"}'
    /// (a leading metric name replaces the histogram's).
    #[arg(long, value_name = "SELECTOR", requires = "vs_prometheus")]
    pub selector: Option<String>,
    /// The xmtp_traffic label of the real side.
    #[arg(
        long,
        value_name = "VALUE",
        default_value = "real",
        requires = "vs_prometheus"
    )]
    pub traffic: String,
    /// Compare per phase (xmtp_client_phase_duration_seconds) as well.
    #[arg(long, requires = "vs_prometheus")]
    pub phases: bool,
}

pub async fn vs_prometheus(args: &CompareArgs, url: &str) -> anyhow::Result<ExitCode> {
    let real_args = &args.real;
    let prometheus = Prometheus::new(url)?;
    let traffic_label = semconv::XMTP_TRAFFIC.replace('.', "_");
    let selector = match &real_args.selector {
        Some(text) => Selector::parse(text, &[&traffic_label])?,
        None => Selector::default(),
    };
    let window = Window::from_flags(
        real_args.range.as_deref(),
        real_args.start.as_deref(),
        real_args.end.as_deref(),
        SystemTime::now(),
    )?;
    let runs = read_runs(&args.base)?;
    let query = RealQuery {
        selector,
        traffic: real_args.traffic.clone(),
        window,
        phases: real_args.phases,
    };
    let (comparison, side) = real::compare_real(&runs, &prometheus, &query, args.force).await?;
    let text = match args.format {
        Format::Table => real::to_table(&comparison),
        Format::Csv => real::to_csv(&comparison),
        Format::Json => real::to_json(&comparison),
        Format::Markdown => real::to_markdown(&comparison),
    };
    say!("{}", text.trim_end());
    if let Some(path) = &args.html {
        write_page(path, real::real_page(&comparison, &side, &runs))?;
    }
    Ok(ExitCode::SUCCESS)
}
