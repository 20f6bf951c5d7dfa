//! Smart-contract-wallet signatures need a chain: the node refuses them by
//! default with one clear sentence, and applies them unverified when told
//! to (`NodeConfig::scw_signatures`, `opmon node --scw-signatures`).

mod common;

use std::process::Command;

use sha2::{Digest, Sha256};
use xmtp_opmon::client::{Client, ClientError, XmtpApi};
use xmtp_opmon::identity::{
    add_member_update, fold_log, new_inbox_update, IdentitySigner, InstallationKey, Wallet,
};
use xmtp_opmon::node::{NodeConfig, ScwSignatures};
use xmtp_opmon::proto::associations::{
    member_identifier, signature, MemberIdentifier, Signature, SmartContractWalletSignature,
};

const T0: u64 = 1_750_000_000_000_000_000;

/// A smart-contract wallet on Base: its "signature" is whatever the
/// contract would accept, here a hash of the text (no chain checks it).
struct SmartWallet {
    address: String,
}

impl SmartWallet {
    fn new() -> Self {
        Self {
            address: format!("0x{}", hex::encode(rand::random::<[u8; 20]>())),
        }
    }
}

impl IdentitySigner for SmartWallet {
    fn member_identifier(&self) -> MemberIdentifier {
        MemberIdentifier {
            kind: Some(member_identifier::Kind::EthereumAddress(
                self.address.clone(),
            )),
        }
    }

    fn sign_text(&self, text: &str) -> Signature {
        Signature {
            signature: Some(signature::Signature::Erc6492(
                SmartContractWalletSignature {
                    account_id: format!("eip155:8453:{}", self.address),
                    block_number: 1,
                    signature: Sha256::digest(text).to_vec(),
                },
            )),
        }
    }
}

async fn visible<A: XmtpApi>(client: &Client<A>, inbox: &str, count: usize) -> bool {
    common::identity_log(client, inbox, count).await.is_some()
}

fn assert_refused(result: Result<(), ClientError>) {
    let error = result.expect_err("a smart-contract-wallet signature is refused");
    let ClientError::Rpc { status, .. } = &error else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("need a chain to verify")
            && status
                .message()
                .contains("--scw-signatures accept-unverified"),
        "{}",
        status.message()
    );
}

async fn publish<A: XmtpApi>(
    client: &Client<A>,
    update: xmtp_opmon::proto::associations::IdentityUpdate,
) -> Result<(), ClientError> {
    client
        .api()
        .publish_identity_update(update)
        .await
        .map(|_| ())
}

/// Refused by default, even by a lenient V4 node that acknowledges other
/// invalid updates: it cannot know whether the signature is valid.
#[tokio::test]
async fn refused_by_default() {
    let node = common::node().await;
    let create =
        new_inbox_update(&SmartWallet::new(), &InstallationKey::generate(), 0, T0).unwrap();
    assert_refused(publish(&common::client(&node), create.clone()).await);
    assert_refused(publish(&common::v3_client(&node), create).await);

    // A wallet linking a smart wallet is refused too.
    let client = common::client(&node);
    let wallet = Wallet::generate();
    let alice = client
        .register(wallet.clone(), InstallationKey::generate())
        .await
        .unwrap();
    let link = add_member_update(alice.inbox_id(), &wallet, &SmartWallet::new(), T0).unwrap();
    assert_refused(publish(&client, link).await);
}

async fn accepting_node() -> xmtp_opmon::node::RunningNode {
    common::node_with(NodeConfig {
        scw_signatures: ScwSignatures::AcceptUnverified,
        ..NodeConfig::default()
    })
    .await
}

#[tokio::test]
async fn a_smart_wallet_owns_an_inbox_when_accepted_unverified() {
    let node = accepting_node().await;
    smart_wallet_inbox(common::client(&node)).await;
}

#[tokio::test]
async fn a_smart_wallet_owns_an_inbox_when_accepted_unverified_over_v3() {
    let node = accepting_node().await;
    smart_wallet_inbox(common::v3_client(&node)).await;
}

async fn smart_wallet_inbox<A: XmtpApi>(client: Client<A>) {
    let smart = SmartWallet::new();
    let installation = InstallationKey::generate();
    let update = new_inbox_update(&smart, &installation, 0, T0).unwrap();
    let inbox = update.inbox_id.clone();
    publish(&client, update).await.unwrap();
    assert!(visible(&client, &inbox, 1).await);
    assert_eq!(
        client
            .lookup_inbox(&smart.address)
            .await
            .unwrap()
            .as_deref(),
        Some(inbox.as_str())
    );
    // The smart wallet, now the owner, links a plain wallet.
    let wallet = Wallet::generate();
    let link = add_member_update(&inbox, &smart, &wallet, T0 + 1).unwrap();
    publish(&client, link).await.unwrap();
    assert!(visible(&client, &inbox, 2).await);
    assert_eq!(
        client
            .lookup_inbox(&wallet.address())
            .await
            .unwrap()
            .as_deref(),
        Some(inbox.as_str())
    );
    // A client folding the log itself still refuses what it cannot verify.
    let logs = client
        .api()
        .get_identity_updates(&[(inbox.clone(), 0)])
        .await
        .unwrap();
    assert!(fold_log(logs[&inbox].iter().map(|e| &e.update)).is_err());
}

/// `opmon node --scw-signatures accept-unverified` applies the update.
#[tokio::test]
async fn the_cli_flag_accepts_them_unverified() {
    for (flag, accepted) in [
        (None, false),
        (Some("accept-unverified"), true),
        (Some("refuse"), false),
    ] {
        let mut args = vec!["--indexer-lag", "1ms"];
        if let Some(flag) = flag {
            args.extend(["--scw-signatures", flag]);
        }
        let (mut child, url) = common::spawn_node(&args, &[]);

        let client = xmtp_opmon::client::V4Client::connect(&url, &url).unwrap();
        let smart = SmartWallet::new();
        let update = new_inbox_update(&smart, &InstallationKey::generate(), 0, T0).unwrap();
        let inbox = update.inbox_id.clone();
        let published = publish(&client, update).await;
        if accepted {
            published.unwrap();
            assert!(visible(&client, &inbox, 1).await, "{flag:?}");
        } else {
            assert_refused(published);
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn a_bad_policy_is_one_sentence() {
    let output = Command::new(env!("CARGO_BIN_EXE_opmon"))
        .args(["node", "--scw-signatures", "sometimes"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid value"), "{stderr}");
    assert!(stderr.contains("refuse or accept-unverified"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `opmon bench` passes the flag on to the node it starts (which would
/// refuse to start on a flag it did not know).
#[test]
fn opmon_bench_passes_the_policy_to_its_node() {
    common::bench::bench_ok(
        "scw",
        &[
            "--scenario",
            "identity",
            "--ops",
            "2",
            "--scw-signatures",
            "accept-unverified",
        ],
    );
}
