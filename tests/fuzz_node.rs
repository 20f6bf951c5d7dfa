//! Fuzzing every RPC the embedded node serves: random bytes as the
//! request body, structure-aware mutations of valid requests (a field
//! changed, removed, duplicated, repeated many times or made oversized;
//! the bytes truncated or flipped, at any depth of nesting), and
//! mutations of a valid signed identity update.
//!
//! Whatever arrives, the node does not panic, answers with `OK` or
//! `INVALID_ARGUMENT` (the exceptions are listed in [`allowed`]), keeps
//! serving a valid request after every case, and holds no more memory
//! while answering than a bound proportional to the request and its
//! answer (the node runs in this process, so `peak_alloc` counts its
//! allocations). A mutated identity update — wallet- or passkey-owned —
//! never becomes visible: a node acknowledges and drops it (V4, as xmtpd
//! does), or refuses it (V3, and a `--strict` node).
//!
//! Each test starts one node and reuses it for all its cases; the cases
//! come from a fixed seed (`OPMON_FUZZ_CASES=N` runs more). Inputs that
//! found bugs are kept as explicit regression cases at the end.

mod common;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::fuzz::config;
use common::raw_grpc::RawCodec;
use peak_alloc::PeakAlloc;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use prost::Message;
use tonic::transport::Channel;
use tonic::{Code, Status};
use xmtp_opmon::codec::MAX_PAYLOAD_BYTES;
use xmtp_opmon::identity::{new_inbox_update, InstallationKey, SoftwarePasskey, Wallet};
use xmtp_opmon::node::{
    NodeConfig, RunningNode, COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR,
};
use xmtp_opmon::proto::associations::{
    identity_action::Kind, member_identifier, signature::Signature as Sig, IdentifierKind,
    IdentityUpdate,
};
use xmtp_opmon::proto::envelopes::{
    client_envelope::Payload, AuthenticatedData, ClientEnvelope, Cursor, OriginatorEnvelope,
    PayerEnvelope, UnsignedOriginatorEnvelope,
};
use xmtp_opmon::proto::message_api::{
    self, get_inbox_ids_request, EnvelopesQuery, GetNewestEnvelopeRequest, QueryEnvelopesRequest,
};
use xmtp_opmon::proto::payer_api::{GetNodesRequest, PublishClientEnvelopesRequest};
use xmtp_opmon::proto::xmtp::identity::api::v1 as identity_api;
use xmtp_opmon::proto::xmtp::mls::api::v1 as mls_api;
use xmtp_opmon::topic::{topic, TopicKind};

#[global_allocator]
static MEMORY: PeakAlloc = PeakAlloc;

/// The most memory one case may hold at once beyond what was held before:
/// a fixed allowance (connection buffers, the key package validator's
/// working set, the node's per-request state) plus a multiple of the
/// request and the answer (the body as received, the decoded message, the
/// envelopes the node builds around an accepted payload, and the answer as
/// built, encoded and received).
const BASE_BYTES: u64 = 16 << 20;
const PER_INPUT_BYTE: u64 = 16;

/// Time for one answer: a case that takes longer has hung the node.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

const NOW_NS: u64 = 1_750_000_000_000_000_000;

/// The memory counters are process-wide, so the tests take turns.
fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------
// Raw gRPC calls.

/// How long a stream that accepted its request may take to send its
/// first message before the call counts as answered (a V3 subscription
/// after the newest id sends nothing until something new arrives).
const FIRST_MESSAGE_WITHIN: Duration = Duration::from_millis(50);

/// How a method answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Unary,
    /// Server streaming: the first message (or status) is the answer.
    Streaming,
}

/// One RPC the node serves, with valid requests to mutate.
struct Target {
    path: &'static str,
    shape: Shape,
    valid: Vec<Vec<u8>>,
}

/// Calls `path` with `body`; the first answer's status and size.
async fn call(
    channel: &Channel,
    path: &'static str,
    shape: Shape,
    body: Vec<u8>,
) -> (Status, usize) {
    let mut grpc = tonic::client::Grpc::new(channel.clone())
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    let answered = async {
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let path = http::uri::PathAndQuery::from_static(path);
        match shape {
            Shape::Unary => grpc
                .unary(tonic::Request::new(body), path, RawCodec)
                .await
                .map(|answer| answer.into_inner().len()),
            Shape::Streaming => {
                let mut stream = grpc
                    .server_streaming(tonic::Request::new(body), path, RawCodec)
                    .await?
                    .into_inner();
                // A subscription may rightly wait for news: its headers
                // already accepted the request.
                match tokio::time::timeout(FIRST_MESSAGE_WITHIN, stream.message()).await {
                    Ok(answer) => answer.map(|answer| answer.map_or(0, |a| a.len())),
                    Err(_) => Ok(0),
                }
            }
        }
    };
    match tokio::time::timeout(ANSWER_WITHIN, answered).await {
        Ok(Ok(size)) => (Status::ok(""), size),
        Ok(Err(status)) => (status, 0),
        Err(_) => panic!("{path} did not answer within {ANSWER_WITHIN:?}"),
    }
}

/// The codes a refusal of `path` may carry besides INVALID_ARGUMENT.
///
/// - gRPC health is tonic-health's service with tonic's stock codec: a
///   request that does not decode is `INTERNAL` (as grpc-go's health
///   server answers too), and `Check` of a service name it does not know
///   is `NOT_FOUND`, as the health protocol specifies.
/// - A request over twice XMTP's payload limit is cut off by tonic's own
///   limit before the node's codec sees it: `OUT_OF_RANGE` (only the
///   explicit oversized test sends one).
/// - A read whose answer would exceed XMTP's payload limit (a page of big
///   envelopes the fuzz itself stored) is `RESOURCE_EXHAUSTED`, as xmtpd's
///   send limit answers.
fn allowed(path: &str, code: Code) -> bool {
    match code {
        Code::Ok | Code::InvalidArgument => true,
        Code::Internal | Code::NotFound => path.starts_with("/grpc.health.v1.Health/"),
        Code::ResourceExhausted => !path.contains("Publish") && !path.contains("Send"),
        _ => false,
    }
}

// ---------------------------------------------------------------------
// The node and valid requests of every kind.

struct Harness {
    runtime: tokio::runtime::Runtime,
    node: RunningNode,
    channel: Channel,
    /// A registered wallet and its inbox: the liveness probe asks for it.
    address: String,
    inbox_id: String,
    targets: Vec<Target>,
}

