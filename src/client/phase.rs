//! The phases an operation is made of (`xmtp.phase`).
//!
//! Each phase runs inside its own span, so a trace shows where an
//! operation's time went: signing, publishing, or waiting for the network
//! to make a write readable. The RPC spans of the calls a phase makes
//! become its children. Each phase also records one point of
//! `xmtp.client.phase.duration`, labelled with the operation it belongs to.

use std::future::Future;
use std::time::Instant;

use metrics::Label;
use tracing::Instrument;

use crate::layer::op::current_operation;
use crate::semconv::{
    PHASE_DURATION, XMTP_API, XMTP_OPERATION, XMTP_OUTCOME, XMTP_PHASE, XMTP_TRAFFIC,
};

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

    fn span(self) -> tracing::Span {
        tracing::info_span!(
            "xmtp.phase",
            otel.name = self.as_str(),
            otel.kind = "internal",
            xmtp.phase = self.as_str()
        )
    }

    fn record(self, started: Instant, ok: bool) {
        let mut labels = Vec::with_capacity(5);
        labels.push(Label::from_static_parts(XMTP_PHASE, self.as_str()));
        if let Some(op) = current_operation() {
            labels.push(Label::from_static_parts(XMTP_OPERATION, op.kind.as_str()));
            labels.push(Label::from_static_parts(XMTP_API, op.api.as_str()));
            labels.push(Label::from_static_parts(XMTP_TRAFFIC, op.traffic.as_str()));
        }
        labels.push(Label::from_static_parts(
            XMTP_OUTCOME,
            if ok { "ok" } else { "error" },
        ));
        metrics::histogram!(PHASE_DURATION, labels).record(started.elapsed().as_secs_f64());
    }
}

/// Runs `work` as `phase`.
pub(crate) async fn run<T, E>(
    phase: Phase,
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = work.instrument(phase.span()).await;
    phase.record(started, result.is_ok());
    result
}

/// Runs synchronous `work` as `phase`.
pub(crate) fn run_sync<T, E>(phase: Phase, work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let started = Instant::now();
    let result = phase.span().in_scope(work);
    phase.record(started, result.is_ok());
    result
}
