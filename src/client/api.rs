//! The calls the operations are made of, independent of the network
//! generation that carries them.
//!
//! Identity creation and member addition are the same sequence of logical
//! calls on V3 and V4 — upload a key package, publish an identity update,
//! read identity logs, fetch key packages, publish a commit, read it back,
//! send welcomes. Only the transport differs: V4 wraps each in envelopes
//! sent to a gateway and read from a node; V3 has a dedicated RPC for each.
//! [`XmtpApi`] is that seam.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;

use tokio_stream::Stream;

use crate::proto::associations::IdentityUpdate;
use crate::proto::xmtp::mls::api::v1::WelcomeMessageInput;

use super::ClientError;

/// Which network generation an API speaks (`xmtp.api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// The decentralized network (xmtpd nodes and gateways).
    V4,
    /// The centralized network.
    V3,
}

impl ApiVersion {
    /// The attribute value: `v4` or `v3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V4 => "v4",
            Self::V3 => "v3",
        }
    }
}

/// One entry of an inbox's identity log.
#[derive(Debug, Clone)]
pub struct IdentityLogEntry {
    /// Position in the log (V4: the originator-1 sequence id).
    pub sequence_id: u64,
    /// The update.
    pub update: IdentityUpdate,
}

/// One message of a group's topic.
#[derive(Debug, Clone)]
pub struct GroupMessageEntry {
    /// Position on the topic (V4: the originator-0 sequence id for commits).
    pub sequence_id: u64,
    /// The TLS-serialized MLS message.
    pub data: Vec<u8>,
}

/// A position on a group's topic: per originator, the last sequence id
/// read. V3 numbers all of a group's messages in one sequence, kept under
/// originator 0.
pub type TopicCursor = BTreeMap<u32, u64>;

/// One application message on a group's topic.
#[derive(Debug, Clone)]
pub struct AppMessageEntry {
    /// The originator that stored it (V3: 0).
    pub originator: u32,
    /// Its position on that originator's sequence.
    pub sequence_id: u64,
    /// The TLS-serialized MLS message.
    pub data: Vec<u8>,
}

/// One welcome addressed to an installation.
#[derive(Debug, Clone)]
pub struct WelcomeEntry {
    /// Position on the welcome topic.
    pub sequence_id: u64,
    /// The sealed welcome.
    pub welcome: WelcomeMessageInput,
}

/// What a subscription yields, until the node ends it (an error status is
/// the last item) or it is dropped (which cancels the call).
pub type EntryStream<T> = Pin<Box<dyn Stream<Item = Result<T, ClientError>> + Send>>;

/// A subscription's items as entries: `convert` turns each item into an
/// entry (or skips it with `None`); errors pass through.
pub(super) fn entries<T, U>(
    stream: impl Stream<Item = Result<T, ClientError>> + Send + 'static,
    mut convert: impl FnMut(T) -> Option<Result<U, ClientError>> + Send + 'static,
) -> EntryStream<U> {
    Box::pin(tokio_stream::StreamExt::filter_map(stream, move |item| {
        item.map_or_else(|error| Some(Err(error)), &mut convert)
    }))
}

/// The logical XMTP calls. Implemented by [`super::V4Api`].
pub trait XmtpApi: Send + Sync + 'static {
    /// The generation this API speaks.
    fn version(&self) -> ApiVersion;

    /// Whether welcome pointers published through this API can be read
    /// back through it; additions send pointers only if so.
    fn reads_welcome_pointers(&self) -> bool {
        true
    }

    /// The inbox registered for a lowercase Ethereum address, if any.
    fn get_inbox_id(
        &self,
        address: &str,
    ) -> impl Future<Output = Result<Option<String>, ClientError>> + Send;

    /// Uploads a TLS-serialized key package for `installation_key`.
    fn upload_key_package(
        &self,
        installation_key: [u8; 32],
        key_package: Vec<u8>,
    ) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// Publishes an identity update; returns its log position when the
    /// network reports one at once (V4 does).
    fn publish_identity_update(
        &self,
        update: IdentityUpdate,
    ) -> impl Future<Output = Result<Option<u64>, ClientError>> + Send;

    /// The identity logs of several inboxes, each after a known position.
    fn get_identity_updates(
        &self,
        requests: &[(String, u64)],
    ) -> impl Future<Output = Result<HashMap<String, Vec<IdentityLogEntry>>, ClientError>> + Send;

    /// The newest key package of each installation, aligned with the input.
    fn fetch_key_packages(
        &self,
        installation_keys: &[[u8; 32]],
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, ClientError>> + Send;

    /// Publishes a commit to a group, declaring the last commit it builds
    /// on; returns the commit's position when known at once.
    fn publish_commit(
        &self,
        group_id: [u8; 16],
        data: Vec<u8>,
        depends_on: Option<u64>,
    ) -> impl Future<Output = Result<Option<u64>, ClientError>> + Send;

    /// The group's commits after a position (application messages on the
    /// same topic are skipped, though they count for the position).
    fn query_group_messages(
        &self,
        group_id: [u8; 16],
        after: u64,
    ) -> impl Future<Output = Result<Vec<GroupMessageEntry>, ClientError>> + Send;

    /// Publishes an application message to a group; returns where it was
    /// stored (originator, sequence id) when the network says at once
    /// (V4 does).
    fn publish_message(
        &self,
        group_id: [u8; 16],
        data: Vec<u8>,
    ) -> impl Future<Output = Result<Option<(u32, u64)>, ClientError>> + Send;

    /// The group's application messages after `after`, in order (commits
    /// on the same topic are skipped).
    fn query_messages(
        &self,
        group_id: [u8; 16],
        after: &TopicCursor,
    ) -> impl Future<Output = Result<Vec<AppMessageEntry>, ClientError>> + Send;

    /// Sends sealed welcomes (batching is the API's business).
    fn send_welcomes(
        &self,
        welcomes: Vec<WelcomeMessageInput>,
    ) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// Welcomes addressed to an installation after a position.
    fn query_welcomes(
        &self,
        installation_key: [u8; 32],
        after: u64,
    ) -> impl Future<Output = Result<Vec<WelcomeEntry>, ClientError>> + Send;

    /// Subscribes to the group's application messages after `after`:
    /// those already stored, then new ones as they become readable
    /// (commits on the same topic are skipped).
    fn subscribe_messages(
        &self,
        group_id: [u8; 16],
        after: &TopicCursor,
    ) -> impl Future<Output = Result<EntryStream<AppMessageEntry>, ClientError>> + Send;

    /// Subscribes to the welcomes addressed to an installation after a
    /// position: those already stored, then new ones.
    fn subscribe_welcomes(
        &self,
        installation_key: [u8; 32],
        after: u64,
    ) -> impl Future<Output = Result<EntryStream<WelcomeEntry>, ClientError>> + Send;
}
