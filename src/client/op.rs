//! This client's operations as requests of a tower service: [`Op`] in,
//! [`OpResult`] out, and [`OpKind`], the names they report.
//!
//! They implement the layer's [`Operation`] and [`OperationOutput`], which
//! is all the [`OpTelemetryLayer`](crate::layer::OpTelemetryLayer) needs.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::identity::InstallationKey;
use crate::layer::{Operation, OperationOutput};
use crate::proto::associations::IdentityUpdate;
use crate::semconv::op_names;

use super::{AddReport, Group, Identity, MessageReceiver, SendReport, WelcomeInbox};

/// The operations users care about (`xmtp.operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum OpKind {
    /// A new inbox with one installation.
    IdentityCreate,
    /// A new group, optionally with initial members.
    GroupCreate,
    /// Adding inboxes to an existing group.
    GroupAddMembers,
    /// Looking up the inbox of an address (a cheap read).
    IdentityLookup,
    /// Sending a text to a group, until it is readable on the group's topic.
    MessageSend,
    /// From a send's start until another member decrypted the message.
    MessageVisible,
    /// From an addition's start until the newcomer joined from its welcome.
    MemberVisible,
    /// From an identity creation's start until another connection reads it.
    IdentityVisible,
}

impl OpKind {
    /// Every operation, in documentation order.
    pub const ALL: [OpKind; 8] = [
        Self::IdentityCreate,
        Self::GroupCreate,
        Self::GroupAddMembers,
        Self::IdentityLookup,
        Self::MessageSend,
        Self::MessageVisible,
        Self::MemberVisible,
        Self::IdentityVisible,
    ];

    /// The attribute value, e.g. `group.add_members`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdentityCreate => op_names::IDENTITY_CREATE,
            Self::GroupCreate => op_names::GROUP_CREATE,
            Self::GroupAddMembers => op_names::GROUP_ADD_MEMBERS,
            Self::IdentityLookup => op_names::IDENTITY_LOOKUP,
            Self::MessageSend => op_names::MESSAGE_SEND,
            Self::MessageVisible => op_names::MESSAGE_VISIBLE,
            Self::MemberVisible => op_names::MEMBER_VISIBLE,
            Self::IdentityVisible => op_names::IDENTITY_VISIBLE,
        }
    }

    /// The visibility measurement that follows this write, if any.
    pub fn visibility(self) -> Option<OpKind> {
        match self {
            Self::IdentityCreate => Some(Self::IdentityVisible),
            Self::GroupAddMembers => Some(Self::MemberVisible),
            Self::MessageSend => Some(Self::MessageVisible),
            _ => None,
        }
    }

    /// Parses an attribute value.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// Lets an `ApiVersion` stand wherever the layer takes an API name.
impl From<super::ApiVersion> for &'static str {
    fn from(api: super::ApiVersion) -> Self {
        api.as_str()
    }
}

// Lets an `OpKind` stand wherever the layer takes an operation name.
impl From<OpKind> for &'static str {
    fn from(kind: OpKind) -> Self {
        kind.as_str()
    }
}

/// A group shared between the caller and the operations that change it.
pub type SharedGroup = Arc<tokio::sync::Mutex<Group>>;

