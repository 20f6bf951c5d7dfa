//! The op layer's cached metric keys (see [`crate::layer::key_cache`]).
//!
//! API and traffic are fixed per layer, so a key is told apart by the
//! operation's name and, for durations, by how it ended.

use crate::classify::ErrorClass;
use crate::layer::key_cache::KeyCache;

/// What distinguishes one `xmtp.client.operation.duration` series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DurationKey {
    pub(crate) operation: &'static str,
    pub(crate) failure: Option<(ErrorClass, &'static str)>,
    pub(crate) size_bucket: Option<&'static str>,
}

/// The keys one layer has built.
#[derive(Default)]
pub(crate) struct LabelCache {
    pub(crate) active: KeyCache<&'static str>,
    pub(crate) duration: KeyCache<DurationKey>,
}
