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
    ApplicationIdExtension, CreateCommitError, Extension, Extensions, GroupContext, GroupId,
    LeafNode, MlsMessageBodyIn, MlsMessageIn, MlsMessageOut, ProcessMessageError,
    ProcessedMessageContent, WelcomeError,
};
use openmls_rust_crypto::MemoryStorageError;
use openmls_traits::OpenMlsProvider;
use prost::Message;
use rand::RngCore;

mod application;

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

fn application_id(installation: &MlsInstallation) -> Result<Extensions<LeafNode>, MlsError> {
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
    ///
    /// The creator's inbox enters the membership at `creator_sequence_id`,
    /// the position of the newest entry of its identity log: peers check
    /// every member's identity state at the recorded position, and there is
    /// none at 0.
    pub fn create(
        installation: &MlsInstallation,
        creator_sequence_id: u64,
    ) -> Result<Self, MlsError> {
        let mut rng = rand::rngs::OsRng;
        let mut group_id = [0u8; 16];
        rng.fill_bytes(&mut group_id);
        let mut commit_log_signer = [0u8; 32];
        rng.fill_bytes(&mut commit_log_signer);

        let context_extensions = extensions::new_group_extensions(
            installation.inbox_id(),
            creator_sequence_id,
            &commit_log_signer,
        )?;
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
    pub fn extensions(&self) -> &Extensions<GroupContext> {
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
        self.update_membership(installation, key_packages, new_inboxes, &[])
    }

    /// [`Self::add_members`] that also records installations which could
    /// not be added (no usable key package) in the membership's
    /// `failed_installations`, and may move existing members to a newer
    /// identity sequence id (`inboxes` overwrites their entries).
    ///
    /// Peers accept a group only if every installation of every member's
    /// identity state is either a leaf or listed as failed; the list is
    /// kept sorted and without duplicates, and drops installations that
    /// are leaves after this commit.
    pub fn update_membership(
        &mut self,
        installation: &MlsInstallation,
        key_packages: &[VerifiedKeyPackage],
        inboxes: &[(String, u64)],
        failed_installations: &[[u8; 32]],
    ) -> Result<PendingAdd, MlsError> {
        self.check_owner(installation)?;
        if key_packages.is_empty() && inboxes.is_empty() {
            return Err(MlsError::State("nothing to add".into()));
        }
        let mut membership = self.membership()?;
        for (inbox_id, sequence_id) in inboxes {
            membership.members.insert(inbox_id.clone(), *sequence_id);
        }
        // Peers reject commits that add installations of non-member inboxes.
        if let Some(stray) = key_packages
            .iter()
            .find(|kp| !membership.members.contains_key(kp.inbox_id()))
        {
            return Err(MlsError::State(format!(
                "key package of inbox {} which is neither a member nor in new_inboxes",
                stray.inbox_id()
            )));
        }
        let mut leaves: std::collections::BTreeSet<[u8; 32]> = self
            .member_installations()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        leaves.extend(
            key_packages
                .iter()
                .map(VerifiedKeyPackage::installation_key),
        );
        let mut failed: std::collections::BTreeSet<Vec<u8>> =
            std::mem::take(&mut membership.failed_installations)
                .into_iter()
                .collect();
        failed.extend(failed_installations.iter().map(|key| key.to_vec()));
        membership.failed_installations = failed
            .into_iter()
            .filter(|key| !<[u8; 32]>::try_from(key.as_slice()).is_ok_and(|k| leaves.contains(&k)))
            .collect();
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

    /// Deletes the group's state from the installation's storage. openmls
    /// writes a group's tree, secrets and proposals through to the
    /// provider and keeps them there until deleted, so a long-running
    /// client that creates groups it will never use again must call this,
    /// or its memory grows with every group.
    pub fn forget(mut self, installation: &MlsInstallation) -> Result<(), MlsError> {
        self.check_owner(installation)?;
        self.group
            .delete(installation.provider().storage())
            .map_err(|e| MlsError::Openmls(format!("deleting group state: {e:?}")))
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
        match self.process_incoming(installation, message)? {
            ProcessedMessageContent::StagedCommitMessage(staged) => self
                .group
                .merge_staged_commit(installation.provider(), *staged)
                .map_err(|e| MlsError::Openmls(format!("merging commit: {e}"))),
            ProcessedMessageContent::OwnPrivateMessage
            | ProcessedMessageContent::OwnPendingCommit => Err(MlsError::State(
                "this is our own commit; use merge_pending_commit".into(),
            )),
            _ => Err(MlsError::InvalidMessage("message is not a commit".into())),
        }
    }

    /// Decodes, authenticates and decrypts a group message (TLS
    /// `MLSMessage`) from another member, checking it is for this group.
    fn process_incoming(
        &mut self,
        installation: &MlsInstallation,
        message: &[u8],
    ) -> Result<ProcessedMessageContent, MlsError> {
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
        let processed = self
            .group
            .process_message(installation.provider(), protocol)
            .map_err(process_error)?;
        Ok(processed.into_content())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mls::extensions::{
        GROUP_MEMBERSHIP, GROUP_PERMISSIONS, IMMUTABLE_METADATA, MUTABLE_METADATA,
    };
    use crate::mls::installation::tests::installation;
    use crate::mls::{inspect_group_message, seal_welcome, verify_key_package, GroupMessageKind};

    fn verified(inst: &MlsInstallation) -> VerifiedKeyPackage {
        verify_key_package(&inst.key_package().unwrap()).unwrap()
    }

    /// Wraps the welcome for `joiner` exactly as it would travel, opens it
    /// and joins.
    fn deliver(
        pending: &PendingAdd,
        joiner: &MlsInstallation,
        kp: &VerifiedKeyPackage,
    ) -> MlsGroupState {
        let sealed = seal_welcome(&pending.welcome, kp, 1234).unwrap();
        let (welcome, cursor) = joiner
            .open_welcome(
                &sealed.data,
                &sealed.hpke_public_key,
                sealed.wrapper_algorithm as i32,
                &sealed.welcome_metadata,
            )
            .unwrap();
        assert_eq!(cursor, 1234);
        MlsGroupState::join(joiner, &welcome).unwrap()
    }

    fn assert_same_state(a: &MlsGroupState, b: &MlsGroupState) {
        assert_eq!(a.group_id(), b.group_id());
        assert_eq!(a.epoch(), b.epoch());
        assert_eq!(a.member_installations(), b.member_installations());
        assert_eq!(a.membership().unwrap(), b.membership().unwrap());
        for ty in [
            IMMUTABLE_METADATA,
            MUTABLE_METADATA,
            GROUP_MEMBERSHIP,
            GROUP_PERMISSIONS,
        ] {
            let theirs = b.extensions().unknown(ty);
            assert!(theirs.is_some(), "extension {ty:#06x} missing");
            assert_eq!(a.extensions().unknown(ty), theirs);
        }
    }

    #[test]
    fn create_sets_xmtp_state() {
        let creator = installation("creator");
        let group = MlsGroupState::create(&creator, 1).unwrap();
        assert_eq!(group.epoch(), 0);
        assert_eq!(
            group.member_installations(),
            vec![(creator.installation_key(), "creator".to_owned())]
        );
        let membership = group.membership().unwrap();
        assert_eq!(membership.members.len(), 1);
        assert_eq!(membership.members.get("creator"), Some(&1));
        let meta = extensions::decode_immutable_metadata(group.extensions()).unwrap();
        assert_eq!(meta.creator_inbox_id, "creator");
        assert!(group.extensions().required_capabilities().is_some());
        // Two groups never share an id.
        assert_ne!(
            group.group_id(),
            MlsGroupState::create(&creator, 1).unwrap().group_id()
        );
    }

    #[test]
    fn add_three_members_in_one_commit() {
        let creator = installation("creator");
        let joiners: Vec<MlsInstallation> = (1..=3)
            .map(|i| installation(&format!("inbox-{i}")))
            .collect();
        let kps: Vec<VerifiedKeyPackage> = joiners.iter().map(verified).collect();
        let inboxes: Vec<(String, u64)> = (1..=3).map(|i| (format!("inbox-{i}"), 10 + i)).collect();

        let mut group = MlsGroupState::create(&creator, 1).unwrap();
        let pending = group.add_members(&creator, &kps, &inboxes).unwrap();
        assert_eq!(group.epoch(), 0, "staged, not merged");

        let info = inspect_group_message(&pending.commit).unwrap();
        assert_eq!(info.kind, GroupMessageKind::Commit);
        assert!(info.is_handshake());
        assert_eq!(info.group_id, group.group_id());
        assert_eq!(info.epoch, 0);
        // A welcome is not a group message.
        assert!(inspect_group_message(&pending.welcome).is_err());

        group.merge_pending_commit(&creator).unwrap();
        assert_eq!(group.epoch(), 1);

        let membership = group.membership().unwrap();
        assert_eq!(membership.members.len(), 4);
        assert_eq!(membership.members.get("creator"), Some(&1));
        for (inbox, seq) in &inboxes {
            assert_eq!(membership.members.get(inbox), Some(seq));
        }

        let mut expected: Vec<([u8; 32], String)> = joiners
            .iter()
            .map(|j| (j.installation_key(), j.inbox_id().to_owned()))
            .collect();
        expected.push((creator.installation_key(), "creator".to_owned()));
        expected.sort();
        assert_eq!(group.member_installations(), expected);

        for (joiner, kp) in joiners.iter().zip(&kps) {
            let joined = deliver(&pending, joiner, kp);
            assert_same_state(&group, &joined);
        }
    }

    #[test]
    fn existing_member_processes_next_add() {
        let creator = installation("creator");
        let alice = installation("alice");
        let bob = installation("bob");
        let kp_alice = verified(&alice);
        let kp_bob = verified(&bob);

        let mut group = MlsGroupState::create(&creator, 1).unwrap();
        let first = group
            .add_members(
                &creator,
                std::slice::from_ref(&kp_alice),
                &[("alice".into(), 3)],
            )
            .unwrap();
        group.merge_pending_commit(&creator).unwrap();
        let mut alice_group = deliver(&first, &alice, &kp_alice);

        let second = group
            .add_members(
                &creator,
                std::slice::from_ref(&kp_bob),
                &[("bob".into(), 8)],
            )
            .unwrap();
        group.merge_pending_commit(&creator).unwrap();
        assert_eq!(
            inspect_group_message(&second.commit).unwrap().epoch,
            1,
            "sent in the epoch before the commit"
        );

        alice_group.process_commit(&alice, &second.commit).unwrap();
        assert_eq!(alice_group.epoch(), 2);
        assert_eq!(group.epoch(), 2);
        assert_same_state(&group, &alice_group);

        let bob_group = deliver(&second, &bob, &kp_bob);
        assert_same_state(&group, &bob_group);
        assert_eq!(bob_group.member_installations().len(), 3);
        assert_eq!(bob_group.membership().unwrap().members.get("bob"), Some(&8));

        // The same commit cannot be applied twice.
        let err = alice_group
            .process_commit(&alice, &second.commit)
            .unwrap_err();
        assert!(err.is_remote_fault(), "{err}");
    }

    #[test]
    fn application_messages_are_not_handshakes() {
        let creator = installation("creator");
        let mut group = MlsGroupState::create(&creator, 1).unwrap();
        let message = group
            .group
            .create_message(creator.provider(), creator.signer(), b"hello")
            .unwrap()
            .tls_serialize_detached()
            .unwrap();
        let info = inspect_group_message(&message).unwrap();
        assert_eq!(info.kind, GroupMessageKind::Application);
        assert!(!info.is_handshake());
        assert_eq!(info.group_id, group.group_id());
    }

    #[test]
    fn cleared_commit_leaves_epoch_and_allows_retry() {
        let creator = installation("creator");
        let alice = installation("alice");
        let kp = verified(&alice);
        let mut group = MlsGroupState::create(&creator, 1).unwrap();

        group
            .add_members(&creator, std::slice::from_ref(&kp), &[("alice".into(), 1)])
            .unwrap();
        group.clear_pending_commit(&creator).unwrap();
        assert_eq!(group.epoch(), 0);
        assert!(matches!(
            group.merge_pending_commit(&creator),
            Err(MlsError::State(_))
        ));
        assert_eq!(group.membership().unwrap().members.len(), 1);

        let retry = group
            .add_members(&creator, std::slice::from_ref(&kp), &[("alice".into(), 1)])
            .unwrap();
        group.merge_pending_commit(&creator).unwrap();
        let joined = deliver(&retry, &alice, &kp);
        assert_same_state(&group, &joined);
    }

    #[test]
    fn failed_installations_are_sorted_unique_and_never_leaves() {
        let creator = installation("creator");
        let alice = installation("alice");
        let kp = verified(&alice);
        let mut group = MlsGroupState::create(&creator, 1).unwrap();
        // Alice's own installation is listed too: it becomes a leaf in this
        // very commit, so it must not stay in the failed list.
        let failed = [[9u8; 32], [3u8; 32], [9u8; 32], alice.installation_key()];
        let pending = group
            .update_membership(
                &creator,
                std::slice::from_ref(&kp),
                &[("alice".into(), 4)],
                &failed,
            )
            .unwrap();
        group.merge_pending_commit(&creator).unwrap();
        let membership = group.membership().unwrap();
        assert_eq!(
            membership.failed_installations,
            vec![vec![3u8; 32], vec![9u8; 32]]
        );
        assert_eq!(membership.members.get("alice"), Some(&4));
        let joined = deliver(&pending, &alice, &kp);
        assert_eq!(joined.membership().unwrap(), membership);
    }

    #[test]
    fn misuse_and_bad_input_are_classified() {
        let creator = installation("creator");
        let other = installation("other");
        let kp = verified(&other);
        let mut group = MlsGroupState::create(&creator, 1).unwrap();

        // Another installation's provider does not hold this group.
        let err = group
            .add_members(&other, std::slice::from_ref(&kp), &[])
            .unwrap_err();
        assert!(matches!(err, MlsError::State(_)));
        assert!(!err.is_remote_fault());

        // A key package of an inbox that is not (being made) a member.
        let err = group
            .add_members(&creator, std::slice::from_ref(&kp), &[])
            .unwrap_err();
        assert!(matches!(err, MlsError::State(_)), "{err}");
        assert_eq!(group.epoch(), 0);

        // Our own commit cannot be processed, only merged.
        let pending = group
            .add_members(&creator, &[kp], &[("other".into(), 1)])
            .unwrap();
        let err = group.process_commit(&creator, &pending.commit).unwrap_err();
        assert!(matches!(err, MlsError::State(_)), "{err}");

        // Garbage is the sender's fault.
        let err = group.process_commit(&creator, b"junk").unwrap_err();
        assert!(err.is_remote_fault());
        let err = MlsGroupState::join(&other, b"junk").unwrap_err();
        assert!(err.is_remote_fault());
        // A commit is not a welcome.
        let err = MlsGroupState::join(&other, &pending.commit).unwrap_err();
        assert!(matches!(err, MlsError::InvalidWelcome(_)));
    }

    #[test]
    fn welcome_for_someone_else_is_rejected() {
        let creator = installation("creator");
        let alice = installation("alice");
        let eve = installation("eve");
        eve.key_package().unwrap();
        let mut group = MlsGroupState::create(&creator, 1).unwrap();
        let pending = group
            .add_members(&creator, &[verified(&alice)], &[("alice".into(), 1)])
            .unwrap();
        let err = MlsGroupState::join(&eve, &pending.welcome).unwrap_err();
        assert!(matches!(err, MlsError::InvalidWelcome(_)), "{err}");
    }

    /// Bytes the installation's provider holds, keys and values.
    fn stored_bytes(inst: &MlsInstallation) -> usize {
        let values = inst.provider().storage().values.read().unwrap();
        values.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    #[test]
    fn forget_returns_the_storage_a_group_used() {
        let creator = installation("creator");
        let before = stored_bytes(&creator);
        let joiner = installation("inbox-1");
        let mut group = MlsGroupState::create(&creator, 1).unwrap();
        group
            .add_members(&creator, &[verified(&joiner)], &[("inbox-1".into(), 1)])
            .unwrap();
        group.merge_pending_commit(&creator).unwrap();
        assert!(stored_bytes(&creator) > before);

        group.forget(&creator).unwrap();
        assert_eq!(stored_bytes(&creator), before);
    }
}
