//! What an operation is, to the layer.
//!
//! The layer knows nothing about any particular client. A request becomes
//! measurable by implementing [`Operation`]: it names itself (the value of
//! `xmtp.operation`, and the span's name) and may say how large a group it
//! touches. A response may implement [`OperationOutput`] to report what
//! the operation did. This crate's XMTP client implements both for its
//! `Op` and `OpResult`; another client implements them for its own types
//! with names of its own.
//!
//! Most operations are timed from the call to the response. A
//! *visibility* measurement is not: "how long until another member sees
//! my message" counts from the start of the write it follows, and ends
//! when the other side received it, which may be before the check that
//! learns of it. [`Operation::started_at`] and
//! [`OperationOutput::finished_at`] move the two ends of the clock.

/// A request the [`OpTelemetryLayer`](super::OpTelemetryLayer) can
/// measure.
pub trait Operation {
    /// The operation's name, e.g. `group.add_members`. It becomes a metric
    /// label, so it must come from a small fixed set.
    fn name(&self) -> &'static str;

    /// The group's size after the operation, if known before it runs.
    fn group_size(&self) -> Option<usize> {
        None
    }

    /// When the operation's clock started, if before the call: the start
    /// of the write a visibility measurement follows.
    fn started_at(&self) -> Option<std::time::Instant> {
        None
    }
}

/// What a measured operation returned, as far as telemetry cares.
pub trait OperationOutput {
    /// The group's size after the operation.
    fn group_size(&self) -> Option<usize> {
        None
    }
    /// How many members the operation added.
    fn members_added(&self) -> Option<usize> {
        None
    }
    /// When the awaited event happened, if before the response: a
    /// visibility check that finds its item already delivered ends when it
    /// was delivered, not when the check ran.
    fn finished_at(&self) -> Option<std::time::Instant> {
        None
    }
}
