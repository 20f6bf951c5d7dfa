//! The welcomes our client sends pass libxmtp's initial-membership check
//! and are wrapped the way libxmtp wraps them (X-Wing when offered).
//!
//! A libxmtp client that processes a welcome (`validated_membership.rs`,
//! `check_initial_membership`) computes, for every inbox in the group's
//! membership extension, the inbox's association state at the recorded
//! identity sequence id (failing if the log has no update at that
//! position), and requires every installation of that state to be a leaf
//! of the ratchet tree or listed in `failed_installations`; the tree may
//! hold no other installation. [`check_initial_membership`] redoes that
//! against the node's identity logs.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use xmtp_opmon::client::{Client, Group, Identity, XmtpApi};
use xmtp_opmon::identity::{
    add_member_update, fold_log, new_inbox_update, InstallationKey, Wallet,
};
use xmtp_opmon::mls::MlsInstallation;
use xmtp_opmon::proto::xmtp::mls::api::v1::{welcome_message_input, WelcomeMessageInput};
use xmtp_opmon::proto::xmtp::mls::message_contents::WelcomeWrapperAlgorithm;

async fn check_initial_membership<A: XmtpApi>(client: &Client<A>, group: &Group) {
    let membership = group.membership().unwrap();
    let failed: BTreeSet<Vec<u8>> = group.failed_installations().unwrap().into_iter().collect();
    let leaves: BTreeSet<[u8; 32]> = group
        .member_installations()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    let requests: Vec<(String, u64)> = membership.keys().map(|i| (i.clone(), 0)).collect();
    let logs = client.api().get_identity_updates(&requests).await.unwrap();
    let mut expected = BTreeSet::new();
    for (inbox, sequence_id) in &membership {
        let log = &logs[inbox];
        assert!(
            log.iter().any(|entry| entry.sequence_id == *sequence_id),
            "no identity update of {inbox} at {sequence_id} (MissingIdentityUpdate)"
        );
        let state = fold_log(
            log.iter()
                .filter(|entry| entry.sequence_id <= *sequence_id)
                .map(|entry| &entry.update),
        )
        .unwrap();
        for key in state.installations() {
            assert!(
                leaves.contains(&key) || failed.contains(key.as_slice()),
                "installation {} of {inbox} is neither a leaf nor failed",
                hex::encode(key)
            );
            expected.insert(key);
        }
    }
    let strays: Vec<_> = leaves.difference(&expected).map(hex::encode).collect();
    assert!(strays.is_empty(), "leaves of no member's state: {strays:?}");
}

/// The one welcome on the welcome topic of `key`.
async fn only_welcome<A: XmtpApi>(
    client: &Client<A>,
    key: [u8; 32],
) -> welcome_message_input::Version {
    let mut welcomes = client.api().query_welcomes(key, 0).await.unwrap();
    assert_eq!(welcomes.len(), 1);
    welcomes.remove(0).welcome.version.unwrap()
}

/// An inbox whose only installation never uploaded a key package.
async fn inbox_without_key_package<A: XmtpApi>(client: &Client<A>) -> String {
    let wallet = Wallet::generate();
    let installation = InstallationKey::generate();
    let update = new_inbox_update(&wallet, &installation, 0, 1).unwrap();
    let inbox = update.inbox_id.clone();
    client.api().publish_identity_update(update).await.unwrap();
    for _ in 0..100 {
        let logs = client
            .api()
            .get_identity_updates(&[(inbox.clone(), 0)])
            .await
            .unwrap();
        if logs.get(&inbox).is_some_and(|log| !log.is_empty()) {
            return inbox;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("identity update of {inbox} never became readable");
}

over_both_apis!(
    welcomes_pass_libxmtps_initial_membership_check,
    welcomes_pass_libxmtps_initial_membership_check_over_v3,
    welcomes_pass
);

async fn welcomes_pass<A: XmtpApi>(client: Client<A>) {
    let mut people: Vec<Arc<Identity>> = Vec::new();
    for _ in 0..3 {
        people.push(client.create_identity().await.unwrap());
    }
    let (alice, bob, carol) = (&people[0], &people[1], &people[2]);
    let keyless = inbox_without_key_package(&client).await;

    let mut group = client.create_group(alice, &[]).await.unwrap();
    assert_eq!(
        group.membership().unwrap()[alice.inbox_id()],
        alice.sequence_id(),
        "the creator is recorded where its identity log is, never at 0"
    );

    let report = client
        .add_members(&mut group, &[bob.inbox_id().to_owned(), keyless.clone()])
        .await
        .unwrap();
    assert_eq!(
        report.inboxes, 1,
        "an inbox without any key package is left out"
    );
    assert!(!group.membership().unwrap().contains_key(&keyless));
    check_initial_membership(&client, &group).await;

    client
        .add_members(&mut group, &[carol.inbox_id().to_owned()])
        .await
        .unwrap();
    // Our key packages offer X-Wing (0xff03), so, as libxmtp would, the
    // welcomes are wrapped with it rather than with Curve25519.
    let welcome_message_input::Version::V1(v1) =
        only_welcome(&client, carol.installation_key()).await
    else {
        panic!("expected a V1 welcome");
    };
    assert_eq!(
        v1.wrapper_algorithm,
        WelcomeWrapperAlgorithm::XwingMlkem768Draft6 as i32
    );
    assert_eq!(v1.hpke_public_key.len(), 1216, "an X-Wing public key");

    // Each joiner checks the group as its welcome describes it: bob's at
    // epoch 1, carol's at epoch 2.
    for (member, epoch) in [(bob, 1), (carol, 2)] {
        let joined = client.join_groups(member).await.unwrap();
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].epoch(), epoch);
        check_initial_membership(&client, &joined[0]).await;
    }
}

