//! Fuzzing the run-file reader with mutations of a real `run.json`
//! (tests/fixtures/run.json, written by `opmon bench`): random byte edits,
//! edits of the JSON structure, and edits of the histograms' HDR headers.
//!
//! Whatever the file holds, reading it either refuses with one sentence or
//! gives a run that every consumer (summary.csv, the table, the HTML page,
//! merge, compare) handles without panicking, and reading and merging
//! never hold more memory than a bound proportional to the file.

mod common;

use std::io::Read;
use std::sync::{Mutex, MutexGuard, OnceLock};

use base64::Engine;
use common::fuzz::{config, one_sentence};
use peak_alloc::PeakAlloc;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;
use xmtp_opmon::report::compare::{self, CompareOptions};
use xmtp_opmon::report::{
    merge_runs_with, run_page, summary_csv, summary_table, MergeOptions, RunResult,
};

#[global_allocator]
static MEMORY: PeakAlloc = PeakAlloc;

const FIXTURE: &[u8] = include_bytes!("fixtures/run.json");

/// The most memory reading and merging may hold at once beyond what was
/// held before: the fixture needs about a MiB (decoded histograms are
/// dense arrays); anything the file itself could make larger must grow
/// with its size.
const BASE_BYTES: u64 = 8 << 20;
const PER_INPUT_BYTE: u64 = 64;

/// The memory counters are process-wide, so the targets take turns.
fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn fixture() -> &'static RunResult {
    static RUN: OnceLock<RunResult> = OnceLock::new();
    RUN.get_or_init(|| RunResult::from_json(FIXTURE).expect("the fixture is a valid run"))
}

/// Which consumers besides reading, validating, merging and the text
/// summaries a round feeds: the HTML page and the comparison take 25 ms
/// and over a second in a debug build, so only some rounds run them.
#[derive(Debug, Clone, Copy)]
struct Also {
    page: bool,
    compare: bool,
}

/// The consumers most rounds feed.
const SOME: Also = Also {
    page: false,
    compare: false,
};

/// Reads `bytes` as a run and puts the result through the consumers.
fn check(bytes: &[u8], also: Also) -> Result<(), TestCaseError> {
    // Reading and merging are where numbers from the file size
    // allocations; the page and comparison only walk what was read.
    MEMORY.reset_peak_usage();
    let before = MEMORY.current_usage() as u64;
    // Messages quote what the file holds; a file with escapes may put a
    // line break into a quoted value, which is not the message's fault.
    let plain = !bytes.contains(&b'\\');
    let run = match RunResult::from_json(bytes) {
        Err(error) => {
            let message = error.to_string();
            prop_assert!(!plain || one_sentence(&message), "{message:?}");
            None
        }
        Ok(run) => {
            let mut other = fixture().clone();
            other.run_id.push_str("-other");
            let forced = MergeOptions { force: true };
            match merge_runs_with(&[run.clone(), other], forced) {
                Ok(merged) => prop_assert!(merged.validate().is_ok()),
                Err(error) => prop_assert!(!plain || one_sentence(&error.to_string())),
            }
            Some(run)
        }
    };
    let held = (MEMORY.peak_usage() as u64).saturating_sub(before);
    let bound = BASE_BYTES + PER_INPUT_BYTE * bytes.len() as u64;
    prop_assert!(
        held <= bound,
        "{held} bytes held at the peak, bound {bound}"
    );
    let Some(run) = run else { return Ok(()) };
    let _ = summary_csv(&run);
    let _ = summary_table(&run);
    if also.page {
        let _ = run_page(&run);
    }
    if also.compare {
        let options = CompareOptions {
            threshold: 0.02,
            force: true,
            single_run: true,
        };
        if let Err(error) = compare::compare(&[run], &[fixture().clone()], options) {
            prop_assert!(!plain || one_sentence(&error.to_string()));
        }
    }
    Ok(())
}

/// One edit of the JSON tree; indexes pick among the tree's nodes modulo
/// their number, so every edit applies to any tree.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the n-th leaf.
    Leaf(usize, Value),
    /// Remove the n-th object member.
    Remove(usize),
    /// Repeat the n-th array's first element `k` times.
    Repeat(usize, usize),
}

