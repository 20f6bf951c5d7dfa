//! What the other side sees: `identity.visible`, `member.visible` and
//! `message.visible` measure real receipt (a decrypted text, a group
//! joined at the commit's epoch, an inbox another connection resolves),
//! count from the start of the write, and show V4's indexer lag where it
//! applies — on the chain path (identities and commits), not on the node
//! path (welcomes and application messages) — and never on V3.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tower::{Service, ServiceBuilder, ServiceExt};
use xmtp_opmon::client::{ApiVersion, Client, ClientError, Op, OpResult, WelcomeWatch, XmtpApi};
use xmtp_opmon::layer::{OpTelemetryLayer, Outcome};
use xmtp_opmon::node::{Faults, NodeConfig, RunningNode};

use common::bench::{bench, bench_ok};

const LAG: Duration = Duration::from_millis(500);

async fn lagging_node() -> RunningNode {
    common::node_with(NodeConfig {
        faults: Faults {
            indexer_lag: LAG,
            ..Faults::default()
        },
        ..NodeConfig::default()
    })
    .await
}

/// Each operation's name and duration, as the layer measured it.
type Seen = Arc<Mutex<Vec<(&'static str, Duration)>>>;

/// Performs `op` through the layer and expects success.
async fn perform<S>(ops: &mut S, op: Op) -> OpResult
where
    S: Service<Op, Response = OpResult, Error = ClientError>,
{
    ops.ready().await.unwrap().call(op).await.unwrap()
}

/// Every visibility operation once, through the layer, on a node whose
/// indexer lags by [`LAG`]; returns what the layer measured.
async fn measure_everything<A: XmtpApi>(
    client: Client<A>,
    reader: Client<A>,
    api: ApiVersion,
) -> Seen {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let client = client.with_reader(&reader);
    let mut ops = ServiceBuilder::new()
        .layer(
            OpTelemetryLayer::new(api).observe(move |outcome: &Outcome| {
                assert!(outcome.is_ok(), "{outcome:?}");
                record
                    .lock()
                    .unwrap()
                    .push((outcome.operation, outcome.duration));
            }),
        )
        .service(client.clone());

    // identity.create, then another connection reads the inbox.
    let since = Instant::now();
    let OpResult::Identity(alice) = perform(&mut ops, Op::CreateIdentity).await else {
        panic!("an identity")
    };
    let op = Op::AwaitIdentity {
        since,
        address: alice.address().to_owned(),
        inbox_id: alice.inbox_id().to_owned(),
        installation: alice.installation_key(),
    };
    perform(&mut ops, op).await;

    // A group of alice and bob; bob reads it by stream.
    let bob = client.create_identity().await.unwrap();
    let group = client
        .create_group(&alice, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();
    let group = Arc::new(tokio::sync::Mutex::new(group));
    let joined = client.join_groups(&bob).await.unwrap().remove(0);
    let receiver = Arc::new(client.receive_by_stream(joined));

    // message.send, then bob decrypts that very text.
    let text = "gm from the other side".to_owned();
    let since = Instant::now();
    let send = Op::SendMessage {
        group: group.clone(),
        text: text.clone(),
    };
    perform(&mut ops, send).await;
    let op = Op::AwaitMessage {
        since,
        receiver: receiver.clone(),
        text,
    };
    perform(&mut ops, op).await;
    let never = receiver
        .wait_for("never sent", Duration::from_millis(50))
        .await;
    assert!(
        matches!(never, Err(ClientError::NotVisible { .. })),
        "{never:?}"
    );

    // group.add_members, then the newcomer joins from its welcome: by
    // polling for carol, by stream for dave.
    for watch in [WelcomeWatch::Poll, WelcomeWatch::Stream] {
        let newcomer = client.create_identity().await.unwrap();
        let inbox = Arc::new(client.welcome_inbox(newcomer.clone(), watch));
        let since = Instant::now();
        let add = Op::AddMembers {
            group: group.clone(),
            members: vec![newcomer.inbox_id().to_owned()],
        };
        let OpResult::Added(report) = perform(&mut ops, add).await else {
            panic!("an addition")
        };
        assert_eq!(report.epoch, group.lock().await.epoch());
        let op = Op::AwaitMember {
            since,
            newcomer: inbox,
            group_id: report.group_id,
            epoch: report.epoch,
        };
        perform(&mut ops, op).await;
    }

    // A newcomer who joins at another epoch than the commit made is not
    // counted as seeing the group.
    let erin = client.create_identity().await.unwrap();
    let inbox = client.welcome_inbox(erin.clone(), WelcomeWatch::Poll);
    let report = {
        let mut group = group.lock().await;
        client
            .add_members(&mut group, &[erin.inbox_id().to_owned()])
            .await
            .unwrap()
    };
    let error = client
        .await_member(&inbox, report.group_id, report.epoch + 1)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("epoch"), "{error}");
    seen
}

fn durations(seen: &Seen, operation: &str) -> Vec<Duration> {
    let seen = seen.lock().unwrap();
    let found: Vec<Duration> = seen
        .iter()
        .filter(|(name, _)| *name == operation)
        .map(|(_, duration)| *duration)
        .collect();
    assert!(!found.is_empty(), "no {operation} in {seen:?}");
    found
}

#[tokio::test]
async fn on_v4_the_indexer_lag_delays_new_members_and_identities_but_not_messages() {
    let node = lagging_node().await;
    let seen =
        measure_everything(common::client(&node), common::client(&node), ApiVersion::V4).await;
    for chain_path in ["identity.visible", "member.visible"] {
        for duration in durations(&seen, chain_path) {
            assert!(duration >= LAG, "{chain_path} took {duration:?}");
        }
    }
    // (The welcome itself travels the node path: the lag is in the commit
    // the addition waits for before it sends the welcomes. A newcomer
    // reading by stream may even join before the addition returns.)
    for duration in durations(&seen, "message.visible") {
        assert!(duration < LAG, "message.visible took {duration:?}");
    }
}

#[tokio::test]
async fn on_v3_nothing_waits_for_an_indexer() {
    let node = lagging_node().await;
    let seen = measure_everything(
        common::v3_client(&node),
        common::v3_client(&node),
        ApiVersion::V3,
    )
    .await;
    for operation in ["identity.visible", "member.visible", "message.visible"] {
        for duration in durations(&seen, operation) {
            assert!(duration < LAG, "{operation} took {duration:?}");
        }
    }
}

#[test]
fn bench_follows_each_write_with_its_visibility() {
    for (api, welcomes) in [("v4", "poll"), ("v3", "stream")] {
        let ran = bench_ok(
            &format!("visibility-{api}"),
            &[
                "--api",
                api,
                "--mix",
                "identity=1,add-members=1,message=1",
                "--visibility",
                "--welcomes",
                welcomes,
                "--group-size",
                "3",
                "--concurrency",
                "2",
                "--ops",
                "24",
                "--warmup",
                "0s",
            ],
        );
        let run = ran.run();
        assert_eq!(run.parameters.visibility.as_deref(), Some(welcomes));
        for (write, visible) in [
            ("identity.create", "identity.visible"),
            ("group.add_members", "member.visible"),
            ("message.send", "message.visible"),
        ] {
            let (write, visible) = (ran.op(write), ran.op(visible));
            assert!(write.ok > 0, "{api}: {}", ran.stdout());
            assert_eq!(
                (visible.attempts, visible.ok),
                (write.ok, write.ok),
                "{api}: one measurement per successful write\n{}",
                ran.stdout()
            );
        }
    }
}

#[test]
fn visibility_flags_are_checked() {
    let ran = bench("welcomes-alone", &["--welcomes", "poll", "--ops", "1"]);
    assert_eq!(ran.code(), Some(1), "{}", ran.stderr());
    assert!(ran.stderr().contains("--visibility"), "{}", ran.stderr());

    let ran = bench(
        "welcomes-bad",
        &["--visibility", "--welcomes", "carrier-pigeon"],
    );
    assert_eq!(ran.code(), Some(1), "{}", ran.stderr());
    assert!(
        ran.stderr().contains("neither `stream` nor `poll`"),
        "{}",
        ran.stderr()
    );

    let ran = bench(
        "visibility-alone",
        &[
            "--scenario",
            "messages",
            "--visibility",
            "--group-size",
            "1",
            "--ops",
            "1",
        ],
    );
    assert_eq!(ran.code(), Some(1), "{}", ran.stderr());
    assert!(
        ran.stderr().contains("group size of at least 2"),
        "{}",
        ran.stderr()
    );
}
