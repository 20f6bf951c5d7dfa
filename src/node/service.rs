//! The gRPC handlers of the embedded node: the gateway's write API and
//! the node's read API, each under both service-name generations.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use sha3::{Digest, Keccak256};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::codec::MAX_PAYLOAD_BYTES;
use crate::identity::{apply_update_with, ScwSignatures};
use crate::proto::envelopes::{
    originator_envelope::Proof, BlockchainProof, ClientEnvelope, OriginatorEnvelope, PayerEnvelope,
    UnsignedOriginatorEnvelope,
};
use crate::proto::gateway_api::gateway_api_server::GatewayApi;
use crate::proto::message_api::{
    get_inbox_ids_response, get_newest_envelope_response, query_api_server::QueryApi,
    replication_api_server::ReplicationApi, GetInboxIdsRequest, GetInboxIdsResponse,
    GetNewestEnvelopeRequest, GetNewestEnvelopeResponse, QueryEnvelopesRequest,
    QueryEnvelopesResponse, SubscribeTopicsRequest, SubscribeTopicsResponse,
};
use crate::proto::payer_api::{
    payer_api_server::PayerApi, GetNodesRequest, GetNodesResponse, PublishClientEnvelopesRequest,
    PublishClientEnvelopesResponse,
};

use super::eviction::StoreLimits;
use super::inbox_locks::InboxLocks;
use super::sign::EnvelopeSigner;
use super::store::{Key, Store, COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR};
use super::subscriptions::{Delivery, Feed, Hub};
use super::topic_feed::TopicFeed;
use super::validate::{check_envelope, invalid, Route, Strictness};

/// Request limits of xmtpd's query handlers.
pub(crate) const MAX_TOPICS: usize = 10_000;
pub(crate) const MAX_CURSOR_ENTRIES: usize = 100;
const MAX_INBOX_ID_REQUESTS: usize = 1_000;
const MAX_PAGE: usize = 1_000;
/// How long the node keeps envelopes it originates (days); recorded in the
/// payer envelope as the gateway would.
const RETENTION_DAYS: u32 = 90;

/// Which network generation a write came through: V4 writes on the chain
/// path wait for the indexer and invalid identity updates are dropped
/// silently; V3 (a centralized database) makes writes readable at once
/// and refuses invalid identity updates outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    V4,
    V3,
}

/// Shared state behind every service name.
pub(crate) struct NodeState {
    pub(crate) store: Store,
    payer: EnvelopeSigner,
    originator: EnvelopeSigner,
    strict: bool,
    scw: ScwSignatures,
    indexer_lag: Duration,
    /// Identity updates of one inbox are indexed one at a time, so two
    /// cannot both pass against the same state.
    inbox_locks: InboxLocks,
    /// The open streams, woken by every write.
    pub(crate) subscriptions: Arc<Hub>,
}

impl NodeState {
    pub(crate) fn new(
        strict: bool,
        scw: ScwSignatures,
        indexer_lag: Duration,
        limits: StoreLimits,
        subscriptions: Arc<Hub>,
    ) -> Self {
        Self {
            subscriptions,
            store: Store::new(limits),
            payer: EnvelopeSigner::generate(),
            originator: EnvelopeSigner::generate(),
            strict,
            scw,
            indexer_lag,
            inbox_locks: InboxLocks::default(),
        }
    }

    pub(crate) fn strictness(&self) -> Strictness {
        if self.strict {
            Strictness::Strict
        } else {
            Strictness::AsXmtpd
        }
    }

