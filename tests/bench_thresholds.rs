//! Thresholds gate CI: every breach is listed and the exit code is 99.

mod common;

use common::bench::bench;

const LOOKUPS: [&str; 6] = ["--scenario", "lookup", "--ops", "20", "--warmup", "0s"];

#[test]
fn breached_thresholds_exit_99_and_are_all_listed() {
    let mut args = LOOKUPS.to_vec();
    args.extend([
        "--threshold",
        "identity.lookup:p50<1us",
        "--threshold",
        "identity.lookup:error_rate<5%",
        "--threshold",
        "group.create:p50<10s",
    ]);
    let ran = bench("breach", &args);
    assert_eq!(ran.code(), Some(99), "{}\n{}", ran.stdout(), ran.stderr());
    let stdout = ran.stdout();
    assert!(
        stdout.contains("1 passed, 2 breached, 0 not evaluable"),
        "{stdout}"
    );
    assert!(
        stdout.contains("identity.lookup:p50<1us breached"),
        "{stdout}"
    );
    assert!(stdout.contains("no operations ran"), "{stdout}");
    let run = ran.run();
    let passed: Vec<bool> = run.thresholds.iter().map(|t| t.passed).collect();
    assert_eq!(passed, [false, true, false]);
    assert!(run.complete, "a breach does not make the run incomplete");
}

#[test]
fn met_thresholds_exit_0() {
    let mut args = LOOKUPS.to_vec();
    args.extend([
        "--threshold",
        "identity.lookup:p50<30s",
        "--max-error-rate",
        "1%",
    ]);
    let ran = bench("pass", &args);
    assert_eq!(ran.code(), Some(0), "{}\n{}", ran.stdout(), ran.stderr());
    assert!(
        ran.stdout().contains("2 passed, 0 breached"),
        "{}",
        ran.stdout()
    );
}

#[test]
fn a_percentile_without_enough_samples_is_not_evaluable() {
    // p99 of 20 lookups is one of the largest two: it cannot be checked.
    let mut args = LOOKUPS.to_vec();
    args.extend(["--threshold", "identity.lookup:p99<30s"]);
    let ran = bench("unevaluable", &args);
    assert_eq!(ran.code(), Some(0), "{}\n{}", ran.stdout(), ran.stderr());
    assert!(
        ran.stdout()
            .contains("identity.lookup:p99<30s not evaluable: 20 samples, p99 needs 1000"),
        "{}",
        ran.stdout()
    );
    assert!(
        ran.stderr().contains("--strict-thresholds"),
        "{}",
        ran.stderr()
    );
    let run = ran.run();
    assert!(run.thresholds[0].passed, "{:?}", run.thresholds);

    args.push("--strict-thresholds");
    let ran = bench("unevaluable-strict", &args);
    assert_eq!(ran.code(), Some(99), "{}\n{}", ran.stdout(), ran.stderr());
    assert!(!ran.run().thresholds[0].passed);
}

#[test]
fn an_error_rate_over_the_limit_breaches() {
    let mut args = LOOKUPS.to_vec();
    args.extend([
        "--inject-error",
        "unavailable=10%",
        "--max-error-rate",
        "5%",
    ]);
    let ran = bench("error-rate", &args);
    assert_eq!(ran.code(), Some(99), "{}\n{}", ran.stdout(), ran.stderr());
    assert!(ran.stdout().contains("10.00%"), "{}", ran.stdout());
}
