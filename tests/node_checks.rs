//! What the node checks at publish: by default exactly what xmtpd checks,
//! and with `strict` also the consistency of topics and welcomes and the
//! XMTP conventions of key packages.

mod common;

use std::collections::HashMap;

use openmls::prelude::Ciphersuite;
use prost::Message;
use tonic::Code;
use xmtp_opmon::node::{NodeConfig, RunningNode};
use xmtp_opmon::proto::envelopes::{
    client_envelope::Payload, AuthenticatedData, ClientEnvelope, Cursor, PayerEnvelope,
    UnsignedOriginatorEnvelope,
};
use xmtp_opmon::proto::gateway_api::gateway_api_client::GatewayApiClient;
use xmtp_opmon::proto::message_api::query_api_client::QueryApiClient;
use xmtp_opmon::proto::message_api::{EnvelopesQuery, QueryEnvelopesRequest};
use xmtp_opmon::proto::payer_api::PublishClientEnvelopesRequest;
use xmtp_opmon::proto::xmtp::mls::api::v1::mls_api_client::MlsApiClient;
use xmtp_opmon::proto::xmtp::mls::api::v1::{
    welcome_message, welcome_message_input, KeyPackageUpload, QueryWelcomeMessagesRequest,
    UploadKeyPackageRequest, WelcomeMessageInput,
};
use xmtp_opmon::proto::xmtp::mls::message_contents::WelcomeWrapperAlgorithm;
use xmtp_opmon::topic::{topic, TopicKind};

async fn publish(node: &RunningNode, envelope: ClientEnvelope) -> Result<(), tonic::Status> {
    GatewayApiClient::new(xmtp_opmon::client::channel(node.url()).unwrap())
        .publish_client_envelopes(PublishClientEnvelopesRequest {
            envelopes: vec![envelope],
        })
        .await
        .map(|_| ())
}