    /// Checks, signs and stores a publish request. This is CPU work (key
    /// package validation, signature checks, hashing and signing envelopes
    /// that can be tens of kilobytes), so it runs on the blocking pool:
    /// left on an async worker, it would stall the connections that worker
    /// drives, including the next request's upload.
    pub(crate) async fn publish(
        self: &Arc<Self>,
        request: PublishClientEnvelopesRequest,
        generation: Generation,
    ) -> Result<PublishClientEnvelopesResponse, Status> {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || state.publish_now(request, generation))
            .await
            .map_err(|_| Status::internal("the node's publish worker stopped"))?
    }

    fn publish_now(
        &self,
        request: PublishClientEnvelopesRequest,
        generation: Generation,
    ) -> Result<PublishClientEnvelopesResponse, Status> {
        // Check every envelope before storing any, so a bad request has no
        // effect at all.
        let checked = request
            .envelopes
            .iter()
            .map(|envelope| check_envelope(envelope, &self.store, self.strictness(), self.scw))
            .collect::<Result<Vec<_>, _>>()?;
        let mut originator_envelopes = Vec::with_capacity(checked.len());
        for (envelope, (topic, route)) in request.envelopes.into_iter().zip(checked) {
            let stored = match route {
                Route::Node => self.originate(&envelope, topic),
                Route::Commit => {
                    self.through_chain(COMMITS_ORIGINATOR, &envelope, topic, generation)
                }
                Route::IdentityUpdate(update) => {
                    self.index_identity(&envelope, topic, update, generation)?
                }
            };
            originator_envelopes.push(stored);
        }
        Ok(PublishClientEnvelopesResponse {
            originator_envelopes,
        })
    }

    /// A write this node originates: signed by the payer and by the node,
    /// readable at once.
    fn originate(&self, envelope: &ClientEnvelope, topic: Vec<u8>) -> OriginatorEnvelope {
        let client_bytes = envelope.encode_to_vec();
        let payer_signature = self.payer.sign_payer(NODE_ORIGINATOR, &client_bytes);
        let payer = PayerEnvelope {
            unsigned_client_envelope: client_bytes,
            payer_signature: Some(payer_signature),
            target_originator: NODE_ORIGINATOR,
            message_retention_days: RETENTION_DAYS,
        };
        let sequence_id = self.store.next_sequence(NODE_ORIGINATOR);
        let unsigned =
            unsigned_envelope(NODE_ORIGINATOR, sequence_id, payer.encode_to_vec()).encode_to_vec();
        let signature = self.originator.sign_originator(&unsigned);
        let stored = OriginatorEnvelope {
            unsigned_originator_envelope: unsigned,
            proof: Some(Proof::OriginatorSignature(signature)),
        };
        self.keep(
            (NODE_ORIGINATOR, sequence_id),
            topic,
            stored.clone(),
            Instant::now(),
        );
        stored
    }

    /// A chain-path write: numbered by the chain originator, carrying a
    /// transaction hash instead of a signature, readable after the
    /// indexer lag.
    fn through_chain(
        &self,
        originator: u32,
        envelope: &ClientEnvelope,
        topic: Vec<u8>,
        generation: Generation,
    ) -> OriginatorEnvelope {
        let (key, stored) = self.chain_envelope(originator, envelope);
        self.keep(key, topic, stored.clone(), self.indexed_at(generation));
        stored
    }

    fn chain_envelope(
        &self,
        originator: u32,
        envelope: &ClientEnvelope,
    ) -> ((u32, u64), OriginatorEnvelope) {
        let payer = PayerEnvelope {
            unsigned_client_envelope: envelope.encode_to_vec(),
            ..Default::default()
        };
        let sequence_id = self.store.next_sequence(originator);
        let unsigned =
            unsigned_envelope(originator, sequence_id, payer.encode_to_vec()).encode_to_vec();
        let transaction_hash = Keccak256::digest(&unsigned).to_vec();
        let stored = OriginatorEnvelope {
            unsigned_originator_envelope: unsigned,
            proof: Some(Proof::BlockchainProof(BlockchainProof { transaction_hash })),
        };
        ((originator, sequence_id), stored)
    }

    /// Stores an envelope and wakes the streams on its topic (when it
    /// becomes readable).
    fn keep(&self, key: Key, topic: Vec<u8>, envelope: OriginatorEnvelope, visible_at: Instant) {
        let woken = topic.clone();
        self.store.insert(key, topic, envelope, visible_at);
        self.subscriptions.published(&woken, visible_at);
    }

    /// When a chain write made now becomes readable: after the indexer
    /// lag on V4, at once on V3, which has no chain.
    fn indexed_at(&self, generation: Generation) -> Instant {
        match generation {
            Generation::V4 => Instant::now() + self.indexer_lag,
            Generation::V3 => Instant::now(),
        }
    }

    /// Identity updates go through the chain, then the indexer checks them
    /// against the inbox's log. Like xmtpd, an update that fails is still
    /// acknowledged and then silently dropped; in strict mode (and always
    /// on V3, which validates before it writes) it is refused instead.
    fn index_identity(
        &self,
        envelope: &ClientEnvelope,
        topic: Vec<u8>,
        update: crate::proto::associations::IdentityUpdate,
        generation: Generation,
    ) -> Result<OriginatorEnvelope, Status> {
        let inbox_id = update.inbox_id.clone();
        self.inbox_locks.with(&inbox_id, || {
            let previous = self.store.inbox(&update.inbox_id);
            let verdict = apply_update_with(
                previous.as_ref().map(|record| &record.state),
                &update,
                self.scw,
            );
            if self.strict || generation == Generation::V3 {
                if let Err(error) = &verdict {
                    return Err(invalid(format!("identity update rejected: {error}")));
                }
            }
            let (key, stored) = self.chain_envelope(IDENTITY_ORIGINATOR, envelope);
            match verdict {
                Ok(state) => {
                    let visible_at = self.indexed_at(generation);
                    self.keep(key, topic, stored.clone(), visible_at);
                    self.store.set_inbox(state, visible_at);
                }
                Err(error) => {
                    self.store.release(key);
                    self.subscriptions.write_finished();
                    tracing::debug!(%inbox_id, %error, "dropping invalid identity update");
                }
            }
            Ok(stored)
        })
    }

    pub(crate) fn query(
        &self,
        request: QueryEnvelopesRequest,
    ) -> Result<QueryEnvelopesResponse, Status> {
        let query = request.query.unwrap_or_default();
        if !query.topics.is_empty() && !query.originator_node_ids.is_empty() {
            return Err(invalid("query by topics or by originators, not both"));
        }
        if query.topics.len() > MAX_TOPICS {
            return Err(invalid(format!("at most {MAX_TOPICS} topics per query")));
        }
        if let Some(bad) = query.topics.iter().find(|t| t.is_empty() || t.len() > 128) {
            return Err(invalid(format!(
                "topic length {} is outside 1..=128 bytes",
                bad.len()
            )));
        }
        let cursor = query
            .last_seen
            .map(|c| c.node_id_to_sequence_id)
            .unwrap_or_default();
        if cursor.len() > MAX_CURSOR_ENTRIES {
            return Err(invalid(format!(
                "at most {MAX_CURSOR_ENTRIES} cursor entries"
            )));
        }
        let limit = match request.limit as usize {
            0 => MAX_PAGE,
            n => n.min(MAX_PAGE),
        };
        let envelopes = if !query.topics.is_empty() {
            self.store.query_topics(&query.topics, &cursor, limit)
        } else {
            self.store
                .query_originators(&query.originator_node_ids, &cursor, limit)
        };
        Ok(QueryEnvelopesResponse { envelopes })
    }

    pub(crate) fn newest(
        &self,
        request: GetNewestEnvelopeRequest,
    ) -> Result<GetNewestEnvelopeResponse, Status> {
        if request.topics.len() > MAX_TOPICS {
            return Err(invalid(format!("at most {MAX_TOPICS} topics per request")));
        }
        let results = request
            .topics
            .iter()
            .map(|topic| get_newest_envelope_response::Response {
                originator_envelope: self.store.newest(topic),
            })
            .collect();
        Ok(GetNewestEnvelopeResponse { results })
    }

    pub(crate) fn inbox_ids(
        &self,
        request: GetInboxIdsRequest,
    ) -> Result<GetInboxIdsResponse, Status> {
        if request.requests.len() > MAX_INBOX_ID_REQUESTS {
            return Err(invalid(format!(
                "at most {MAX_INBOX_ID_REQUESTS} identifiers per request"
            )));
        }
        let responses = request
            .requests
            .into_iter()
            .map(|r| get_inbox_ids_response::Response {
                inbox_id: self.store.inbox_of(&r.identifier),
                identifier: r.identifier,
                identifier_kind: 0,
            })
            .collect();
        Ok(GetInboxIdsResponse { responses })
    }
}

