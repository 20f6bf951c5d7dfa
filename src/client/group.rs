//! Group creation, member addition, and the receiving side (joining from
//! welcomes, applying commits).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::identity::fold_log;
use crate::mls::{seal_welcome, verify_key_package, MlsGroupState, VerifiedKeyPackage};
use crate::proto::xmtp::mls::api::v1::{welcome_message_input, WelcomeMessageInput};
use crate::proto::xmtp::mls::message_contents::WelcomeWrapperAlgorithm;

use super::parallel;
use super::phase::{run, run_sync, Phase};
use super::visibility::await_visible;
use super::{Client, ClientError, Identity, XmtpApi};

/// A group as one member sees it.
pub struct Group {
    owner: Arc<Identity>,
    state: MlsGroupState,
    /// Position of the last commit applied (0 before any).
    last_commit: u64,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("group_id", &hex::encode(self.group_id()))
            .field("epoch", &self.epoch())
            .field("last_commit", &self.last_commit)
            .finish_non_exhaustive()
    }
}

impl Group {
    /// The 16-byte MLS group id.
    pub fn group_id(&self) -> [u8; 16] {
        self.state.group_id()
    }

    /// The MLS epoch.
    pub fn epoch(&self) -> u64 {
        self.state.epoch()
    }

    /// Installation keys and inbox ids of the members' leaves, sorted.
    pub fn member_installations(&self) -> Vec<([u8; 32], String)> {
        self.state.member_installations()
    }

    /// The group's membership extension: inbox id → identity log position.
    pub fn membership(&self) -> Result<BTreeMap<String, u64>, ClientError> {
        Ok(self.state.membership()?.members.into_iter().collect())
    }

    /// The member this view belongs to.
    pub fn owner(&self) -> &Arc<Identity> {
        &self.owner
    }

    /// How many inboxes the group's membership lists.
    pub fn membership_size(&self) -> usize {
        self.state.membership().map_or(0, |m| m.members.len())
    }

    /// Position of the last commit applied.
    pub fn last_commit(&self) -> u64 {
        self.last_commit
    }

    /// Releases the group's MLS state from its owner's installation, for a
    /// group nobody will touch again (the state otherwise stays in the
    /// installation's storage for as long as the installation lives).
    pub fn forget(self) -> Result<(), ClientError> {
        Ok(self.state.forget(self.owner.mls())?)
    }
}

/// What an addition did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddReport {
    /// Inboxes added.
    pub inboxes: usize,
    /// Installations added (one welcome each).
    pub installations: usize,
    /// Installations skipped because their key package was missing or invalid.
    pub failed_installations: usize,
    /// Position of the commit.
    pub commit_sequence_id: u64,
    /// Inboxes in the group after the addition.
    pub group_size: usize,
}

impl<A: XmtpApi> Client<A> {
    /// Creates a group owned by `owner` and, if `members` is not empty,
    /// adds those inboxes.
    pub async fn create_group(
        &self,
        owner: &Arc<Identity>,
        members: &[String],
    ) -> Result<Group, ClientError> {
        let state = run_sync(Phase::MlsGroupNew, || MlsGroupState::create(owner.mls()))?;
        let mut group = Group {
            owner: owner.clone(),
            state,
            last_commit: 0,
        };
        if !members.is_empty() {
            if let Err(error) = self.add_members(&mut group, members).await {
                // Nobody gets the half-made group: free its state now.
                let _ = group.forget();
                return Err(error);
            }
        }
        Ok(group)
    }

    /// Adds inboxes to a group: reads their identity logs, fetches a key
    /// package per installation, publishes one commit, waits until it is
    /// readable, merges it, and sends one sealed welcome per installation.
    pub async fn add_members(
        &self,
        group: &mut Group,
        inbox_ids: &[String],
    ) -> Result<AddReport, ClientError> {
        let (new_inboxes, installations) =
            run(Phase::IdentityLoad, self.load_newcomers(group, inbox_ids)).await?;
        let key_packages = run(Phase::KeyPackageFetch, self.fetch_verified(&installations)).await?;
        if key_packages.is_empty() {
            return Err(ClientError::UnknownInbox(
                "none of the inboxes has a usable key package".into(),
            ));
        }
        let owner = group.owner.clone();
        let pending = run_sync(Phase::MlsCommitBuild, || {
            group
                .state
                .add_members(owner.mls(), &key_packages, &new_inboxes)
        })?;
        let group_id = group.group_id();
        let depends_on = (group.last_commit > 0).then_some(group.last_commit);
        let published = run(
            Phase::CommitPublish,
            self.api
                .publish_commit(group_id, pending.commit.clone(), depends_on),
        )
        .await;
        let commit_sequence_id = match published {
            Ok(published) => {
                let visible = run(
                    Phase::CommitAwaitVisible,
                    self.await_own_commit(group_id, group.last_commit, &pending.commit, published),
                )
                .await;
                match visible {
                    Ok(seq) => seq,
                    Err(error) => {
                        group.state.clear_pending_commit(owner.mls())?;
                        return Err(error);
                    }
                }
            }
            Err(error) => {
                group.state.clear_pending_commit(owner.mls())?;
                return Err(error);
            }
        };
        run_sync(Phase::MlsCommitMerge, || {
            group.state.merge_pending_commit(owner.mls())
        })?;
        group.last_commit = commit_sequence_id;
        let welcomes = run_sync(Phase::WelcomeSeal, || {
            parallel::map(&key_packages, |kp| {
                let sealed = seal_welcome(&pending.welcome, kp, commit_sequence_id)?;
                Ok(WelcomeMessageInput {
                    version: Some(welcome_message_input::Version::V1(
                        welcome_message_input::V1 {
                            installation_key: kp.installation_key().to_vec(),
                            data: sealed.data,
                            hpke_public_key: sealed.hpke_public_key,
                            wrapper_algorithm: WelcomeWrapperAlgorithm::Curve25519 as i32,
                            welcome_metadata: sealed.welcome_metadata,
                        },
                    )),
                })
            })
            .into_iter()
            .collect::<Result<Vec<_>, ClientError>>()
        })?;
        run(Phase::WelcomePublish, self.api.send_welcomes(welcomes)).await?;
        Ok(AddReport {
            inboxes: new_inboxes.len(),
            installations: key_packages.len(),
            failed_installations: installations.len() - key_packages.len(),
            commit_sequence_id,
            group_size: group.membership_size(),
        })
    }