#[tokio::test]
async fn adding_only_inboxes_without_key_packages_commits_nothing() {
    let node = common::node().await;
    let client = common::client(&node);
    let alice = client.create_identity().await.unwrap();
    let keyless = inbox_without_key_package(&client).await;
    let mut group = client.create_group(&alice, &[]).await.unwrap();

    let error = client
        .add_members(&mut group, &[keyless])
        .await
        .unwrap_err();
    assert_eq!(error.class(), xmtp_opmon::classify::ErrorClass::NotFound);
    assert_eq!(group.epoch(), 0);
}

over_both_apis!(
    one_unreadable_welcome_does_not_fail_the_batch,
    one_unreadable_welcome_does_not_fail_the_batch_over_v3,
    unreadable_welcome_skipped
);

async fn unreadable_welcome_skipped<A: XmtpApi>(client: Client<A>) {
    let alice = client.create_identity().await.unwrap();
    let bob = client.create_identity().await.unwrap();
    // First a welcome nobody can open (sealed to no key of bob's), then a
    // real one.
    let junk = WelcomeMessageInput {
        version: Some(welcome_message_input::Version::V1(
            welcome_message_input::V1 {
                installation_key: bob.installation_key().to_vec(),
                data: vec![0; 64],
                hpke_public_key: vec![7; 32],
                wrapper_algorithm: WelcomeWrapperAlgorithm::Curve25519 as i32,
                welcome_metadata: vec![],
            },
        )),
    };
    client.api().send_welcomes(vec![junk]).await.unwrap();
    let group = client
        .create_group(&alice, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();

    let joined = client.join_groups(&bob).await.unwrap();
    assert_eq!(
        joined.len(),
        1,
        "the junk welcome is skipped, the real one joined"
    );
    assert_eq!(joined[0].group_id(), group.group_id());
}

// Pointers round-trip: an addition of five pointer-capable installations
// publishes the welcome once (a pointee) and a pointer to each, and every
// installation reads its pointer, fetches the pointee and joins.
over_both_apis!(
    pointers_to_five_installations_are_read_and_joined_by_each,
    pointers_to_five_installations_are_read_and_joined_by_each_over_v3,
    pointers_round_trip
);

async fn pointers_round_trip<A: XmtpApi>(client: Client<A>) {
    let alice = client.create_identity().await.unwrap();
    let mut invitees = Vec::new();
    for _ in 0..5 {
        invitees.push(client.create_identity().await.unwrap());
    }
    let ids: Vec<String> = invitees.iter().map(|i| i.inbox_id().to_owned()).collect();
    let group = client.create_group(&alice, &ids).await.unwrap();

    let mut destinations = BTreeSet::new();
    for invitee in &invitees {
        let welcome_message_input::Version::WelcomePointer(pointer) =
            only_welcome(&client, invitee.installation_key()).await
        else {
            panic!("expected a welcome pointer");
        };
        assert_eq!(
            pointer.wrapper_algorithm,
            WelcomeWrapperAlgorithm::XwingMlkem768Draft6 as i32
        );
        let opened = invitee
            .mls()
            .open_pointer(
                &pointer.welcome_pointer,
                &pointer.hpke_public_key,
                pointer.wrapper_algorithm,
            )
            .unwrap();
        destinations.insert(opened.destination);

        let joined = client.join_groups(invitee).await.unwrap();
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].group_id(), group.group_id());
        assert_eq!(joined[0].epoch(), group.epoch());
        assert_eq!(
            joined[0].member_installations(),
            group.member_installations()
        );
        check_initial_membership(&client, &joined[0]).await;
    }
    assert_eq!(destinations.len(), 1, "one pointee for all five");
    let destination = destinations.into_iter().next().unwrap();
    let welcome_message_input::Version::V1(pointee) = only_welcome(&client, destination).await
    else {
        panic!("the pointee is a V1 welcome");
    };
    assert_eq!(
        pointee.wrapper_algorithm,
        WelcomeWrapperAlgorithm::SymmetricKey as i32
    );
    assert!(pointee.hpke_public_key.is_empty());
}