fn interesting_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop::sample::select(vec![0u64, 1, (1 << 48) + 1, 1_000_000_000_000, u64::MAX])
            .prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![-1.0f64, -0.5, 0.5, 1e12, 1e300, f64::MIN_POSITIVE])
            .prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "x",
            "opmon.run.v2",
            "2026-13-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "identity.create",
            "aGVsbG8=",
        ])
        .prop_map(Value::from),
        (0usize..20_000).prop_map(|n| Value::from("A".repeat(n))),
        Just(Value::Array(Vec::new())),
        Just(Value::Object(serde_json::Map::new())),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        6 => (any::<usize>(), interesting_value()).prop_map(|(n, v)| Edit::Leaf(n, v)),
        2 => any::<usize>().prop_map(Edit::Remove),
        1 => (any::<usize>(), 1usize..300).prop_map(|(n, k)| Edit::Repeat(n, k)),
    ]
}

/// Visits the tree depth-first, calling `visit` on every node with its
/// running index; stops at the first node `visit` accepts.
fn visit_nth(
    value: &mut Value,
    counter: &mut usize,
    visit: &mut dyn FnMut(&mut Value, usize) -> bool,
) -> bool {
    if visit(value, *counter) {
        return true;
    }
    *counter += 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|v| visit_nth(v, counter, visit)),
        Value::Object(members) => members.values_mut().any(|v| visit_nth(v, counter, visit)),
        _ => false,
    }
}

fn count(value: &Value, keep: &dyn Fn(&Value) -> bool) -> usize {
    let own = usize::from(keep(value));
    own + match value {
        Value::Array(items) => items.iter().map(|v| count(v, keep)).sum(),
        Value::Object(members) => members.values().map(|v| count(v, keep)).sum(),
        _ => 0,
    }
}

/// Applies `apply` to the n-th node (modulo their number) that `keep` selects.
fn at_nth(
    root: &mut Value,
    n: usize,
    keep: &dyn Fn(&Value) -> bool,
    apply: &mut dyn FnMut(&mut Value),
) {
    let total = count(root, keep);
    if total == 0 {
        return;
    }
    let target = n % total;
    let mut seen = 0;
    visit_nth(root, &mut 0, &mut |node, _| {
        if !keep(node) {
            return false;
        }
        seen += 1;
        if seen - 1 == target {
            apply(node);
            return true;
        }
        false
    });
}

fn apply(root: &mut Value, edit: &Edit) {
    let leaf = |v: &Value| !v.is_array() && !v.is_object();
    match edit {
        Edit::Leaf(n, new) => at_nth(root, *n, &leaf, &mut |node| *node = new.clone()),
        Edit::Remove(n) => {
            let object = |v: &Value| v.as_object().is_some_and(|m| !m.is_empty());
            at_nth(root, *n, &object, &mut |node| {
                let members = node.as_object_mut().expect("selected objects only");
                let key = members.keys().nth(*n % members.len()).cloned();
                if let Some(key) = key {
                    members.remove(&key);
                }
            });
        }
        Edit::Repeat(n, k) => {
            let array = |v: &Value| v.as_array().is_some_and(|a| !a.is_empty());
            at_nth(root, *n, &array, &mut |node| {
                let items = node.as_array_mut().expect("selected arrays only");
                let first = items[0].clone();
                items.extend(std::iter::repeat_n(first, *k));
            });
        }
    }
}

fn parsed_fixture() -> Value {
    serde_json::from_slice(FIXTURE).expect("the fixture is JSON")
}

#[test]
fn the_fixture_reads_and_survives_every_consumer() {
    let _turn = exclusive();
    let all = Also {
        page: true,
        compare: true,
    };
    check(FIXTURE, all).unwrap();
}

/// The fixture with `edits` applied, as bytes.
fn with_edits(base: &Value, edits: &[Edit]) -> Vec<u8> {
    let mut value = base.clone();
    for edit in edits {
        apply(&mut value, edit);
    }
    serde_json::to_vec(&value).expect("a tree serializes")
}

