//! An XMTP group as seen by one installation.
//!
//! An MLS group moves through *epochs*; each commit starts a new epoch and
//! changes the member tree and/or the group-context extensions. XMTP keeps
//! the group's state (membership map, metadata, permissions) in those
//! extensions, so adding members is a single commit that both adds the new
//! installations' leaves and rewrites the membership extension.
//!
//! The life of an add, from the committer's side:
//! 1. [`MlsGroupState::add_members`] builds and *stages* the commit and
//!    returns the commit and welcome bytes; the local epoch does not move.
//! 2. The commit is published; once the network has ordered it, the
//!    committer calls [`MlsGroupState::merge_pending_commit`] (or
//!    [`MlsGroupState::clear_pending_commit`] if another commit won).
//! 3. The welcome is wrapped per new installation and sent; each joins with
//!    [`MlsGroupState::join`]. Other existing members apply the commit with
//!    [`MlsGroupState::process_commit`].
//!
//! The group's state is kept in the owning installation's provider storage,
//! so every method takes that [`MlsInstallation`].

use openmls::group::{MlsGroup, MlsGroupJoinConfig, StagedWelcome, WireFormatPolicy};
use openmls::prelude::tls_codec::{Deserialize as TlsDeserialize, Serialize as TlsSerialize};
use openmls::prelude::{
    ApplicationIdExtension, CreateCommitError, Extension, Extensions, GroupId, MlsMessageBodyIn,
    MlsMessageIn, MlsMessageOut, ProcessMessageError, ProcessedMessageContent, WelcomeError,
};
use openmls_rust_crypto::MemoryStorageError;
use openmls_traits::OpenMlsProvider;
use prost::Message;
use rand::RngCore;

use super::extensions::{self, leaf_capabilities};
use super::{MlsError, MlsInstallation, VerifiedKeyPackage, CIPHERSUITE};
use crate::proto::xmtp::identity::MlsCredential;
use crate::proto::xmtp::mls::message_contents::GroupMembership;

/// Epochs of message secrets kept to decrypt late application messages.
const MAX_PAST_EPOCHS: usize = 3;

/// One installation's view of an XMTP group (wraps an openmls `MlsGroup`).
#[derive(Debug)]
pub struct MlsGroupState {
    group: MlsGroup,
    group_id: [u8; 16],
}

/// The output of [`MlsGroupState::add_members`]: what to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAdd {
    /// TLS `MLSMessage` carrying the commit (a `PrivateMessage`).
    pub commit: Vec<u8>,
    /// TLS `MLSMessage` carrying the MLS Welcome for all new installations
    /// (empty if the commit added no key packages).
    pub welcome: Vec<u8>,
}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(WireFormatPolicy::default())
        .use_ratchet_tree_extension(true)
        .max_past_epochs(MAX_PAST_EPOCHS)
        .build()
}

fn application_id(
    installation: &MlsInstallation,
) -> Result<Extensions<openmls::prelude::LeafNode>, MlsError> {
    Extensions::single(Extension::ApplicationId(ApplicationIdExtension::new(
        installation.inbox_id().as_bytes(),
    )))
    .map_err(|e| MlsError::Openmls(format!("leaf extensions: {e}")))
}

fn serialize(message: &MlsMessageOut, what: &str) -> Result<Vec<u8>, MlsError> {
    message
        .tls_serialize_detached()
        .map_err(|e| MlsError::Openmls(format!("serializing {what}: {e}")))
}

/// Problems with the proposed key packages are the peers' fault; anything
/// else while building a commit is ours.
fn commit_error(e: CreateCommitError) -> MlsError {
    match e {
        CreateCommitError::ProposalValidationError(_)
        | CreateCommitError::LeafNodeValidation(_) => {
            MlsError::InvalidKeyPackage(format!("key package rejected by the group: {e}"))
        }
        other => MlsError::Openmls(format!("building commit: {other}")),
    }
}

fn process_error(e: ProcessMessageError<MemoryStorageError>) -> MlsError {
    match e {
        ProcessMessageError::LibraryError(e) => {
            MlsError::Openmls(format!("processing message: {e}"))
        }
        ProcessMessageError::StorageError(e) => {
            MlsError::Openmls(format!("processing message: storage: {e:?}"))
        }
        other => MlsError::InvalidMessage(format!("processing message: {other}")),
    }
}

fn welcome_error(e: WelcomeError<MemoryStorageError>) -> MlsError {
    match e {
        WelcomeError::LibraryError(e) => MlsError::Openmls(format!("joining: {e}")),
        WelcomeError::StorageError(e) => MlsError::Openmls(format!("joining: storage: {e:?}")),
        other => MlsError::InvalidWelcome(format!("joining: {other}")),
    }
}

