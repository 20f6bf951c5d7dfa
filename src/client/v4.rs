//! [`XmtpApi`] over XMTP V4: client envelopes published to a gateway,
//! originator envelopes read back from a node.
//!
//! Since 2026 nodes and gateways serve their APIs under two names
//! (`QueryApi`/`GatewayApi` and the legacy `ReplicationApi`/`PayerApi`).
//! The client uses the new names and falls back to the legacy ones, for
//! good, the first time a peer answers `UNIMPLEMENTED`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::try_join_all;
use prost::Message;
use tonic::Code;

use crate::codec::MAX_PAYLOAD_BYTES;
use crate::proto::associations::{IdentifierKind, IdentityUpdate};
use crate::proto::envelopes::{
    client_envelope::Payload, AuthenticatedData, ClientEnvelope, Cursor, OriginatorEnvelope,
    PayerEnvelope, UnsignedOriginatorEnvelope,
};
use crate::proto::gateway_api::gateway_api_client::GatewayApiClient;
use crate::proto::message_api::{
    get_inbox_ids_request, query_api_client::QueryApiClient,
    replication_api_client::ReplicationApiClient, EnvelopesQuery, GetInboxIdsRequest,
    GetInboxIdsResponse, GetNewestEnvelopeRequest, GetNewestEnvelopeResponse,
    QueryEnvelopesRequest, QueryEnvelopesResponse,
};
use crate::proto::payer_api::{
    payer_api_client::PayerApiClient, PublishClientEnvelopesRequest, PublishClientEnvelopesResponse,
};
use crate::proto::xmtp::mls::api::v1::{
    group_message_input, GroupMessageInput, KeyPackageUpload, UploadKeyPackageRequest,
    WelcomeMessageInput,
};
use crate::topic::{topic, TopicKind, COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR};

use super::api::{
    entries, ApiVersion, AppMessageEntry, EntryStream, GroupMessageEntry, IdentityLogEntry,
    TopicCursor, WelcomeEntry, XmtpApi,
};
use super::transport::BoxedService;
use super::{ClientError, ReadService, Subscriber, Transport};

/// Largest page a node returns.
const PAGE: u32 = 1_000;
/// Welcomes per publish call, as libxmtp batches them.
const WELCOME_BATCH: usize = 50;

/// The gRPC paths this API calls (new name first, legacy second).
pub mod methods {
    /// `QueryApi/QueryEnvelopes`.
    pub const QUERY_ENVELOPES: &str = "/xmtp.xmtpv4.message_api.QueryApi/QueryEnvelopes";
    /// `ReplicationApi/QueryEnvelopes`.
    pub const QUERY_ENVELOPES_LEGACY: &str =
        "/xmtp.xmtpv4.message_api.ReplicationApi/QueryEnvelopes";
    /// `QueryApi/GetNewestEnvelope`.
    pub const GET_NEWEST_ENVELOPE: &str = "/xmtp.xmtpv4.message_api.QueryApi/GetNewestEnvelope";
    /// `ReplicationApi/GetNewestEnvelope`.
    pub const GET_NEWEST_ENVELOPE_LEGACY: &str =
        "/xmtp.xmtpv4.message_api.ReplicationApi/GetNewestEnvelope";
    /// `QueryApi/GetInboxIds`.
    pub const GET_INBOX_IDS: &str = "/xmtp.xmtpv4.message_api.QueryApi/GetInboxIds";
    /// `ReplicationApi/GetInboxIds`.
    pub const GET_INBOX_IDS_LEGACY: &str = "/xmtp.xmtpv4.message_api.ReplicationApi/GetInboxIds";
    /// `GatewayApi/PublishClientEnvelopes`.
    pub const PUBLISH: &str = "/xmtp.xmtpv4.gateway_api.GatewayApi/PublishClientEnvelopes";
    /// `PayerApi/PublishClientEnvelopes`.
    pub const PUBLISH_LEGACY: &str = "/xmtp.xmtpv4.payer_api.PayerApi/PublishClientEnvelopes";
    /// `QueryApi/SubscribeTopics`.
    pub const SUBSCRIBE_TOPICS: &str = "/xmtp.xmtpv4.message_api.QueryApi/SubscribeTopics";
    /// `ReplicationApi/SubscribeTopics`.
    pub const SUBSCRIBE_TOPICS_LEGACY: &str =
        "/xmtp.xmtpv4.message_api.ReplicationApi/SubscribeTopics";
}

