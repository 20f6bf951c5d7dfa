//! XMTP V4 topics: one kind byte followed by the identifier it addresses.
//!
//! Every envelope names the topic it belongs to in its authenticated data,
//! and readers query by topic. The kind must match the payload (a key
//! package on a key-package topic, and so on); the node checks that.
//! Every stored envelope is also numbered by its *originator*: fixed ids
//! for what comes through the chain, the node's own id for the rest.

use std::fmt;

/// Originator of group commits and proposals: the chain, via the indexer.
pub const COMMITS_ORIGINATOR: u32 = 0;
/// Originator of identity updates: the chain, via the indexer.
pub const IDENTITY_ORIGINATOR: u32 = 1;
/// The originator id of the embedded node (real nodes use 100, 200, …).
pub const NODE_ORIGINATOR: u32 = 100;

/// Longest topic a node accepts, kind byte included.
pub const MAX_TOPIC_LEN: usize = 128;

/// What a topic addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// Messages of one MLS group; identifier = 16-byte group id.
    GroupMessages,
    /// Welcomes for one installation; identifier = its Ed25519 public key.
    WelcomeMessages,
    /// The identity log of one inbox; identifier = the inbox id, hex-decoded.
    IdentityUpdates,
    /// Key packages of one installation; identifier = its Ed25519 public key.
    KeyPackages,
    /// Node-internal payer reports: never accepted from clients.
    PayerReports,
    /// Node-internal payer report attestations: never accepted from clients.
    PayerReportAttestations,
}

impl TopicKind {
    /// The kind byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            Self::GroupMessages => 0,
            Self::WelcomeMessages => 1,
            Self::IdentityUpdates => 2,
            Self::KeyPackages => 3,
            Self::PayerReports => 4,
            Self::PayerReportAttestations => 5,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0 => Self::GroupMessages,
            1 => Self::WelcomeMessages,
            2 => Self::IdentityUpdates,
            3 => Self::KeyPackages,
            4 => Self::PayerReports,
            5 => Self::PayerReportAttestations,
            _ => return None,
        })
    }
}

impl fmt::Display for TopicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GroupMessages => "group_messages_v1",
            Self::WelcomeMessages => "welcome_message_v1",
            Self::IdentityUpdates => "identity_updates_v1",
            Self::KeyPackages => "key_packages_v1",
            Self::PayerReports => "payer_reports_v1",
            Self::PayerReportAttestations => "payer_report_attestations_v1",
        })
    }
}

/// Why some bytes are not a topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Shorter than a kind byte plus one identifier byte, or over 128 bytes.
    #[error("topic length {0} is outside 2..=128 bytes")]
    Length(usize),
    /// The first byte names no known kind.
    #[error("unknown topic kind {0:#04x}")]
    UnknownKind(u8),
}

/// A parsed topic, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a> {
    /// What the topic addresses.
    pub kind: TopicKind,
    /// The identifier after the kind byte.
    pub identifier: &'a [u8],
}

impl<'a> Topic<'a> {
    /// Parses topic bytes as a node does.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, TopicError> {
        if !(2..=MAX_TOPIC_LEN).contains(&bytes.len()) {
            return Err(TopicError::Length(bytes.len()));
        }
        let kind = TopicKind::from_byte(bytes[0]).ok_or(TopicError::UnknownKind(bytes[0]))?;
        Ok(Self {
            kind,
            identifier: &bytes[1..],
        })
    }
}

/// Builds the topic bytes for `kind` and `identifier`.
pub fn topic(kind: TopicKind, identifier: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + identifier.len());
    bytes.push(kind.byte());
    bytes.extend_from_slice(identifier);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_topics() {
        let bytes = topic(TopicKind::KeyPackages, &[7; 32]);
        let parsed = Topic::parse(&bytes).unwrap();
        assert_eq!(parsed.kind, TopicKind::KeyPackages);
        assert_eq!(parsed.identifier, &[7; 32]);
        assert_eq!(Topic::parse(&[3]), Err(TopicError::Length(1)));
        assert_eq!(Topic::parse(&[9, 1]), Err(TopicError::UnknownKind(9)));
        assert_eq!(Topic::parse(&[0; 129]), Err(TopicError::Length(129)));
    }
}