/// A read's answer, unless it is over XMTP's payload limit: such an
/// answer (a page of big envelopes) is refused with `RESOURCE_EXHAUSTED`,
/// as xmtpd's send limit refuses it, rather than sent in full to a client
/// whose own limit (the same 25 MiB) rejects it after the transfer. The
/// client can ask for fewer at a time.
pub(crate) fn sendable<T: Message>(answer: T) -> Result<Response<T>, Status> {
    let size = answer.encoded_len();
    if size > MAX_PAYLOAD_BYTES {
        return Err(Status::resource_exhausted(format!(
            "the answer of {size} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte payload limit; \
             ask for fewer envelopes or topics at a time"
        )));
    }
    Ok(Response::new(answer))
}

fn unsigned_envelope(
    originator: u32,
    sequence_id: u64,
    payer_envelope_bytes: Vec<u8>,
) -> UnsignedOriginatorEnvelope {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UnsignedOriginatorEnvelope {
        originator_node_id: originator,
        originator_sequence_id: sequence_id,
        originator_ns: i64::try_from(now.as_nanos()).unwrap_or(i64::MAX),
        payer_envelope_bytes,
        base_fee_picodollars: 0,
        congestion_fee_picodollars: 0,
        expiry_unixtime: now.as_secs() + u64::from(RETENTION_DAYS) * 86_400,
    }
}

