//! `opmon report` turns a real run into a page that stands on its own and
//! that a browser draws without complaint.
//!
//! The browser half needs `/usr/bin/chromium`, so it is ignored by a plain
//! `cargo test`; CI installs Chromium and runs it with `--include-ignored`.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use common::bench::{bench_ok, out_dir, Ran};

const CHROMIUM: &str = "/usr/bin/chromium";
/// Long enough for a cold start on a loaded 2-core machine.
const BROWSER_LIMIT: Duration = Duration::from_secs(60);

fn opmon_report(run: &Path, html: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opmon"))
        .arg("report")
        .arg(run)
        .arg("--html")
        .arg(html)
        .output()
        .expect("opmon runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A page made by `opmon report` from a real run, and its number of plots.
fn page_of_a_bench_run() -> (Ran, PathBuf, usize) {
    let ran = bench_ok(
        "html",
        &[
            "--scenario",
            "mix",
            "--mix",
            "identity=1,lookup=1",
            "--ops",
            "40",
            "--warmup",
            "0s",
        ],
    );
    let (page_path, _, plots) = page_of(&ran);
    (ran, page_path, plots)
}

/// `opmon report` of `ran`: the page's path, its text and its number of plots.
fn page_of(ran: &Ran) -> (PathBuf, String, usize) {
    let page_path = ran.dir.join("report.html");
    let out = opmon_report(&ran.dir, &page_path);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&page_path).unwrap();
    let plots = page.matches(r#"<svg class="plot""#).count();
    (page_path, page, plots)
}

#[test]
fn a_bench_run_becomes_a_self_contained_page() {
    let (ran, page_path, plots) = page_of_a_bench_run();
    let out = opmon_report(&ran.dir, &page_path);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("report: {}\n", page_path.display())
    );
    let page = std::fs::read_to_string(&page_path).unwrap();

    // Nothing is fetched: no scripts, links, images, imports or URLs in
    // CSS. The one address on the page is the target's, shown as text.
    for fetch in [
        "<script", "src=", "href=", "url(", "@import", "<link", "<img",
    ] {
        assert!(!page.contains(fetch), "the page fetches with {fetch}");
    }
    let target = ran.run().parameters.target.node;
    let without_target = page.replace(&target, "");
    assert!(!without_target.contains("http://") && !without_target.contains("https://"));

    // A spectrum per operation, and throughput; CPU and memory when the
    // run lasted long enough to be sampled.
    assert_eq!(page.matches(": latency by percentile</title>").count(), 2);
    assert!(plots >= 3, "{plots} plots");
    assert!(page.contains("<title>Successes per second</title>"));
    assert!(page.contains("No errors: every measured operation succeeded."));

    // A page that cannot be written is a clear failure.
    let nowhere = ran.dir.join("no-such-directory").join("report.html");
    let out = opmon_report(&ran.dir, &nowhere);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("opmon: cannot write the report to ") && stderr.contains("report.html"),
        "{stderr}"
    );
}

#[test]
fn a_missing_run_is_a_one_sentence_error() {
    let dir = out_dir("html-missing");
    let out = opmon_report(&dir, &dir.join("report.html"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("opmon: cannot read "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!dir.join("report.html").exists());
}

#[test]
#[ignore = "needs chromium"]
fn chromium_draws_the_page() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run `apt-get install chromium`"
    );
    let (_, page, plots) = page_of_a_bench_run();
    browse(&page, plots);
}

/// A page made from a real capacity search against a node with one worker
/// and 10 ms a call (a capacity of 100/s), and its number of plots.
fn page_of_a_search() -> (PathBuf, String, usize) {
    let ran = bench_ok(
        "html-search",
        &[
            "--scenario",
            "lookup",
            "--workers",
            "1",
            "--inject-latency",
            "fixed:10ms",
            "--find-capacity",
            "identity.lookup:p99<200ms",
            "--step",
            "1s",
            "--warmup",
            "300ms",
        ],
    );
    page_of(&ran)
}

