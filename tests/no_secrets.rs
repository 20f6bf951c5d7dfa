//! No key material, signature or payload bytes reach telemetry or logs.
//!
//! The scenario runs in a child process with every log enabled
//! (`RUST_LOG=trace`), exports to an in-process receiver, and scans every
//! exported span attribute, status, resource and metric attribute. The
//! parent then scans the child's log output. The secrets are known because
//! the scenario chooses them.

mod common;

use std::process::Command;

use common::otlp::OtlpReceiver;
use tower::ServiceBuilder;
use xmtp_opmon::client::{ApiVersion, ClientConfig, V4Client, XmtpApi};
use xmtp_opmon::client::{Op, OpResult};
use xmtp_opmon::identity::{InstallationKey, Wallet};
use xmtp_opmon::layer::OpTelemetryLayer;
use xmtp_opmon::proto::associations::{identity_action::Kind, signature::Signature};
use xmtp_opmon::proto::xmtp::mls::api::v1::welcome_message_input::Version;

const CHILD: &str = "OPMON_NO_SECRETS_CHILD";
const WALLET_SECRET: [u8; 32] = [0x5a; 32];
const INSTALLATION_SECRET: [u8; 32] = [0x6b; 32];

/// Every encoding of `bytes` a log or attribute could plausibly show.
fn encodings(bytes: &[u8]) -> Vec<String> {
    let hex = hex::encode(bytes);
    vec![
        hex.clone(),
        hex.to_uppercase(),
        format!("{bytes:?}"),
        // A 16-byte window is enough to recognise a partial dump.
        hex[..32.min(hex.len())].to_owned(),
    ]
}

#[test]
fn secrets_never_reach_telemetry_or_logs() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["child_scenario", "--exact", "--nocapture", "--ignored"])
        .env(CHILD, "1")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    let secrets: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("SECRET "))
        .map(str::to_owned)
        .collect();
    assert!(secrets.len() >= 6, "the child reports what it generated");
    let logs: String = stdout
        .lines()
        .filter(|l| !l.starts_with("SECRET "))
        .chain(stderr.lines())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!logs.is_empty(), "trace logging produced output to scan");
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a log line contains {secret}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs only as the child of secrets_never_reach_telemetry_or_logs"]
async fn child_scenario() {
    let receiver = OtlpReceiver::start();
    let guard = common::export_to(&receiver);
    let node = common::node().await;
    let client = V4Client::connect_traced(node.url(), node.url(), ClientConfig::default()).unwrap();
    let mut ops = ServiceBuilder::new()
        .layer(OpTelemetryLayer::new(ApiVersion::V4))
        .service(client.clone());

    let alice = client
        .register(
            Wallet::from_secret_bytes(&WALLET_SECRET).unwrap(),
            InstallationKey::from_secret_bytes(&INSTALLATION_SECRET),
        )
        .await
        .unwrap();
    let bob = match common::perform(&mut ops, Op::CreateIdentity).await {
        OpResult::Identity(bob) => bob,
        other => panic!("{other:?}"),
    };
    common::perform(
        &mut ops,
        Op::CreateGroup {
            owner: alice.clone(),
            members: vec![bob.inbox_id().to_owned()],
        },
    )
    .await;
    guard.flush();

    // What was generated: keys, signatures, payloads.
    let mut secrets: Vec<Vec<u8>> = vec![WALLET_SECRET.to_vec(), INSTALLATION_SECRET.to_vec()];
    let logs = client
        .api()
        .get_identity_updates(&[(alice.inbox_id().to_owned(), 0)])
        .await
        .unwrap();
    for action in &logs[alice.inbox_id()][0].update.actions {
        let signatures = match action.kind.as_ref().unwrap() {
            Kind::CreateInbox(c) => vec![c.initial_identifier_signature.clone()],
            Kind::Add(a) => vec![
                a.existing_member_signature.clone(),
                a.new_member_signature.clone(),
            ],
            _ => vec![],
        };
        for signature in signatures.into_iter().flatten() {
            match signature.signature.unwrap() {
                Signature::Erc191(s) => secrets.push(s.bytes),
                Signature::InstallationKey(s) => secrets.push(s.bytes),
                _ => {}
            }
        }
    }
    let key_packages = client
        .api()
        .fetch_key_packages(&[alice.installation_key(), bob.installation_key()])
        .await
        .unwrap();
    secrets.extend(key_packages.into_iter().flatten());
    let welcomes = client
        .api()
        .query_welcomes(bob.installation_key(), 0)
        .await
        .unwrap();
    assert_eq!(welcomes.len(), 1);
    if let Some(Version::V1(v1)) = &welcomes[0].welcome.version {
        secrets.push(v1.data.clone());
    }

    let mut exported = String::new();
    for span in receiver.spans() {
        exported.push_str(&format!(
            "{} {:?} {} {:?}\n",
            span.name, span.attributes, span.status_message, span.resource
        ));
    }
    for metric in receiver.metrics() {
        for point in &metric.points {
            exported.push_str(&format!("{} {:?}\n", metric.name, point.attributes));
        }
    }
    exported.push_str(&format!("{alice:?} {bob:?}"));
    assert!(
        exported.contains("identity.create"),
        "telemetry was exported"
    );
    for secret in &secrets {
        for encoding in encodings(secret) {
            assert!(
                !exported.contains(&encoding),
                "exported telemetry contains {encoding}"
            );
            println!("SECRET {encoding}");
        }
    }
    guard.shutdown();
}