impl Harness {
    fn start(config: NodeConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (node, channel, address, inbox_id, targets) = runtime.block_on(async {
            let node = common::node_with(config).await;
            let channel = xmtp_opmon::client::channel(node.url()).unwrap();
            let client = common::client(&node);
            let owner = client.create_identity().await.expect("identity");
            let member = client.create_identity().await.expect("identity");
            let group = client
                .create_group(&owner, &[member.inbox_id().to_owned()])
                .await
                .expect("group");
            let envelopes = stored_client_envelopes(&channel).await;
            let targets = targets(&envelopes, &owner, group.group_id());
            (
                node,
                channel,
                owner.address().to_owned(),
                owner.inbox_id().to_owned(),
                targets,
            )
        });
        Self {
            runtime,
            node,
            channel,
            address,
            inbox_id,
            targets,
        }
    }

    /// Sends one case and checks every property of its answer.
    fn check(&self, path: &'static str, shape: Shape, body: Vec<u8>) -> Result<(), TestCaseError> {
        let size = body.len() as u64;
        MEMORY.reset_peak_usage();
        let before = MEMORY.current_usage() as u64;
        let (status, answer) = self
            .runtime
            .block_on(call(&self.channel, path, shape, body));
        let held = (MEMORY.peak_usage() as u64).saturating_sub(before);
        prop_assert!(
            allowed(path, status.code()),
            "{path}: {:?} {}",
            status.code(),
            status.message()
        );
        if status.code() == Code::InvalidArgument {
            prop_assert!(!status.message().is_empty(), "{path}: a refusal says why");
            // It travels in a trailer: bounded, whatever the request quoted.
            prop_assert!(
                status.message().len() <= 1_024,
                "{path}: a refusal of {} bytes",
                status.message().len()
            );
        }
        // Reads answer with what the store holds, so what a call may hold
        // grows with its answer too. (A refused over-limit answer was built
        // before it was measured; its size is not known here.)
        let answer = answer as u64;
        let bound = BASE_BYTES + PER_INPUT_BYTE * (size + answer);
        prop_assert!(
            held <= bound || status.code() == Code::ResourceExhausted,
            "{path}: {held} bytes held for a {size}-byte request and a {answer}-byte answer \
             (bound {bound})"
        );
        self.still_serving()
    }

    /// A valid request gets its right answer.
    fn still_serving(&self) -> Result<(), TestCaseError> {
        let answer = self.runtime.block_on(async {
            let mut client =
                message_api::query_api_client::QueryApiClient::new(self.channel.clone());
            tokio::time::timeout(
                ANSWER_WITHIN,
                client.get_inbox_ids(message_api::GetInboxIdsRequest {
                    requests: vec![get_inbox_ids_request::Request {
                        identifier: self.address.clone(),
                        identifier_kind: 1,
                    }],
                }),
            )
            .await
        });
        let answer = answer
            .map_err(|_| TestCaseError::fail("the node stopped answering"))?
            .map_err(|s| TestCaseError::fail(format!("a valid request failed: {s:?}")))?;
        let responses = answer.into_inner().responses;
        prop_assert_eq!(
            responses.first().and_then(|r| r.inbox_id.as_deref()),
            Some(self.inbox_id.as_str())
        );
        Ok(())
    }

    fn stop(self) {
        let Harness { runtime, node, .. } = self;
        runtime.block_on(node.shutdown());
    }
}

