//! The node's V3 API as XMTP's V3 node serves it: one increasing id
//! sequence per group for commits and application messages alike, pages
//! in both directions, the newest message of a group, welcome pointers,
//! and the commit-log RPCs (which a node without a commit log answers
//! empty).

mod common;

use tonic::Code;
use xmtp_opmon::node::RunningNode;
use xmtp_opmon::proto::xmtp::mls::api::v1::mls_api_client::MlsApiClient;
use xmtp_opmon::proto::xmtp::mls::api::v1::{
    group_message, group_message_input, welcome_message, welcome_message_input,
    BatchPublishCommitLogRequest, BatchQueryCommitLogRequest, GetNewestGroupMessageRequest,
    GroupMessageInput, PagingInfo, PublishCommitLogRequest, QueryCommitLogRequest,
    QueryGroupMessagesRequest, QueryWelcomeMessagesRequest, SendGroupMessagesRequest,
    SendWelcomeMessagesRequest, SortDirection, WelcomeMessageInput,
};

fn mls(node: &RunningNode) -> MlsApiClient<tonic::transport::Channel> {
    MlsApiClient::new(xmtp_opmon::client::channel(node.url()).unwrap())
}

async fn send(node: &RunningNode, data: Vec<u8>) {
    mls(node)
        .send_group_messages(SendGroupMessagesRequest {
            messages: vec![GroupMessageInput {
                version: Some(group_message_input::Version::V1(group_message_input::V1 {
                    data,
                    sender_hmac: vec![9; 32],
                    should_push: true,
                })),
            }],
        })
        .await
        .expect("group message accepted");
}

async fn send_application(node: &RunningNode, group_id: [u8; 16], tag: u8) {
    common::streams::send_v3(node, group_id, tag).await;
}

async fn first_message_data(node: &RunningNode, group_id: [u8; 16]) -> Vec<u8> {
    let response = mls(node)
        .query_group_messages(QueryGroupMessagesRequest {
            group_id: group_id.to_vec(),
            paging_info: None,
        })
        .await
        .unwrap()
        .into_inner();
    match &response.messages[0].version {
        Some(group_message::Version::V1(v1)) => v1.data.clone(),
        None => panic!("a group message without a version"),
    }
}

