//! `opmon node` serves the embedded node until SIGTERM; bad flags get one
//! clear sentence and a non-zero exit.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn opmon_node_serves_until_terminated() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .args(["node", "--listen", "127.0.0.1:0", "--indexer-lag", "1ms"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();

    let client = xmtp_opmon::client::V4Client::connect(&url, &url).unwrap();
    let alice = client.create_identity().await.unwrap();
    assert_eq!(
        client
            .lookup_inbox(alice.address())
            .await
            .unwrap()
            .as_deref(),
        Some(alice.inbox_id())
    );

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_fault_flags_are_one_sentence() {
    for args in [
        ["--inject-latency", "sometimes"],
        ["--stall", "5s/500ms"],
        ["--inject-error", "bogus=1%"],
        ["--indexer-lag", "soon"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_opmon"))
            .arg("node")
            .args(args)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("invalid value"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