/// Every client envelope the node holds, as the clients sent them.
async fn stored_client_envelopes(channel: &Channel) -> Vec<ClientEnvelope> {
    let mut client = message_api::query_api_client::QueryApiClient::new(channel.clone());
    let response = client
        .query_envelopes(QueryEnvelopesRequest {
            query: Some(EnvelopesQuery {
                topics: Vec::new(),
                originator_node_ids: vec![COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR],
                last_seen: None,
            }),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    response.envelopes.iter().map(open).collect()
}

fn open(envelope: &OriginatorEnvelope) -> ClientEnvelope {
    let unsigned =
        UnsignedOriginatorEnvelope::decode(envelope.unsigned_originator_envelope.as_slice())
            .unwrap();
    let payer = PayerEnvelope::decode(unsigned.payer_envelope_bytes.as_slice()).unwrap();
    ClientEnvelope::decode(payer.unsigned_client_envelope.as_slice()).unwrap()
}

fn kind_of(envelope: &ClientEnvelope) -> &'static str {
    match &envelope.payload {
        Some(Payload::UploadKeyPackage(_)) => "key package",
        Some(Payload::IdentityUpdate(_)) => "identity update",
        Some(Payload::GroupMessage(_)) => "group message",
        Some(Payload::WelcomeMessage(_)) => "welcome",
        _ => "other",
    }
}

/// Every RPC the node serves, each with valid requests built from what
/// real clients stored.
fn targets(
    envelopes: &[ClientEnvelope],
    owner: &xmtp_opmon::client::Identity,
    group_id: [u8; 16],
) -> Vec<Target> {
    let of = |kind: &str| -> Vec<&ClientEnvelope> {
        envelopes.iter().filter(|e| kind_of(e) == kind).collect()
    };
    for kind in ["key package", "identity update", "group message", "welcome"] {
        assert!(!of(kind).is_empty(), "the set-up stored no {kind}");
    }
    let topics: Vec<Vec<u8>> = envelopes
        .iter()
        .filter_map(|e| e.aad.as_ref().map(|a| a.target_topic.clone()))
        .collect();
    let installation = owner.installation_key().to_vec();
    let inbox = owner.inbox_id().to_owned();
    let address = owner.address().to_owned();

    // V4 writes: one request per kind of envelope, and one with all.
    let mut publish: Vec<Vec<u8>> = ["key package", "identity update", "group message", "welcome"]
        .iter()
        .map(|kind| {
            PublishClientEnvelopesRequest {
                envelopes: vec![of(kind)[0].clone()],
            }
            .encode_to_vec()
        })
        .collect();
    publish.push(
        PublishClientEnvelopesRequest {
            envelopes: envelopes.to_vec(),
        }
        .encode_to_vec(),
    );
    let get_nodes = vec![GetNodesRequest {}.encode_to_vec()];

    // V4 reads.
    let query = vec![
        QueryEnvelopesRequest {
            query: Some(EnvelopesQuery {
                topics: topics.clone(),
                originator_node_ids: Vec::new(),
                last_seen: Some(Cursor {
                    node_id_to_sequence_id: [(NODE_ORIGINATOR, 1), (COMMITS_ORIGINATOR, 0)].into(),
                }),
            }),
            limit: 10,
        }
        .encode_to_vec(),
        QueryEnvelopesRequest {
            query: Some(EnvelopesQuery {
                topics: Vec::new(),
                originator_node_ids: vec![COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR],
                last_seen: None,
            }),
            limit: 0,
        }
        .encode_to_vec(),
    ];
    let subscribe_topics = vec![message_api::SubscribeTopicsRequest {
        filters: topics
            .iter()
            .map(|topic| message_api::subscribe_topics_request::TopicFilter {
                topic: topic.clone(),
                last_seen: Some(Cursor {
                    node_id_to_sequence_id: [(NODE_ORIGINATOR, 1)].into(),
                }),
            })
            .collect(),
    }
    .encode_to_vec()];
    let newest = vec![GetNewestEnvelopeRequest {
        topics: topics.clone(),
    }
    .encode_to_vec()];
    let inbox_ids = vec![message_api::GetInboxIdsRequest {
        requests: vec![get_inbox_ids_request::Request {
            identifier: address.clone(),
            identifier_kind: 1,
        }],
    }
    .encode_to_vec()];

    // V3, from the same payloads.
    let mut group_messages = Vec::new();
    let mut welcomes = Vec::new();
    let mut key_packages = Vec::new();
    let mut updates = Vec::new();
    for envelope in envelopes {
        match envelope.payload.clone() {
            Some(Payload::GroupMessage(m)) => group_messages.push(m),
            Some(Payload::WelcomeMessage(w)) => welcomes.push(w),
            Some(Payload::UploadKeyPackage(k)) => key_packages.push(k),
            Some(Payload::IdentityUpdate(u)) => updates.push(u),
            _ => {}
        }
    }
    let paging = Some(mls_api::PagingInfo {
        direction: mls_api::SortDirection::Descending as i32,
        limit: 10,
        id_cursor: 5,
    });

    let mls = |method: &'static str| -> &'static str {
        Box::leak(format!("/xmtp.mls.api.v1.MlsApi/{method}").into_boxed_str())
    };
    let identity = |method: &'static str| -> &'static str {
        Box::leak(format!("/xmtp.identity.api.v1.IdentityApi/{method}").into_boxed_str())
    };
    let unary = |path: &'static str, valid: Vec<Vec<u8>>| Target {
        path,
        shape: Shape::Unary,
        valid,
    };

    let mut targets = Vec::new();
    for service in [
        "/xmtp.xmtpv4.payer_api.PayerApi",
        "/xmtp.xmtpv4.gateway_api.GatewayApi",
    ] {
        let path =
            |m: &str| -> &'static str { Box::leak(format!("{service}/{m}").into_boxed_str()) };
        targets.push(unary(path("PublishClientEnvelopes"), publish.clone()));
        targets.push(unary(path("GetNodes"), get_nodes.clone()));
    }
    for service in [
        "/xmtp.xmtpv4.message_api.QueryApi",
        "/xmtp.xmtpv4.message_api.ReplicationApi",
    ] {
        let path =
            |m: &str| -> &'static str { Box::leak(format!("{service}/{m}").into_boxed_str()) };
        targets.push(unary(path("QueryEnvelopes"), query.clone()));
        targets.push(unary(path("GetNewestEnvelope"), newest.clone()));
        targets.push(unary(path("GetInboxIds"), inbox_ids.clone()));
        targets.push(Target {
            path: path("SubscribeTopics"),
            shape: Shape::Streaming,
            valid: subscribe_topics.clone(),
        });
    }
    targets.extend([
        unary(
            mls("SendGroupMessages"),
            vec![mls_api::SendGroupMessagesRequest {
                messages: group_messages,
            }
            .encode_to_vec()],
        ),
        unary(
            mls("SendWelcomeMessages"),
            vec![mls_api::SendWelcomeMessagesRequest { messages: welcomes }.encode_to_vec()],
        ),
        unary(
            mls("UploadKeyPackage"),
            key_packages.iter().map(Message::encode_to_vec).collect(),
        ),
        unary(
            mls("FetchKeyPackages"),
            vec![mls_api::FetchKeyPackagesRequest {
                installation_keys: vec![installation.clone(), vec![7; 32]],
            }
            .encode_to_vec()],
        ),
        unary(
            mls("QueryGroupMessages"),
            vec![
                mls_api::QueryGroupMessagesRequest {
                    group_id: group_id.to_vec(),
                    paging_info: None,
                }
                .encode_to_vec(),
                mls_api::QueryGroupMessagesRequest {
                    group_id: group_id.to_vec(),
                    paging_info: paging,
                }
                .encode_to_vec(),
            ],
        ),
        unary(
            mls("QueryWelcomeMessages"),
            vec![mls_api::QueryWelcomeMessagesRequest {
                installation_key: installation.clone(),
                paging_info: paging,
            }
            .encode_to_vec()],
        ),
        unary(
            mls("BatchPublishCommitLog"),
            vec![mls_api::BatchPublishCommitLogRequest {
                requests: vec![mls_api::PublishCommitLogRequest {
                    group_id: group_id.to_vec(),
                    serialized_commit_log_entry: vec![1; 40],
                    signature: None,
                }],
            }
            .encode_to_vec()],
        ),
        unary(
            mls("BatchQueryCommitLog"),
            vec![mls_api::BatchQueryCommitLogRequest {
                requests: vec![mls_api::QueryCommitLogRequest {
                    group_id: group_id.to_vec(),
                    paging_info: paging,
                }],
            }
            .encode_to_vec()],
        ),
        unary(
            mls("GetNewestGroupMessage"),
            vec![mls_api::GetNewestGroupMessageRequest {
                group_ids: vec![group_id.to_vec()],
                include_content: true,
            }
            .encode_to_vec()],
        ),
        unary(
            identity("PublishIdentityUpdate"),
            updates
                .iter()
                .map(|u| {
                    identity_api::PublishIdentityUpdateRequest {
                        identity_update: Some(u.clone()),
                    }
                    .encode_to_vec()
                })
                .collect(),
        ),
        unary(
            identity("GetIdentityUpdates"),
            vec![identity_api::GetIdentityUpdatesRequest {
                requests: vec![identity_api::get_identity_updates_request::Request {
                    inbox_id: inbox.clone(),
                    sequence_id: 0,
                }],
            }
            .encode_to_vec()],
        ),
        unary(
            identity("GetInboxIds"),
            vec![identity_api::GetInboxIdsRequest {
                requests: vec![identity_api::get_inbox_ids_request::Request {
                    identifier: address,
                    identifier_kind: 1,
                }],
            }
            .encode_to_vec()],
        ),
        unary(
            "/grpc.health.v1.Health/Check",
            vec![tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            }
            .encode_to_vec()],
        ),
        Target {
            path: mls("SubscribeGroupMessages"),
            shape: Shape::Streaming,
            valid: vec![mls_api::SubscribeGroupMessagesRequest {
                filters: vec![mls_api::subscribe_group_messages_request::Filter {
                    group_id: group_id.to_vec(),
                    id_cursor: 1,
                }],
            }
            .encode_to_vec()],
        },
        Target {
            path: mls("SubscribeWelcomeMessages"),
            shape: Shape::Streaming,
            valid: vec![mls_api::SubscribeWelcomeMessagesRequest {
                filters: vec![mls_api::subscribe_welcome_messages_request::Filter {
                    installation_key: installation.clone(),
                    id_cursor: 0,
                }],
            }
            .encode_to_vec()],
        },
        Target {
            path: "/grpc.health.v1.Health/Watch",
            shape: Shape::Streaming,
            valid: vec![tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            }
            .encode_to_vec()],
        },
    ]);
    targets
}

