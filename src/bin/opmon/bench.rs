//! `opmon bench`: synthetic traffic through the production layers.
//!
//! The run, in order: check the flags and the output directory; start
//! telemetry export if asked; start the embedded node (or resolve the
//! target); provision the scenario's data; arm the node's faults; drive
//! the operations while a monitor samples CPU and memory; then write
//! `run.json` and `summary.csv`, print the summary, check thresholds and
//! flush telemetry. An interruption at any point still writes what was
//! measured, marked incomplete.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use clap::Args;
use tokio::sync::watch;
use tower::ServiceBuilder;
use xmtp_opmon::client::{ApiVersion, Client, XmtpApi};
use xmtp_opmon::layer::{OpObserver, OpTelemetryLayer, Traffic};
use xmtp_opmon::load::{
    drive, parse_max_error_rate, LoadModel, Mix, Recorder, RunEnd, Scenario, Schedule, Stages,
    Stop, Threshold, Workload, WorkloadConfig,
};
use xmtp_opmon::report::{Parameters, ProvisioningReport, Resources, RunResult};
use xmtp_opmon::semconv::XMTP_RUN_ID;
use xmtp_opmon::telemetry::{TelemetryBuilder, TelemetryGuard};

use crate::capacity::{search, SearchPlan, SearchResult};
use crate::export::{logs_only, otlp_endpoint};
use crate::faults::FaultArgs;
use crate::run_file::{assemble, new_run_id, write_checkpoint, RunFrame, RunState};
use crate::sampler::{Checkpoints, Progress, Sampler};
use crate::scw::ScwArgs;
use crate::signal::shutdown_signal;
use crate::store::StoreArgs;
use crate::target::{NodeProcess, Target, TargetArgs};
use crate::visibility::VisibilityArgs;

/// Exit code of an interrupted run (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;
/// Exit code of a run that breached a threshold (as k6).
const EXIT_THRESHOLD: u8 = 99;

/// How long operations in flight may finish after the schedule ends: the
/// client's own deadlines (10 s per call, 10 s for visibility) bound them
/// well within it.
const DRAIN: Duration = Duration::from_secs(30);
/// Operations in flight at most in the open model.
const MAX_IN_FLIGHT: usize = 10_000;
/// The measured duration when neither `--duration` nor `--ops` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// A capacity search's measured time per step, first rate and highest rate
/// when not given.
const DEFAULT_STEP: Duration = Duration::from_secs(20);
const DEFAULT_MIN_RATE: f64 = 10.0;
const DEFAULT_MAX_RATE: f64 = 100_000.0;
/// How often run.json is checkpointed when `--checkpoint-every` is not given.
const DEFAULT_CHECKPOINT: Duration = Duration::from_secs(5);

