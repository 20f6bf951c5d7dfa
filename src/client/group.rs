//! Group creation, member addition, and the receiving side (joining from
//! welcomes, applying commits).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::identity::fold_log;
use crate::mls::{verify_key_package, MlsGroupState, VerifiedKeyPackage};

use super::api::TopicCursor;
use super::parallel;
use super::phase::{run, run_sync, Phase};
use super::visibility::await_visible;
use super::welcomes;
use super::{Client, ClientError, Identity, XmtpApi};

/// A group as one member sees it.
pub struct Group {
    owner: Arc<Identity>,
    pub(super) state: MlsGroupState,
    /// Position of the last commit applied (0 before any).
    last_commit: u64,
    /// How far this member has read the group's application messages.
    pub(super) message_cursor: TopicCursor,
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

    /// Installations the membership lists as failed (no usable key package
    /// when their inbox was added), sorted.
    pub fn failed_installations(&self) -> Result<Vec<Vec<u8>>, ClientError> {
        Ok(self.state.membership()?.failed_installations)
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

/// What an addition will change, from the identity logs.
#[derive(Debug, Default)]
struct MembershipPlan {
    /// New inboxes at their newest identity sequence id.
    newcomers: Vec<(String, u64)>,
    /// Members whose identity log advanced, at their newest position.
    advanced: Vec<(String, u64)>,
    /// Installations to add, with the inbox each belongs to.
    installations: Vec<([u8; 32], String)>,
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
    /// The group.
    pub group_id: [u8; 16],
    /// The group's epoch after the commit: the epoch a newcomer joins at.
    pub epoch: u64,
}

impl<A: XmtpApi> Client<A> {
    /// Creates a group owned by `owner` and, if `members` is not empty,
    /// adds those inboxes.
    pub async fn create_group(
        &self,
        owner: &Arc<Identity>,
        members: &[String],
    ) -> Result<Group, ClientError> {
        let state = run_sync(Phase::MlsGroupNew, || {
            MlsGroupState::create(owner.mls(), owner.sequence_id())
        })?;
        let mut group = Group {
            owner: owner.clone(),
            state,
            last_commit: 0,
            message_cursor: TopicCursor::new(),
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

    /// Adds inboxes to a group, issuing libxmtp's RPCs in libxmtp's order:
    /// reads the identity logs of the members and the newcomers, fetches a
    /// key package per installation to plan the change (libxmtp does this
    /// when it queues the intent), fetches them again to build the commit
    /// (libxmtp does this when it publishes the intent), publishes one
    /// commit, waits until it is readable, merges it, and sends one sealed
    /// welcome per added installation.
    ///
    /// Installations without a usable key package are recorded as failed
    /// in the commit; an inbox none of whose installations has one is not
    /// added. Members whose identity log advanced move to their newest
    /// position, and their new installations are added with them.
    pub async fn add_members(
        &self,
        group: &mut Group,
        inbox_ids: &[String],
    ) -> Result<AddReport, ClientError> {
        let plan = run(Phase::IdentityLoad, self.plan_membership(group, inbox_ids)).await?;
        let planned = run(
            Phase::KeyPackageFetch,
            self.fetch_verified(&plan.installations),
        )
        .await?;
        let usable: BTreeSet<&str> = planned.iter().map(VerifiedKeyPackage::inbox_id).collect();
        let newcomers: Vec<(String, u64)> = plan
            .newcomers
            .into_iter()
            .filter(|(inbox, _)| usable.contains(inbox.as_str()))
            .collect();
        if newcomers.is_empty() && !inbox_ids.is_empty() {
            return Err(ClientError::UnknownInbox(
                "none of the inboxes has a usable key package".into(),
            ));
        }
        let mut inboxes = newcomers.clone();
        inboxes.extend(plan.advanced);
        let included: BTreeSet<&str> = inboxes.iter().map(|(inbox, _)| inbox.as_str()).collect();
        let installations: Vec<([u8; 32], String)> = plan
            .installations
            .into_iter()
            .filter(|(_, inbox)| included.contains(inbox.as_str()))
            .collect();
        let key_packages = run(Phase::KeyPackageFetch, self.fetch_verified(&installations)).await?;
        let added: BTreeSet<[u8; 32]> = key_packages
            .iter()
            .map(VerifiedKeyPackage::installation_key)
            .collect();
        let failed: Vec<[u8; 32]> = installations
            .iter()
            .map(|(key, _)| *key)
            .filter(|key| !added.contains(key))
            .collect();
        let owner = group.owner.clone();
        let pending = run_sync(Phase::MlsCommitBuild, || {
            group
                .state
                .update_membership(owner.mls(), &key_packages, &inboxes, &failed)
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
        let pointers = self.api.reads_welcome_pointers();
        let welcomes = run_sync(Phase::WelcomeSeal, || {
            welcomes::seal_all(
                &pending.welcome,
                &key_packages,
                commit_sequence_id,
                pointers,
            )
        })?;
        run(Phase::WelcomePublish, self.api.send_welcomes(welcomes)).await?;
        Ok(AddReport {
            inboxes: newcomers.len(),
            installations: key_packages.len(),
            failed_installations: failed.len(),
            commit_sequence_id,
            group_size: group.membership_size(),
            group_id: group.group_id(),
            epoch: group.epoch(),
        })
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

    /// Reads identity logs for an addition: the current members' from
    /// their recorded positions (to see whose log advanced) and the
    /// newcomers' in full; the full logs of advanced members are read too.
    async fn plan_membership(
        &self,
        group: &Group,
        inbox_ids: &[String],
    ) -> Result<MembershipPlan, ClientError> {
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
        let mut logs = self.api.get_identity_updates(&requests).await?;
        let advanced: Vec<String> = members
            .iter()
            .filter(|(inbox, seq)| {
                logs.get(*inbox)
                    .is_some_and(|log| log.iter().any(|entry| entry.sequence_id > **seq))
            })
            .map(|(inbox, _)| inbox.clone())
            .collect();
        if !advanced.is_empty() {
            let full: Vec<(String, u64)> = advanced.iter().map(|i| (i.clone(), 0)).collect();
            logs.extend(self.api.get_identity_updates(&full).await?);
        }
        let folded = parallel::map(
            &inbox_ids.iter().chain(&advanced).collect::<Vec<_>>(),
            |inbox| {
                let log = logs
                    .get(*inbox)
                    .filter(|log| !log.is_empty())
                    .ok_or_else(|| ClientError::UnknownInbox((*inbox).clone()))?;
                let state = fold_log(log.iter().map(|entry| &entry.update))
                    .map_err(|e| ClientError::Protocol(format!("identity log of {inbox}: {e}")))?;
                let latest = log.iter().map(|entry| entry.sequence_id).max().unwrap_or(0);
                Ok::<_, ClientError>((state.installations(), latest))
            },
        );
        let leaves = group.member_installations();
        let mut plan = MembershipPlan::default();
        for (inbox, verified) in inbox_ids.iter().chain(&advanced).zip(folded) {
            let (keys, latest) = verified?;
            if !members.contains_key(inbox) {
                plan.newcomers.push((inbox.clone(), latest));
                plan.installations
                    .extend(keys.into_iter().map(|key| (key, inbox.clone())));
                continue;
            }
            // A member whose log revoked an installation still in the tree
            // stays at its old position: moving it would need a removal
            // in the same commit, which this client does not make.
            let in_tree: Vec<[u8; 32]> = leaves
                .iter()
                .filter(|(_, owner)| owner == inbox)
                .map(|(key, _)| *key)
                .collect();
            if in_tree.iter().any(|key| !keys.contains(key)) {
                continue;
            }
            plan.advanced.push((inbox.clone(), latest));
            plan.installations.extend(
                keys.into_iter()
                    .filter(|key| !in_tree.contains(key))
                    .map(|key| (key, inbox.clone())),
            );
        }
        Ok(plan)
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
    ///
    /// Reads V1 welcomes wrapped with Curve25519 or X-Wing, and welcome
    /// pointers (fetching the pointee each names). A welcome that does not
    /// open or join is skipped, not fatal: like libxmtp, one bad welcome
    /// must not keep the others from being joined.
    pub async fn join_groups(&self, identity: &Arc<Identity>) -> Result<Vec<Group>, ClientError> {
        let welcomes = self
            .api
            .query_welcomes(identity.installation_key(), 0)
            .await?;
        let mut groups = Vec::with_capacity(welcomes.len());
        for entry in welcomes {
            // A pointee is never addressed to an installation key; anything
            // else that fails to open or join is skipped.
            let joined = match welcomes::open(&*self.api, identity, entry.welcome.version).await {
                Ok((welcome, cursor)) => join_one(identity, &welcome, cursor),
                Err(error) => Err(error),
            };
            match joined {
                Ok(group) => groups.push(group),
                Err(error) => tracing::warn!(%error, "skipping a welcome that cannot be joined"),
            }
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

/// Joins the group of an opened MLS welcome.
pub(super) fn join_one(
    identity: &Arc<Identity>,
    welcome: &[u8],
    cursor: u64,
) -> Result<Group, ClientError> {
    let state = MlsGroupState::join(identity.mls(), welcome)?;
    Ok(Group {
        owner: identity.clone(),
        state,
        last_commit: cursor,
        message_cursor: TopicCursor::new(),
    })
}
