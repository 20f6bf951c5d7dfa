//! `opmon monitor`: continuous synthetic monitoring.
//!
//! Where `opmon bench` loads a target for a while and reports, the monitor
//! runs forever at a trickle, the way XMTP's own client monitor and
//! Prometheus' blackbox exporter do: each operation on its own schedule
//! (by default `identity.create`, `group.create` and `group.add_members`
//! once every 20 s), each run measured by the same operation layer as
//! production apps and tagged `xmtp.traffic=synthetic`.
//!
//! What it offers a deployment:
//! - `/metrics` for Prometheus to pull (`--metrics-listen`), and/or OTLP
//!   export, and/or Pushgateway pushes;
//! - `/healthz` (the process serves) and `/readyz` (the last run of every
//!   operation succeeded) for Kubernetes probes;
//! - a `run.json` per interval (`--rotate`, the newest `--keep` kept),
//!   readable by `opmon report` and `opmon compare`;
//! - no restart needed when the target goes away and comes back: failures
//!   are classified and counted, and each probe prepares its data again
//!   (see [`probe`]).

mod every;
mod probe;
mod rolling;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tower::ServiceBuilder;
use xmtp_opmon::client::{ApiVersion, Client, XmtpApi};
use xmtp_opmon::layer::{OpObserver, OpTelemetryLayer, Traffic};
use xmtp_opmon::load::Recorder;
use xmtp_opmon::report::{Parameters, Resources};
use xmtp_opmon::telemetry::{Readiness, ScrapeEndpoint, TelemetryBuilder};

use crate::export::{logs_only, otlp_endpoint};
use crate::sampler::{Checkpoints, Sampler};
use crate::scw::ScwArgs;
use crate::signal::shutdown_signal;
use crate::store::StoreArgs;
use crate::target::{NodeProcess, Target, TargetArgs};
use crate::visibility::VisibilityArgs;

use every::Every;
use probe::{Probe, Rounds};
use rolling::Rolling;

/// How often the current interval's run.json is rewritten.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// What `opmon monitor` accepts.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Operations and how often each runs, e.g. identity=20s,group=1m,add-members=20s,lookup=5s.
    #[arg(long, value_name = "SCHEDULE", default_value_t = Every::default(), value_parser = |s: &str| s.parse::<Every>())]
    every: Every,
    /// Members of a new group, creator included (also the size of the groups members are added to).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=2000))]
    group_size: u16,
    /// Inboxes added per group.add_members.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    add: u16,
    #[command(flatten)]
    visibility: VisibilityArgs,
    /// Serve /metrics (Prometheus), /healthz and /readyz on this address (port 0 picks one; the bound address is printed).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Export spans and metrics over OTLP/gRPC [URL default: OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4317].
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    otlp: Option<String>,
    /// Push metrics to a Prometheus Pushgateway.
    #[arg(long, value_name = "URL")]
    pushgateway: Option<String>,
    /// Directory for one results directory (run.json) per interval.
    #[arg(long, value_name = "DIR", default_value = "opmon-monitor")]
    out: PathBuf,
    /// Length of an interval: each gets its own run.json.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_interval)]
    rotate: Duration,
    /// Interval directories kept; older ones are removed.
    #[arg(long, default_value_t = 48, value_parser = clap::value_parser!(u32).range(1..))]
    keep: u32,
    /// Stop after this long [default: run until interrupted].
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    duration: Option<Duration>,
    /// A label recorded with each interval's run, KEY=VALUE (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = crate::bench::parse_tag)]
    tags: Vec<(String, String)>,
    /// The embedded node's store bounds (its defaults already keep a node
    /// that runs for days bounded).
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scw: ScwArgs,
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(span) if span >= Duration::from_secs(1) => Ok(span),
        Ok(_) => Err(format!("`{text}` is shorter than a second")),
        Err(e) => Err(format!(
            "`{text}` is not a duration like 30s, 1h or 1d ({e})"
        )),
    }
}