/// What `opmon bench` accepts.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Traffic to send [default: mix].
    #[arg(long, value_parser = Scenario::NAMES)]
    scenario: Option<String>,
    /// Weights for the mix scenario, e.g. identity=2,group=1,add-members=1,lookup=0.
    #[arg(long, value_name = "WEIGHTS", value_parser = |s: &str| s.parse::<Mix>())]
    mix: Option<Mix>,
    /// Members of a new group, creator included (also the size of the groups members are added to).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=2000))]
    group_size: u16,
    /// Inboxes added per group.add_members.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    add: u16,
    #[command(flatten)]
    visibility: VisibilityArgs,
    /// Closed model: operations in flight, each started when the previous one ends [default: 1].
    #[arg(long, conflicts_with_all = ["rate", "stages", "find_capacity"], value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: Option<u32>,
    /// Open model: operations started per second on a fixed schedule, e.g. 50 or 50/s.
    #[arg(long, value_name = "R", value_parser = parse_rate, allow_negative_numbers = true,
          conflicts_with_all = ["stages", "find_capacity"])]
    rate: Option<f64>,
    /// Load that changes: DURATION:N/s stages ramp the rate linearly from the previous
    /// target (0 at first), DURATION:c=N stages set the concurrency, e.g. 30s:50/s,2m:200/s,30s:0/s.
    #[arg(long, value_name = "SPEC", value_parser = |s: &str| s.parse::<Stages>(),
          conflicts_with_all = ["duration", "ops", "find_capacity"])]
    stages: Option<Stages>,
    /// Search the highest rate at which a rule holds, OP:pNN<DURATION or OP:error_rate<PCT
    /// (repeatable; --max-error-rate joins them): the rate doubles per step until a rule
    /// breaks, then bisects to within 10%. Exit 99 when even the lowest rate breaks one.
    #[arg(long = "find-capacity", value_name = "RULE",
          value_parser = |s: &str| s.parse::<Threshold>(),
          conflicts_with_all = ["duration", "ops", "thresholds"])]
    find_capacity: Vec<Threshold>,
    /// Measured time of each capacity-search step, after its own --warmup [default: 20s].
    #[arg(long, value_parser = parse_span, requires = "find_capacity")]
    step: Option<Duration>,
    /// The capacity search's first rate [default: 10].
    #[arg(long, value_name = "R", value_parser = parse_rate, requires = "find_capacity")]
    start_rate: Option<f64>,
    /// The capacity search's highest rate [default: 100000].
    #[arg(long, value_name = "R", value_parser = parse_rate, requires = "find_capacity")]
    max_rate: Option<f64>,
    /// Measured duration, after the warm-up [default: 10s].
    #[arg(long, conflicts_with = "ops", value_parser = parse_span)]
    duration: Option<Duration>,
    /// Measured operations, after the warm-up.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    ops: Option<u64>,
    /// Time at the start whose operations are left out of the results.
    #[arg(long, default_value = "2s", value_parser = parse_span)]
    warmup: Duration,
    /// Directory for run.json and summary.csv [default: opmon-results/RUN_ID].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// A label recorded with the run, KEY=VALUE (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Export spans and metrics over OTLP/gRPC [URL default: OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4317].
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    otlp: Option<String>,
    /// Push metrics to a Prometheus Pushgateway.
    #[arg(long, value_name = "URL")]
    pushgateway: Option<String>,
    /// A pass/fail rule, OP:pNN<DURATION or OP:error_rate<PCT (repeatable); a breach exits 99.
    #[arg(long = "threshold", value_name = "RULE", value_parser = |s: &str| s.parse::<Threshold>())]
    thresholds: Vec<Threshold>,
    /// Fail (exit 99) also on a percentile threshold the run has too few
    /// samples to check (p99 needs 1,000; otherwise it is only a warning).
    #[arg(long)]
    strict_thresholds: bool,
    /// Fail (exit 99) when more than PCT of all operations fail, e.g. 1%.
    #[arg(long, value_name = "PCT", value_parser = parse_max_error_rate)]
    max_error_rate: Option<Threshold>,
    /// How often run.json is rewritten during the run (marked incomplete),
    /// so a killed run keeps its results up to then [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_checkpoint)]
    checkpoint_every: Option<Duration>,
    /// Also write samples.csv, one row per operation attempt.
    #[arg(long)]
    samples: bool,
    /// No progress display.
    #[arg(long)]
    quiet: bool,
    /// Seed for the choice of operations [default: random, recorded in run.json].
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads of the load generator [default: one per core]. One
    /// thread can send more cheap requests per second: they queue up
    /// between wake-ups and leave in fewer writes.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    #[command(flatten)]
    faults: FaultArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    scw: ScwArgs,
}

impl BenchArgs {
    /// The worker threads asked for, if any; the runtime is built before
    /// the bench starts.
    pub fn threads(&self) -> Option<usize> {
        self.threads.map(usize::from)
    }
}

fn parse_span(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration like 500ms, 30s or 2m ({e})"))
}

fn parse_checkpoint(text: &str) -> Result<Duration, String> {
    match parse_span(text)? {
        every if every >= Duration::from_secs(1) => Ok(every),
        _ => Err(format!(
            "`{text}` is too short: checkpoints are written at most once a second"
        )),
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches("/s");
    match number.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= 1e6 => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a rate between 0 and 1000000 operations per second, like 50 or 50/s"
        )),
    }
}