// ---------------------------------------------------------------------
// Structure-aware mutations of encoded protobuf messages.

/// One field of an encoded message: `[start, value_start)` is its key
/// (and the length, for a length-delimited field), `[value_start, end)`
/// its value.
#[derive(Debug, Clone, Copy)]
struct Field {
    start: usize,
    key_end: usize,
    value_start: usize,
    end: usize,
    wire: u8,
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The top-level fields of `bytes`, if it parses as a message.
fn fields(bytes: &[u8]) -> Option<Vec<Field>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let start = at;
        let key = read_varint(bytes, &mut at)?;
        if key >> 3 == 0 {
            return None;
        }
        let key_end = at;
        let wire = (key & 7) as u8;
        let value_start;
        match wire {
            0 => {
                value_start = at;
                read_varint(bytes, &mut at)?;
            }
            1 => {
                value_start = at;
                at += 8;
            }
            2 => {
                let len = read_varint(bytes, &mut at)? as usize;
                value_start = at;
                at = at.checked_add(len)?;
            }
            5 => {
                value_start = at;
                at += 4;
            }
            _ => return None,
        }
        if at > bytes.len() {
            return None;
        }
        out.push(Field {
            start,
            key_end,
            value_start,
            end: at,
            wire,
        });
    }
    Some(out)
}

/// What is done to the chosen message.
#[derive(Debug, Clone)]
enum Leaf {
    FlipByte {
        at: usize,
        mask: u8,
    },
    Truncate {
        at: usize,
    },
    /// A length-delimited value cut short (its length re-encoded).
    TruncateValue {
        field: usize,
        at: usize,
    },
    RemoveField {
        field: usize,
    },
    DuplicateField {
        field: usize,
    },
    /// A varint set to `value`, a length-delimited value replaced by
    /// `bytes`, a fixed value overwritten with `value`'s bytes.
    ChangeField {
        field: usize,
        value: u64,
        bytes: Vec<u8>,
    },
    /// A length-delimited value grown to `size` bytes.
    Enlarge {
        field: usize,
        size: usize,
    },
    /// A field repeated `times` times (for a repeated field: a huge list).
    Repeat {
        field: usize,
        times: usize,
    },
    /// A field the schema does not have.
    Unknown {
        number: u32,
        bytes: Vec<u8>,
    },
}

/// The most a repetition may add: big lists, but no request near the
/// payload limit (the explicit oversized test covers that).
const REPEAT_BUDGET: usize = 1 << 20;

fn apply_leaf(message: &[u8], leaf: &Leaf) -> Vec<u8> {
    let parsed = fields(message).unwrap_or_default();
    let pick = |i: usize| (!parsed.is_empty()).then(|| parsed[i % parsed.len()]);
    let mut out = message.to_vec();
    match leaf {
        Leaf::FlipByte { at, mask } => {
            if out.is_empty() {
                out.push(*mask);
            } else {
                let len = out.len();
                out[at % len] ^= mask.max(&1);
            }
        }
        Leaf::Truncate { at } => out.truncate(at % (out.len() + 1)),
        Leaf::TruncateValue { field, at } => {
            if let Some(f) = pick(*field).filter(|f| f.wire == 2) {
                let value = &message[f.value_start..f.end];
                let value = &value[..at % (value.len() + 1)];
                let mut new = message[f.start..f.key_end].to_vec();
                put_varint(&mut new, value.len() as u64);
                new.extend_from_slice(value);
                out.splice(f.start..f.end, new);
            }
        }
        Leaf::RemoveField { field } => {
            if let Some(f) = pick(*field) {
                out.drain(f.start..f.end);
            }
        }
        Leaf::DuplicateField { field } => {
            if let Some(f) = pick(*field) {
                let copy = message[f.start..f.end].to_vec();
                out.splice(f.end..f.end, copy);
            }
        }
        Leaf::ChangeField {
            field,
            value,
            bytes,
        } => {
            if let Some(f) = pick(*field) {
                let mut new = message[f.start..f.key_end].to_vec();
                match f.wire {
                    0 => put_varint(&mut new, *value),
                    1 => new.extend_from_slice(&value.to_le_bytes()),
                    5 => new.extend_from_slice(&(*value as u32).to_le_bytes()),
                    _ => {
                        put_varint(&mut new, bytes.len() as u64);
                        new.extend_from_slice(bytes);
                    }
                }
                out.splice(f.start..f.end, new);
            }
        }
        Leaf::Enlarge { field, size } => {
            if let Some(f) = pick(*field).filter(|f| f.wire == 2) {
                let mut value = message[f.value_start..f.end].to_vec();
                let fill = value.first().copied().unwrap_or(0x41);
                value.resize(value.len().max(*size), fill);
                let mut new = message[f.start..f.key_end].to_vec();
                put_varint(&mut new, value.len() as u64);
                new.extend_from_slice(&value);
                out.splice(f.start..f.end, new);
            }
        }
        Leaf::Repeat { field, times } => {
            if let Some(f) = pick(*field) {
                let one = &message[f.start..f.end];
                let times = (*times).min(REPEAT_BUDGET / one.len().max(1));
                let copies: Vec<u8> = one.repeat(times);
                out.splice(f.end..f.end, copies);
            }
        }
        Leaf::Unknown { number, bytes } => {
            put_varint(&mut out, (u64::from(*number) << 3) | 2);
            put_varint(&mut out, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
    }
    out
}

/// Applies `leaf` to a message nested `path.len()` levels deep (each step
/// picks one length-delimited field whose value parses as a message), and
/// re-encodes the lengths on the way out.
fn mutate(message: &[u8], path: &[usize], leaf: &Leaf) -> Vec<u8> {
    let Some((&step, rest)) = path.split_first() else {
        return apply_leaf(message, leaf);
    };
    let nested: Vec<Field> = fields(message)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| {
            f.wire == 2 && f.end > f.value_start && fields(&message[f.value_start..f.end]).is_some()
        })
        .collect();
    if nested.is_empty() {
        return apply_leaf(message, leaf);
    }
    let f = nested[step % nested.len()];
    let inner = mutate(&message[f.value_start..f.end], rest, leaf);
    let mut out = message[..f.key_end].to_vec();
    put_varint(&mut out, inner.len() as u64);
    out.extend_from_slice(&inner);
    out.extend_from_slice(&message[f.end..]);
    out
}

fn leaf() -> impl Strategy<Value = Leaf> {
    let value = prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        Just(i64::MAX as u64),
        Just(1u64 << 63),
        any::<u64>(),
        0u64..300,
    ];
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, mask)| Leaf::FlipByte { at, mask }),
        2 => any::<usize>().prop_map(|at| Leaf::Truncate { at }),
        2 => (any::<usize>(), any::<usize>())
            .prop_map(|(field, at)| Leaf::TruncateValue { field, at }),
        2 => any::<usize>().prop_map(|field| Leaf::RemoveField { field }),
        2 => any::<usize>().prop_map(|field| Leaf::DuplicateField { field }),
        4 => (any::<usize>(), value, prop::collection::vec(any::<u8>(), 0..80))
            .prop_map(|(field, value, bytes)| Leaf::ChangeField { field, value, bytes }),
        1 => (any::<usize>(), prop_oneof![Just(200usize), Just(4_096), Just(70_000), Just(1 << 20)])
            .prop_map(|(field, size)| Leaf::Enlarge { field, size }),
        1 => (any::<usize>(), prop_oneof![Just(2usize), Just(101), Just(1_001), Just(10_001), Just(100_000)])
            .prop_map(|(field, times)| Leaf::Repeat { field, times }),
        1 => (1u32..2000, prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(number, bytes)| Leaf::Unknown { number, bytes }),
    ]
}

