//! Envelope checks of a gateway and node (PROTOCOL.md §4.8): everything
//! that can be decided from one envelope alone. A failed check answers
//! `INVALID_ARGUMENT` with a sentence saying what is wrong, as xmtpd does.
//! Identity updates are checked against the inbox's log later, by the
//! indexer (see `service.rs`), because xmtpd accepts them first.
//!
//! By default the node checks what xmtpd checks, no more: authenticated
//! data present, the topic's kind matching the payload, key packages
//! valid as the network's validation service sees them (MLS parse,
//! signatures, lifetime, an `MlsCredential`), group messages parseable as
//! MLS, and `depends_on` — only for envelopes the node stores itself, since
//! commits and identity updates take the chain path, which xmtpd does not
//! check it on. With [`Strictness::Strict`] the node also checks that each
//! topic's identifier matches its payload (installation, group, inbox), the
//! identifiers' lengths, that welcomes carry data and a key to open them
//! with, and that key packages follow the XMTP conventions (ciphersuite,
//! application id) — mistakes xmtpd would store and a client would trip
//! over.
//!
//! One check is not xmtpd's but the node's own limit: smart-contract-wallet
//! signatures need a chain, so under [`ScwSignatures::Refuse`] an identity
//! update carrying one is refused at publish, whatever the strictness.

use std::collections::HashMap;

use tonic::Status;

use crate::identity::ScwSignatures;
use crate::mls::{inspect_group_message, validate_key_package};
use crate::proto::associations::{identity_action, signature, IdentityUpdate, Signature};
use crate::proto::envelopes::{client_envelope::Payload, ClientEnvelope};
use crate::proto::xmtp::mls::api::v1::{
    group_message_input, welcome_message_input, WelcomeMessageInput,
};
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

/// How much the node checks beyond the envelope's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strictness {
    /// What xmtpd checks.
    AsXmtpd,
    /// xmtpd's checks plus identifier and welcome consistency.
    Strict,
}

/// Checks one client envelope; returns its topic and route.
pub(crate) fn check_envelope(
    envelope: &ClientEnvelope,
    store: &Store,
    strictness: Strictness,
    scw: ScwSignatures,
) -> Result<(Vec<u8>, Route), Status> {
    let strict = strictness == Strictness::Strict;
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
    let route = match payload {
        Payload::UploadKeyPackage(upload) => {
            let bytes = upload
                .key_package
                .as_ref()
                .map(|kp| kp.key_package_tls_serialized.as_slice())
                .ok_or_else(|| invalid("key package upload carries no key package"))?;
            let installation = check_key_package(bytes, strictness)?;
            if strict && installation != topic.identifier {
                return Err(invalid(
                    "topic does not match payload: key package of another installation",
                ));
            }
            Route::Node
        }
        Payload::WelcomeMessage(welcome) => {
            if strict {
                check_welcome(welcome, topic.identifier)?;
            }
            Route::Node
        }
        Payload::GroupMessage(message) => {
            let Some(group_message_input::Version::V1(v1)) = &message.version else {
                return Err(invalid("group message has no version"));
            };
            let info = inspect_group_message(&v1.data)
                .map_err(|e| invalid(format!("group message is not an MLS message: {e}")))?;
            if strict && info.group_id.as_slice() != topic.identifier {
                return Err(invalid(
                    "topic does not match payload: message of another group",
                ));
            }
            if info.is_handshake() {
                if strict && topic.identifier.len() != 16 {
                    return Err(invalid("commits need a 16-byte group id"));
                }
                Route::Commit
            } else {
                Route::Node
            }
        }
        Payload::IdentityUpdate(update) => {
            if strict && topic.identifier.len() != 32 {
                return Err(invalid(
                    "identity update topic must carry a 32-byte inbox id",
                ));
            }
            if strict && hex::decode(&update.inbox_id).ok().as_deref() != Some(topic.identifier) {
                return Err(invalid(
                    "topic does not match payload: identity update of another inbox",
                ));
            }
            check_scw(update, scw)?;
            Route::IdentityUpdate(update.clone())
        }
        Payload::PayerReport(_) | Payload::PayerReportAttestation(_) => {
            return Err(invalid("payer reports are not accepted from clients"))
        }
    };
    // Commits and identity updates take the chain path, where xmtpd
    // does not check `depends_on`.
    if let (Route::Node, Some(depends_on)) = (&route, &aad.depends_on) {
        check_depends_on(&depends_on.node_id_to_sequence_id, store)?;
    }
    Ok((aad.target_topic.clone(), route))
}

