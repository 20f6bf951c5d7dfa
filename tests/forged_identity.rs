//! Forged identity updates are acknowledged and then never become visible,
//! as on xmtpd; a strict node refuses them with INVALID_ARGUMENT.

mod common;

use std::time::Duration;

use ed25519_dalek::Signer as _;
use xmtp_opmon::classify::ErrorClass;
use xmtp_opmon::client::{Client, ClientError, V4Client, XmtpApi};
use xmtp_opmon::identity::{inbox_id, new_inbox_update, signature_text, InstallationKey, Wallet};
use xmtp_opmon::node::NodeConfig;
use xmtp_opmon::proto::associations::{
    identity_action::Kind, signature::Signature as Sig, IdentityUpdate, RecoverableEcdsaSignature,
    RecoverableEd25519Signature,
};

const NOW_NS: u64 = 1_750_000_000_000_000_000;

/// Signs every signature slot of a new-inbox update again over its current
/// text, with the wallet signature and the installation signature given.
fn sign_with(
    update: &mut IdentityUpdate,
    wallet_sig: impl Fn(&str) -> Vec<u8>,
    installation_sig: impl Fn(&str) -> (Vec<u8>, Vec<u8>),
) {
    let text = signature_text(update).unwrap();
    let wallet = Sig::Erc191(RecoverableEcdsaSignature {
        bytes: wallet_sig(&text),
    });
    let (bytes, public_key) = installation_sig(&text);
    for action in &mut update.actions {
        match action.kind.as_mut().unwrap() {
            Kind::CreateInbox(create) => {
                create
                    .initial_identifier_signature
                    .as_mut()
                    .unwrap()
                    .signature = Some(wallet.clone());
            }
            Kind::Add(add) => {
                add.existing_member_signature.as_mut().unwrap().signature = Some(wallet.clone());
                add.new_member_signature.as_mut().unwrap().signature =
                    Some(Sig::InstallationKey(RecoverableEd25519Signature {
                        bytes: bytes.clone(),
                        public_key: public_key.clone(),
                    }));
            }
            _ => unreachable!("new-inbox updates hold only these two actions"),
        }
    }
}

fn keys() -> (Wallet, InstallationKey, [u8; 32]) {
    let secret: [u8; 32] = rand::random();
    (
        Wallet::generate(),
        InstallationKey::from_secret_bytes(&secret),
        secret,
    )
}

/// The four forgeries: a wrong wallet, a plain Ed25519 installation
/// signature, a wrong inbox id, and a second CreateInbox.
async fn forgeries<A: XmtpApi>(client: &Client<A>) -> Vec<(&'static str, IdentityUpdate)> {
    let mut forged = Vec::new();

    let (wallet, installation, _) = keys();
    let intruder = Wallet::generate();
    let mut update = new_inbox_update(&wallet, &installation, 0, NOW_NS).unwrap();
    sign_with(
        &mut update,
        |text| intruder.sign_personal(text).to_vec(),
        |text| {
            (
                installation.sign_identity_update(text).to_vec(),
                installation.public_key().to_vec(),
            )
        },
    );
    forged.push(("signed by another wallet", update));

    let (wallet, installation, secret) = keys();
    let plain = ed25519_dalek::SigningKey::from_bytes(&secret);
    let mut update = new_inbox_update(&wallet, &installation, 0, NOW_NS).unwrap();
    sign_with(
        &mut update,
        |text| wallet.sign_personal(text).to_vec(),
        |text| {
            (
                plain.sign(text.as_bytes()).to_bytes().to_vec(),
                installation.public_key().to_vec(),
            )
        },
    );
    forged.push(("plain Ed25519 installation signature", update));

    let (wallet, installation, _) = keys();
    let mut update = new_inbox_update(&wallet, &installation, 0, NOW_NS).unwrap();
    update.inbox_id = inbox_id(&wallet.address(), 7).unwrap();
    sign_with(
        &mut update,
        |text| wallet.sign_personal(text).to_vec(),
        |text| {
            (
                installation.sign_identity_update(text).to_vec(),
                installation.public_key().to_vec(),
            )
        },
    );
    forged.push(("inbox id of another nonce", update));

    let (wallet, installation, _) = keys();
    client
        .register(wallet.clone(), installation)
        .await
        .expect("the first CreateInbox is valid");
    let (_, second_installation, _) = keys();
    let update = new_inbox_update(&wallet, &second_installation, 0, NOW_NS).unwrap();
    forged.push(("second CreateInbox", update));

    forged
}

async fn visible_updates(client: &V4Client, inbox: &str) -> usize {
    let logs = client
        .api()
        .get_identity_updates(&[(inbox.to_owned(), 0)])
        .await
        .unwrap();
    logs.get(inbox).map_or(0, Vec::len)
}

#[tokio::test]
async fn forged_updates_are_acknowledged_but_never_visible() {
    let node = common::node().await;
    let client = common::client(&node);
    for (what, update) in forgeries(&client).await {
        let inbox = update.inbox_id.clone();
        let before = visible_updates(&client, &inbox).await;
        let acknowledged = client.api().publish_identity_update(update).await;
        assert!(
            acknowledged.is_ok(),
            "{what}: the gateway accepts it: {acknowledged:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            visible_updates(&client, &inbox).await,
            before,
            "{what}: the update must never become readable"
        );
    }
}

#[tokio::test]
async fn strict_node_refuses_forged_updates() {
    let node = common::node_with(NodeConfig {
        strict: true,
        ..NodeConfig::default()
    })
    .await;
    refused(&common::client(&node)).await;
}

/// V3 validates identity updates before it writes them, strict or not.
#[tokio::test]
async fn v3_refuses_forged_updates() {
    let node = common::node().await;
    refused(&common::v3_client(&node)).await;
}

async fn refused<A: XmtpApi>(client: &Client<A>) {
    for (what, update) in forgeries(client).await {
        let error = client
            .api()
            .publish_identity_update(update)
            .await
            .expect_err(what);
        match &error {
            ClientError::Rpc { status, .. } => {
                assert_eq!(status.code(), tonic::Code::InvalidArgument, "{what}");
                assert!(
                    status.message().contains("identity update rejected"),
                    "{what}"
                );
            }
            other => panic!("{what}: unexpected {other:?}"),
        }
        assert_eq!(error.class(), ErrorClass::Invalid);
    }
}

#[tokio::test]
async fn an_identity_that_never_appears_fails_as_not_visible() {
    // The indexer lags far behind the client's patience.
    let node = common::node_with(NodeConfig {
        faults: xmtp_opmon::node::Faults {
            indexer_lag: Duration::from_secs(30),
            ..Default::default()
        },
        ..NodeConfig::default()
    })
    .await;
    let client = common::impatient_client(&node, Duration::from_millis(150));
    let error = client.create_identity().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::NotVisible, "{error}");
}