/// The fixture with `word` (8 bytes if `wide`, else its low 4) written at
/// offset `at` of its n-th histogram's V2 encoding, as bytes.
fn with_header_word(base: &Value, n: usize, at: usize, word: u64, wide: bool) -> Vec<u8> {
    let mut value = base.clone();
    edit_histogram(&mut value, n, &|plain| {
        let bytes = word.to_be_bytes();
        let bytes: &[u8] = if wide { &bytes } else { &bytes[4..] };
        if plain.len() < at + bytes.len() {
            plain.resize(at + bytes.len(), 0);
        }
        plain[at..at + bytes.len()].copy_from_slice(bytes);
    });
    serde_json::to_vec(&value).expect("a tree serializes")
}

/// Inputs the targets found while they were written, kept as they shrank.
#[test]
fn regressions() {
    let _turn = exclusive();
    let base = parsed_fixture();
    // The operations repeated eleven times: twelve histograms of each
    // kind decoded in one read.
    check(
        &with_edits(&base, &[Edit::Repeat(7860986920876623776, 11)]),
        SOME,
    )
    .unwrap();
    // Five significant digits: 17 MB of counts before the header check.
    check(&with_header_word(&base, 0, 8, 5, true), SOME).unwrap();
    // A payload of 4 GiB claimed, allocated by hdrhistogram before reading.
    check(&with_header_word(&base, 0, 4, u32::MAX.into(), false), SOME).unwrap();
}

#[test]
fn structure_edits_are_refused_in_one_sentence_or_read_safely() {
    let _turn = exclusive();
    let base = parsed_fixture();
    let mut runner = TestRunner::new(config(600));
    runner
        .run(
            &(prop::collection::vec(edit(), 1..4), 0u16..400),
            |(edits, pick)| {
                let bytes = with_edits(&base, &edits);
                let also = Also {
                    page: pick % 8 == 0,
                    compare: pick == 0,
                };
                check(&bytes, also)
            },
        )
        .unwrap();
}

#[test]
fn byte_edits_are_refused_in_one_sentence_or_read_safely() {
    let _turn = exclusive();
    let mut runner = TestRunner::new(config(300));
    let edits = prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6);
    runner
        .run(&(edits, any::<usize>()), |(edits, cut)| {
            let mut bytes = FIXTURE.to_vec();
            for (at, byte, how) in edits {
                let at = at % bytes.len();
                match how {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            // Sometimes cut the file short, as a full disk would.
            if cut % 4 == 0 {
                bytes.truncate(cut / 4 % (bytes.len() + 1));
            }
            check(&bytes, SOME)
        })
        .unwrap();
}

/// The n-th histogram of `value`, with `edit` applied to its inflated HDR
/// V2 bytes, written back.
fn edit_histogram(value: &mut Value, n: usize, edit: &dyn Fn(&mut Vec<u8>)) {
    let text = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.starts_with("HIST") && s.len() > 20)
    };
    at_nth(value, n, &text, &mut |node| {
        let b64 = base64::engine::general_purpose::STANDARD;
        let bytes = b64
            .decode(node.as_str().expect("selected strings only"))
            .unwrap();
        let mut plain = Vec::new();
        flate2::read::ZlibDecoder::new(&bytes[8..])
            .read_to_end(&mut plain)
            .unwrap();
        edit(&mut plain);
        let mut packed = Vec::new();
        flate2::read::ZlibEncoder::new(plain.as_slice(), flate2::Compression::fast())
            .read_to_end(&mut packed)
            .unwrap();
        let mut out = bytes[..4].to_vec();
        out.extend((packed.len() as u32).to_be_bytes());
        out.extend(packed);
        *node = Value::from(b64.encode(out));
    });
}

#[test]
fn histogram_header_edits_are_refused_or_read_within_the_bound() {
    let _turn = exclusive();
    let base = parsed_fixture();
    let mut runner = TestRunner::new(config(300));
    // Offsets of the V2 header's fields: payload length, normalizing
    // offset, significant digits, lowest, highest, ratio; then counts.
    let field = prop::sample::select(vec![4usize, 8, 12, 16, 24, 32, 40, 41, 44]);
    let word = prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(u32::MAX as u64),
        0u64..8,
        any::<u64>()
    ];
    runner
        .run(
            &(any::<usize>(), field, word, any::<bool>()),
            |(n, at, word, wide)| check(&with_header_word(&base, n, at, word, wide), SOME),
        )
        .unwrap();
}
