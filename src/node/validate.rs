//! Envelope checks of a gateway and node (PROTOCOL.md §4.8): everything
//! that can be decided from one envelope alone. A failed check answers
//! `INVALID_ARGUMENT` with a sentence saying what is wrong, as xmtpd does.
//! Identity updates are checked against the inbox's log later, by the
//! indexer (see `service.rs`), because xmtpd accepts them first.

use std::collections::HashMap;

use tonic::Status;

use crate::mls::{inspect_group_message, verify_key_package};
use crate::proto::associations::IdentityUpdate;
use crate::proto::envelopes::{client_envelope::Payload, ClientEnvelope};
use crate::proto::xmtp::mls::api::v1::{group_message_input, welcome_message_input};
use crate::proto::xmtp::mls::message_contents::WelcomeWrapperAlgorithm;
use crate::topic::{Topic, TopicKind};

use super::store::{Store, NODE_ORIGINATOR};

/// Where a checked envelope goes.
#[derive(Debug)]
pub(crate) enum Route {
    /// Stored by this node (key packages, welcomes, application messages).
    Node,
    /// A commit or proposal: through the chain, originator 0.
    Commit,
    /// An identity update: through the chain, originator 1, then the indexer.
    IdentityUpdate(IdentityUpdate),
}

/// Checks one client envelope; returns its topic and route.
pub(crate) fn check_envelope(
    envelope: &ClientEnvelope,
    store: &Store,
) -> Result<(Vec<u8>, Route), Status> {
    let aad = envelope
        .aad
        .as_ref()
        .ok_or_else(|| invalid("envelope has no authenticated data"))?;
    let payload = envelope
        .payload
        .as_ref()
        .ok_or_else(|| invalid("envelope has no payload"))?;
    let topic = Topic::parse(&aad.target_topic).map_err(|e| invalid(format!("bad topic: {e}")))?;
    let expected_kind = match payload {
        Payload::GroupMessage(_) => TopicKind::GroupMessages,
        Payload::WelcomeMessage(_) => TopicKind::WelcomeMessages,
        Payload::UploadKeyPackage(_) => TopicKind::KeyPackages,
        Payload::IdentityUpdate(_) => TopicKind::IdentityUpdates,
        Payload::PayerReport(_) | Payload::PayerReportAttestation(_) => {
            return Err(invalid(
                "payer reports are node-internal and not accepted from clients",
            ))
        }
    };
    if topic.kind != expected_kind {
        return Err(invalid(format!(
            "topic does not match payload: a {} topic for a {} payload",
            topic.kind, expected_kind
        )));
    }
    if let Some(depends_on) = &aad.depends_on {
        check_depends_on(&depends_on.node_id_to_sequence_id, store)?;
    }
    let route = match payload {
        Payload::UploadKeyPackage(upload) => {
            let bytes = upload
                .key_package
                .as_ref()
                .map(|kp| kp.key_package_tls_serialized.as_slice())
                .ok_or_else(|| invalid("key package upload carries no key package"))?;
            let verified = verify_key_package(bytes)
                .map_err(|e| invalid(format!("invalid key package: {e}")))?;
            if verified.installation_key().as_slice() != topic.identifier {
                return Err(invalid(
                    "topic does not match payload: key package of another installation",
                ));
            }
            Route::Node
        }
        Payload::WelcomeMessage(welcome) => {
            let installation_key = match &welcome.version {
                Some(welcome_message_input::Version::V1(v1)) => {
                    // A welcome-pointer pointee is sealed symmetrically, so
                    // it has no HPKE key.
                    let pointee =
                        v1.wrapper_algorithm == WelcomeWrapperAlgorithm::SymmetricKey as i32;
                    if v1.data.is_empty() || (v1.hpke_public_key.is_empty() && !pointee) {
                        return Err(invalid("welcome has no data or no HPKE public key"));
                    }
                    &v1.installation_key
                }
                Some(welcome_message_input::Version::WelcomePointer(pointer)) => {
                    &pointer.installation_key
                }
                None => return Err(invalid("welcome has no version")),
            };
            if installation_key.as_slice() != topic.identifier {
                return Err(invalid(
                    "topic does not match payload: welcome for another installation",
                ));
            }
            Route::Node
        }
        Payload::GroupMessage(message) => {
            let Some(group_message_input::Version::V1(v1)) = &message.version else {
                return Err(invalid("group message has no version"));
            };
            let info = inspect_group_message(&v1.data)
                .map_err(|e| invalid(format!("group message is not an MLS message: {e}")))?;
            if info.group_id.as_slice() != topic.identifier {
                return Err(invalid(
                    "topic does not match payload: message of another group",
                ));
            }
            if info.is_handshake() {
                if topic.identifier.len() != 16 {
                    return Err(invalid("commits need a 16-byte group id"));
                }
                Route::Commit
            } else {
                Route::Node
            }
        }
        Payload::IdentityUpdate(update) => {
            if topic.identifier.len() != 32 {
                // xmtpd answers INTERNAL here, not INVALID_ARGUMENT.
                return Err(Status::internal(
                    "identity update topic must carry a 32-byte inbox id",
                ));
            }
            if hex::decode(&update.inbox_id).ok().as_deref() != Some(topic.identifier) {
                return Err(invalid(
                    "topic does not match payload: identity update of another inbox",
                ));
            }
            Route::IdentityUpdate(update.clone())
        }
        Payload::PayerReport(_) | Payload::PayerReportAttestation(_) => {
            return Err(invalid("payer reports are not accepted from clients"))
        }
    };
    Ok((aad.target_topic.clone(), route))
}

/// `depends_on` may only name chain originators (below 100) at sequence
/// ids this node has already seen.
fn check_depends_on(cursor: &HashMap<u32, u64>, store: &Store) -> Result<(), Status> {
    for (&originator, &sequence_id) in cursor {
        if originator >= NODE_ORIGINATOR {
            return Err(invalid(format!(
                "depends_on names originator {originator}; only chain originators are allowed"
            )));
        }
        if !store.has_seen(originator, sequence_id) {
            return Err(invalid(format!(
                "depends_on names {originator}:{sequence_id}, which this node has not seen"
            )));
        }
    }
    Ok(())
}

pub(crate) fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message)
}