/// The node's gRPC services; cheap to clone, all share one [`NodeState`].
#[derive(Clone)]
pub(crate) struct NodeService {
    pub(crate) state: Arc<NodeState>,
    pub(crate) public_url: String,
}

impl NodeService {
    /// Serves a stream of `feed` (see [`Hub`]).
    pub(crate) fn subscribe<F: Feed>(&self, feed: F) -> Result<Delivery<F::Message>, Status> {
        let state = Arc::clone(&self.state);
        self.state
            .subscriptions
            .serve(feed, move || state.store.has_pending())
    }
}

/// Implements one read service name over the shared handlers.
macro_rules! read_api {
    ($service:ident) => {
        #[tonic::async_trait]
        impl $service for NodeService {
            async fn query_envelopes(
                &self,
                request: Request<QueryEnvelopesRequest>,
            ) -> Result<Response<QueryEnvelopesResponse>, Status> {
                self.state.query(request.into_inner()).and_then(sendable)
            }

            async fn get_newest_envelope(
                &self,
                request: Request<GetNewestEnvelopeRequest>,
            ) -> Result<Response<GetNewestEnvelopeResponse>, Status> {
                self.state.newest(request.into_inner()).and_then(sendable)
            }

            async fn get_inbox_ids(
                &self,
                request: Request<GetInboxIdsRequest>,
            ) -> Result<Response<GetInboxIdsResponse>, Status> {
                self.state
                    .inbox_ids(request.into_inner())
                    .and_then(sendable)
            }

            type SubscribeTopicsStream = Delivery<SubscribeTopicsResponse>;

            async fn subscribe_topics(
                &self,
                request: Request<SubscribeTopicsRequest>,
            ) -> Result<Response<Self::SubscribeTopicsStream>, Status> {
                let feed = TopicFeed::new(Arc::clone(&self.state), request.into_inner())?;
                self.subscribe(feed).map(Response::new)
            }
        }
    };
}

/// Implements one write service name over the shared handlers.
macro_rules! write_api {
    ($service:ident) => {
        #[tonic::async_trait]
        impl $service for NodeService {
            async fn publish_client_envelopes(
                &self,
                request: Request<PublishClientEnvelopesRequest>,
            ) -> Result<Response<PublishClientEnvelopesResponse>, Status> {
                self.state
                    .publish(request.into_inner(), Generation::V4)
                    .await
                    .map(Response::new)
            }

            async fn get_nodes(
                &self,
                _request: Request<GetNodesRequest>,
            ) -> Result<Response<GetNodesResponse>, Status> {
                let nodes = [(NODE_ORIGINATOR, self.public_url.clone())].into();
                Ok(Response::new(GetNodesResponse { nodes }))
            }
        }
    };
}

read_api!(ReplicationApi);
read_api!(QueryApi);
write_api!(PayerApi);
write_api!(GatewayApi);