/// This crate's operations, as performed by [`Client`](super::Client).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Op {
    /// Create an inbox with one installation.
    CreateIdentity,
    /// Create an inbox from an update signed elsewhere (see
    /// [`Client::register_signed`](super::Client::register_signed)).
    RegisterIdentity {
        /// The installation the update grants access to.
        installation: Box<InstallationKey>,
        /// The wallet address that creates the inbox.
        address: String,
        /// The nonce the inbox id is derived with.
        nonce: u64,
        /// The signed update.
        update: Box<IdentityUpdate>,
    },
    /// Create a group owned by `owner`, adding `members` (inbox ids).
    CreateGroup {
        /// The creator.
        owner: Arc<Identity>,
        /// Inbox ids to add at creation.
        members: Vec<String>,
    },
    /// Add `members` (inbox ids) to `group`.
    AddMembers {
        /// The group, as its adding member sees it.
        group: SharedGroup,
        /// Inbox ids to add.
        members: Vec<String>,
    },
    /// Look up the inbox of an Ethereum address.
    LookupIdentity {
        /// The address (`0x…`).
        address: String,
    },
    /// Send `text` to `group` as the group's owner.
    SendMessage {
        /// The group, as its sending member sees it.
        group: SharedGroup,
        /// The text.
        text: String,
    },
    /// Wait until `receiver` has decrypted `text` (`message.visible`).
    AwaitMessage {
        /// When the send started.
        since: Instant,
        /// The other member, subscribed to the group.
        receiver: Arc<MessageReceiver>,
        /// The text sent.
        text: String,
    },
    /// Wait until `newcomer` has joined `group_id` at `epoch` from its
    /// welcome (`member.visible`).
    AwaitMember {
        /// When the addition started.
        since: Instant,
        /// The added installation's welcomes.
        newcomer: Arc<WelcomeInbox>,
        /// The group it was added to.
        group_id: [u8; 16],
        /// The group's epoch after the addition's commit.
        epoch: u64,
    },
    /// Wait until the client's reader connection resolves `address` to
    /// `inbox_id` and reads an association of `installation`
    /// (`identity.visible`).
    AwaitIdentity {
        /// When the creation started.
        since: Instant,
        /// The new inbox's address.
        address: String,
        /// The new inbox.
        inbox_id: String,
        /// Its installation.
        installation: [u8; 32],
    },
}

impl Op {
    /// Which operation this is.
    pub fn kind(&self) -> OpKind {
        match self {
            Self::CreateIdentity | Self::RegisterIdentity { .. } => OpKind::IdentityCreate,
            Self::CreateGroup { .. } => OpKind::GroupCreate,
            Self::AddMembers { .. } => OpKind::GroupAddMembers,
            Self::LookupIdentity { .. } => OpKind::IdentityLookup,
            Self::SendMessage { .. } => OpKind::MessageSend,
            Self::AwaitMessage { .. } => OpKind::MessageVisible,
            Self::AwaitMember { .. } => OpKind::MemberVisible,
            Self::AwaitIdentity { .. } => OpKind::IdentityVisible,
        }
    }
}

impl Operation for Op {
    fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    fn group_size(&self) -> Option<usize> {
        match self {
            Self::CreateGroup { members, .. } => Some(members.len() + 1),
            // Only a glance: if someone holds the group, the size is
            // taken from the result instead.
            Self::AddMembers { group, members } => group
                .try_lock()
                .ok()
                .map(|group| group.membership_size() + members.len()),
            _ => None,
        }
    }

    fn started_at(&self) -> Option<Instant> {
        match self {
            Self::AwaitMessage { since, .. }
            | Self::AwaitMember { since, .. }
            | Self::AwaitIdentity { since, .. } => Some(*since),
            _ => None,
        }
    }
}

/// What an [`Op`] returns.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum OpResult {
    /// The new identity.
    Identity(Arc<Identity>),
    /// The new group.
    Group(SharedGroup),
    /// What an addition did.
    Added(AddReport),
    /// The inbox found, if any.
    Inbox(Option<String>),
    /// What a send did.
    Sent(SendReport),
    /// When the awaited write became visible on the other side.
    Visible(Instant),
}

impl OperationOutput for OpResult {
    fn group_size(&self) -> Option<usize> {
        match self {
            Self::Group(group) => group.try_lock().ok().map(|g| g.membership_size()),
            Self::Added(report) => Some(report.group_size),
            _ => None,
        }
    }

    fn members_added(&self) -> Option<usize> {
        match self {
            Self::Group(group) => group
                .try_lock()
                .ok()
                .map(|g| g.membership_size().saturating_sub(1)),
            Self::Added(report) => Some(report.inboxes),
            _ => None,
        }
    }

    fn finished_at(&self) -> Option<Instant> {
        match self {
            Self::Visible(at) => Some(*at),
            _ => None,
        }
    }
}
