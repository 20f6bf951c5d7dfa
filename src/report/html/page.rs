//! The page for one run: header, health, table, plots.
//!
//! The order follows the questions a reader asks. Can I trust this run
//! (did it finish, did it meet its thresholds, was the client the
//! bottleneck)? How did each operation do (the table)? What does the
//! latency look like beyond five percentiles (the spectra)? Was it steady
//! over time? What failed, and how? What did it cost in CPU and memory?

use std::fmt::Write as _;

use super::escape;
use super::{plots, stages};
use crate::report::table::{load_model, mib, ms};
use crate::report::{OperationReport, RunResult};

/// The style sheet, inline so that the page needs nothing else.
const STYLE: &str = "
body { margin: 0; background: #f6f7f9; color: #222;
  font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 20px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h1 code { font-size: 19px; }
h2 { font-size: 17px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d9dce1; }
code { font-family: ui-monospace, 'SF Mono', Menlo, Consolas, monospace; }
.badges { margin: 4px 0 12px; }
.badge { display: inline-block; margin: 0 6px 4px 0; padding: 2px 10px; border-radius: 11px;
  font-size: 13px; font-weight: 600; }
.good { background: #ddf2e5; color: #146236; }
.bad { background: #fbe2dc; color: #9c2410; }
.warn { background: #fff1cc; color: #6d4c00; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 18px; margin: 0; }
dl.facts dt { color: #5f6670; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; background: #fff; font-variant-numeric: tabular-nums;
  border: 1px solid #e1e4e8; }
th, td { padding: 5px 12px; text-align: right; border-bottom: 1px solid #eceef1; }
th { background: #f0f2f5; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
td.bad { color: #9c2410; font-weight: 600; }
tr.unjudged td { color: #9aa0a8; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 14px; }
.gap { height: 14px; }
svg.plot { display: block; width: 100%; height: auto; background: #fff;
  border: 1px solid #e1e4e8; border-radius: 6px; }
p.note { margin: 6px 0; padding: 10px 14px; background: #fff; border: 1px dashed #cdd2d9;
  border-radius: 6px; color: #5f6670; }
.caption { color: #5f6670; font-size: 13px; margin: 6px 0 0; max-width: 80em; }
footer { margin-top: 36px; color: #8a9099; font-size: 12px; }
";

/// The start of a page titled `title` (already escaped), up to the
/// opening of its main content.
pub(crate) fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style></head>\n<body><main>\n"
    )
}

/// The whole page for `run`, as one self-contained HTML document.
pub fn run_page(run: &RunResult) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let id = escape(&run.run_id);
    html.push_str(&head(&format!("opmon run {id}")));
    let _ = writeln!(html, "<h1>opmon run <code>{id}</code></h1>");
    badges(&mut html, run);
    facts(&mut html, run);

    html.push_str("<h2>Operations</h2>\n");
    table(&mut html, run, "Response time", true);
    if run.parameters.load_model == "open" {
        html.push_str("<div class=\"gap\"></div>");
        table(&mut html, run, "Service time", false);
    }
    html.push_str(&stages::section(run));

    // One operation gets the full width; several share rows.
    let (open, width) = match run.operations.len() {
        1 => ("<div>", plots::WIDE),
        _ => (r#"<div class="plots">"#, plots::HALF),
    };
    let _ = writeln!(html, "<h2>Latency by percentile</h2>\n{open}");
    for (i, op) in run.operations.iter().enumerate() {
        html.push_str(&plots::operation_spectrum(op, i, width));
        html.push('\n');
    }
    if run.operations.is_empty() {
        html.push_str(r#"<p class="note">No operations were measured.</p>"#);
    }
    html.push_str(
        "</div>\n<p class=\"caption\">Each line gives, for every percentile, the latency that \
         share of successful operations stayed under; each step right is one more nine. \
         Response time (solid) counts from when an operation was meant to start, service time \
         (dashed) from when it did; in the closed model the two coincide.</p>\n",
    );

    html.push_str("<h2>Throughput</h2>\n");
    html.push_str(&plots::throughput(run));
    html.push_str(
        "\n<p class=\"caption\">Per second of the measured window, counted when operations \
         ended. A last, partial second is shown as a rate over the time it covered, or left out \
         when shorter than half a second.</p>\n<h2>Errors</h2>\n",
    );
    if run.operations.iter().all(|op| op.attempts == op.ok) {
        html.push_str(r#"<p class="note">No errors: every measured operation succeeded.</p>"#);
    } else {
        html.push_str(&plots::error_classes(run));
        html.push_str("\n<div class=\"gap\"></div>\n");
        html.push_str(&plots::errors_over_time(run));
    }
    html.push('\n');

    html.push_str("<h2>CPU and memory</h2>\n");
    if run.resources.samples.is_empty() {
        html.push_str(&plots::cpu(run));
    } else {
        html.push_str("<div class=\"plots\">\n");
        html.push_str(&plots::cpu(run));
        html.push('\n');
        html.push_str(&plots::memory(run));
        let _ = write!(
            html,
            "\n</div>\n<p class=\"caption\">Sampled once a second over the whole run, \
             provisioning and warm-up included. 100% is one core of {}.{}</p>\n",
            run.resources.cores,
            resource_summary(run),
        );
    }

    let _ = write!(
        html,
        "<footer>Written by opmon {} from a run file of schema <code>{}</code>. \
         Self-contained: no scripts, fonts or images are loaded.</footer>\n</main></body></html>\n",
        escape(&run.environment.opmon_version),
        escape(&run.schema),
    );
    html
}

/// The verdicts first: complete or not, thresholds, errors, saturation.
fn badges(html: &mut String, run: &RunResult) {
    html.push_str(r#"<div class="badges">"#);
    let badge = |html: &mut String, class: &str, text: &str| {
        let _ = write!(
            html,
            r#"<span class="badge {class}">{}</span>"#,
            escape(text)
        );
    };
    if run.complete {
        badge(html, "good", &format!("complete ({})", run.end_reason));
    } else {
        badge(html, "bad", &format!("INCOMPLETE: {}", run.end_reason));
    }
    let attempts: u64 = run.operations.iter().map(|op| op.attempts).sum();
    let failed: u64 = run.operations.iter().map(OperationReport::failed).sum();
    let error_share = if attempts == 0 {
        0.0
    } else {
        failed as f64 * 100.0 / attempts as f64
    };
    let errors = format!("{failed} of {attempts} operations failed ({error_share:.2}%)");
    badge(html, if failed == 0 { "good" } else { "warn" }, &errors);
    for threshold in &run.thresholds {
        match (&threshold.passed, &threshold.observed) {
            (true, _) => badge(html, "good", &format!("met {}", threshold.threshold)),
            (false, Some(observed)) => badge(
                html,
                "bad",
                &format!("breached {} ({observed})", threshold.threshold),
            ),
            (false, None) => badge(html, "bad", &format!("breached {}", threshold.threshold)),
        }
    }
    if run.resources.client_saturated {
        badge(
            html,
            "warn",
            "client CPU passed 85% of all cores: the figures may describe the load generator",
        );
    }
    html.push_str("</div>\n");
}

/// `k=v, k=v`, or `none`.
fn pairs<'a>(items: impl Iterator<Item = (&'a String, String)>) -> String {
    let joined: Vec<String> = items.map(|(k, v)| format!("{k}={v}")).collect();
    if joined.is_empty() {
        "none".to_owned()
    } else {
        joined.join(", ")
    }
}

/// How the run was set up and where it ran.
fn facts(html: &mut String, run: &RunResult) {
    let p = &run.parameters;
    let w = &run.window;
    let mut rows: Vec<(&str, String)> = Vec::new();
    let scenario = if p.scenario == "mix" {
        format!(
            "mix of {}",
            pairs(p.weights.iter().map(|(k, v)| (k, v.to_string())))
        )
    } else {
        p.scenario.clone()
    };
    rows.push(("scenario", scenario));
    let mut target = format!("{} · {}", p.api, p.target.kind);
    if let Some(env) = &p.target.env {
        let _ = write!(target, " ({env})");
    }
    let _ = write!(target, " · node {}", p.target.node);
    if p.target.gateway != p.target.node {
        let _ = write!(target, " · gateway {}", p.target.gateway);
    }
    rows.push(("target", target));
    let mut load = load_model(p);
    if let Some(ops) = p.ops {
        let _ = write!(load, " · {ops} operations planned");
    }
    if let Some(duration) = p.duration_s {
        let _ = write!(load, " · {duration} s planned");
    }
    if p.weights.keys().any(|op| op.starts_with("group.")) {
        let _ = write!(load, " · groups of {}, adding {}", p.group_size, p.add);
    }
    rows.push(("load", load));
    let mut window = format!(
        "{:.2} s measured after {:.1} s warm-up ({} warm-up operations); started {}",
        w.measured_s, w.warmup_s, w.warmup_ops, run.started_at
    );
    if w.skipped_ops > 0 || w.abandoned_ops > 0 {
        let _ = write!(
            window,
            "; not measured: {} additions skipped, {} operations still running at the end",
            w.skipped_ops, w.abandoned_ops
        );
    }
    rows.push(("window", window));
    let v = &run.provisioning;
    rows.push((
        "provisioned",
        format!(
            "{} identities and {} groups in {:.2} s; {} replacement groups during the run",
            v.identities, v.groups, v.seconds, v.replacement_groups
        ),
    ));
    rows.push((
        "faults",
        pairs(p.faults.iter().map(|(k, v)| (k, v.clone()))),
    ));
    rows.push(("tags", pairs(p.tags.iter().map(|(k, v)| (k, v.clone())))));
    rows.push(("seed", p.seed.to_string()));
    let e = &run.environment;
    let threads = e
        .threads
        .map(|threads| format!(" · {threads} load threads"))
        .unwrap_or_default();
    rows.push((
        "machine",
        format!(
            "{} {} · {} cores{threads} · opmon {}",
            e.os, e.arch, e.cores, e.opmon_version
        ),
    ));
    if !run.merged_from.is_empty() {
        let parts: Vec<&str> = run.merged_from.iter().map(|p| p.run_id.as_str()).collect();
        rows.push(("merged from", parts.join(", ")));
    }

    html.push_str("<dl class=\"facts\">\n");
    for (name, value) in rows {
        let _ = writeln!(html, "<dt>{name}</dt><dd>{}</dd>", escape(&value));
    }
    html.push_str("</dl>\n");
}

/// Counts, error rate and percentiles per operation.
fn table(html: &mut String, run: &RunResult, title: &str, response: bool) {
    let _ = writeln!(
        html,
        "<table><thead><tr><th>{title}</th><th>attempts</th><th>ok</th><th>error %</th>\
         <th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>ok/s</th>\
         </tr></thead><tbody>"
    );
    for op in &run.operations {
        table_row(html, op, response);
    }
    html.push_str("</tbody></table>\n");
}

fn table_row(html: &mut String, op: &OperationReport, response: bool) {
    let p = if response {
        &op.response_ms
    } else {
        &op.service_ms
    };
    // Without successes there are no latencies, and zeros would lie.
    let latency = |value: f64| {
        if op.ok == 0 {
            "–".to_owned()
        } else {
            ms(value)
        }
    };
    let error_class = if op.attempts > op.ok {
        " class=\"bad\""
    } else {
        ""
    };
    let _ = writeln!(
        html,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td{error_class}>{:.2}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
        escape(&op.operation),
        op.attempts,
        op.ok,
        op.error_rate * 100.0,
        latency(p.p50),
        latency(p.p90),
        latency(p.p99),
        latency(p.p99_9),
        latency(p.max),
        op.throughput_per_s,
    );
}

/// A sentence on the mean and peak use, when sampled.
fn resource_summary(run: &RunResult) -> String {
    let r = &run.resources;
    let mut out = String::new();
    for (name, summary) in [("Client", &r.client), ("Node", &r.node)] {
        if let Some(s) = summary.as_ref().filter(|s| s.samples > 0) {
            let _ = write!(
                out,
                " {name}: CPU mean {:.0}%, max {:.0}%; RSS peak {}.",
                s.mean_cpu_percent,
                s.max_cpu_percent,
                mib(s.peak_rss_bytes)
            );
        }
    }
    escape(&out)
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use hdrhistogram::Histogram;

    use super::*;
    use crate::load::new_histogram;
    use crate::report::{
        encode_histogram, Environment, Histograms, Parameters, Percentiles, ProvisioningReport,
        ResourcePoint, Resources, Target, TimelinePoint, Window, RUN_SCHEMA,
    };

    /// An operation with the given latencies (µs) and errors by class.
    pub(crate) fn op(name: &str, latencies_us: &[u64], errors: &[(&str, u64)]) -> OperationReport {
        let mut h: Histogram<u64> = new_histogram();
        for &us in latencies_us {
            h.record(us).unwrap();
        }
        let failed: u64 = errors.iter().map(|(_, n)| n).sum();
        let ok = latencies_us.len() as u64;
        OperationReport {
            operation: name.to_owned(),
            attempts: ok + failed,
            ok,
            errors: errors.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            error_rate: if ok + failed == 0 {
                0.0
            } else {
                failed as f64 / (ok + failed) as f64
            },
            throughput_per_s: ok as f64,
            attempts_per_s: (ok + failed) as f64,
            response_ms: Percentiles::of(&h),
            service_ms: Percentiles::of(&h),
            max_schedule_lag_ms: 0.0,
            histograms: Histograms {
                response_us: encode_histogram(&h),
                service_us: encode_histogram(&h),
            },
            phases: Vec::new(),
            timeline: if ok + failed == 0 {
                Vec::new()
            } else {
                vec![TimelinePoint {
                    second: 0,
                    ok,
                    errors: failed,
                    mean_response_ms: 1.0,
                    max_response_ms: 2.0,
                }]
            },
        }
    }

    /// A complete, one-second run of `operations`.
    pub(crate) fn run_with(operations: &[OperationReport]) -> RunResult {
        RunResult {
            schema: RUN_SCHEMA.to_owned(),
            run_id: "20260101T000000Z-test".to_owned(),
            started_at: "2026-01-01T00:00:00.000Z".to_owned(),
            finished_at: "2026-01-01T00:00:03.000Z".to_owned(),
            window_started_at: "2026-01-01T00:00:01.000Z".to_owned(),
            complete: true,
            end_reason: "finished".to_owned(),
            parameters: Parameters {
                api: "v4".into(),
                target: Target {
                    kind: "embedded".into(),
                    node: "http://127.0.0.1:5050".into(),
                    gateway: "http://127.0.0.1:5050".into(),
                    env: None,
                },
                scenario: "mix".into(),
                weights: BTreeMap::from([("identity.lookup".to_owned(), 1)]),
                load_model: "closed".into(),
                concurrency: Some(1),
                ..Parameters::default()
            },
            environment: Environment {
                opmon_version: "0.1.0".into(),
                os: "linux".into(),
                arch: "x86_64".into(),
                cores: 2,
                threads: Some(2),
            },
            provisioning: ProvisioningReport::default(),
            window: Window {
                measured_s: 1.0,
                ..Window::default()
            },
            operations: operations.to_vec(),
            resources: Resources {
                cores: 2,
                samples: vec![
                    ResourcePoint {
                        t_s: 1.0,
                        client_cpu_percent: 40.0,
                        client_rss_bytes: 20 << 20,
                        node_cpu_percent: Some(10.0),
                        node_rss_bytes: Some(18 << 20),
                    },
                    ResourcePoint {
                        t_s: 2.0,
                        client_cpu_percent: 60.0,
                        client_rss_bytes: 21 << 20,
                        node_cpu_percent: Some(15.0),
                        node_rss_bytes: Some(18 << 20),
                    },
                ],
                ..Resources::default()
            },
            thresholds: Vec::new(),
            stages: Vec::new(),
            capacity: None,
            merged_from: Vec::new(),
        }
    }

    fn plots(page: &str) -> usize {
        page.matches(r#"<svg class="plot""#).count()
    }

    fn assert_clean(page: &str) {
        assert!(!page.contains("NaN"), "NaN in the page");
        assert!(!page.contains("inf"), "inf in the page");
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(!page.contains("<script") && !page.contains("src="));
    }

    #[test]
    fn a_healthy_run_has_a_spectrum_per_operation() {
        let run = run_with(&[
            op("identity.create", &[30_000, 35_000, 90_000], &[]),
            op("identity.lookup", &[900, 1_100, 1_300, 4_000], &[]),
        ]);
        let page = run_page(&run);
        assert_clean(&page);
        assert_eq!(page.matches(": latency by percentile</title>").count(), 2);
        // Two spectra, throughput, CPU, memory; no error plots.
        assert_eq!(plots(&page), 5, "{page}");
        assert!(page.contains("No errors: every measured operation succeeded."));
        assert!(!page.contains("Errors per second"));
        assert!(page.contains("complete (finished)"));
        assert!(!page.contains("groups of"), "no groups in a run of lookups");
        assert!(page.contains("2 cores · 2 load threads"));
    }

    #[test]
    fn errors_get_their_own_plots() {
        let mut run = run_with(&[op(
            "identity.lookup",
            &[900, 1_100],
            &[("unavailable", 3), ("rate_limited", 1)],
        )]);
        run.complete = false;
        run.end_reason = "interrupted".into();
        let page = run_page(&run);
        assert_clean(&page);
        // Spectrum, throughput, errors per second, errors by class, CPU, memory.
        assert_eq!(plots(&page), 6, "{page}");
        assert!(page.contains("identity.lookup · unavailable"));
        assert!(page.contains("3 (50.00% of attempts)"));
        assert!(page.contains("INCOMPLETE: interrupted"));
        assert!(page.contains("4 of 6 operations failed (66.67%)"));
    }

    #[test]
    fn empty_data_gives_notes_not_broken_plots() {
        // Nothing succeeded, no timeline at all, no resource samples.
        let mut failing = op("group.create", &[], &[("unavailable", 2)]);
        failing.timeline.clear();
        let idle = op("identity.lookup", &[], &[]);
        let mut run = run_with(&[failing, idle]);
        run.resources.samples.clear();
        run.window.measured_s = 0.0;
        let page = run_page(&run);
        assert_clean(&page);
        assert!(page.contains("group.create: no successful operations"));
        assert!(page.contains("Nothing succeeded in the measured window"));
        assert!(page.contains("no per-second timeline"));
        assert_eq!(page.matches("too short to sample").count(), 1);
        // Only the bars of the error classes are drawn.
        assert_eq!(plots(&page), 1, "{page}");
        assert!(page.contains("<td>–</td>"), "no latency rather than zero");
    }

    #[test]
    fn a_single_sample_is_drawn_as_dots() {
        let mut run = run_with(&[op("identity.lookup", &[2_500], &[])]);
        run.resources.samples.truncate(1);
        run.resources.samples[0].node_cpu_percent = None;
        run.resources.samples[0].node_rss_bytes = None;
        let page = run_page(&run);
        assert_clean(&page);
        assert_eq!(plots(&page), 4, "{page}");
        assert!(page.contains("<circle"));
        assert!(!page.contains("embedded node"));
    }

    #[test]
    fn unreadable_histograms_are_reported_not_drawn() {
        let mut broken = op("identity.lookup", &[1_000], &[]);
        broken.histograms.response_us = "not base64!".into();
        let page = run_page(&run_with(&[broken]));
        assert_clean(&page);
        assert!(page.contains("the latency histograms could not be read"));
    }

    #[test]
    fn user_text_is_escaped_everywhere() {
        let mut run = run_with(&[op("identity.lookup", &[1_000], &[("<b>odd</b>", 1)])]);
        run.parameters
            .tags
            .insert("note".into(), "<script>alert('x')</script>".into());
        run.parameters
            .faults
            .insert("inject-error".into(), "unavailable=5%&more".into());
        let page = run_page(&run);
        assert_clean(&page);
        assert!(page.contains("note=&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(page.contains("inject-error=unavailable=5%&amp;more"));
        assert!(page.contains("identity.lookup · &lt;b&gt;odd&lt;/b&gt;"));
        assert!(!page.contains("<b>odd"));
    }
}
