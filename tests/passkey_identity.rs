//! Passkey signatures are verified for real, as libxmtp's validation
//! service verifies them: a passkey linked by the wallet can then add an
//! installation, a passkey can own an inbox, and an assertion over another
//! text or with tampered bytes is refused.

mod common;

use std::time::Duration;

use xmtp_opmon::classify::ErrorClass;
use xmtp_opmon::client::{Client, ClientError, XmtpApi};
use xmtp_opmon::identity::{
    add_member_update, fold_log, new_inbox_update, signature_text, InstallationKey, MemberId,
    SoftwarePasskey, Wallet,
};
use xmtp_opmon::node::NodeConfig;
use xmtp_opmon::proto::associations::{identity_action, signature, IdentityUpdate};

const T0: u64 = 1_750_000_000_000_000_000;
const SECOND: u64 = 1_000_000_000;

/// The inbox's log once it holds `count` updates.
async fn log_of<A: XmtpApi>(client: &Client<A>, inbox: &str, count: usize) -> Vec<IdentityUpdate> {
    common::identity_log(client, inbox, count)
        .await
        .unwrap_or_else(|| panic!("the log of {inbox} never reached {count} updates"))
}

over_both_apis!(
    a_passkey_linked_by_the_wallet_adds_an_installation,
    a_passkey_linked_by_the_wallet_adds_an_installation_over_v3,
    linked_passkey_signs
);

async fn linked_passkey_signs<A: XmtpApi>(client: Client<A>) {
    let wallet = Wallet::generate();
    let alice = client
        .register(wallet.clone(), InstallationKey::generate())
        .await
        .unwrap();
    let inbox = alice.inbox_id();
    let passkey = SoftwarePasskey::generate();
    let link = add_member_update(inbox, &wallet, &passkey, T0).unwrap();
    client.api().publish_identity_update(link).await.unwrap();
    log_of(&client, inbox, 2).await;

    // The passkey, now a member, grants a second installation access.
    let laptop = InstallationKey::generate();
    let grant = add_member_update(inbox, &passkey, &laptop, T0 + SECOND).unwrap();
    client.api().publish_identity_update(grant).await.unwrap();
    let state = fold_log(&log_of(&client, inbox, 3).await).unwrap();
    assert_eq!(state.passkeys(), vec![passkey.public_key()]);
    assert_eq!(
        state.added_by(&MemberId::Installation(laptop.public_key())),
        Some(&MemberId::Passkey(passkey.public_key()))
    );
    assert_eq!(state.installations().len(), 2);
}

over_both_apis!(
    a_passkey_owns_an_inbox,
    a_passkey_owns_an_inbox_over_v3,
    passkey_owned_inbox
);

async fn passkey_owned_inbox<A: XmtpApi>(client: Client<A>) {
    let passkey = SoftwarePasskey::generate();
    let installation = InstallationKey::generate();
    let update = new_inbox_update(&passkey, &installation, 0, T0).unwrap();
    let inbox = update.inbox_id.clone();
    client.api().publish_identity_update(update).await.unwrap();
    let state = fold_log(&log_of(&client, &inbox, 1).await).unwrap();
    assert_eq!(
        state.recovery_identifier(),
        &MemberId::Passkey(passkey.public_key())
    );
    assert_eq!(state.installations(), vec![installation.public_key()]);
}

/// A passkey link whose assertion is forged one way or another.
async fn forged_links<A: XmtpApi>(client: &Client<A>) -> Vec<(&'static str, IdentityUpdate)> {
    let wallet = Wallet::generate();
    let alice = client
        .register(wallet.clone(), InstallationKey::generate())
        .await
        .unwrap();
    let passkey = SoftwarePasskey::generate();
    let mut forged = Vec::new();
    let forge = |tamper: &dyn Fn(
        &mut xmtp_opmon::proto::associations::RecoverablePasskeySignature,
        &str,
    )| {
        let mut update = add_member_update(alice.inbox_id(), &wallet, &passkey, T0).unwrap();
        let text = signature_text(&update).unwrap();
        if let Some(identity_action::Kind::Add(add)) = &mut update.actions[0].kind {
            if let Some(signature::Signature::Passkey(assertion)) = add
                .new_member_signature
                .as_mut()
                .and_then(|s| s.signature.as_mut())
            {
                tamper(assertion, &text);
            }
        }
        update
    };
    forged.push((
        "an assertion over another text (wrong challenge)",
        forge(&|assertion, _| *assertion = passkey.sign("XMTP : Authenticate to inbox")),
    ));
    forged.push((
        "tampered authenticator data",
        forge(&|assertion, _| assertion.authenticator_data[33] ^= 0x04),
    ));
    forged.push((
        "a signature by another passkey",
        forge(&|assertion, text| {
            assertion.signature = SoftwarePasskey::generate().sign(text).signature;
        }),
    ));
    forged
}

async fn refused<A: XmtpApi>(client: Client<A>) {
    for (what, update) in forged_links(&client).await {
        let error = client
            .api()
            .publish_identity_update(update)
            .await
            .expect_err(what);
        let ClientError::Rpc { status, .. } = &error else {
            panic!("{what}: unexpected {error:?}");
        };
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{what}");
        assert!(status.message().contains("passkey"), "{what}: {status:?}");
        assert_eq!(error.class(), ErrorClass::Invalid);
    }
}

#[tokio::test]
async fn forged_passkey_signatures_are_refused_by_a_strict_node() {
    let node = common::node_with(NodeConfig {
        strict: true,
        ..NodeConfig::default()
    })
    .await;
    refused(common::client(&node)).await;
}

#[tokio::test]
async fn forged_passkey_signatures_are_refused_over_v3() {
    let node = common::node().await;
    refused(common::v3_client(&node)).await;
}

/// As xmtpd: acknowledged, then dropped by the indexer.
#[tokio::test]
async fn forged_passkey_signatures_never_become_visible() {
    let node = common::node().await;
    let client = common::client(&node);
    for (what, update) in forged_links(&client).await {
        let inbox = update.inbox_id.clone();
        client
            .api()
            .publish_identity_update(update)
            .await
            .unwrap_or_else(|e| panic!("{what}: acknowledged: {e}"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(log_of(&client, &inbox, 1).await.len(), 1, "{what}");
    }
}
