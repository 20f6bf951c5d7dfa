//! Groups created and extended by the client are real MLS: every new
//! member joins through its sealed welcome, existing members apply the
//! commit, and all end in the same epoch with the same members.

mod common;

use std::sync::Arc;

use xmtp_opmon::client::{Client, Group, Identity, XmtpApi};

async fn identities<A: XmtpApi>(client: &Client<A>, n: usize) -> Vec<Arc<Identity>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(client.create_identity().await.unwrap());
    }
    out
}

fn assert_same_view(a: &Group, b: &Group) {
    assert_eq!(a.group_id(), b.group_id());
    assert_eq!(a.epoch(), b.epoch());
    assert_eq!(a.member_installations(), b.member_installations());
    assert_eq!(a.membership().unwrap(), b.membership().unwrap());
}

over_both_apis!(
    group_with_three_members_is_joined_by_each_through_its_welcome,
    group_with_three_members_is_joined_by_each_through_its_welcome_over_v3,
    joined_through_welcomes
);

async fn joined_through_welcomes<A: XmtpApi>(client: Client<A>) {
    let people = identities(&client, 4).await;
    let (creator, members) = (&people[0], &people[1..]);
    let member_ids: Vec<String> = members.iter().map(|m| m.inbox_id().to_owned()).collect();

    let group = client.create_group(creator, &member_ids).await.unwrap();

    assert_eq!(group.member_installations().len(), 4);
    let membership = group.membership().unwrap();
    assert_eq!(membership.len(), 4);
    for member in members {
        assert_eq!(membership[member.inbox_id()], member.sequence_id());
        let joined = client.join_groups(member).await.unwrap();
        assert_eq!(joined.len(), 1, "one welcome per installation");
        assert_same_view(&group, &joined[0]);
    }
}

over_both_apis!(
    added_member_is_applied_by_existing_members_and_joins,
    added_member_is_applied_by_existing_members_and_joins_over_v3,
    applied_and_joined
);

async fn applied_and_joined<A: XmtpApi>(client: Client<A>) {
    let people = identities(&client, 3).await;
    let (alice, bob, carol) = (&people[0], &people[1], &people[2]);

    let mut group = client
        .create_group(alice, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();
    let mut bobs_view = client.join_groups(bob).await.unwrap().remove(0);
    assert_same_view(&group, &bobs_view);

    let report = client
        .add_members(&mut group, &[carol.inbox_id().to_owned()])
        .await
        .unwrap();
    assert_eq!(report.installations, 1);
    assert_eq!(report.failed_installations, 0);

    let applied = client.sync_group(&mut bobs_view).await.unwrap();
    assert_eq!(applied, 1, "bob applies exactly alice's commit");
    let carols_view = client.join_groups(carol).await.unwrap().remove(0);
    assert_same_view(&group, &bobs_view);
    assert_same_view(&group, &carols_view);
    assert_eq!(group.member_installations().len(), 3);
}

#[tokio::test]
async fn adding_an_unknown_inbox_fails_as_not_found() {
    let node = common::node().await;
    let client = common::client(&node);
    let alice = client.create_identity().await.unwrap();
    let mut group = client.create_group(&alice, &[]).await.unwrap();

    let error = client
        .add_members(&mut group, &["ab".repeat(32)])
        .await
        .unwrap_err();
    assert_eq!(error.class(), xmtp_opmon::classify::ErrorClass::NotFound);
    assert_eq!(group.epoch(), 0, "nothing was committed");
}