#[test]
fn a_search_page_shows_latency_against_rate() {
    let (_, page, _) = page_of_a_search();
    assert!(page.contains("<h2>Stages</h2>"));
    assert!(page.contains("<title>Response time against achieved rate</title>"));
    assert!(page.contains("<title>Rate over time</title>"));
    assert!(
        page.contains("Capacity search (identity.lookup:p99&lt;200ms)"),
        "the verdict"
    );
    // One table row per step, each judged.
    assert!(
        page.matches("<td>held</td>").count() >= 3,
        "steps that held"
    );
    assert!(page.contains("<td>broke: "), "a step that broke");
}

#[test]
#[ignore = "needs chromium"]
fn chromium_draws_the_search_page() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run `apt-get install chromium`"
    );
    let (page, _, plots) = page_of_a_search();
    browse(&page, plots);
}

/// Headless Chromium with a profile of its own (so runs never share
/// one), its output in files under `dir` named after `name`.
fn run_chromium(dir: &Path, name: &str, args: &[String]) -> (String, String) {
    let stdout = dir.join(format!("{name}.stdout"));
    let stderr = dir.join(format!("{name}.stderr"));
    let mut command = Command::new(CHROMIUM);
    command
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .arg(format!("--user-data-dir={}", dir.join(name).display()))
        .args(args)
        .stdin(Stdio::null())
        // Files rather than pipes: Chromium's helper processes inherit
        // them, and a pipe held open by a straggler would block a reader.
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap());
    let status = wait_with_deadline(command, BROWSER_LIMIT);
    let (out, err) = (
        std::fs::read_to_string(&stdout).unwrap_or_default(),
        std::fs::read_to_string(&stderr).unwrap_or_default(),
    );
    assert!(status.success(), "chromium {name}: {status}\n{err}");
    (out, err)
}

/// Runs `command` in a process group of its own and waits for it, killing
/// the whole group if it is still running after `limit`.
fn wait_with_deadline(mut command: Command, limit: Duration) -> ExitStatus {
    use std::os::unix::process::CommandExt;
    let mut child = command.process_group(0).spawn().expect("chromium starts");
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("chromium can be waited for") {
            return status;
        }
        if Instant::now() >= deadline {
            // The group's id is the child's: this ends the browser and the
            // helpers it started, and nothing else.
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(format!("-{}", child.id()))
                .status();
            let _ = child.wait();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Opens the page in Chromium: a screenshot with something on it, and a
/// rendered document with the plots drawn and nothing on the console.
fn browse(page: &Path, plots: usize) {
    let dir = out_dir("html-chromium");
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("file://{}", page.display());

    let png = dir.join("report.png");
    run_chromium(
        &dir,
        "screenshot",
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2400".into(),
            url.clone(),
        ],
    );
    let image = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(image.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // The IHDR chunk follows the signature: width, then height.
    let dimension = |at: usize| u32::from_be_bytes(image[at..at + 4].try_into().unwrap());
    assert_eq!((dimension(16), dimension(20)), (1280, 2400));
    // A blank page compresses to a few kilobytes; plots and text do not.
    assert!(image.len() > 40_000, "{} bytes: nearly blank", image.len());

    let (dom, log) = run_chromium(
        &dir,
        "dom",
        &[
            "--enable-logging=stderr".into(),
            "--v=0".into(),
            "--dump-dom".into(),
            url,
        ],
    );
    assert_eq!(dom.matches(r#"<svg class="plot""#).count(), plots);
    assert!(dom.matches("<polyline").count() >= 3, "lines drawn");
    assert!(dom.contains("<text") && dom.contains("<line"));
    // Chromium writes console messages (and uncaught exceptions) to the
    // log as CONSOLE lines; a page without scripts should cause none.
    let console: Vec<&str> = log
        .lines()
        .filter(|line| line.to_lowercase().contains("console") || line.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console output: {console:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}