// ---------------------------------------------------------------------
// The targets.

#[test]
fn random_bytes_on_every_rpc() {
    let _turn = exclusive();
    let harness = Harness::start(NodeConfig::default());
    let count = harness.targets.len();
    let bytes = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..64),
        2 => prop::collection::vec(any::<u8>(), 0..1024),
        1 => prop::collection::vec(any::<u8>(), 0..16_384),
    ];
    TestRunner::new(config(1_000))
        .run(&(0..count, bytes), |(target, body)| {
            let target = &harness.targets[target];
            harness.check(target.path, target.shape, body)
        })
        .unwrap();
    harness.stop();
}

#[test]
fn mutated_valid_requests_on_every_rpc() {
    let _turn = exclusive();
    let harness = Harness::start(NodeConfig::default());
    // Every valid request is valid as it is.
    for target in &harness.targets {
        for valid in &target.valid {
            let (status, _) = harness.runtime.block_on(call(
                &harness.channel,
                target.path,
                target.shape,
                valid.clone(),
            ));
            // Re-publishing an existing inbox's CreateInbox is refused on V3.
            let replay = target.path.ends_with("PublishIdentityUpdate");
            assert!(
                status.code() == Code::Ok || replay,
                "{}: {status:?}",
                target.path
            );
        }
    }
    let count = harness.targets.len();
    let case = (
        0..count,
        any::<usize>(),
        prop::collection::vec(any::<usize>(), 0..5),
        prop::collection::vec(leaf(), 1..3),
    );
    TestRunner::new(config(2_500))
        .run(&case, |(target, which, path, leaves)| {
            let target = &harness.targets[target];
            let mut body = target.valid[which % target.valid.len()].clone();
            for leaf in &leaves {
                body = mutate(&body, &path, leaf);
            }
            harness.check(target.path, target.shape, body)
        })
        .unwrap();
    harness.stop();
}

/// A request over XMTP's payload limit is INVALID_ARGUMENT on every RPC
/// (up to twice the limit, where tonic's own limit answers OUT_OF_RANGE
/// first), and the node goes on serving.
#[test]
fn oversized_requests_on_every_rpc() {
    let _turn = exclusive();
    let harness = Harness::start(NodeConfig::default());
    for target in &harness.targets {
        // One field of the valid request grown past the limit.
        let valid = &target.valid[0];
        let grown = mutate(
            valid,
            &[],
            &Leaf::Unknown {
                number: 999,
                bytes: vec![0x5a; MAX_PAYLOAD_BYTES + 1 - valid.len().min(16)],
            },
        );
        assert!(grown.len() > MAX_PAYLOAD_BYTES);
        let (status, _) =
            harness
                .runtime
                .block_on(call(&harness.channel, target.path, target.shape, grown));
        let expected = if target.path.starts_with("/grpc.health") {
            // tonic-health keeps tonic's default 4 MiB decoding limit.
            Code::OutOfRange
        } else {
            Code::InvalidArgument
        };
        assert_eq!(status.code(), expected, "{}: {status:?}", target.path);
        harness.still_serving().unwrap();
    }
    harness.stop();
}

// ---------------------------------------------------------------------
// Identity updates: any change to a signed update makes it invisible.

#[derive(Debug, Clone)]
enum Forgery {
    /// A byte of the encoded update flipped.
    FlipEncoded {
        at: usize,
        mask: u8,
    },
    InboxId {
        at: usize,
        to: u8,
    },
    /// The client timestamp moved by this many seconds (never zero).
    Timestamp {
        seconds: i64,
    },
    Nonce {
        nonce: u64,
    },
    /// A character of the wallet address (the CreateInbox owner) changed.
    Owner {
        at: usize,
        to: u8,
    },
    /// A byte of the added installation's key flipped.
    Installation {
        at: usize,
        mask: u8,
    },
    /// A byte of one of the signatures (wallet or installation) flipped.
    Signature {
        which: usize,
        at: usize,
        mask: u8,
    },
    /// A signature's public key (installation) flipped.
    SignatureKey {
        at: usize,
        mask: u8,
    },
    SwapActions,
    DropAction {
        which: usize,
    },
    DuplicateAction {
        which: usize,
    },
}

