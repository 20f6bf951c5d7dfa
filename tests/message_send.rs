//! `message.send` is a real MLS application message: the other member
//! decrypts the text that was sent, on V4 and V3, and the load generator
//! measures sends like any other operation.

mod common;

use common::bench::bench_ok;
use xmtp_opmon::client::{Client, XmtpApi};

over_both_apis!(
    a_member_reads_the_text_another_sent,
    a_member_reads_the_text_another_sent_over_v3,
    read_what_was_sent
);

async fn read_what_was_sent<A: XmtpApi>(client: Client<A>) {
    let alice = client.create_identity().await.unwrap();
    let bob = client.create_identity().await.unwrap();
    let mut sent = client
        .create_group(&alice, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();
    let mut joined = client.join_groups(&bob).await.unwrap().remove(0);

    let first = client.send_message(&mut sent, "gm, bob").await.unwrap();
    let second = client.send_message(&mut sent, "gm, bob").await.unwrap();
    assert!(
        second.sequence_id > first.sequence_id,
        "{first:?} then {second:?}"
    );
    assert!(first.bytes > 0);

    let texts = client.receive_messages(&mut joined).await.unwrap();
    assert_eq!(texts, ["gm, bob", "gm, bob"]);
    // Read once: the member's position moved past them.
    assert!(client
        .receive_messages(&mut joined)
        .await
        .unwrap()
        .is_empty());
    // The sender's epoch is unchanged: messages are not commits.
    assert_eq!(sent.epoch(), joined.epoch());
}

#[test]
fn the_messages_scenario_and_mix_measure_sends() {
    for api in ["v4", "v3"] {
        let ran = bench_ok(
            "messages",
            &[
                "--api",
                api,
                "--scenario",
                "messages",
                "--ops",
                "30",
                "--warmup",
                "0s",
            ],
        );
        let op = ran.op("message.send");
        assert_eq!((op.attempts, op.ok), (30, 30), "{api}: {}", ran.stdout());
    }
    let ran = bench_ok(
        "message-mix",
        &[
            "--mix",
            "message=2,lookup=1",
            "--ops",
            "30",
            "--warmup",
            "0s",
            "--seed",
            "7",
        ],
    );
    let run = ran.run();
    let sends = run
        .operations
        .iter()
        .find(|o| o.operation == "message.send");
    assert!(sends.is_some_and(|o| o.ok > 0), "{}", ran.stdout());
    assert_eq!(run.parameters.weights.get("message.send"), Some(&2));
}