pub(crate) fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// Makes sure results can be written before anything is measured.
fn check_writable(dir: &Path) -> anyhow::Result<()> {
    let fail =
        |e: std::io::Error| anyhow::anyhow!("cannot write results to {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".opmon-write-check");
    File::create(&probe).map_err(fail)?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Resolves when the user asks the run to stop (Ctrl-C or SIGTERM).
#[derive(Clone)]
pub(crate) struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    fn listen() -> Self {
        let (raised, seen) = watch::channel(false);
        tokio::spawn(async move {
            if shutdown_signal().await.is_ok() {
                let _ = raised.send(true);
            }
        });
        Self(seen)
    }

    pub(crate) async fn wait(mut self) {
        let _ = self.0.wait_for(|raised| *raised).await;
    }
}

/// The validated configuration of a run.
struct Plan {
    api: ApiVersion,
    scenario: Scenario,
    schedule: Schedule,
    /// A capacity search, which runs its own schedules instead.
    search: Option<SearchPlan>,
    workload: WorkloadConfig,
    thresholds: Vec<Threshold>,
    parameters: Parameters,
}

impl Plan {
    fn new(args: &BenchArgs, target: &Target) -> anyhow::Result<Self> {
        if args.faults.any() && target.kind != "embedded" {
            bail!("fault flags apply only to the embedded node, not to --env or --node targets");
        }
        if args.store.any() && target.kind != "embedded" {
            bail!("--retention and --max-store apply only to the embedded node, not to --env or --node targets");
        }
        if args.scw.any() && target.kind != "embedded" {
            bail!("--scw-signatures applies only to the embedded node, not to --env or --node targets");
        }
        let scenario = match (&args.scenario, &args.mix) {
            (Some(name), Some(_)) if name != "mix" => {
                bail!("--mix applies only to --scenario mix, not to --scenario {name}")
            }
            (name, mix) => Scenario::parse(name.as_deref().unwrap_or("mix"), mix.clone())?,
        };
        let search = (!args.find_capacity.is_empty()).then(|| {
            let min_rate = args.start_rate.unwrap_or(DEFAULT_MIN_RATE);
            SearchPlan {
                rules: [&args.find_capacity[..], args.max_error_rate.as_slice()].concat(),
                step: args.step.unwrap_or(DEFAULT_STEP),
                warmup: args.warmup,
                min_rate,
                max_rate: args.max_rate.unwrap_or(DEFAULT_MAX_RATE).max(min_rate),
                max_in_flight: MAX_IN_FLIGHT,
            }
        });
        let model = match (&args.stages, args.rate) {
            (Some(stages), _) => LoadModel::Staged {
                stages: Arc::new(stages.clone()),
                max_in_flight: MAX_IN_FLIGHT,
            },
            (None, Some(rate)) => LoadModel::Open {
                rate,
                max_in_flight: MAX_IN_FLIGHT,
            },
            (None, None) => LoadModel::Closed {
                concurrency: args.concurrency.unwrap_or(1) as usize,
            },
        };
        let stop = match (args.ops, args.duration, &args.stages) {
            (_, _, Some(stages)) => {
                if stages.total() <= args.warmup {
                    bail!(
                        "the stages last {}, no longer than the {} warm-up at their start",
                        humantime::format_duration(stages.total()),
                        humantime::format_duration(args.warmup)
                    );
                }
                Stop::After(stages.total() - args.warmup)
            }
            (Some(ops), _, None) => Stop::Ops(ops),
            (None, duration, None) => Stop::After(duration.unwrap_or(DEFAULT_DURATION)),
        };
        // 32 bits are plenty, and stay exact in any JSON reader.
        let seed = args.seed.unwrap_or_else(|| rand::random::<u32>().into());
        // Enough for the additions a second of the schedule starts.
        let groups_for = |rate: f64| (rate.ceil() as usize).clamp(4, 256);
        let groups = match (&search, &model) {
            (Some(search), _) => groups_for(search.max_rate),
            (None, LoadModel::Closed { concurrency }) => concurrency + 2,
            (None, LoadModel::Open { rate, .. }) => groups_for(*rate),
            (None, LoadModel::Staged { stages, .. }) if stages.is_open() => {
                groups_for(stages.max_rate())
            }
            (None, LoadModel::Staged { stages, .. }) => stages.max_concurrency() + 2,
        };
        let workload = WorkloadConfig {
            scenario: scenario.clone(),
            group_size: args.group_size as usize,
            add: args.add as usize,
            groups,
            seed,
            visibility: args.visibility.visibility,
            welcomes: args.visibility.welcomes(),
        };
        let mut thresholds = args.thresholds.clone();
        // In a search, --max-error-rate is one of the search's rules.
        if search.is_none() {
            thresholds.extend(args.max_error_rate.clone());
        }
        let parameters = Parameters {
            api: args.target.api.clone(),
            target: xmtp_opmon::report::Target {
                kind: target.kind.to_owned(),
                env: target.env.map(|e| e.name().to_owned()),
                node: target.node.clone(),
                gateway: target.gateway.clone(),
            },
            scenario: scenario.name().to_owned(),
            weights: scenario
                .weights()
                .into_iter()
                .map(|(kind, weight)| (kind.as_str().to_owned(), weight))
                .collect(),
            group_size: workload.group_size,
            add: workload.add,
            load_model: match &model {
                _ if search.is_some() => "open",
                LoadModel::Closed { .. } => "closed",
                LoadModel::Staged { stages, .. } if !stages.is_open() => "closed",
                LoadModel::Open { .. } | LoadModel::Staged { .. } => "open",
            }
            .to_owned(),
            concurrency: match model {
                LoadModel::Closed { concurrency } if search.is_none() => Some(concurrency),
                _ => None,
            },
            rate: args.rate,
            stages: args.stages.as_ref().map(Stages::to_string),
            visibility: args.visibility.recorded(),
            duration_s: match stop {
                _ if search.is_some() => None,
                Stop::After(d) => Some(d.as_secs_f64()),
                Stop::Ops(_) => None,
            },
            ops: args.ops,
            warmup_s: args.warmup.as_secs_f64(),
            seed,
            tags: args.tags.iter().cloned().collect(),
            faults: args.faults.recorded(),
        };
        Ok(Self {
            api: if args.target.api == "v3" {
                ApiVersion::V3
            } else {
                ApiVersion::V4
            },
            scenario,
            schedule: Schedule {
                model,
                warmup: args.warmup,
                stop,
                drain: DRAIN,
            },
            search,
            workload,
            thresholds,
            parameters,
        })
    }

    fn describe_stop(&self) -> String {
        if self.search.is_some() {
            return "capacity search".to_owned();
        }
        match self.schedule.stop {
            Stop::After(d) => humantime::format_duration(d).to_string(),
            Stop::Ops(n) => format!("{n} ops"),
        }
    }
}

fn start_telemetry(args: &BenchArgs, run_id: &str) -> anyhow::Result<Option<TelemetryGuard>> {
    if args.otlp.is_none() && args.pushgateway.is_none() {
        logs_only()?;
        return Ok(None);
    }
    let mut builder = TelemetryBuilder::from_env()
        .service_name("opmon")
        .resource_attribute(XMTP_RUN_ID, run_id);
    if let Some(url) = args.otlp.as_deref() {
        builder = builder.otlp_endpoint(otlp_endpoint(url));
    }
    if let Some(url) = &args.pushgateway {
        builder = builder.pushgateway(url.clone());
    }
    Ok(Some(
        builder.init().context("cannot start telemetry export")?,
    ))
}

/// How the run ended.
enum Ending {
    Finished(RunEnd),
    Interrupted(Option<RunEnd>),
    Failed(String),
}

/// What a run needs besides its client and target.
struct RunContext<'a> {
    plan: &'a Plan,
    frame: &'a Arc<RunFrame>,
    out: &'a Path,
    checkpoint_every: Duration,
    recorder: &'a Arc<Recorder>,
    interrupt: &'a Interrupt,
    show_progress: bool,
    warn: bool,
}