fn forgery() -> impl Strategy<Value = Forgery> {
    let mask = 1u8..=255;
    prop_oneof![
        3 => (any::<usize>(), mask.clone()).prop_map(|(at, mask)| Forgery::FlipEncoded { at, mask }),
        1 => (any::<usize>(), prop::sample::select(b"0123456789abcdefABCDEF xg".to_vec()))
            .prop_map(|(at, to)| Forgery::InboxId { at, to }),
        1 => prop_oneof![-100_000i64..=-1, 1i64..=100_000]
            .prop_map(|seconds| Forgery::Timestamp { seconds }),
        1 => (1u64..=u64::MAX).prop_map(|nonce| Forgery::Nonce { nonce }),
        1 => (any::<usize>(), prop::sample::select(b"0123456789abcdefABCDEFx".to_vec()))
            .prop_map(|(at, to)| Forgery::Owner { at, to }),
        1 => (any::<usize>(), mask.clone()).prop_map(|(at, mask)| Forgery::Installation { at, mask }),
        3 => (any::<usize>(), any::<usize>(), mask.clone())
            .prop_map(|(which, at, mask)| Forgery::Signature { which, at, mask }),
        1 => (any::<usize>(), mask).prop_map(|(at, mask)| Forgery::SignatureKey { at, mask }),
        1 => Just(Forgery::SwapActions),
        1 => any::<usize>().prop_map(|which| Forgery::DropAction { which }),
        1 => any::<usize>().prop_map(|which| Forgery::DuplicateAction { which }),
    ]
}

fn signatures(update: &mut IdentityUpdate) -> Vec<&mut Vec<u8>> {
    let mut out = Vec::new();
    for action in &mut update.actions {
        let slots = match action.kind.as_mut() {
            Some(Kind::CreateInbox(c)) => vec![c.initial_identifier_signature.as_mut()],
            Some(Kind::Add(a)) => vec![
                a.existing_member_signature.as_mut(),
                a.new_member_signature.as_mut(),
            ],
            _ => Vec::new(),
        };
        for slot in slots.into_iter().flatten() {
            match slot.signature.as_mut() {
                Some(Sig::Erc191(s)) => out.push(&mut s.bytes),
                Some(Sig::InstallationKey(s)) => out.push(&mut s.bytes),
                Some(Sig::Passkey(s)) => {
                    out.push(&mut s.signature);
                    out.push(&mut s.authenticator_data);
                    out.push(&mut s.client_data_json);
                    out.push(&mut s.public_key);
                }
                _ => {}
            }
        }
    }
    out
}

fn flip(bytes: &mut [u8], at: usize, mask: u8) {
    if !bytes.is_empty() {
        let len = bytes.len();
        bytes[at % len] ^= mask;
    }
}

fn replace_char(text: &mut String, at: usize, to: u8) {
    if text.is_empty() {
        return;
    }
    let mut bytes = std::mem::take(text).into_bytes();
    let len = bytes.len();
    bytes[at % len] = to;
    *text = String::from_utf8(bytes).expect("ascii");
}

/// `update` changed by `forgery`, or `None` if the change does not decode.
fn forge(update: &IdentityUpdate, forgery: &Forgery) -> Option<IdentityUpdate> {
    let mut forged = update.clone();
    match forgery {
        Forgery::FlipEncoded { at, mask } => {
            let mut bytes = update.encode_to_vec();
            flip(&mut bytes, *at, *mask);
            return IdentityUpdate::decode(bytes.as_slice()).ok();
        }
        Forgery::InboxId { at, to } => replace_char(&mut forged.inbox_id, *at, *to),
        Forgery::Timestamp { seconds } => {
            forged.client_timestamp_ns = forged
                .client_timestamp_ns
                .wrapping_add_signed(seconds * 1_000_000_000);
        }
        Forgery::Nonce { nonce } => {
            for action in &mut forged.actions {
                if let Some(Kind::CreateInbox(c)) = action.kind.as_mut() {
                    c.nonce = c.nonce.wrapping_add(*nonce);
                }
            }
        }
        Forgery::Owner { at, to } => {
            for action in &mut forged.actions {
                if let Some(Kind::CreateInbox(c)) = action.kind.as_mut() {
                    replace_char(&mut c.initial_identifier, *at, *to);
                }
            }
        }
        Forgery::Installation { at, mask } => {
            for action in &mut forged.actions {
                if let Some(Kind::Add(a)) = action.kind.as_mut() {
                    if let Some(member_identifier::Kind::InstallationPublicKey(key)) = a
                        .new_member_identifier
                        .as_mut()
                        .and_then(|m| m.kind.as_mut())
                    {
                        flip(key, *at, *mask);
                    }
                }
            }
        }
        Forgery::Signature { which, at, mask } => {
            let mut slots = signatures(&mut forged);
            let count = slots.len();
            flip(&mut slots[which % count][..], *at, *mask);
        }
        Forgery::SignatureKey { at, mask } => {
            for action in &mut forged.actions {
                if let Some(Kind::Add(a)) = action.kind.as_mut() {
                    if let Some(Sig::InstallationKey(s)) = a
                        .new_member_signature
                        .as_mut()
                        .and_then(|s| s.signature.as_mut())
                    {
                        flip(&mut s.public_key, *at, *mask);
                    }
                }
            }
        }
        Forgery::SwapActions => forged.actions.reverse(),
        Forgery::DropAction { which } => {
            let count = forged.actions.len();
            forged.actions.remove(which % count);
        }
        Forgery::DuplicateAction { which } => {
            let count = forged.actions.len();
            let copy = forged.actions[which % count].clone();
            forged.actions.push(copy);
        }
    }
    Some(forged)
}

