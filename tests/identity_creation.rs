//! A new identity becomes readable on the node and findable by address.

mod common;

use xmtp_opmon::client::{Client, XmtpApi};

over_both_apis!(
    created_identity_is_readable_and_found_by_address,
    created_identity_is_readable_and_found_by_address_over_v3,
    readable_and_found
);

async fn readable_and_found<A: XmtpApi>(client: Client<A>) {
    let alice = client.create_identity().await.expect("identity created");

    assert_eq!(alice.inbox_id().len(), 64);
    assert!(alice.sequence_id() > 0);
    let found = client.lookup_inbox(alice.address()).await.unwrap();
    assert_eq!(found.as_deref(), Some(alice.inbox_id()));

    let logs = client
        .api()
        .get_identity_updates(&[(alice.inbox_id().to_owned(), 0)])
        .await
        .unwrap();
    let log = &logs[alice.inbox_id()];
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].sequence_id, alice.sequence_id());
    let state = xmtp_opmon::identity::fold_log(log.iter().map(|e| &e.update)).unwrap();
    assert_eq!(state.installations(), vec![alice.installation_key()]);

    // An address nobody registered stays unknown.
    let unknown = client
        .lookup_inbox("0x0000000000000000000000000000000000000001")
        .await
        .unwrap();
    assert_eq!(unknown, None);
}

over_both_apis!(
    key_package_is_published_under_the_installation,
    key_package_is_published_under_the_installation_over_v3,
    key_package_published
);

async fn key_package_published<A: XmtpApi>(client: Client<A>) {
    let alice = client.create_identity().await.unwrap();

    let fetched = client
        .api()
        .fetch_key_packages(&[alice.installation_key(), [9; 32]])
        .await
        .unwrap();
    let verified = xmtp_opmon::mls::verify_key_package(fetched[0].as_deref().unwrap()).unwrap();
    assert_eq!(verified.installation_key(), alice.installation_key());
    assert_eq!(verified.inbox_id(), alice.inbox_id());
    assert!(
        fetched[1].is_none(),
        "no key package for an unknown installation"
    );
}
