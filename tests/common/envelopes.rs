//! Client envelopes built by hand, for tests that fill the node's store
//! without a client's cryptography.

use xmtp_opmon::proto::envelopes::{client_envelope::Payload, AuthenticatedData, ClientEnvelope};
use xmtp_opmon::proto::xmtp::mls::api::v1::{welcome_message_input, WelcomeMessageInput};
use xmtp_opmon::topic::{topic, TopicKind};

/// A welcome of `data_len` bytes on the welcome topic of `installation_key`.
pub fn welcome(installation_key: [u8; 32], data_len: usize) -> ClientEnvelope {
    ClientEnvelope {
        aad: Some(AuthenticatedData {
            target_topic: topic(TopicKind::WelcomeMessages, &installation_key),
            depends_on: None,
        }),
        payload: Some(Payload::WelcomeMessage(WelcomeMessageInput {
            version: Some(welcome_message_input::Version::V1(
                welcome_message_input::V1 {
                    installation_key: installation_key.to_vec(),
                    data: vec![installation_key[0]; data_len],
                    hpke_public_key: vec![7; 32],
                    wrapper_algorithm: 1,
                    welcome_metadata: Vec::new(),
                },
            )),
        })),
    }
}

/// A well-formed MLS `PrivateMessage` frame carrying application data for
/// `group_id`: the node reads only its header, never decrypts it.
pub fn application_message(group_id: [u8; 16], tag: u8) -> Vec<u8> {
    let mut bytes = vec![0, 1, 0, 2, 16]; // MLS 1.0, private message, group id length
    bytes.extend_from_slice(&group_id);
    bytes.extend_from_slice(&1u64.to_be_bytes()); // epoch
    bytes.push(1); // content type: application
    bytes.push(0); // no authenticated data
    bytes.push(8); // encrypted sender data
    bytes.extend_from_slice(&[tag; 8]);
    bytes.push(16); // ciphertext
    bytes.extend_from_slice(&[tag; 16]);
    bytes
}