impl MlsGroupState {
    /// Creates a new group whose only member is `installation`: random
    /// 16-byte id, ciphersuite 0x0003, ratchet tree in welcomes, 3 past
    /// epochs kept, ciphertext-only handshakes, and XMTP's group-context
    /// extensions (see [`extensions::new_group_extensions`]).
    pub fn create(installation: &MlsInstallation) -> Result<Self, MlsError> {
        let mut rng = rand::rngs::OsRng;
        let mut group_id = [0u8; 16];
        rng.fill_bytes(&mut group_id);
        let mut commit_log_signer = [0u8; 32];
        rng.fill_bytes(&mut commit_log_signer);

        let context_extensions =
            extensions::new_group_extensions(installation.inbox_id(), &commit_log_signer)?;
        let group = MlsGroup::builder()
            .with_group_id(GroupId::from_slice(&group_id))
            .ciphersuite(CIPHERSUITE)
            .use_ratchet_tree_extension(true)
            .max_past_epochs(MAX_PAST_EPOCHS)
            .with_wire_format_policy(WireFormatPolicy::default())
            // Capabilities first: the leaf extensions are checked against them.
            .with_capabilities(leaf_capabilities())
            .with_leaf_node_extensions(application_id(installation)?)
            .map_err(|e| MlsError::Openmls(format!("creator leaf extensions: {e}")))?
            .with_group_context_extensions(context_extensions)
            .build(
                installation.provider(),
                installation.signer(),
                installation.credential().clone(),
            )
            .map_err(|e| MlsError::Openmls(format!("creating group: {e}")))?;
        Ok(Self { group, group_id })
    }

    /// Joins a group from a TLS-serialized MLS Welcome (already unwrapped
    /// from its HPKE envelope, see [`MlsInstallation::open_welcome`]).
    ///
    /// Takes the ratchet tree from the welcome, skips leaf lifetime checks
    /// (XMTP key packages are long-lived), replaces a stale copy of the same
    /// group, and rejects welcomes that use PSKs, that lack XMTP's membership
    /// extension, or whose membership does not list our inbox.
    pub fn join(installation: &MlsInstallation, welcome: &[u8]) -> Result<Self, MlsError> {
        let bad = |msg: String| MlsError::InvalidWelcome(msg);
        let message = MlsMessageIn::tls_deserialize_exact(welcome)
            .map_err(|e| bad(format!("decoding MLS message: {e}")))?;
        let MlsMessageBodyIn::Welcome(welcome) = message.extract() else {
            return Err(bad("MLS message is not a welcome".into()));
        };
        let provider = installation.provider();
        let builder = StagedWelcome::build_from_welcome(provider, &join_config(), welcome)
            .map_err(welcome_error)?;
        if !builder.processed_welcome().psks().is_empty() {
            return Err(bad("welcome requires pre-shared keys".into()));
        }
        let staged = builder
            .replace_old_group()
            .skip_lifetime_validation()
            .build()
            .map_err(welcome_error)?;

        let context = staged.group_context();
        let group_id: [u8; 16] = context
            .group_id()
            .as_slice()
            .try_into()
            .map_err(|_| bad("group id is not 16 bytes".into()))?;
        let membership =
            extensions::decode_membership(context.extensions()).map_err(|e| bad(e.to_string()))?;
        if !membership.members.contains_key(installation.inbox_id()) {
            return Err(bad("group membership does not list our inbox".into()));
        }

        let group = staged.into_group(provider).map_err(welcome_error)?;
        Ok(Self { group, group_id })
    }

    /// The 16-byte MLS group id.
    pub fn group_id(&self) -> [u8; 16] {
        self.group_id
    }

    /// The current epoch (0 right after creation).
    pub fn epoch(&self) -> u64 {
        self.group.epoch().as_u64()
    }

    /// The decoded membership extension (0xff01).
    pub fn membership(&self) -> Result<GroupMembership, MlsError> {
        extensions::decode_membership(self.group.extensions())
    }

    /// The current group-context extensions.
    pub fn extensions(&self) -> &Extensions<openmls::prelude::GroupContext> {
        self.group.extensions()
    }

    /// Every leaf as (installation key, inbox id), sorted. A leaf whose
    /// credential is not an `MlsCredential` shows an empty inbox id; a
    /// signature key that is not 32 bytes (impossible under 0x0003, whose
    /// keys openmls checks) is skipped.
    pub fn member_installations(&self) -> Vec<([u8; 32], String)> {
        let mut members: Vec<([u8; 32], String)> = self
            .group
            .members()
            .filter_map(|member| {
                let key: [u8; 32] = member.signature_key.as_slice().try_into().ok()?;
                let inbox = MlsCredential::decode(member.credential.serialized_content())
                    .map(|c| c.inbox_id)
                    .unwrap_or_default();
                Some((key, inbox))
            })
            .collect();
        members.sort();
        members
    }