/// What measuring produced.
struct Measured {
    ending: Ending,
    provisioning: ProvisioningReport,
    resources: Resources,
    skipped_ops: u64,
    search: Option<SearchResult>,
}

/// Provisions the scenario through `client`, arms the node's faults, and
/// drives the schedule through the operation layer, for either API.
async fn measure<A: XmtpApi>(
    client: Client<A>,
    target: &mut Target,
    context: RunContext<'_>,
) -> anyhow::Result<Measured> {
    let provisioning_started = Instant::now();
    let provisioned = tokio::select! {
        result = Workload::provision(&client, &context.plan.workload) => Some(result),
        () = context.interrupt.clone().wait() => None,
    };
    let mut provisioning = ProvisioningReport {
        seconds: provisioning_started.elapsed().as_secs_f64(),
        ..ProvisioningReport::default()
    };
    let mut resources = Resources::default();
    let mut skipped_ops = 0;
    let mut searched = None;
    let ending = match provisioned {
        None => Ending::Interrupted(None),
        Some(Err(error)) => Ending::Failed(format!(
            "cannot provision the {} scenario on {} ({}): {error}",
            context.plan.scenario.name(),
            target.gateway,
            error.class()
        )),
        Some(Ok(workload)) => {
            let workload = Arc::new(workload);
            if let Some(child) = target.child.as_mut() {
                child.arm().await?;
            }
            let service = ServiceBuilder::new()
                .layer(
                    OpTelemetryLayer::new(context.plan.api)
                        .traffic(Traffic::Synthetic)
                        .observe_shared(context.recorder.clone() as Arc<dyn OpObserver>),
                )
                .service(client.clone());
            let progress = context.show_progress.then(|| Progress {
                window_start: Instant::now() + context.plan.schedule.warmup,
                plan: context.plan.describe_stop(),
            });
            let node_pid = target.child.as_ref().and_then(NodeProcess::pid);
            let checkpoints = {
                let (frame, recorder) = (context.frame.clone(), context.recorder.clone());
                let (out, mut warned) = (context.out.to_owned(), false);
                Checkpoints {
                    every: context.checkpoint_every,
                    write: Box::new(move |resources: &Resources| {
                        write_checkpoint(&frame, &recorder, resources, &out, &mut warned);
                        false
                    }),
                }
            };
            let sampler = Sampler::start(
                context.recorder.clone(),
                node_pid,
                progress,
                context.warn,
                Some(checkpoints),
            );
            let end = match &context.plan.search {
                None => {
                    drive(
                        context.plan.schedule.clone(),
                        workload.clone(),
                        service,
                        context.recorder,
                        context.interrupt.clone().wait(),
                    )
                    .await
                }
                Some(plan) => {
                    let result = search(
                        plan,
                        &workload,
                        service,
                        context.recorder,
                        context.interrupt,
                        node_pid,
                    )
                    .await;
                    let end = result.end;
                    searched = Some(result);
                    end
                }
            };
            resources = sampler.finish().await;
            let report = workload.provisioning();
            provisioning.identities = report.identities;
            provisioning.groups = report.groups;
            provisioning.replacement_groups = report.replacement_groups;
            skipped_ops = workload.skipped();
            provisioning.seconds = report.duration.as_secs_f64();
            if end.interrupted {
                Ending::Interrupted(Some(end))
            } else {
                Ending::Finished(end)
            }
        }
    };
    Ok(Measured {
        ending,
        provisioning,
        resources,
        skipped_ops,
        search: searched,
    })
}