/// Checks an uploaded key package as xmtpd's validation service does,
/// plus the XMTP conventions when strict; returns the leaf's signature key
/// (the installation id its topic must name).
pub(crate) fn check_key_package(bytes: &[u8], strictness: Strictness) -> Result<Vec<u8>, Status> {
    let key_package =
        validate_key_package(bytes).map_err(|e| invalid(format!("invalid key package: {e}")))?;
    if strictness == Strictness::Strict {
        key_package
            .check_conventions()
            .map_err(|e| invalid(format!("invalid key package: {e}")))?;
    }
    Ok(key_package.signature_key().to_vec())
}

/// Refuses an identity update with a smart-contract-wallet signature
/// unless the node accepts them unverified.
fn check_scw(update: &IdentityUpdate, scw: ScwSignatures) -> Result<(), Status> {
    if scw == ScwSignatures::AcceptUnverified || !update.actions.iter().any(has_scw_signature) {
        return Ok(());
    }
    Err(invalid(
        "smart-contract-wallet signatures (ERC-1271/ERC-6492) need a chain to verify, \
         which this node does not have; start it with --scw-signatures accept-unverified \
         to accept them unchecked",
    ))
}

fn has_scw_signature(action: &crate::proto::associations::IdentityAction) -> bool {
    use identity_action::Kind;
    let signatures: [Option<&Option<Signature>>; 2] = match &action.kind {
        Some(Kind::CreateInbox(create)) => [Some(&create.initial_identifier_signature), None],
        Some(Kind::Add(add)) => [
            Some(&add.existing_member_signature),
            Some(&add.new_member_signature),
        ],
        Some(Kind::Revoke(revoke)) => [Some(&revoke.recovery_identifier_signature), None],
        Some(Kind::ChangeRecoveryAddress(change)) => {
            [Some(&change.existing_recovery_identifier_signature), None]
        }
        None => [None, None],
    };
    signatures
        .into_iter()
        .flatten()
        .flatten()
        .any(|s| matches!(s.signature, Some(signature::Signature::Erc6492(_))))
}

/// A welcome names the installation of its topic and carries something to
/// open: data, and an HPKE key unless it is a pointee (sealed with a
/// symmetric key the pointers carry).
fn check_welcome(welcome: &WelcomeMessageInput, destination: &[u8]) -> Result<(), Status> {
    let installation_key = match &welcome.version {
        Some(welcome_message_input::Version::V1(v1)) => {
            let pointee = v1.wrapper_algorithm == WelcomeWrapperAlgorithm::SymmetricKey as i32;
            if v1.data.is_empty() || (v1.hpke_public_key.is_empty() && !pointee) {
                return Err(invalid("welcome has no data or no HPKE public key"));
            }
            &v1.installation_key
        }
        Some(welcome_message_input::Version::WelcomePointer(pointer)) => &pointer.installation_key,
        None => return Err(invalid("welcome has no version")),
    };
    if installation_key.as_slice() != destination {
        return Err(invalid(
            "topic does not match payload: welcome for another installation",
        ));
    }
    Ok(())
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

/// The longest refusal message, in bytes. Messages quote what the client
/// sent (an inbox id that is not hex, an identifier an update names), and
/// travel in the `grpc-message` trailer: quoting a megabyte made a trailer
/// HTTP/2 peers refuse (16 KiB of headers by default; hyper's client then
/// closes the whole connection with `ENHANCE_YOUR_CALM`).
pub(crate) const MAX_MESSAGE_BYTES: usize = 1_024;

pub(crate) fn invalid(message: impl Into<String>) -> Status {
    let mut message = message.into();
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES - '…'.len_utf8();
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    Status::invalid_argument(message)
}
