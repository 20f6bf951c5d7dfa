//! The fuzz targets' shared configuration: a fixed seed, so that `cargo
//! test` runs the same cases every time, and `OPMON_FUZZ_CASES=N` for
//! longer local runs. Also compiled into the `opmon` binary's tests.

use proptest::test_runner::{Config, RngSeed};

/// The seed every target starts from; a failure reproduces by rerunning.
pub const SEED: u64 = 0x0b5e_55ed_f022;

/// `cases` runs, or `OPMON_FUZZ_CASES` of them when it is set. Shrunk
/// failures are printed; the inputs worth keeping become explicit
/// regression cases beside the target rather than a persistence file.
pub fn config(cases: u32) -> Config {
    let cases = std::env::var("OPMON_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(SEED),
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

/// Whether `message` is one sentence: some text, on one line.
pub fn one_sentence(message: &str) -> bool {
    !message.trim().is_empty() && !message.contains(['\n', '\r'])
}