/// How long past its deadline a call may still take before the client
/// drops it: the transport's `grpc-timeout` ends a call that gets no
/// answer, and this only catches an answer that starts and then stalls.
const DEADLINE_GRACE: Duration = Duration::from_millis(250);

/// Runs one gRPC `call` to `method` within `timeout`.
///
/// The transport carries `timeout` as the call's `grpc-timeout` (see
/// [`Transport::with_deadline`]), so tonic ends the call at its deadline,
/// with `CANCELLED`, as does a server that honours the header. A call that
/// ends cancelled once the deadline has passed was ended by it.
pub(crate) async fn timed<T>(
    method: &'static str,
    timeout: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, ClientError> {
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(timeout + DEADLINE_GRACE, call).await {
        Err(_) => Err(ClientError::Timeout { method, timeout }),
        Ok(Err(status))
            if status.code() == tonic::Code::Cancelled && started.elapsed() >= timeout =>
        {
            Err(ClientError::Timeout { method, timeout })
        }
        Ok(Err(status)) => Err(ClientError::Rpc { method, status }),
        Ok(Ok(response)) => Ok(response.into_inner()),
    }
}

/// One boxed gRPC call.
type Call<T> = Pin<Box<dyn Future<Output = Result<tonic::Response<T>, tonic::Status>> + Send>>;

type Svc = BoxedService;

/// XMTP V4 calls: writes to a gateway, reads from a node.
#[derive(Debug)]
pub struct V4Api {
    gateway: Transport,
    node: Transport,
    /// Subscriptions go to the node without a deadline.
    streams: Subscriber,
    rpc_timeout: Duration,
    legacy_reads: AtomicBool,
    legacy_writes: AtomicBool,
}

impl V4Api {
    /// An API writing through `gateway` and reading from `node` (which may
    /// be the same transport), with a deadline per call.
    pub fn new(gateway: Transport, node: Transport, rpc_timeout: Duration) -> Self {
        Self {
            gateway: gateway.with_deadline(rpc_timeout),
            streams: Subscriber::new(node.clone()),
            node: node.with_deadline(rpc_timeout),
            rpc_timeout,
            legacy_reads: AtomicBool::new(false),
            legacy_writes: AtomicBool::new(false),
        }
    }

    async fn call<T>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, ClientError> {
        timed(method, self.rpc_timeout, call).await
    }

    /// Calls the new service name, or the legacy one once a peer has said
    /// it does not know the new one.
    ///
    /// The calls are boxed futures: generic async closures over tonic's
    /// clients trip a compiler limitation when proving the result `Send`.
    async fn with_fallback<Req, T>(
        &self,
        legacy: &AtomicBool,
        transport: &Transport,
        request: Req,
        (current_method, current): (&'static str, impl FnOnce(Svc, Req) -> Call<T>),
        (legacy_method, legacy_call): (&'static str, impl FnOnce(Svc, Req) -> Call<T>),
    ) -> Result<T, ClientError>
    where
        Req: Clone,
    {
        if !legacy.load(Ordering::Relaxed) {
            match self
                .call(
                    current_method,
                    current(transport.service(), request.clone()),
                )
                .await
            {
                Err(ClientError::Rpc { status, .. }) if status.code() == Code::Unimplemented => {
                    legacy.store(true, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        self.call(legacy_method, legacy_call(transport.service(), request))
            .await
    }

    async fn query_envelopes(
        &self,
        request: QueryEnvelopesRequest,
    ) -> Result<QueryEnvelopesResponse, ClientError> {
        self.with_fallback(
            &self.legacy_reads,
            &self.node,
            request,
            (methods::QUERY_ENVELOPES, |svc, r| {
                Box::pin(async move {
                    read_client(QueryApiClient::new(svc))
                        .query_envelopes(r)
                        .await
                })
            }),
            (methods::QUERY_ENVELOPES_LEGACY, |svc, r| {
                Box::pin(async move {
                    read_client_legacy(ReplicationApiClient::new(svc))
                        .query_envelopes(r)
                        .await
                })
            }),
        )
        .await
    }

    async fn get_newest_envelope(
        &self,
        request: GetNewestEnvelopeRequest,
    ) -> Result<GetNewestEnvelopeResponse, ClientError> {
        self.with_fallback(
            &self.legacy_reads,
            &self.node,
            request,
            (methods::GET_NEWEST_ENVELOPE, |svc, r| {
                Box::pin(async move {
                    read_client(QueryApiClient::new(svc))
                        .get_newest_envelope(r)
                        .await
                })
            }),
            (methods::GET_NEWEST_ENVELOPE_LEGACY, |svc, r| {
                Box::pin(async move {
                    read_client_legacy(ReplicationApiClient::new(svc))
                        .get_newest_envelope(r)
                        .await
                })
            }),
        )
        .await
    }

    async fn get_inbox_ids(
        &self,
        request: GetInboxIdsRequest,
    ) -> Result<GetInboxIdsResponse, ClientError> {
        self.with_fallback(
            &self.legacy_reads,
            &self.node,
            request,
            (methods::GET_INBOX_IDS, |svc, r| {
                Box::pin(
                    async move { read_client(QueryApiClient::new(svc)).get_inbox_ids(r).await },
                )
            }),
            (methods::GET_INBOX_IDS_LEGACY, |svc, r| {
                Box::pin(async move {
                    read_client_legacy(ReplicationApiClient::new(svc))
                        .get_inbox_ids(r)
                        .await
                })
            }),
        )
        .await
    }

    /// Publishes envelopes; the answer holds one originator envelope per
    /// envelope sent, in order. They are returned unopened: callers that
    /// need a position read just that (see [`position`]).
    async fn publish(
        &self,
        envelopes: Vec<ClientEnvelope>,
    ) -> Result<Vec<OriginatorEnvelope>, ClientError> {
        let sent = envelopes.len();
        let request = PublishClientEnvelopesRequest { envelopes };
        let response: PublishClientEnvelopesResponse = self
            .with_fallback(
                &self.legacy_writes,
                &self.gateway,
                request,
                (methods::PUBLISH, |svc, r| {
                    Box::pin(async move {
                        GatewayApiClient::new(svc)
                            .max_decoding_message_size(MAX_PAYLOAD_BYTES)
                            .max_encoding_message_size(MAX_PAYLOAD_BYTES)
                            .publish_client_envelopes(r)
                            .await
                    })
                }),
                (methods::PUBLISH_LEGACY, |svc, r| {
                    Box::pin(async move {
                        PayerApiClient::new(svc)
                            .max_decoding_message_size(MAX_PAYLOAD_BYTES)
                            .max_encoding_message_size(MAX_PAYLOAD_BYTES)
                            .publish_client_envelopes(r)
                            .await
                    })
                }),
            )
            .await?;
        if response.originator_envelopes.len() != sent {
            return Err(ClientError::Protocol(format!(
                "published {sent} envelopes but got {} back",
                response.originator_envelopes.len()
            )));
        }
        Ok(response.originator_envelopes)
    }

    /// Reads every envelope on `topics` after `cursor`, page by page.
    async fn query_all(
        &self,
        topics: Vec<Vec<u8>>,
        mut cursor: HashMap<u32, u64>,
    ) -> Result<Vec<Opened>, ClientError> {
        let mut all = Vec::new();
        loop {
            let request = QueryEnvelopesRequest {
                query: Some(EnvelopesQuery {
                    topics: topics.clone(),
                    originator_node_ids: Vec::new(),
                    last_seen: Some(Cursor {
                        node_id_to_sequence_id: cursor.clone(),
                    }),
                }),
                limit: PAGE,
            };
            let page = self.query_envelopes(request).await?.envelopes;
            let full = page.len() >= PAGE as usize;
            for envelope in &page {
                let opened = open(envelope)?;
                let seen = cursor.entry(opened.originator).or_insert(0);
                *seen = (*seen).max(opened.sequence_id);
                all.push(opened);
            }
            if !full {
                return Ok(all);
            }
        }
    }

    /// Subscribes to one topic after `cursor`, on the service name reads
    /// currently use; yields each envelope opened.
    async fn subscribe(
        &self,
        topic: Vec<u8>,
        cursor: HashMap<u32, u64>,
    ) -> Result<impl tokio_stream::Stream<Item = Result<Opened, ClientError>>, ClientError> {
        let service = if self.legacy_reads.load(Ordering::Relaxed) {
            ReadService::Replication
        } else {
            ReadService::Query
        };
        let stream = self.streams.topics(service, [(topic, cursor)]).await?;
        Ok(tokio_stream::StreamExt::map(stream, |item| {
            item.and_then(|envelope| open(&envelope))
        }))
    }
}

pub(super) fn read_client(client: QueryApiClient<Svc>) -> QueryApiClient<Svc> {
    client
        .max_decoding_message_size(MAX_PAYLOAD_BYTES)
        .max_encoding_message_size(MAX_PAYLOAD_BYTES)
}

pub(super) fn read_client_legacy(client: ReplicationApiClient<Svc>) -> ReplicationApiClient<Svc> {
    client
        .max_decoding_message_size(MAX_PAYLOAD_BYTES)
        .max_encoding_message_size(MAX_PAYLOAD_BYTES)
}

/// An originator envelope opened down to the client envelope inside.
#[derive(Debug)]
struct Opened {
    originator: u32,
    sequence_id: u64,
    envelope: ClientEnvelope,
}

/// The two leading fields of an `UnsignedOriginatorEnvelope`. Decoding
/// only these skips the payload (which for a welcome to a large group is
/// tens of kilobytes) without copying it.
#[derive(Clone, PartialEq, prost::Message)]
struct Position {
    #[prost(uint32, tag = "1")]
    originator_node_id: u32,
    #[prost(uint64, tag = "2")]
    originator_sequence_id: u64,
}

/// A group message as a client publishes it.
fn group_message(data: Vec<u8>) -> GroupMessageInput {
    GroupMessageInput {
        version: Some(group_message_input::Version::V1(group_message_input::V1 {
            data,
            sender_hmac: Vec::new(),
            should_push: false,
        })),
    }
}

/// The MLS message a group topic's envelope carries.
fn group_message_data(envelope: ClientEnvelope) -> Result<Vec<u8>, ClientError> {
    match envelope.payload {
        Some(Payload::GroupMessage(GroupMessageInput {
            version: Some(group_message_input::Version::V1(v1)),
        })) => Ok(v1.data),
        _ => Err(ClientError::Protocol(
            "group topic holds something other than a group message".into(),
        )),
    }
}

/// An application message read from a group topic.
fn app_message(opened: Opened) -> Result<AppMessageEntry, ClientError> {
    Ok(AppMessageEntry {
        originator: opened.originator,
        sequence_id: opened.sequence_id,
        data: group_message_data(opened.envelope)?,
    })
}

/// A welcome read from a welcome topic.
fn welcome_entry(opened: Opened) -> Result<WelcomeEntry, ClientError> {
    match opened.envelope.payload {
        Some(Payload::WelcomeMessage(welcome)) => Ok(WelcomeEntry {
            sequence_id: opened.sequence_id,
            welcome,
        }),
        _ => Err(ClientError::Protocol(
            "welcome topic holds something other than a welcome".into(),
        )),
    }
}

/// Where the network stored an envelope: (originator, sequence id).
fn position(envelope: &OriginatorEnvelope) -> Result<(u32, u64), ClientError> {
    let position = Position::decode(envelope.unsigned_originator_envelope.as_slice())
        .map_err(|e| ClientError::Protocol(format!("originator envelope does not decode: {e}")))?;
    Ok((position.originator_node_id, position.originator_sequence_id))
}

/// OriginatorEnvelope → UnsignedOriginatorEnvelope → PayerEnvelope →
/// ClientEnvelope. Signatures are not checked, as libxmtp does not.
fn open(envelope: &OriginatorEnvelope) -> Result<Opened, ClientError> {
    let broken = |what: &str, e: prost::DecodeError| {
        ClientError::Protocol(format!("{what} does not decode: {e}"))
    };
    let unsigned =
        UnsignedOriginatorEnvelope::decode(envelope.unsigned_originator_envelope.as_slice())
            .map_err(|e| broken("unsigned originator envelope", e))?;
    let payer = PayerEnvelope::decode(unsigned.payer_envelope_bytes.as_slice())
        .map_err(|e| broken("payer envelope", e))?;
    let client = ClientEnvelope::decode(payer.unsigned_client_envelope.as_slice())
        .map_err(|e| broken("client envelope", e))?;
    Ok(Opened {
        originator: unsigned.originator_node_id,
        sequence_id: unsigned.originator_sequence_id,
        envelope: client,
    })
}

fn envelope(topic: Vec<u8>, depends_on: Option<Cursor>, payload: Payload) -> ClientEnvelope {
    ClientEnvelope {
        aad: Some(AuthenticatedData {
            target_topic: topic,
            depends_on,
        }),
        payload: Some(payload),
    }
}

impl XmtpApi for V4Api {
    fn version(&self) -> ApiVersion {
        ApiVersion::V4
    }

    async fn get_inbox_id(&self, address: &str) -> Result<Option<String>, ClientError> {
        let request = GetInboxIdsRequest {
            requests: vec![get_inbox_ids_request::Request {
                identifier: address.to_owned(),
                identifier_kind: IdentifierKind::Ethereum as i32,
            }],
        };
        let response = self.get_inbox_ids(request).await?;
        Ok(response
            .responses
            .into_iter()
            .find(|r| r.identifier == address)
            .and_then(|r| r.inbox_id))
    }

    async fn upload_key_package(
        &self,
        installation_key: [u8; 32],
        key_package: Vec<u8>,
    ) -> Result<(), ClientError> {
        let upload = UploadKeyPackageRequest {
            key_package: Some(KeyPackageUpload {
                key_package_tls_serialized: key_package,
            }),
            is_inbox_id_credential: true,
        };
        self.publish(vec![envelope(
            topic(TopicKind::KeyPackages, &installation_key),
            None,
            Payload::UploadKeyPackage(upload),
        )])
        .await?;
        Ok(())
    }

    async fn publish_identity_update(
        &self,
        update: IdentityUpdate,
    ) -> Result<Option<u64>, ClientError> {
        let inbox = hex::decode(&update.inbox_id)
            .map_err(|_| ClientError::Usage("inbox id is not hex".into()))?;
        let published = self
            .publish(vec![envelope(
                topic(TopicKind::IdentityUpdates, &inbox),
                None,
                Payload::IdentityUpdate(update),
            )])
            .await?;
        published
            .first()
            .map(|envelope| position(envelope).map(|(_, seq)| seq))
            .transpose()
    }

    async fn get_identity_updates(
        &self,
        requests: &[(String, u64)],
    ) -> Result<HashMap<String, Vec<IdentityLogEntry>>, ClientError> {
        let mut topics = Vec::with_capacity(requests.len());
        for (inbox_id, _) in requests {
            let inbox = hex::decode(inbox_id)
                .map_err(|_| ClientError::Usage(format!("inbox id `{inbox_id}` is not hex")))?;
            topics.push(topic(TopicKind::IdentityUpdates, &inbox));
        }
        let after: HashMap<&str, u64> = requests.iter().map(|(i, s)| (i.as_str(), *s)).collect();
        let lowest = requests.iter().map(|(_, s)| *s).min().unwrap_or(0);
        let cursor = HashMap::from([(IDENTITY_ORIGINATOR, lowest)]);
        let mut logs: HashMap<String, Vec<IdentityLogEntry>> = HashMap::new();
        for opened in self.query_all(topics, cursor).await? {
            let Some(Payload::IdentityUpdate(update)) = opened.envelope.payload else {
                return Err(ClientError::Protocol(
                    "identity topic holds something other than an identity update".into(),
                ));
            };
            match after.get(update.inbox_id.as_str()) {
                Some(&after) if opened.sequence_id > after => {
                    logs.entry(update.inbox_id.clone())
                        .or_default()
                        .push(IdentityLogEntry {
                            sequence_id: opened.sequence_id,
                            update,
                        });
                }
                Some(_) => {}
                None => {
                    return Err(ClientError::Protocol(format!(
                        "asked for some inboxes, got an update of inbox {}",
                        update.inbox_id
                    )))
                }
            }
        }
        Ok(logs)
    }

    async fn fetch_key_packages(
        &self,
        installation_keys: &[[u8; 32]],
    ) -> Result<Vec<Option<Vec<u8>>>, ClientError> {
        let topics = installation_keys
            .iter()
            .map(|key| topic(TopicKind::KeyPackages, key))
            .collect();
        let response = self
            .get_newest_envelope(GetNewestEnvelopeRequest { topics })
            .await?;
        if response.results.len() != installation_keys.len() {
            return Err(ClientError::Protocol(format!(
                "asked for {} key packages, got {} results",
                installation_keys.len(),
                response.results.len()
            )));
        }
        response
            .results
            .iter()
            .map(|result| {
                let Some(envelope) = &result.originator_envelope else {
                    return Ok(None);
                };
                match open(envelope)?.envelope.payload {
                    Some(Payload::UploadKeyPackage(upload)) => {
                        Ok(upload.key_package.map(|kp| kp.key_package_tls_serialized))
                    }
                    _ => Err(ClientError::Protocol(
                        "key-package topic holds something other than a key package".into(),
                    )),
                }
            })
            .collect()
    }

    async fn publish_commit(
        &self,
        group_id: [u8; 16],
        data: Vec<u8>,
        depends_on: Option<u64>,
    ) -> Result<Option<u64>, ClientError> {
        let depends_on = depends_on.map(|seq| Cursor {
            node_id_to_sequence_id: HashMap::from([(COMMITS_ORIGINATOR, seq)]),
        });
        let published = self
            .publish(vec![envelope(
                topic(TopicKind::GroupMessages, &group_id),
                depends_on,
                Payload::GroupMessage(group_message(data)),
            )])
            .await?;
        published
            .first()
            .map(|envelope| position(envelope).map(|(_, seq)| seq))
            .transpose()
    }

    async fn publish_message(
        &self,
        group_id: [u8; 16],
        data: Vec<u8>,
    ) -> Result<Option<(u32, u64)>, ClientError> {
        let published = self
            .publish(vec![envelope(
                topic(TopicKind::GroupMessages, &group_id),
                None,
                Payload::GroupMessage(group_message(data)),
            )])
            .await?;
        published.first().map(position).transpose()
    }

    async fn query_messages(
        &self,
        group_id: [u8; 16],
        after: &TopicCursor,
    ) -> Result<Vec<AppMessageEntry>, ClientError> {
        let cursor = after.iter().map(|(k, v)| (*k, *v)).collect();
        let opened = self
            .query_all(vec![topic(TopicKind::GroupMessages, &group_id)], cursor)
            .await?;
        opened
            .into_iter()
            .filter(|o| o.originator != COMMITS_ORIGINATOR)
            .map(app_message)
            .collect()
    }

    async fn query_group_messages(
        &self,
        group_id: [u8; 16],
        after: u64,
    ) -> Result<Vec<GroupMessageEntry>, ClientError> {
        let cursor = HashMap::from([(COMMITS_ORIGINATOR, after)]);
        let opened = self
            .query_all(vec![topic(TopicKind::GroupMessages, &group_id)], cursor)
            .await?;
        opened
            .into_iter()
            // Commits are what the operations need; application messages
            // (other originators) are not read here.
            .filter(|o| o.originator == COMMITS_ORIGINATOR)
            .map(|o| {
                Ok(GroupMessageEntry {
                    sequence_id: o.sequence_id,
                    data: group_message_data(o.envelope)?,
                })
            })
            .collect()
    }

    async fn send_welcomes(&self, welcomes: Vec<WelcomeMessageInput>) -> Result<(), ClientError> {
        let envelopes: Vec<ClientEnvelope> = welcomes
            .into_iter()
            .map(|welcome| {
                let key = match &welcome.version {
                    Some(crate::proto::xmtp::mls::api::v1::welcome_message_input::Version::V1(
                        v1,
                    )) => v1.installation_key.clone(),
                    Some(
                        crate::proto::xmtp::mls::api::v1::welcome_message_input::Version::WelcomePointer(p),
                    ) => p.installation_key.clone(),
                    None => Vec::new(),
                };
                envelope(
                    topic(TopicKind::WelcomeMessages, &key),
                    None,
                    Payload::WelcomeMessage(welcome),
                )
            })
            .collect();
        let batches = envelopes
            .chunks(WELCOME_BATCH)
            .map(|batch| self.publish(batch.to_vec()));
        try_join_all(batches).await?;
        Ok(())
    }

    async fn query_welcomes(
        &self,
        installation_key: [u8; 32],
        after: u64,
    ) -> Result<Vec<WelcomeEntry>, ClientError> {
        let cursor = HashMap::from([(NODE_ORIGINATOR, after)]);
        let opened = self
            .query_all(
                vec![topic(TopicKind::WelcomeMessages, &installation_key)],
                cursor,
            )
            .await?;
        opened.into_iter().map(welcome_entry).collect()
    }

    async fn subscribe_messages(
        &self,
        group_id: [u8; 16],
        after: &TopicCursor,
    ) -> Result<EntryStream<AppMessageEntry>, ClientError> {
        let cursor = after.iter().map(|(k, v)| (*k, *v)).collect();
        let stream = self
            .subscribe(topic(TopicKind::GroupMessages, &group_id), cursor)
            .await?;
        Ok(entries(stream, |opened| {
            (opened.originator != COMMITS_ORIGINATOR).then(|| app_message(opened))
        }))
    }

    async fn subscribe_welcomes(
        &self,
        installation_key: [u8; 32],
        after: u64,
    ) -> Result<EntryStream<WelcomeEntry>, ClientError> {
        let cursor = HashMap::from([(NODE_ORIGINATOR, after)]);
        let stream = self
            .subscribe(topic(TopicKind::WelcomeMessages, &installation_key), cursor)
            .await?;
        Ok(entries(stream, |opened| Some(welcome_entry(opened))))
    }
}