/// Two pointer-capable installations are not more than libxmtp's
/// threshold: each gets its own V1 welcome.
#[tokio::test]
async fn two_installations_get_v1_welcomes() {
    let node = common::node().await;
    let client = common::client(&node);
    let alice = client.create_identity().await.unwrap();
    let bob = client.create_identity().await.unwrap();
    let carol = client.create_identity().await.unwrap();
    client
        .create_group(
            &alice,
            &[bob.inbox_id().to_owned(), carol.inbox_id().to_owned()],
        )
        .await
        .unwrap();
    for invitee in [&bob, &carol] {
        assert!(matches!(
            only_welcome(&client, invitee.installation_key()).await,
            welcome_message_input::Version::V1(_)
        ));
    }
}

/// Alice, and Bob with the wallet that can add devices to his inbox.
async fn alice_and_bob<A: XmtpApi>(client: &Client<A>) -> (Arc<Identity>, Arc<Identity>, Wallet) {
    let alice = client.create_identity().await.unwrap();
    let bob_wallet = Wallet::generate();
    let bob = client
        .register(bob_wallet.clone(), InstallationKey::generate())
        .await
        .unwrap();
    (alice, bob, bob_wallet)
}

/// Adds a new installation to `owner`'s inbox as libxmtp does when the
/// user signs in on another device (the wallet consents, the installation
/// co-signs), uploading a key package for it only if `with_key_package`;
/// returns the installation key and the inbox's newest log position.
async fn second_installation<A: XmtpApi>(
    client: &Client<A>,
    owner: &Identity,
    wallet: &Wallet,
    with_key_package: bool,
) -> ([u8; 32], u64) {
    let secret: [u8; 32] = rand::random();
    let installation = InstallationKey::from_secret_bytes(&secret);
    if with_key_package {
        let mls = MlsInstallation::new(owner.inbox_id(), secret).unwrap();
        client
            .api()
            .upload_key_package(installation.public_key(), mls.key_package().unwrap())
            .await
            .unwrap();
    }
    let update = add_member_update(owner.inbox_id(), wallet, &installation, 1).unwrap();
    client.api().publish_identity_update(update).await.unwrap();
    for _ in 0..200 {
        let logs = client
            .api()
            .get_identity_updates(&[(owner.inbox_id().to_owned(), 0)])
            .await
            .unwrap();
        let log = &logs[owner.inbox_id()];
        if log.len() == 2 {
            return (installation.public_key(), log[1].sequence_id);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the second installation never became readable");
}

// A member whose identity log advances after it joined (a second device)
// is moved to its newest position by the next add commit, with its new
// installation; the welcome of that commit passes libxmtp's check.
over_both_apis!(
    an_advanced_member_is_bumped_by_the_next_add,
    an_advanced_member_is_bumped_by_the_next_add_over_v3,
    advanced_member_bumped
);

async fn advanced_member_bumped<A: XmtpApi>(client: Client<A>) {
    let (alice, bob, bob_wallet) = alice_and_bob(&client).await;
    let carol = client.create_identity().await.unwrap();
    let mut group = client
        .create_group(&alice, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();
    let joined_at = group.membership().unwrap()[bob.inbox_id()];
    assert_eq!(joined_at, bob.sequence_id());

    let (laptop, latest) = second_installation(&client, &bob, &bob_wallet, true).await;
    assert!(latest > joined_at);
    client
        .add_members(&mut group, &[carol.inbox_id().to_owned()])
        .await
        .unwrap();
    assert_eq!(group.membership().unwrap()[bob.inbox_id()], latest);
    assert!(group
        .member_installations()
        .iter()
        .any(|(key, inbox)| *key == laptop && inbox == bob.inbox_id()));
    check_initial_membership(&client, &group).await;

    let joined = client.join_groups(&carol).await.unwrap();
    assert_eq!(joined.len(), 1);
    check_initial_membership(&client, &joined[0]).await;
}

// An inbox with two installations, one without a key package: the good
// one is added, the other is listed in failed_installations.
over_both_apis!(
    mixed_installations_add_the_good_one_and_list_the_other_as_failed,
    mixed_installations_add_the_good_one_and_list_the_other_as_failed_over_v3,
    mixed_installations
);

async fn mixed_installations<A: XmtpApi>(client: Client<A>) {
    let (alice, bob, bob_wallet) = alice_and_bob(&client).await;
    let (phone, latest) = second_installation(&client, &bob, &bob_wallet, false).await;

    let mut group = client.create_group(&alice, &[]).await.unwrap();
    let report = client
        .add_members(&mut group, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();
    assert_eq!(report.inboxes, 1);
    assert_eq!(report.installations, 1);
    assert_eq!(report.failed_installations, 1);
    assert_eq!(group.failed_installations().unwrap(), vec![phone.to_vec()]);
    assert_eq!(group.membership().unwrap()[bob.inbox_id()], latest);
    let leaves: Vec<[u8; 32]> = group
        .member_installations()
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert!(leaves.contains(&bob.installation_key()));
    assert!(!leaves.contains(&phone));
    check_initial_membership(&client, &group).await;

    let joined = client.join_groups(&bob).await.unwrap();
    assert_eq!(joined.len(), 1);
    check_initial_membership(&client, &joined[0]).await;
}