/// Runs a benchmark; the exit code says how it went.
pub async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let run_id = new_run_id();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("opmon-results").join(&run_id));
    check_writable(&out)?;
    let interrupt = Interrupt::listen();
    let telemetry = start_telemetry(&args, &run_id)?;
    let started_at = SystemTime::now();
    let mut target = Target::resolve(
        &args.target,
        &[
            args.faults.to_args(),
            args.store.to_args(),
            args.scw.to_args(),
        ]
        .concat(),
    )
    .await?;
    let plan = match Plan::new(&args, &target) {
        Ok(plan) => plan,
        Err(error) => {
            if let Some(child) = target.child.take() {
                child.stop().await;
            }
            return Err(error);
        }
    };
    let mut recorder = Recorder::new();
    if args.samples {
        let path = out.join("samples.csv");
        let file =
            File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        recorder = recorder.with_samples(Box::new(BufWriter::new(file)))?;
    }
    let recorder = Arc::new(recorder);
    let frame = Arc::new(RunFrame {
        run_id: run_id.clone(),
        started_at,
        parameters: plan.parameters.clone(),
        warmup: plan.schedule.warmup,
        thresholds: plan.thresholds.clone(),
        strict_thresholds: args.strict_thresholds,
    });
    let show_progress = !args.quiet && std::io::stderr().is_terminal();

    let context = RunContext {
        plan: &plan,
        frame: &frame,
        out: &out,
        checkpoint_every: args.checkpoint_every.unwrap_or(DEFAULT_CHECKPOINT),
        recorder: &recorder,
        interrupt: &interrupt,
        show_progress,
        warn: !args.quiet,
    };
    let measured = match plan.api {
        ApiVersion::V4 => measure(target.v4_client()?, &mut target, context).await?,
        ApiVersion::V3 => measure(target.v3_client()?, &mut target, context).await?,
    };
    let Measured {
        ending,
        provisioning,
        resources: monitor_resources,
        skipped_ops,
        search: searched,
    } = measured;
    if let Some(child) = target.child.take() {
        child.stop().await;
    }
    let _ = recorder.flush_samples();

    let end = match &ending {
        Ending::Finished(end) | Ending::Interrupted(Some(end)) => Some(*end),
        _ => None,
    };
    let state = RunState {
        complete: matches!(ending, Ending::Finished(_)),
        end_reason: match &ending {
            Ending::Finished(_) => "finished".to_owned(),
            Ending::Interrupted(_) => "interrupted".to_owned(),
            Ending::Failed(reason) => reason.clone(),
        },
        window_start: end.map(|end| end.window_start),
        ended: end.map_or_else(Instant::now, |end| end.ended),
        started_ops: end.map_or(0, |end| end.started),
        abandoned_ops: end.map_or(0, |end| end.abandoned),
        skipped_ops,
        provisioning,
        resources: monitor_resources,
        step_verdicts: searched
            .as_ref()
            .map(|s| s.verdicts.clone())
            .unwrap_or_default(),
        capacity: searched.as_ref().and_then(|s| s.report.clone()),
    };
    let (run, breaches) = assemble(&frame, &recorder, state);
    let written = run.write_json(&out).and_then(|_| run.write_csv(&out));

    say!("{}", xmtp_opmon::report::summary_table(&run));
    match &written {
        Ok(_) => say!("results: {}", out.display()),
        Err(error) => eprintln!("opmon: {error}"),
    }
    let failing = breaches
        .iter()
        .filter(|breach| breach.fails(frame.strict_thresholds))
        .count();
    if !plan.thresholds.is_empty() {
        let unchecked = breaches.iter().filter(|b| !b.evaluable).count();
        say!(
            "thresholds: {} passed, {} breached, {unchecked} not evaluable",
            plan.thresholds.len() - breaches.len(),
            breaches.len() - unchecked,
        );
        for breach in &breaches {
            say!("  {breach}");
        }
        if unchecked > 0 && !frame.strict_thresholds {
            eprintln!(
                "opmon: warning: {unchecked} threshold(s) could not be checked for lack of samples; --strict-thresholds makes that a failure"
            );
        }
    }
    if let Some(telemetry) = telemetry {
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    }

    let totals = run.operations.iter().fold((0, 0), |(attempts, ok), op| {
        (attempts + op.attempts, ok + op.ok)
    });
    Ok(match ending {
        Ending::Interrupted(_) => {
            eprintln!("opmon: interrupted; partial results are marked incomplete");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Ending::Failed(reason) => {
            eprintln!("opmon: {reason}");
            ExitCode::FAILURE
        }
        Ending::Finished(_) if written.is_err() => ExitCode::FAILURE,
        Ending::Finished(_) if totals.0 > 0 && totals.1 == 0 => {
            eprintln!("opmon: every operation failed ({})", error_summary(&run));
            ExitCode::FAILURE
        }
        Ending::Finished(_) if failing > 0 => ExitCode::from(EXIT_THRESHOLD),
        Ending::Finished(_) if searched.is_some_and(|s| s.below_lowest()) => {
            ExitCode::from(EXIT_THRESHOLD)
        }
        Ending::Finished(_) => ExitCode::SUCCESS,
    })
}

/// `connect 12, timeout 1` over all operations.
fn error_summary(run: &RunResult) -> String {
    let mut classes: BTreeMap<&str, u64> = BTreeMap::new();
    for op in &run.operations {
        for (class, count) in &op.errors {
            *classes.entry(class).or_default() += count;
        }
    }
    classes
        .iter()
        .map(|(class, count)| format!("{class} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}
