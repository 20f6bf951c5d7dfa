//! Fuzzing every value the command line takes (durations, rates,
//! thresholds, mixes, fault specs, schedules, sizes, tags, …) through
//! clap, exactly as a user's words reach the parsers.
//!
//! The flags are found by walking the command definition, so a flag added
//! later is fuzzed without a change here. Properties: no panic, and a
//! refusal of ours is one sentence.

use std::cell::Cell;
use std::error::Error as _;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use crate::Cli;

#[path = "../../../tests/common/fuzz.rs"]
mod fuzz;

/// `(subcommand, long flag)` for every flag that takes a value.
fn value_flags() -> Vec<(String, String)> {
    let cli = Cli::command();
    let mut flags = Vec::new();
    for sub in cli.get_subcommands() {
        for arg in sub.get_arguments() {
            if let (true, Some(long)) = (arg.get_action().takes_values(), arg.get_long()) {
                flags.push((sub.get_name().to_owned(), long.to_owned()));
            }
        }
    }
    flags
}

/// Pieces the parsers look for, so that random values often get deep.
const PIECES: [&str; 46] = [
    "0",
    "1",
    "7",
    "50",
    "99.9",
    "1e309",
    "-1",
    "18446744073709551616",
    "nan",
    "inf",
    ".",
    "..",
    "-",
    "%",
    "ms",
    "s",
    "m",
    "h",
    "d",
    "us",
    "/",
    "/s",
    "=",
    ",",
    ":",
    "<",
    ">",
    "<=",
    " ",
    "p50",
    "p99",
    "p99.9",
    "max",
    "mean",
    "error_rate",
    "identity",
    "group",
    "add-members",
    "lookup",
    "group.add_members",
    "fixed",
    "uniform",
    "lognormal",
    "unavailable",
    "KiB",
    "GiB",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(PIECES.to_vec()), 0..8)
            .prop_map(|pieces| pieces.concat()),
        1 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
    ]
}

#[test]
fn every_value_is_parsed_or_refused_in_one_sentence() {
    let flags = value_flags();
    assert!(flags.len() > 20, "found only {flags:?}");
    let mut runner = TestRunner::new(fuzz::config(2000));
    // Values accepted, and values a parser refused.
    let seen = Cell::new((0, 0));
    runner
        .run(
            &(prop::sample::select(flags), value()),
            |((sub, long), value)| {
                let argv = ["opmon".to_owned(), sub, format!("--{long}={value}")];
                let (accepted, refused) = seen.get();
                let Err(error) = Cli::try_parse_from(&argv) else {
                    seen.set((accepted + 1, refused));
                    return Ok(());
                };
                if error.kind() != ErrorKind::ValueValidation {
                    return Ok(());
                }
                seen.set((accepted, refused + 1));
                // A value the user typed over several lines is quoted as typed.
                if !value.contains(['\n', '\r']) {
                    let message = error.source().map(ToString::to_string).unwrap_or_default();
                    prop_assert!(fuzz::one_sentence(&message), "{argv:?}: {message:?}");
                }
                Ok(())
            },
        )
        .unwrap();
    // Both outcomes were reached: the values were neither all junk nor all fine.
    let (accepted, refused) = seen.get();
    eprintln!("{accepted} values accepted, {refused} refused by a value parser");
    assert!(
        accepted > 50 && refused > 500,
        "{accepted} accepted, {refused} refused"
    );
}
