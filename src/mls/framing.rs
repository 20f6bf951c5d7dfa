//! Reading an MLS group message's header without any keys.
//!
//! Both MLS wire formats carry the group id, epoch and content type in the
//! clear (a `PrivateMessage` encrypts only the sender and the content). That
//! is enough for a node to route handshake messages (commits, proposals) to
//! the ordered "chain" originator and to check that a message is published
//! on its own group's topic.

use openmls::prelude::tls_codec::Deserialize as TlsDeserialize;
use openmls::prelude::{ContentType, MlsMessageIn};

use super::MlsError;

/// What kind of group message it is, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMessageKind {
    /// A commit (changes the epoch; must be totally ordered).
    Commit,
    /// A standalone proposal (also a handshake message).
    Proposal,
    /// An application message.
    Application,
}

impl GroupMessageKind {
    /// Commits and proposals are handshake messages.
    pub fn is_handshake(self) -> bool {
        matches!(self, GroupMessageKind::Commit | GroupMessageKind::Proposal)
    }
}

/// The clear-text header facts of an MLS group message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMessageInfo {
    /// The MLS group id.
    pub group_id: Vec<u8>,
    /// The epoch the message was sent in.
    pub epoch: u64,
    /// Commit, proposal or application message.
    pub kind: GroupMessageKind,
}

impl GroupMessageInfo {
    /// `true` for commits and proposals, which the network orders on the
    /// commit chain (originator 0).
    pub fn is_handshake(&self) -> bool {
        self.kind.is_handshake()
    }
}

/// Parses a TLS `MLSMessage` that must be a `PublicMessage` or
/// `PrivateMessage` and returns its group id, epoch and content type.
pub fn inspect_group_message(data: &[u8]) -> Result<GroupMessageInfo, MlsError> {
    let message = MlsMessageIn::tls_deserialize_exact(data)
        .map_err(|e| MlsError::InvalidMessage(format!("decoding MLS message: {e}")))?;
    let protocol = message
        .try_into_protocol_message()
        .map_err(|e| MlsError::InvalidMessage(format!("not a group message: {e}")))?;
    let kind = match protocol.content_type() {
        ContentType::Commit => GroupMessageKind::Commit,
        ContentType::Proposal => GroupMessageKind::Proposal,
        ContentType::Application => GroupMessageKind::Application,
    };
    Ok(GroupMessageInfo {
        group_id: protocol.group_id().to_vec(),
        epoch: protocol.epoch().as_u64(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mls::installation::tests::installation;

    #[test]
    fn rejects_garbage_and_key_packages() {
        assert!(inspect_group_message(&[1, 2, 3])
            .unwrap_err()
            .is_remote_fault());
        // A KeyPackage is an MLSMessage body too, but not a group message;
        // wrap it as one: version mls10 (1), wire format key_package (5).
        let kp = installation("x").key_package().unwrap();
        let mut msg = vec![0, 1, 0, 5];
        msg.extend_from_slice(&kp);
        assert!(matches!(
            inspect_group_message(&msg),
            Err(MlsError::InvalidMessage(_))
        ));
    }
}