/// What a signer actually vouches for: the timestamp only to the second
/// (the signature text prints whole seconds), a wallet signature's
/// recovery id in either of its two accepted encodings (27/28 or 0/1), and
/// nothing of the passkey relying party an action names (`relying_party`
/// of `CreateInbox` and `AddAssociation`): no signature covers it — the
/// text omits it, and the assertion's own rpIdHash is not compared with
/// it, as libxmtp does not — and the inbox's state does not record it;
/// a passkey owner's hex key in either case (the text and the inbox id
/// are made from the decoded key); and an owner of unspecified kind, which
/// is a wallet (updates from before the kind existed leave it out).
/// Two updates equal under this are the same signed statement.
/// (The relying party, the hex case and the unspecified kind came up in
/// this test: forgeries changing only them were accepted.)
fn signed_statement(update: &IdentityUpdate) -> IdentityUpdate {
    let mut update = update.clone();
    update.client_timestamp_ns -= update.client_timestamp_ns % 1_000_000_000;
    for action in &mut update.actions {
        let slots = match action.kind.as_mut() {
            Some(Kind::CreateInbox(c)) => {
                c.relying_party = None;
                if c.initial_identifier_kind == IdentifierKind::Passkey as i32 {
                    c.initial_identifier.make_ascii_lowercase();
                }
                if c.initial_identifier_kind == IdentifierKind::Unspecified as i32 {
                    c.initial_identifier_kind = IdentifierKind::Ethereum as i32;
                }
                vec![c.initial_identifier_signature.as_mut()]
            }
            Some(Kind::Add(a)) => {
                a.relying_party = None;
                vec![a.existing_member_signature.as_mut()]
            }
            _ => Vec::new(),
        };
        for slot in slots.into_iter().flatten() {
            if let Some(Sig::Erc191(s)) = slot.signature.as_mut() {
                if let Some(v) = s.bytes.get_mut(64) {
                    if *v >= 27 {
                        *v -= 27;
                    }
                }
            }
        }
    }
    update
}

/// Which door a forged update is knocked on.
#[derive(Debug, Clone, Copy)]
enum Door {
    /// V4 publish on a default node: acknowledged, then dropped.
    V4,
    /// V3 `PublishIdentityUpdate`: refused.
    V3,
    /// V4 publish on a `--strict` node: refused.
    Strict,
}

async fn knock(channel: &Channel, door: Door, update: IdentityUpdate) -> Status {
    let inbox = hex::decode(&update.inbox_id).unwrap_or_else(|_| vec![0; 32]);
    let result = match door {
        Door::V4 | Door::Strict => {
            xmtp_opmon::proto::gateway_api::gateway_api_client::GatewayApiClient::new(
                channel.clone(),
            )
            .publish_client_envelopes(PublishClientEnvelopesRequest {
                envelopes: vec![ClientEnvelope {
                    aad: Some(AuthenticatedData {
                        target_topic: topic(TopicKind::IdentityUpdates, &inbox),
                        depends_on: None,
                    }),
                    payload: Some(Payload::IdentityUpdate(update)),
                }],
            })
            .await
            .map(|_| ())
        }
        Door::V3 => identity_api::identity_api_client::IdentityApiClient::new(channel.clone())
            .publish_identity_update(identity_api::PublishIdentityUpdateRequest {
                identity_update: Some(update),
            })
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => Status::ok(""),
        Err(status) => status,
    }
}

/// How many identity updates the node shows for each inbox id, and the
/// inbox it names for `owner` (identifier and kind).
async fn visible(
    channel: &Channel,
    inboxes: &[String],
    owner: &(String, i32),
) -> (usize, Option<String>) {
    let mut client = identity_api::identity_api_client::IdentityApiClient::new(channel.clone());
    let requests = inboxes
        .iter()
        .filter(|inbox| hex::decode(inbox).is_ok_and(|b| b.len() == 32))
        .map(
            |inbox| identity_api::get_identity_updates_request::Request {
                inbox_id: inbox.clone(),
                sequence_id: 0,
            },
        )
        .collect();
    let logs = client
        .get_identity_updates(identity_api::GetIdentityUpdatesRequest { requests })
        .await
        .expect("identity logs")
        .into_inner();
    let updates = logs.responses.iter().map(|r| r.updates.len()).sum();
    let named = client
        .get_inbox_ids(identity_api::GetInboxIdsRequest {
            requests: vec![identity_api::get_inbox_ids_request::Request {
                identifier: owner.0.clone(),
                identifier_kind: owner.1,
            }],
        })
        .await
        .expect("inbox ids")
        .into_inner()
        .responses
        .pop()
        .and_then(|r| r.inbox_id);
    (updates, named)
}

/// A new inbox's signed update, owned by a wallet made from a secret (the
/// same case always builds the same update) or by the test's passkey (one
/// per run: `SoftwarePasskey` draws its key at random; a forgery never
/// creates its inbox, so every case can reuse it).
fn signed_update(wallet: [u8; 32], installation: [u8; 32], passkey: bool) -> IdentityUpdate {
    static PASSKEY: std::sync::OnceLock<SoftwarePasskey> = std::sync::OnceLock::new();
    let installation = InstallationKey::from_secret_bytes(&installation);
    if passkey {
        let owner = PASSKEY.get_or_init(SoftwarePasskey::generate);
        new_inbox_update(owner, &installation, 0, NOW_NS).unwrap()
    } else {
        let owner = Wallet::from_secret_bytes(&wallet).expect("a valid secret");
        new_inbox_update(&owner, &installation, 0, NOW_NS).unwrap()
    }
}

/// The owner a new-inbox update names: identifier and kind.
fn owner_of(update: &IdentityUpdate) -> (String, i32) {
    update
        .actions
        .iter()
        .find_map(|action| match &action.kind {
            Some(Kind::CreateInbox(c)) => {
                Some((c.initial_identifier.clone(), c.initial_identifier_kind))
            }
            _ => None,
        })
        .expect("a CreateInbox action")
}

fn forged_updates_stay_invisible(node: NodeConfig, doors: &[Door], cases: u32) {
    let _turn = exclusive();
    let harness = Harness::start(node);
    let channel = harness.channel.clone();

    // The control: an untouched update is accepted and visible, so the
    // visibility check below can see one.
    let update = signed_update([3; 32], [4; 32], false);
    let inbox = update.inbox_id.clone();
    let owner = owner_of(&update);
    let status = harness.runtime.block_on(knock(&channel, doors[0], update));
    assert_eq!(status.code(), Code::Ok, "{status:?}");
    let seen = harness
        .runtime
        .block_on(visible(&channel, std::slice::from_ref(&inbox), &owner));
    assert_eq!(seen, (1, Some(inbox)));

    let secret = prop::array::uniform32(1u8..=0x7f);
    let case = (
        secret.clone(),
        secret,
        prop::bool::weighted(0.25),
        forgery(),
        0..doors.len(),
    );
    TestRunner::new(config(cases))
        .run(&case, |(wallet, installation, passkey, forgery, door)| {
            let door = doors[door];
            let update = signed_update(wallet, installation, passkey);
            let owner = owner_of(&update);
            let Some(forged) = forge(&update, &forgery) else {
                // Bytes that no longer decode are the raw-bytes target's.
                return Ok(());
            };
            if signed_statement(&forged) == signed_statement(&update) {
                // The same statement, signed by the same keys: not a forgery.
                return Ok(());
            }
            let inboxes = [update.inbox_id.clone(), forged.inbox_id.clone()];
            let status = harness.runtime.block_on(knock(&channel, door, forged));
            match door {
                Door::V4 => prop_assert!(
                    matches!(status.code(), Code::Ok | Code::InvalidArgument),
                    "{status:?}"
                ),
                Door::V3 | Door::Strict => {
                    prop_assert_eq!(status.code(), Code::InvalidArgument, "{:?}", status)
                }
            }
            let seen = harness
                .runtime
                .block_on(visible(&channel, &inboxes, &owner));
            prop_assert_eq!(
                seen,
                (0, None),
                "{:?} became visible through {:?}",
                forgery,
                door
            );
            harness.still_serving()
        })
        .unwrap();
    harness.stop();
}