    /// Reads the identity logs of the current members and the newcomers;
    /// returns each newcomer with its log position, and the installations
    /// to add (with the inbox each belongs to).
    async fn load_newcomers(
        &self,
        group: &Group,
        inbox_ids: &[String],
    ) -> Result<(Vec<(String, u64)>, Vec<([u8; 32], String)>), ClientError> {
        let members = group.state.membership()?.members;
        let mut requests: Vec<(String, u64)> = members
            .iter()
            .map(|(inbox, seq)| (inbox.clone(), *seq))
            .collect();
        for inbox in inbox_ids {
            if members.contains_key(inbox) {
                return Err(ClientError::Usage(format!(
                    "inbox {inbox} is already a member"
                )));
            }
            requests.push((inbox.clone(), 0));
        }
        let logs = self.api.get_identity_updates(&requests).await?;
        let states = parallel::map(inbox_ids, |inbox| {
            let log = logs
                .get(inbox)
                .filter(|log| !log.is_empty())
                .ok_or_else(|| ClientError::UnknownInbox(inbox.clone()))?;
            let state = fold_log(log.iter().map(|entry| &entry.update))
                .map_err(|e| ClientError::Protocol(format!("identity log of {inbox}: {e}")))?;
            let latest = log.iter().map(|entry| entry.sequence_id).max().unwrap_or(0);
            Ok::<_, ClientError>((state, latest))
        });
        let mut newcomers = Vec::with_capacity(inbox_ids.len());
        let mut installations = Vec::new();
        for (inbox, verified) in inbox_ids.iter().zip(states) {
            let (state, latest) = verified?;
            newcomers.push((inbox.clone(), latest));
            installations.extend(
                state
                    .installations()
                    .into_iter()
                    .map(|key| (key, inbox.clone())),
            );
        }
        Ok((newcomers, installations))
    }

    /// Fetches and verifies a key package per installation, keeping those
    /// that are valid and belong to the expected inbox.
    async fn fetch_verified(
        &self,
        installations: &[([u8; 32], String)],
    ) -> Result<Vec<VerifiedKeyPackage>, ClientError> {
        let keys: Vec<[u8; 32]> = installations.iter().map(|(key, _)| *key).collect();
        let fetched = self.api.fetch_key_packages(&keys).await?;
        let pairs: Vec<_> = fetched.iter().zip(installations).collect();
        let verified = parallel::map(&pairs, |(bytes, (key, inbox))| {
            let verified = verify_key_package(bytes.as_deref()?).ok()?;
            (verified.installation_key() == *key && verified.inbox_id() == inbox)
                .then_some(verified)
        });
        Ok(verified.into_iter().flatten().collect())
    }

    /// Polls the group topic until our commit appears; a different commit
    /// appearing first means another member won the epoch.
    async fn await_own_commit(
        &self,
        group_id: [u8; 16],
        after: u64,
        commit: &[u8],
        published: Option<u64>,
    ) -> Result<u64, ClientError> {
        await_visible("commit", self.config.visibility_timeout, || async move {
            let messages = self.api.query_group_messages(group_id, after).await?;
            match messages.first() {
                None => Ok(None),
                Some(first) if first.data == commit => Ok(Some(first.sequence_id)),
                Some(first) if published == Some(first.sequence_id) => Ok(Some(first.sequence_id)),
                Some(_) => Err(ClientError::Conflict),
            }
        })
        .await
    }

    /// Fetches the welcomes addressed to `identity`'s installation and
    /// joins every group they invite it to.
    pub async fn join_groups(&self, identity: &Arc<Identity>) -> Result<Vec<Group>, ClientError> {
        let welcomes = self
            .api
            .query_welcomes(identity.installation_key(), 0)
            .await?;
        let mut groups = Vec::with_capacity(welcomes.len());
        for entry in welcomes {
            let Some(welcome_message_input::Version::V1(v1)) = entry.welcome.version else {
                return Err(ClientError::Protocol(
                    "welcome pointers are not supported by this client".into(),
                ));
            };
            let (welcome, cursor) =
                identity
                    .mls()
                    .open_welcome(&v1.data, &v1.hpke_public_key, &v1.welcome_metadata)?;
            let state = MlsGroupState::join(identity.mls(), &welcome)?;
            groups.push(Group {
                owner: identity.clone(),
                state,
                last_commit: cursor,
            });
        }
        Ok(groups)
    }

    /// Applies every commit published to the group since the last one
    /// applied; returns how many were applied.
    pub async fn sync_group(&self, group: &mut Group) -> Result<usize, ClientError> {
        let messages = self
            .api
            .query_group_messages(group.group_id(), group.last_commit)
            .await?;
        let owner = group.owner.clone();
        for message in &messages {
            group.state.process_commit(owner.mls(), &message.data)?;
            group.last_commit = message.sequence_id;
        }
        Ok(messages.len())
    }
}