/// The client envelopes stored on `topic`.
async fn stored(node: &RunningNode, topic: Vec<u8>) -> Vec<ClientEnvelope> {
    let envelopes = QueryApiClient::new(xmtp_opmon::client::channel(node.url()).unwrap())
        .query_envelopes(QueryEnvelopesRequest {
            query: Some(EnvelopesQuery {
                topics: vec![topic],
                originator_node_ids: Vec::new(),
                last_seen: None,
            }),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .envelopes;
    envelopes
        .iter()
        .map(|e| {
            let u = UnsignedOriginatorEnvelope::decode(e.unsigned_originator_envelope.as_slice())
                .unwrap();
            let payer = PayerEnvelope::decode(u.payer_envelope_bytes.as_slice()).unwrap();
            ClientEnvelope::decode(payer.unsigned_client_envelope.as_slice()).unwrap()
        })
        .collect()
}

fn on_topic(target_topic: Vec<u8>, payload: Payload) -> ClientEnvelope {
    ClientEnvelope {
        aad: Some(AuthenticatedData {
            target_topic,
            depends_on: None,
        }),
        payload: Some(payload),
    }
}

fn welcome(installation_key: [u8; 32], hpke_public_key: Vec<u8>, algorithm: i32) -> Payload {
    Payload::WelcomeMessage(WelcomeMessageInput {
        version: Some(welcome_message_input::Version::V1(
            welcome_message_input::V1 {
                installation_key: installation_key.to_vec(),
                data: vec![5; 64],
                hpke_public_key,
                wrapper_algorithm: algorithm,
                welcome_metadata: Vec::new(),
            },
        )),
    })
}

fn depending_on(mut envelope: ClientEnvelope, originator: u32, sequence_id: u64) -> ClientEnvelope {
    if let Some(aad) = envelope.aad.as_mut() {
        aad.depends_on = Some(Cursor {
            node_id_to_sequence_id: HashMap::from([(originator, sequence_id)]),
        });
    }
    envelope
}

async fn node(strict: bool) -> RunningNode {
    common::node_with(NodeConfig {
        strict,
        ..NodeConfig::default()
    })
    .await
}

#[tokio::test]
async fn by_default_topic_identifiers_are_not_checked_as_xmtpd_does_not() {
    let node = node(false).await;
    let client = common::client(&node);
    let alice = client.create_identity().await.unwrap();
    let alice_kp = stored(
        &node,
        topic(TopicKind::KeyPackages, &alice.installation_key()),
    )
    .await
    .remove(0);

    // A key package and a welcome on the topics of other installations.
    let elsewhere = topic(TopicKind::KeyPackages, &[9; 32]);
    publish(
        &node,
        on_topic(elsewhere.clone(), alice_kp.payload.unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(stored(&node, elsewhere).await.len(), 1);
    let destination = topic(TopicKind::WelcomeMessages, &[8; 32]);
    publish(
        &node,
        on_topic(destination.clone(), welcome([7; 32], Vec::new(), 1)),
    )
    .await
    .unwrap();
    assert_eq!(stored(&node, destination).await.len(), 1);
}

#[tokio::test]
async fn strict_checks_topic_identifiers_and_welcomes() {
    let node = node(true).await;
    let client = common::client(&node);
    let alice = client.create_identity().await.unwrap();
    let alice_kp = stored(
        &node,
        topic(TopicKind::KeyPackages, &alice.installation_key()),
    )
    .await
    .remove(0);
    let cases = [
        (
            on_topic(
                topic(TopicKind::KeyPackages, &[9; 32]),
                alice_kp.payload.unwrap(),
            ),
            "key package of another installation",
        ),
        (
            on_topic(
                topic(TopicKind::WelcomeMessages, &[8; 32]),
                welcome([7; 32], vec![1; 32], 1),
            ),
            "welcome for another installation",
        ),
        (
            on_topic(
                topic(TopicKind::WelcomeMessages, &[8; 32]),
                welcome(
                    [8; 32],
                    Vec::new(),
                    WelcomeWrapperAlgorithm::Curve25519 as i32,
                ),
            ),
            "no HPKE public key",
        ),
    ];
    for (envelope, expected) in cases {
        let status = publish(&node, envelope).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains(expected), "{status:?}");
    }
}

#[tokio::test]
async fn pointees_are_stored_and_served_on_their_destination() {
    for strict in [false, true] {
        let node = node(strict).await;
        let destination = [0x5a; 32];
        let pointee = welcome(
            destination,
            Vec::new(),
            WelcomeWrapperAlgorithm::SymmetricKey as i32,
        );
        let welcomes = topic(TopicKind::WelcomeMessages, &destination);
        publish(&node, on_topic(welcomes.clone(), pointee.clone()))
            .await
            .unwrap();
        let served = stored(&node, welcomes).await;
        assert_eq!(served.len(), 1, "strict: {strict}");
        assert_eq!(served[0].payload.as_ref(), Some(&pointee));

        // And over V3, on the same destination.
        let v3 = MlsApiClient::new(xmtp_opmon::client::channel(node.url()).unwrap())
            .query_welcome_messages(QueryWelcomeMessagesRequest {
                installation_key: destination.to_vec(),
                paging_info: None,
            })
            .await
            .unwrap()
            .into_inner()
            .messages;
        let Some(welcome_message::Version::V1(v1)) = &v3[0].version else {
            panic!("a pointee is a V1 welcome: {v3:?}")
        };
        assert_eq!(v1.installation_key, destination);
        assert!(v1.hpke_public_key.is_empty());
        assert_eq!(
            v1.wrapper_algorithm,
            WelcomeWrapperAlgorithm::SymmetricKey as i32
        );
    }
}

#[tokio::test]
async fn depends_on_is_checked_only_off_the_chain_path() {
    let node = node(false).await;
    let client = common::client(&node);
    let alice = client.create_identity().await.unwrap();
    let bob = client.create_identity().await.unwrap();
    let mut group = client.create_group(&alice, &[]).await.unwrap();
    client
        .add_members(&mut group, &[bob.inbox_id().to_owned()])
        .await
        .unwrap();
    let group_topic = topic(TopicKind::GroupMessages, &group.group_id());
    let commit = stored(&node, group_topic).await.remove(0);

    // A commit naming a chain position nobody has reached: the chain
    // path does not check it.
    publish(&node, depending_on(commit, 0, 1_000_000))
        .await
        .unwrap();

    // A welcome (stored by this node) naming the same is refused.
    let key = bob.installation_key();
    let status = publish(
        &node,
        depending_on(
            on_topic(
                topic(TopicKind::WelcomeMessages, &key),
                welcome(key, vec![1; 32], 1),
            ),
            0,
            1_000_000,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("not seen"), "{status:?}");
}

/// A key package xmtpd's validation service accepts (valid MLS, signed,
/// an `MlsCredential`) but that breaks the XMTP conventions: the
/// ciphersuite is 0x0001 rather than 0x0003, or the leaf's application id
/// names another inbox.
fn unconventional_key_package(
    ciphersuite: Ciphersuite,
    application_id: &[u8],
) -> ([u8; 32], Payload) {
    use openmls::prelude::tls_codec::Serialize as _;
    use openmls::prelude::{
        ApplicationIdExtension, BasicCredential, CredentialWithKey, Extension, Extensions,
        KeyPackage,
    };
    let signer =
        openmls_basic_credential::SignatureKeyPair::new(ciphersuite.signature_algorithm()).unwrap();
    let key: [u8; 32] = signer.public().try_into().unwrap();
    let credential = CredentialWithKey {
        credential: BasicCredential::new(
            xmtp_opmon::proto::xmtp::identity::MlsCredential {
                inbox_id: "ab".repeat(32),
            }
            .encode_to_vec(),
        )
        .into(),
        signature_key: key.to_vec().into(),
    };
    let bundle = KeyPackage::builder()
        .leaf_node_extensions(
            Extensions::single(Extension::ApplicationId(ApplicationIdExtension::new(
                application_id,
            )))
            .unwrap(),
        )
        .build(
            ciphersuite,
            &openmls_rust_crypto::OpenMlsRustCrypto::default(),
            &signer,
            credential,
        )
        .unwrap();
    let bytes = bundle.key_package().tls_serialize_detached().unwrap();
    (
        key,
        Payload::UploadKeyPackage(UploadKeyPackageRequest {
            key_package: Some(KeyPackageUpload {
                key_package_tls_serialized: bytes,
            }),
            is_inbox_id_credential: true,
        }),
    )
}

/// xmtpd checks a key package's MLS validity and credential, not which
/// ciphersuite or application id it uses; a strict node checks those too.
#[tokio::test]
async fn key_package_conventions_are_checked_only_when_strict() {
    let inbox = "ab".repeat(32);
    let lenient = node(false).await;
    let strict = node(true).await;
    for (what, ciphersuite, application_id) in [
        (
            "ciphersuite 0x0001",
            Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519,
            inbox.as_bytes(),
        ),
        (
            "a foreign application id",
            Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519,
            b"another-app".as_slice(),
        ),
    ] {
        let (key, payload) = unconventional_key_package(ciphersuite, application_id);
        let kp_topic = topic(TopicKind::KeyPackages, &key);
        publish(&lenient, on_topic(kp_topic.clone(), payload.clone()))
            .await
            .unwrap_or_else(|e| panic!("{what}: accepted as xmtpd would: {e}"));
        assert_eq!(stored(&lenient, kp_topic.clone()).await.len(), 1, "{what}");

        let refused = publish(&strict, on_topic(kp_topic.clone(), payload.clone()))
            .await
            .expect_err(what);
        assert_eq!(refused.code(), Code::InvalidArgument, "{what}");
        assert!(
            refused.message().contains("invalid key package"),
            "{what}: {}",
            refused.message()
        );

        // The V3 upload goes through the same check.
        let Payload::UploadKeyPackage(upload) = payload else {
            unreachable!()
        };
        let mut mls = MlsApiClient::new(xmtp_opmon::client::channel(strict.url()).unwrap());
        let v3 = mls
            .upload_key_package(upload.clone())
            .await
            .expect_err(what);
        assert_eq!(v3.code(), Code::InvalidArgument, "{what}");
        let mut mls = MlsApiClient::new(xmtp_opmon::client::channel(lenient.url()).unwrap());
        mls.upload_key_package(upload)
            .await
            .unwrap_or_else(|e| panic!("{what} over V3: {e}"));
    }
}