    /// Builds and stages ONE commit that adds every key package (inline Add
    /// proposals) and replaces the membership extension with the current
    /// one extended by `new_inboxes` (inbox id → identity sequence id). The
    /// local epoch moves only on [`Self::merge_pending_commit`].
    pub fn add_members(
        &mut self,
        installation: &MlsInstallation,
        key_packages: &[VerifiedKeyPackage],
        new_inboxes: &[(String, u64)],
    ) -> Result<PendingAdd, MlsError> {
        self.check_owner(installation)?;
        if key_packages.is_empty() && new_inboxes.is_empty() {
            return Err(MlsError::State("nothing to add".into()));
        }
        let mut membership = self.membership()?;
        for (inbox_id, sequence_id) in new_inboxes {
            membership.members.insert(inbox_id.clone(), *sequence_id);
        }
        // The builder borrows the group mutably, so compute this first.
        let new_extensions = extensions::with_membership(self.group.extensions(), &membership)?;

        let provider = installation.provider();
        let bundle = self
            .group
            .commit_builder()
            .propose_adds(key_packages.iter().map(|kp| kp.key_package().clone()))
            .propose_group_context_extensions(new_extensions)
            .map_err(commit_error)?
            .load_psks(provider.storage())
            .map_err(commit_error)?
            .build(
                provider.rand(),
                provider.crypto(),
                installation.signer(),
                |_| true,
            )
            .map_err(commit_error)?
            .stage_commit(provider)
            .map_err(|e| MlsError::Openmls(format!("staging commit: {e}")))?;

        let (commit, welcome, _group_info) = bundle.into_messages();
        let welcome = match welcome {
            Some(welcome) => serialize(&welcome, "welcome")?,
            None => Vec::new(),
        };
        Ok(PendingAdd {
            commit: serialize(&commit, "commit")?,
            welcome,
        })
    }

    /// Applies our own staged commit once the network has accepted it.
    pub fn merge_pending_commit(&mut self, installation: &MlsInstallation) -> Result<(), MlsError> {
        self.check_owner(installation)?;
        if self.group.pending_commit().is_none() {
            return Err(MlsError::State("no pending commit to merge".into()));
        }
        self.group
            .merge_pending_commit(installation.provider())
            .map_err(|e| MlsError::Openmls(format!("merging pending commit: {e}")))
    }

    /// Drops our staged commit (it never became visible, or lost the race).
    pub fn clear_pending_commit(&mut self, installation: &MlsInstallation) -> Result<(), MlsError> {
        self.check_owner(installation)?;
        self.group
            .clear_pending_commit(installation.provider().storage())
            .map_err(|e| MlsError::Openmls(format!("clearing pending commit: {e:?}")))
    }

    /// Processes a commit from another member (TLS `MLSMessage`) and merges
    /// it. Our own commits cannot be decrypted by us: merge those with
    /// [`Self::merge_pending_commit`] instead.
    pub fn process_commit(
        &mut self,
        installation: &MlsInstallation,
        message: &[u8],
    ) -> Result<(), MlsError> {
        self.check_owner(installation)?;
        let bad = |msg: String| MlsError::InvalidMessage(msg);
        let message = MlsMessageIn::tls_deserialize_exact(message)
            .map_err(|e| bad(format!("decoding MLS message: {e}")))?;
        let protocol = message
            .try_into_protocol_message()
            .map_err(|e| bad(format!("not a group message: {e}")))?;
        if protocol.group_id().as_slice() != self.group_id {
            return Err(bad("message is for another group".into()));
        }

        let provider = installation.provider();
        let processed = self
            .group
            .process_message(provider, protocol)
            .map_err(process_error)?;
        match processed.into_content() {
            ProcessedMessageContent::StagedCommitMessage(staged) => self
                .group
                .merge_staged_commit(provider, *staged)
                .map_err(|e| MlsError::Openmls(format!("merging commit: {e}"))),
            ProcessedMessageContent::OwnPrivateMessage
            | ProcessedMessageContent::OwnPendingCommit => Err(MlsError::State(
                "this is our own commit; use merge_pending_commit".into(),
            )),
            _ => Err(bad("message is not a commit".into())),
        }
    }

    /// The group lives in its installation's storage; using another
    /// installation's provider or signer would corrupt or fail silently.
    fn check_owner(&self, installation: &MlsInstallation) -> Result<(), MlsError> {
        let own_key = self
            .group
            .own_leaf_node()
            .map(|leaf| leaf.signature_key().as_slice());
        if own_key != Some(&installation.installation_key()[..]) {
            return Err(MlsError::State(
                "group belongs to a different installation".into(),
            ));
        }
        Ok(())
    }
}
