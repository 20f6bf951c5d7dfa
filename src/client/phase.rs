//! The phases of this client's operations (`xmtp.phase`).
//!
//! The layer's [phase instrumentation](crate::layer::op::phase) does the
//! recording (a span under the operation, `xmtp.client.phase.duration`);
//! this module only names XMTP's steps: signing, publishing, or waiting
//! for the network to make a write readable.

use std::future::Future;

use crate::layer::{in_phase, in_phase_sync};

/// One step of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Looking up whether the wallet already has an inbox.
    InboxLookup,
    /// Building the MLS key package.
    KeyPackageBuild,
    /// Uploading the key package.
    KeyPackagePublish,
    /// Building and signing the identity update.
    IdentitySign,
    /// Publishing the identity update.
    IdentityPublish,
    /// Polling until the identity update is readable.
    IdentityAwaitVisible,
    /// Creating the MLS group locally.
    MlsGroupNew,
    /// Reading the identity logs of members and newcomers.
    IdentityLoad,
    /// Fetching the newcomers' key packages.
    KeyPackageFetch,
    /// Building the add commit and the welcome.
    MlsCommitBuild,
    /// Publishing the commit.
    CommitPublish,
    /// Polling until the commit is readable.
    CommitAwaitVisible,
    /// Merging the commit into the local group state.
    MlsCommitMerge,
    /// Sealing one welcome per new installation.
    WelcomeSeal,
    /// Publishing the welcomes.
    WelcomePublish,
    /// Framing and encrypting an application message.
    MessageEncrypt,
    /// Publishing the message.
    MessagePublish,
    /// Polling until the message is readable.
    MessageAwaitVisible,
    /// Polling until the new inbox resolves from another connection.
    InboxAwaitVisible,
    /// Polling the newcomer's welcomes until the group's is joined.
    WelcomeAwaitVisible,
    /// Opening a sealed welcome.
    WelcomeOpen,
    /// Joining a group from its MLS welcome.
    MlsGroupJoin,
}

impl Phase {
    /// The attribute value, e.g. `key_package.publish`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InboxLookup => "inbox.lookup",
            Self::KeyPackageBuild => "key_package.build",
            Self::KeyPackagePublish => "key_package.publish",
            Self::IdentitySign => "identity.sign",
            Self::IdentityPublish => "identity.publish",
            Self::IdentityAwaitVisible => "identity.await_visible",
            Self::MlsGroupNew => "mls.group_new",
            Self::IdentityLoad => "identity.load",
            Self::KeyPackageFetch => "key_package.fetch",
            Self::MlsCommitBuild => "mls.commit_build",
            Self::CommitPublish => "commit.publish",
            Self::CommitAwaitVisible => "commit.await_visible",
            Self::MlsCommitMerge => "mls.commit_merge",
            Self::WelcomeSeal => "welcome.seal",
            Self::WelcomePublish => "welcome.publish",
            Self::MessageEncrypt => "mls.message_encrypt",
            Self::MessagePublish => "message.publish",
            Self::MessageAwaitVisible => "message.await_visible",
            Self::InboxAwaitVisible => "inbox.await_visible",
            Self::WelcomeAwaitVisible => "welcome.await_visible",
            Self::WelcomeOpen => "welcome.open",
            Self::MlsGroupJoin => "mls.group_join",
        }
    }
}

/// Runs `work` as `phase`.
pub(crate) async fn run<T, E>(
    phase: Phase,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    in_phase(phase.as_str(), work).await
}

/// Runs synchronous `work` as `phase`.
pub(crate) fn run_sync<T, E>(phase: Phase, work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    in_phase_sync(phase.as_str(), work)
}
