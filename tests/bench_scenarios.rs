//! Every scenario runs end to end through `opmon bench` against the
//! embedded node and writes complete, consistent results.

mod common;

use common::bench::bench_ok;

#[test]
fn each_scenario_measures_its_operation() {
    // Each with a phase it runs once per operation (a lookup has none).
    for (scenario, extra, operation, phase) in [
        (
            "identity",
            &[][..],
            "identity.create",
            Some("key_package.publish"),
        ),
        (
            "group",
            &["--group-size", "3"][..],
            "group.create",
            Some("mls.group_new"),
        ),
        (
            "add-members",
            &["--group-size", "2", "--add", "2"][..],
            "group.add_members",
            Some("commit.publish"),
        ),
        ("lookup", &["--threads", "1"][..], "identity.lookup", None),
    ] {
        let mut args = vec!["--scenario", scenario, "--ops", "6", "--warmup", "0s"];
        args.extend_from_slice(extra);
        let ran = bench_ok(scenario, &args);
        let run = ran.run();
        assert!(run.complete, "{scenario}");
        // The load generator's worker threads: one when asked, else one per core.
        let threads = run.environment.threads.unwrap();
        assert!(threads >= 1);
        if scenario == "lookup" {
            assert_eq!(threads, 1);
        }
        assert_eq!(run.parameters.scenario, scenario);
        assert_eq!(run.operations.len(), 1, "{scenario}: {:?}", run.operations);
        let op = &run.operations[0];
        assert_eq!(op.operation, operation);
        assert_eq!((op.attempts, op.ok), (6, 6), "{scenario}: {:?}", op.errors);
        assert!(op.response_ms.p50 > 0.0 && op.response_ms.max >= op.response_ms.p50);
        assert!(op.throughput_per_s > 0.0);
        assert!(ran.stdout().contains(operation), "{}", ran.stdout());
        match phase {
            Some(name) => {
                let phase = op.phases.iter().find(|p| p.phase == name);
                let phase = phase.unwrap_or_else(|| panic!("no {name} in {:?}", op.phases));
                assert_eq!((phase.ok, phase.failed), (6, 0), "{name}");
                let p50 = phase.duration_ms.p50;
                assert!(p50 > 0.0 && p50 <= op.service_ms.max, "{name}: {p50}");
            }
            None => assert!(op.phases.is_empty(), "{:?}", op.phases),
        }

        let csv = std::fs::read_to_string(ran.dir.join("summary.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2, "{csv}");
        assert!(lines[0].starts_with("run_id,"));
        assert!(lines[1].starts_with(&run.run_id) && lines[1].contains(operation));
    }
}

#[test]
fn additions_grow_groups_by_the_requested_size() {
    // Eight additions of three into groups of four: each group takes a few
    // additions and is replaced, outside the measurement.
    let ran = bench_ok(
        "add-sizes",
        &[
            "--scenario",
            "add-members",
            "--group-size",
            "4",
            "--add",
            "3",
            "--ops",
            "8",
            "--warmup",
            "0s",
            "--concurrency",
            "2",
        ],
    );
    let run = ran.run();
    let op = ran.op("group.add_members");
    assert_eq!((op.attempts, op.ok), (8, 8), "{:?}", op.errors);
    assert_eq!(run.parameters.add, 3);
    // 4 owners and the 3 founding members, then 3 per addition a group takes.
    assert!(run.provisioning.identities >= 4 + 3 + 3);
    assert!(run.provisioning.groups >= 2);
}

#[test]
fn a_mix_draws_operations_by_weight_and_samples_every_attempt() {
    let ran = bench_ok(
        "mix",
        &[
            "--scenario",
            "mix",
            "--mix",
            "identity=1,lookup=3",
            "--ops",
            "40",
            "--warmup",
            "0s",
            "--seed",
            "7",
            "--samples",
            "--tag",
            "build=abc123",
        ],
    );
    let run = ran.run();
    let counts: Vec<(String, u64)> = run
        .operations
        .iter()
        .map(|op| (op.operation.clone(), op.attempts))
        .collect();
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<u64>(), 40, "{counts:?}");
    assert!(counts.iter().all(|(_, n)| *n > 0), "{counts:?}");
    assert_eq!(run.parameters.seed, 7);
    assert_eq!(run.parameters.tags["build"], "abc123");
    assert_eq!(run.parameters.weights["identity.lookup"], 3);

    let samples = std::fs::read_to_string(ran.dir.join("samples.csv")).unwrap();
    let rows: Vec<&str> = samples.lines().collect();
    assert_eq!(rows[0], xmtp_opmon::load::SAMPLES_HEADER);
    assert_eq!(rows.len(), 41, "one row per attempt");
    assert!(rows[1..].iter().all(|row| row.contains(",ok,")));
}

#[test]
fn every_operation_runs_over_v3_too() {
    let ran = bench_ok(
        "v3",
        &[
            "--api",
            "v3",
            "--scenario",
            "mix",
            "--mix",
            "identity=1,group=1,add-members=1,lookup=1",
            "--group-size",
            "3",
            "--ops",
            "24",
            "--warmup",
            "0s",
            "--seed",
            "3",
        ],
    );
    let run = ran.run();
    assert_eq!(run.parameters.api, "v3");
    assert_eq!(run.operations.len(), 4, "{:?}", run.operations);
    for op in &run.operations {
        assert_eq!(op.attempts, op.ok, "{}: {:?}", op.operation, op.errors);
    }
    assert_eq!(run.operations.iter().map(|op| op.attempts).sum::<u64>(), 24);
}