/// Runs the monitor until interrupted (or `--duration` is over).
pub async fn monitor(args: MonitorArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot write results to {}", args.out.display()))?;
    let readiness = Readiness::new();
    let mut telemetry = TelemetryBuilder::from_env().service_name("opmon-monitor");
    if let Some(addr) = args.metrics_listen {
        let listener = TcpListener::bind(addr)
            .with_context(|| format!("cannot listen on {addr} for --metrics-listen"))?;
        let bound = listener
            .local_addr()
            .context("the metrics listener has no address")?;
        telemetry = telemetry.metrics_listener(ScrapeEndpoint::new(listener, readiness.clone()));
        // One line on stdout, so a supervisor or a test can find the port.
        say!("metrics on http://{bound}/metrics");
    }
    if let Some(url) = args.otlp.as_deref() {
        telemetry = telemetry.otlp_endpoint(otlp_endpoint(url));
    }
    if let Some(url) = &args.pushgateway {
        telemetry = telemetry
            .pushgateway(url.clone())
            .push_job("xmtp_opmon_monitor");
    }
    if args.metrics_listen.is_none() && args.otlp.is_none() && args.pushgateway.is_none() {
        logs_only()?;
    }
    let telemetry = telemetry.init().context("cannot start telemetry export")?;

    let node_args = [args.store.to_args(), args.scw.to_args()].concat();
    let mut target = Target::resolve(&args.target, &node_args).await?;
    if args.store.any() && target.kind != "embedded" {
        anyhow::bail!("--retention and --max-store apply only to the embedded node, not to --env or --node targets");
    }
    if args.scw.any() && target.kind != "embedded" {
        anyhow::bail!(
            "--scw-signatures applies only to the embedded node, not to --env or --node targets"
        );
    }
    say!("monitoring {} every {}", target.gateway, args.every);
    let result = if args.target.api == "v3" {
        match target.v3_client() {
            Ok(client) => watch(client, ApiVersion::V3, &args, &target, readiness).await,
            Err(error) => Err(error),
        }
    } else {
        match target.v4_client() {
            Ok(client) => watch(client, ApiVersion::V4, &args, &target, readiness).await,
            Err(error) => Err(error),
        }
    };
    if let Some(child) = target.child.take() {
        child.stop().await;
    }
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    result.map(|()| ExitCode::SUCCESS)
}

/// Runs every probe until the monitor is asked to stop.
async fn watch<A: XmtpApi>(
    client: Client<A>,
    api: ApiVersion,
    args: &MonitorArgs,
    target: &Target,
    readiness: Readiness,
) -> anyhow::Result<()> {
    let rolling = Rolling::start(
        args.out.clone(),
        args.rotate,
        args.keep as usize,
        parameters(args, target),
    );
    let service = ServiceBuilder::new()
        .layer(
            OpTelemetryLayer::new(api)
                .traffic(Traffic::Synthetic)
                .observe_shared(rolling.observer() as Arc<dyn OpObserver>),
        )
        .service(client.clone());
    let rounds = Arc::new(Rounds::new(args.every.periods().len(), readiness));
    let mut probes = tokio::task::JoinSet::new();
    for (kind, period) in args.every.periods() {
        let probe = Probe {
            kind: *kind,
            period: *period,
            client: client.clone(),
            service: service.clone(),
            group_size: args.group_size.into(),
            add: args.add.into(),
            rounds: rounds.clone(),
            visibility: args.visibility,
        };
        probes.spawn(probe.run());
    }
    let rolling = Arc::new(std::sync::Mutex::new(Some(rolling)));
    let checkpoints = {
        let rolling = rolling.clone();
        Checkpoints {
            every: CHECKPOINT_EVERY.min(args.rotate),
            write: Box::new(move |resources: &Resources| {
                let mut rolling = rolling.lock().unwrap_or_else(|p| p.into_inner());
                rolling.as_mut().is_some_and(|r| r.checkpoint(resources))
            }),
        }
    };
    let node_pid = target.child.as_ref().and_then(NodeProcess::pid);
    // The sampler's recorder only feeds a progress line, which a monitor
    // does not draw.
    let sampler = Sampler::start(
        Arc::new(Recorder::new()),
        node_pid,
        None,
        false,
        Some(checkpoints),
    );
    let stop = async {
        match args.duration {
            Some(duration) => tokio::select! {
                () = tokio::time::sleep(duration) => Ok(()),
                result = shutdown_signal() => result,
            },
            None => shutdown_signal().await,
        }
    };
    let stopped = stop.await;
    probes.shutdown().await;
    let resources = sampler.finish().await;
    let last = rolling.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(rolling) = last {
        rolling.finish(&resources);
    }
    stopped.map_err(Into::into)
}

/// What each interval's run.json records about the monitor.
fn parameters(args: &MonitorArgs, target: &Target) -> Parameters {
    let mut tags: std::collections::BTreeMap<String, String> = args.tags.iter().cloned().collect();
    tags.insert("schedule".to_owned(), args.every.to_string());
    Parameters {
        api: args.target.api.clone(),
        target: xmtp_opmon::report::Target {
            kind: target.kind.to_owned(),
            env: target.env.map(|e| e.name().to_owned()),
            node: target.node.clone(),
            gateway: target.gateway.clone(),
        },
        scenario: "monitor".to_owned(),
        weights: args
            .every
            .periods()
            .iter()
            .map(|(kind, _)| (kind.as_str().to_owned(), 1))
            .collect(),
        group_size: args.group_size.into(),
        add: args.add.into(),
        load_model: "schedule".to_owned(),
        concurrency: None,
        rate: Some(args.every.rate()),
        stages: None,
        visibility: args.visibility.recorded(),
        duration_s: Some(args.rotate.as_secs_f64()),
        ops: None,
        warmup_s: 0.0,
        seed: 0,
        tags,
        faults: Default::default(),
    }
}
