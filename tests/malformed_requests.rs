//! Malformed requests get INVALID_ARGUMENT with a message, and the node
//! keeps serving.

mod common;

use common::raw_grpc::RawCodec;
use tonic::{Code, Status};
use xmtp_opmon::proto::envelopes::{client_envelope::Payload, AuthenticatedData, ClientEnvelope};
use xmtp_opmon::proto::gateway_api::gateway_api_client::GatewayApiClient;
use xmtp_opmon::proto::payer_api::PublishClientEnvelopesRequest;
use xmtp_opmon::proto::xmtp::mls::api::v1::{KeyPackageUpload, UploadKeyPackageRequest};
use xmtp_opmon::topic::{topic, TopicKind};

async fn send_raw(url: &str, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, Status> {
    let channel = xmtp_opmon::client::channel(url).unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(body),
        http::uri::PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(|r| r.into_inner())
}

async fn publish(url: &str, envelope: ClientEnvelope) -> Result<(), Status> {
    let channel = xmtp_opmon::client::channel(url).unwrap();
    GatewayApiClient::new(channel)
        .publish_client_envelopes(PublishClientEnvelopesRequest {
            envelopes: vec![envelope],
        })
        .await
        .map(|_| ())
}

async fn assert_still_serving(node: &xmtp_opmon::node::RunningNode) {
    let client = common::client(node);
    client.create_identity().await.expect("node still serves");
}

#[tokio::test]
async fn garbage_bytes_are_invalid_argument() {
    let node = common::node().await;
    for path in [
        "/xmtp.xmtpv4.gateway_api.GatewayApi/PublishClientEnvelopes",
        "/xmtp.xmtpv4.payer_api.PayerApi/PublishClientEnvelopes",
        "/xmtp.xmtpv4.message_api.QueryApi/QueryEnvelopes",
        "/xmtp.xmtpv4.message_api.ReplicationApi/GetInboxIds",
    ] {
        let status = send_raw(node.url(), path, vec![0xff; 64])
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
        assert!(
            status.message().contains("does not decode"),
            "{}",
            status.message()
        );
    }
    assert_still_serving(&node).await;
}

#[tokio::test]
async fn oversized_request_is_invalid_argument() {
    let node = common::node().await;
    let status = send_raw(
        node.url(),
        "/xmtp.xmtpv4.gateway_api.GatewayApi/PublishClientEnvelopes",
        vec![0; 26 * 1024 * 1024],
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("exceeds"), "{}", status.message());
    assert_still_serving(&node).await;
}

#[tokio::test]
async fn envelopes_breaking_the_rules_are_invalid_argument() {
    let node = common::node().await;
    let key_package = UploadKeyPackageRequest {
        key_package: Some(KeyPackageUpload {
            key_package_tls_serialized: vec![1, 2, 3],
        }),
        is_inbox_id_credential: true,
    };
    let cases = [
        // A key package on a welcome topic.
        (
            ClientEnvelope {
                aad: Some(AuthenticatedData {
                    target_topic: topic(TopicKind::WelcomeMessages, &[1; 32]),
                    depends_on: None,
                }),
                payload: Some(Payload::UploadKeyPackage(key_package.clone())),
            },
            "topic does not match payload",
        ),
        // A key package that is not one.
        (
            ClientEnvelope {
                aad: Some(AuthenticatedData {
                    target_topic: topic(TopicKind::KeyPackages, &[1; 32]),
                    depends_on: None,
                }),
                payload: Some(Payload::UploadKeyPackage(key_package.clone())),
            },
            "invalid key package",
        ),
        // No authenticated data.
        (
            ClientEnvelope {
                aad: None,
                payload: Some(Payload::UploadKeyPackage(key_package.clone())),
            },
            "no authenticated data",
        ),
        // An unknown topic kind.
        (
            ClientEnvelope {
                aad: Some(AuthenticatedData {
                    target_topic: vec![9, 1, 2, 3],
                    depends_on: None,
                }),
                payload: Some(Payload::UploadKeyPackage(key_package)),
            },
            "unknown topic kind",
        ),
        // A node-internal payload.
        (
            ClientEnvelope {
                aad: Some(AuthenticatedData {
                    target_topic: vec![4, 1],
                    depends_on: None,
                }),
                payload: Some(Payload::PayerReport(Default::default())),
            },
            "payer reports",
        ),
    ];
    for (envelope, expected) in cases {
        let status = publish(node.url(), envelope).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().contains(expected),
            "`{}` should mention `{expected}`",
            status.message()
        );
    }
    assert_still_serving(&node).await;
}