/// (id, is_commit) of a page of group messages.
async fn page(
    node: &RunningNode,
    group_id: [u8; 16],
    direction: SortDirection,
    limit: u32,
    id_cursor: u64,
) -> Vec<(u64, bool)> {
    let response = mls(node)
        .query_group_messages(QueryGroupMessagesRequest {
            group_id: group_id.to_vec(),
            paging_info: Some(PagingInfo {
                direction: direction as i32,
                limit,
                id_cursor,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    response
        .messages
        .into_iter()
        .map(|m| match m.version {
            Some(group_message::Version::V1(v1)) => (v1.id, v1.is_commit),
            None => panic!("a group message without a version"),
        })
        .collect()
}

#[tokio::test]
async fn commits_and_application_messages_share_one_sequence() {
    let node = common::node().await;
    let client = common::v3_client(&node);
    let alice = client.create_identity().await.unwrap();
    let bob = client.create_identity().await.unwrap();
    let mut group = client.create_group(&alice, &[]).await.unwrap();
    let group_id = group.group_id();
    client
        .add_members(&mut group, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();
    // The node reads only a message's header, so the commit sent again
    // after an application message stands for a later commit.
    let commit = first_message_data(&node, group_id).await;
    send_application(&node, group_id, 1).await;
    send(&node, commit).await;
    send_application(&node, group_id, 2).await;

    let all = page(&node, group_id, SortDirection::Ascending, 0, 0).await;
    assert_eq!(
        all.iter().map(|(_, commit)| *commit).collect::<Vec<_>>(),
        [true, false, true, false]
    );
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "{all:?}");

    // Resuming after the first application message finds the second
    // commit, as libxmtp's `max(last message, last commit)` cursor needs.
    let resumed = page(&node, group_id, SortDirection::Ascending, 0, all[1].0).await;
    assert_eq!(resumed, all[2..]);

    // Descending pages: from the newest, then before the page's last id.
    let newest_two = page(&node, group_id, SortDirection::Descending, 2, 0).await;
    assert_eq!(newest_two, [all[3], all[2]]);
    let older = page(&node, group_id, SortDirection::Descending, 2, all[2].0).await;
    assert_eq!(older, [all[1], all[0]]);

    // The newest message of each group asked for, in order; none for a
    // group without messages.
    let newest = mls(&node)
        .get_newest_group_message(GetNewestGroupMessageRequest {
            group_ids: vec![group_id.to_vec(), vec![0xee; 16]],
            include_content: false,
        })
        .await
        .unwrap()
        .into_inner()
        .responses;
    assert_eq!(newest.len(), 2);
    let Some(group_message::Version::V1(v1)) = newest[0]
        .group_message
        .as_ref()
        .and_then(|m| m.version.clone())
    else {
        panic!("the group has a newest message: {newest:?}")
    };
    assert_eq!((v1.id, v1.is_commit), all[3]);
    assert!(v1.data.is_empty(), "content only when asked for");
    assert!(newest[1].group_message.is_none());
}

/// An application message between two commits is not a competing commit:
/// the client skips it and its next addition lands in the next epoch.
#[tokio::test]
async fn additions_after_an_application_message_succeed() {
    let node = common::node().await;
    let client = common::v3_client(&node);
    let alice = client.create_identity().await.unwrap();
    let bob = client.create_identity().await.unwrap();
    let carol = client.create_identity().await.unwrap();
    let mut group = client
        .create_group(&alice, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();
    send_application(&node, group.group_id(), 1).await;

    client
        .add_members(&mut group, &[carol.inbox_id().to_owned()])
        .await
        .unwrap();
    assert_eq!(group.epoch(), 2);
    let mut bobs = client.join_groups(&bob).await.unwrap().remove(0);
    assert_eq!(client.sync_group(&mut bobs).await.unwrap(), 1);
    assert_eq!(bobs.epoch(), 2);
}

#[tokio::test]
async fn welcome_pointers_are_served_as_pointers() {
    let node = common::node().await;
    let key = [0x42; 32];
    let pointer = welcome_message_input::WelcomePointer {
        installation_key: key.to_vec(),
        welcome_pointer: vec![3; 48],
        hpke_public_key: vec![4; 32],
        wrapper_algorithm: 2,
    };
    mls(&node)
        .send_welcome_messages(SendWelcomeMessagesRequest {
            messages: vec![WelcomeMessageInput {
                version: Some(welcome_message_input::Version::WelcomePointer(
                    pointer.clone(),
                )),
            }],
        })
        .await
        .unwrap();
    let messages = mls(&node)
        .query_welcome_messages(QueryWelcomeMessagesRequest {
            installation_key: key.to_vec(),
            paging_info: None,
        })
        .await
        .unwrap()
        .into_inner()
        .messages;
    let Some(welcome_message::Version::WelcomePointer(served)) = &messages[0].version else {
        panic!("served as a pointer: {messages:?}")
    };
    assert_eq!(served.installation_key, pointer.installation_key);
    assert_eq!(served.welcome_pointer, pointer.welcome_pointer);
    assert_eq!(served.hpke_public_key, pointer.hpke_public_key);
    assert_eq!(served.wrapper_algorithm, pointer.wrapper_algorithm);
}

#[tokio::test]
async fn commit_log_rpcs_answer_and_batches_are_capped() {
    let node = common::node().await;
    mls(&node)
        .batch_publish_commit_log(BatchPublishCommitLogRequest {
            requests: vec![PublishCommitLogRequest {
                group_id: vec![1; 16],
                serialized_commit_log_entry: vec![1, 2, 3],
                signature: None,
            }],
        })
        .await
        .unwrap();
    let responses = mls(&node)
        .batch_query_commit_log(BatchQueryCommitLogRequest {
            requests: [[1u8; 16], [2; 16]]
                .iter()
                .map(|g| QueryCommitLogRequest {
                    group_id: g.to_vec(),
                    paging_info: None,
                })
                .collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .responses;
    assert_eq!(
        responses
            .iter()
            .map(|r| r.group_id.clone())
            .collect::<Vec<_>>(),
        [vec![1u8; 16], vec![2; 16]]
    );
    assert!(responses.iter().all(|r| r.commit_log_entries.is_empty()));

    let status = mls(&node)
        .get_newest_group_message(GetNewestGroupMessageRequest {
            group_ids: vec![vec![1; 16]; 10_001],
            include_content: true,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
}