#[test]
fn forged_identity_updates_stay_invisible() {
    forged_updates_stay_invisible(NodeConfig::default(), &[Door::V4, Door::V3], 400);
}

#[test]
fn strict_node_refuses_forged_identity_updates() {
    forged_updates_stay_invisible(
        NodeConfig {
            strict: true,
            ..NodeConfig::default()
        },
        &[Door::Strict],
        150,
    );
}

// ---------------------------------------------------------------------
// Regression cases.

/// Found by `mutated_valid_requests_on_every_rpc` (OPMON_FUZZ_CASES=15000):
/// a 9-byte `QueryEnvelopes` asking for originators 0, 81 and 100 got a
/// 17 MB answer, because pages had no size limit — a topic of big
/// envelopes gave pages over XMTP's 25 MiB payload limit, which the
/// client's codec refuses only after the node built and sent them. Such
/// a read is now refused with RESOURCE_EXHAUSTED (as xmtpd's send limit
/// refuses it), and a smaller page of the same topic still reads.
#[test]
fn a_page_over_the_payload_limit_is_refused() {
    use mls_api::mls_api_client::MlsApiClient;
    use xmtp_opmon::proto::gateway_api::gateway_api_client::GatewayApiClient;
    use xmtp_opmon::proto::xmtp::mls::api::v1::welcome_message_input;

    let _turn = exclusive();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let node = common::node().await;
        let channel = xmtp_opmon::client::channel(node.url()).unwrap();
        let welcomes = topic(TopicKind::WelcomeMessages, &[9; 32]);
        let welcome = ClientEnvelope {
            aad: Some(AuthenticatedData {
                target_topic: welcomes.clone(),
                depends_on: None,
            }),
            payload: Some(Payload::WelcomeMessage(mls_api::WelcomeMessageInput {
                version: Some(welcome_message_input::Version::V1(
                    welcome_message_input::V1 {
                        installation_key: vec![9; 32],
                        data: vec![7; 10 << 20],
                        hpke_public_key: vec![1; 32],
                        wrapper_algorithm: 0,
                        welcome_metadata: Vec::new(),
                    },
                )),
            })),
        };
        let mut gateway =
            GatewayApiClient::new(channel.clone()).max_decoding_message_size(MAX_PAYLOAD_BYTES);
        for _ in 0..3 {
            gateway
                .publish_client_envelopes(PublishClientEnvelopesRequest {
                    envelopes: vec![welcome.clone()],
                })
                .await
                .expect("a 10 MiB welcome is stored");
        }
        let mut reader = message_api::query_api_client::QueryApiClient::new(channel.clone())
            .max_decoding_message_size(MAX_PAYLOAD_BYTES);
        let by_topic = |limit| QueryEnvelopesRequest {
            query: Some(EnvelopesQuery {
                topics: vec![welcomes.clone()],
                originator_node_ids: Vec::new(),
                last_seen: None,
            }),
            limit,
        };
        let refused = reader.query_envelopes(by_topic(0)).await.unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        assert!(refused.message().contains("exceeds"), "{refused:?}");
        // The fuzz's own input: originators 0, 81 and 100.
        let fuzzed = QueryEnvelopesRequest {
            query: Some(EnvelopesQuery {
                topics: Vec::new(),
                originator_node_ids: vec![81, 100, 0],
                last_seen: None,
            }),
            limit: 0,
        };
        let refused = reader.query_envelopes(fuzzed).await.unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        let page = reader
            .query_envelopes(by_topic(2))
            .await
            .expect("two of them fit");
        assert_eq!(page.into_inner().envelopes.len(), 2);
        // V3 pages the same topic the same way.
        let refused = MlsApiClient::new(channel)
            .max_decoding_message_size(MAX_PAYLOAD_BYTES)
            .query_welcome_messages(mls_api::QueryWelcomeMessagesRequest {
                installation_key: vec![9; 32],
                paging_info: None,
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
        node.shutdown().await;
    });
}

/// Found by `mutated_valid_requests_on_every_rpc` (a flaky failure: the
/// liveness probe after a case found its connection closed): a V3
/// `GetIdentityUpdates` whose inbox id was grown to 1 MiB and cut to an
/// odd length is not hex, and the refusal quoted the whole id in
/// `grpc-message` — a trailer bigger than HTTP/2 peers accept (16 KiB by
/// default), so the connection was torn down, calls in flight on it with
/// it. A refusal's message is now cut to a bounded length.
#[test]
fn a_refusal_does_not_quote_an_unbounded_input() {
    let _turn = exclusive();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let node = common::node().await;
        let channel = xmtp_opmon::client::channel(node.url()).unwrap();
        let mut identity = identity_api::identity_api_client::IdentityApiClient::new(channel);
        for _ in 0..3 {
            let refused = identity
                .get_identity_updates(identity_api::GetIdentityUpdatesRequest {
                    requests: vec![identity_api::get_identity_updates_request::Request {
                        inbox_id: "a".repeat((1 << 20) + 1),
                        sequence_id: 0,
                    }],
                })
                .await
                .unwrap_err();
            assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
            let message = refused.message();
            assert!(message.len() <= 1_024, "{} bytes", message.len());
            assert!(
                message.starts_with("an inbox id is not hex: `aaa"),
                "{message}"
            );
            assert!(message.ends_with('…'), "{message}");
        }
        identity
            .get_identity_updates(identity_api::GetIdentityUpdatesRequest::default())
            .await
            .expect("the connection goes on serving");
        node.shutdown().await;
    });
}
