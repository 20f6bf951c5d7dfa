//! Naming each side of a comparison by what sets it apart.
//!
//! Run ids say nothing to a reader; "api=v3" against "api=v4" does. Each
//! side is described by the fields whose values differ between the sides
//! (API, target, faults, tags, opmon version), and only by run count when
//! nothing does.

use std::collections::BTreeSet;

use crate::report::RunResult;

/// The facts a side is named by, as `name=value` pairs.
fn facts(run: &RunResult) -> Vec<(String, String)> {
    let p = &run.parameters;
    let target = match (&p.target.kind[..], &p.target.env) {
        (_, Some(env)) => format!("env:{env}"),
        ("embedded", None) => "embedded".to_owned(),
        _ => p.target.node.clone(),
    };
    let mut facts = vec![
        ("api".to_owned(), p.api.clone()),
        ("target".to_owned(), target),
        ("opmon".to_owned(), run.environment.opmon_version.clone()),
    ];
    let faults: Vec<String> = p.faults.iter().map(|(k, v)| format!("{k} {v}")).collect();
    facts.push((
        "faults".to_owned(),
        if faults.is_empty() {
            "none".to_owned()
        } else {
            faults.join(", ")
        },
    ));
    let keys: BTreeSet<&String> = p.tags.keys().collect();
    for key in keys {
        facts.push((format!("tag {key}"), p.tags[key].clone()));
    }
    facts
}

/// The labels of the base and candidate sides.
pub(crate) fn labels(base: &[RunResult], candidate: &[RunResult]) -> (String, String) {
    let values = |runs: &[RunResult], name: &str| -> BTreeSet<String> {
        runs.iter()
            .map(|run| {
                facts(run)
                    .into_iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v)
                    .unwrap_or_else(|| "-".to_owned())
            })
            .collect()
    };
    let names: BTreeSet<String> = base
        .iter()
        .chain(candidate)
        .flat_map(|run| facts(run).into_iter().map(|(name, _)| name))
        .collect();
    let differing: Vec<&String> = names
        .iter()
        .filter(|name| values(base, name) != values(candidate, name))
        .collect();
    let label = |runs: &[RunResult]| {
        let count = match runs {
            [one] => format!("run {}", one.run_id),
            many => format!("{} runs", many.len()),
        };
        if differing.is_empty() {
            return count;
        }
        let parts: Vec<String> = differing
            .iter()
            .map(|name| {
                let set: Vec<String> = values(runs, name).into_iter().collect();
                format!("{name}={}", set.join("|"))
            })
            .collect();
        format!("{} ({count})", parts.join(" "))
    };
    (label(base), label(candidate))
}
