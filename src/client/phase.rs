//! The phases an operation is made of (`xmtp.phase`).
//!
//! Each phase runs inside its own span, so a trace shows where an
//! operation's time went: signing, publishing, or waiting for the network
//! to make a write readable. The RPC spans of the calls a phase makes
//! become its children.

use std::future::Future;

use tracing::Instrument;

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
        }
    }
}

/// Runs `work` as `phase`.
pub(crate) async fn run<T>(phase: Phase, work: impl Future<Output = T>) -> T {
    let span = tracing::info_span!(
        "xmtp.phase",
        otel.name = phase.as_str(),
        xmtp.phase = phase.as_str()
    );
    work.instrument(span).await
}

/// Runs synchronous `work` as `phase`.
pub(crate) fn run_sync<T>(phase: Phase, work: impl FnOnce() -> T) -> T {
    let span = tracing::info_span!(
        "xmtp.phase",
        otel.name = phase.as_str(),
        xmtp.phase = phase.as_str()
    );
    span.in_scope(work)
}
