//! The V3 services: XMTP's centralized API (`MlsApi` and `IdentityApi`),
//! served by the same node over the same store.
//!
//! Each V3 call is translated into what the V4 handlers already do — a
//! write becomes a client envelope on the same topic, checked by the same
//! validation; a read is a query of the same topics — so the two
//! generations differ only where the networks do: V3 writes are readable
//! at once (a database, no chain and no indexer), and V3 refuses an
//! invalid identity update instead of acknowledging and dropping it. The
//! node's faults apply to both alike.
//!
//! Ids are V3's: a group's messages and an installation's welcomes are
//! numbered by their arrival at the node, one increasing sequence per
//! topic in which commits and application messages interleave (so a
//! client can resume from whichever it saw last, and `is_commit` tells
//! them apart); an identity update keeps its position in the identity
//! log. Pages go either way: ascending after the cursor, or descending
//! before it. The node keeps no commit log, so the commit-log RPCs accept
//! entries and answer with none.

use std::collections::HashMap;

use prost::Message;
use tonic::{Request, Response, Status};

use crate::proto::envelopes::{
    client_envelope::Payload, AuthenticatedData, ClientEnvelope, OriginatorEnvelope, PayerEnvelope,
    UnsignedOriginatorEnvelope,
};
use crate::proto::message_api;
use crate::proto::payer_api::PublishClientEnvelopesRequest;
use crate::proto::xmtp::identity::api::v1::{
    get_identity_updates_response, get_inbox_ids_response, identity_api_server::IdentityApi,
    GetIdentityUpdatesRequest, GetIdentityUpdatesResponse, GetInboxIdsRequest, GetInboxIdsResponse,
    PublishIdentityUpdateRequest, PublishIdentityUpdateResponse,
};
use crate::proto::xmtp::mls::api::v1::{
    fetch_key_packages_response, get_newest_group_message_response, group_message,
    group_message_input, mls_api_server::MlsApi, welcome_message, welcome_message_input,
    BatchPublishCommitLogRequest, BatchQueryCommitLogRequest, BatchQueryCommitLogResponse,
    FetchKeyPackagesRequest, FetchKeyPackagesResponse, GetNewestGroupMessageRequest,
    GetNewestGroupMessageResponse, GroupMessage, PagingInfo, QueryCommitLogResponse,
    QueryGroupMessagesRequest, QueryGroupMessagesResponse, QueryWelcomeMessagesRequest,
    QueryWelcomeMessagesResponse, SendGroupMessagesRequest, SendWelcomeMessagesRequest,
    SortDirection, SubscribeGroupMessagesRequest, SubscribeWelcomeMessagesRequest,
    UploadKeyPackageRequest, WelcomeMessage,
};
use crate::topic::{topic, TopicKind};

use super::service::{sendable, Generation, NodeService, MAX_TOPICS};
use super::store::{COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR};
use super::subscriptions::Delivery;
use super::v3_streams::{GroupFeed, WelcomeFeed};
use super::validate::{check_key_package, invalid};

/// The most messages one V3 query returns, as node-go pages them.
pub(super) const V3_PAGE: usize = 100;

fn client_envelope(topic: Vec<u8>, payload: Payload) -> ClientEnvelope {
    ClientEnvelope {
        aad: Some(AuthenticatedData {
            target_topic: topic,
            depends_on: None,
        }),
        payload: Some(payload),
    }
}

/// A stored envelope's position, time and client payload.
struct Stored {
    originator: u32,
    sequence_id: u64,
    created_ns: u64,
    payload: Option<Payload>,
}

fn open(envelope: &OriginatorEnvelope) -> Result<Stored, Status> {
    let broken = |_| Status::internal("a stored envelope does not decode");
    let unsigned =
        UnsignedOriginatorEnvelope::decode(envelope.unsigned_originator_envelope.as_slice())
            .map_err(broken)?;
    let payer = PayerEnvelope::decode(unsigned.payer_envelope_bytes.as_slice()).map_err(broken)?;
    let client =
        ClientEnvelope::decode(payer.unsigned_client_envelope.as_slice()).map_err(broken)?;
    Ok(Stored {
        originator: unsigned.originator_node_id,
        sequence_id: unsigned.originator_sequence_id,
        created_ns: u64::try_from(unsigned.originator_ns).unwrap_or(0),
        payload: client.payload,
    })
}

/// A V3 page request: the cursor, how many, and which way.
pub(super) struct Page {
    pub(super) cursor: u64,
    pub(super) limit: usize,
    pub(super) descending: bool,
}

fn paging(info: Option<PagingInfo>) -> Page {
    let info = info.unwrap_or_default();
    Page {
        cursor: info.id_cursor,
        limit: match info.limit as usize {
            0 => V3_PAGE,
            n => n.min(V3_PAGE),
        },
        descending: info.direction == SortDirection::Descending as i32,
    }
}

/// Refuses a batch larger than the V4 API's cap on topics per request.
fn capped<T>(batch: &[T], what: &str) -> Result<(), Status> {
    if batch.len() > MAX_TOPICS {
        return Err(invalid(format!("at most {MAX_TOPICS} {what} per request")));
    }
    Ok(())
}

pub(super) fn identifier(bytes: &[u8], what: &str, length: usize) -> Result<(), Status> {
    if bytes.len() == length {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} must be {length} bytes, not {}",
            bytes.len()
        )))
    }
}

impl NodeService {
    async fn publish_v3(&self, envelopes: Vec<ClientEnvelope>) -> Result<(), Status> {
        self.state
            .publish(PublishClientEnvelopesRequest { envelopes }, Generation::V3)
            .await
            .map(|_| ())
    }

    /// The envelopes on `topic` after `cursor` of `originator`.
    fn read_topic(
        &self,
        topic: Vec<u8>,
        originator: u32,
        cursor: u64,
        limit: usize,
    ) -> Result<Vec<Stored>, Status> {
        let response = self.state.query(message_api::QueryEnvelopesRequest {
            query: Some(message_api::EnvelopesQuery {
                topics: vec![topic],
                originator_node_ids: Vec::new(),
                last_seen: Some(crate::proto::envelopes::Cursor {
                    node_id_to_sequence_id: HashMap::from([(originator, cursor)]),
                }),
            }),
            limit: 0,
        })?;
        let mut stored = Vec::new();
        for envelope in &response.envelopes {
            let opened = open(envelope)?;
            if opened.originator == originator {
                stored.push(opened);
            }
            if stored.len() == limit {
                break;
            }
        }
        Ok(stored)
    }
}

impl NodeService {
    /// The envelopes on `topic` as a V3 page, each with its V3 id.
    fn read_page(&self, topic: &[u8], page: &Page) -> Result<Vec<(u64, Stored)>, Status> {
        self.state
            .store
            .query_arrivals(topic, page.cursor, page.descending, page.limit)
            .iter()
            .map(|(id, envelope)| Ok((*id, open(envelope)?)))
            .collect()
    }

    /// A group's messages as V3 pages them.
    pub(super) fn group_messages(
        &self,
        group_id: &[u8],
        page: &Page,
    ) -> Result<Vec<GroupMessage>, Status> {
        let topic = topic(TopicKind::GroupMessages, group_id);
        let mut messages = Vec::new();
        for (id, stored) in self.read_page(&topic, page)? {
            let Some(Payload::GroupMessage(input)) = stored.payload else {
                continue;
            };
            let Some(group_message_input::Version::V1(v1)) = input.version else {
                continue;
            };
            messages.push(GroupMessage {
                version: Some(group_message::Version::V1(group_message::V1 {
                    id,
                    created_ns: stored.created_ns,
                    group_id: group_id.to_vec(),
                    data: v1.data,
                    sender_hmac: v1.sender_hmac,
                    should_push: v1.should_push,
                    is_commit: stored.originator == COMMITS_ORIGINATOR,
                })),
            });
        }
        Ok(messages)
    }
}

impl NodeService {
    /// An installation's welcomes as V3 pages them, with the id of the
    /// last envelope read (the next page's cursor).
    pub(super) fn welcome_messages(
        &self,
        installation_key: &[u8],
        page: &Page,
    ) -> Result<(Vec<WelcomeMessage>, Option<u64>), Status> {
        let topic = topic(TopicKind::WelcomeMessages, installation_key);
        let mut messages = Vec::new();
        let mut last = None;
        for (id, stored) in self.read_page(&topic, page)? {
            last = Some(id);
            let Some(Payload::WelcomeMessage(input)) = stored.payload else {
                continue;
            };
            let version = match input.version {
                Some(welcome_message_input::Version::V1(v1)) => {
                    welcome_message::Version::V1(welcome_message::V1 {
                        id,
                        created_ns: stored.created_ns,
                        installation_key: v1.installation_key,
                        data: v1.data,
                        hpke_public_key: v1.hpke_public_key,
                        wrapper_algorithm: v1.wrapper_algorithm,
                        welcome_metadata: v1.welcome_metadata,
                    })
                }
                Some(welcome_message_input::Version::WelcomePointer(pointer)) => {
                    welcome_message::Version::WelcomePointer(welcome_message::WelcomePointer {
                        id,
                        created_ns: stored.created_ns,
                        installation_key: pointer.installation_key,
                        welcome_pointer: pointer.welcome_pointer,
                        hpke_public_key: pointer.hpke_public_key,
                        wrapper_algorithm: pointer.wrapper_algorithm,
                    })
                }
                None => continue,
            };
            messages.push(WelcomeMessage {
                version: Some(version),
            });
        }
        Ok((messages, last))
    }
}

#[tonic::async_trait]
impl MlsApi for NodeService {
    type SubscribeGroupMessagesStream = Delivery<GroupMessage>;

    async fn subscribe_group_messages(
        &self,
        request: Request<SubscribeGroupMessagesRequest>,
    ) -> Result<Response<Self::SubscribeGroupMessagesStream>, Status> {
        let feed = GroupFeed::new(self.clone(), request.into_inner())?;
        self.subscribe(feed).map(Response::new)
    }

    type SubscribeWelcomeMessagesStream = Delivery<WelcomeMessage>;

    async fn subscribe_welcome_messages(
        &self,
        request: Request<SubscribeWelcomeMessagesRequest>,
    ) -> Result<Response<Self::SubscribeWelcomeMessagesStream>, Status> {
        let feed = WelcomeFeed::new(self.clone(), request.into_inner())?;
        self.subscribe(feed).map(Response::new)
    }

    async fn send_group_messages(
        &self,
        request: Request<SendGroupMessagesRequest>,
    ) -> Result<Response<()>, Status> {
        let mut envelopes = Vec::new();
        for message in request.into_inner().messages {
            let Some(group_message_input::Version::V1(v1)) = &message.version else {
                return Err(invalid("group message has no version"));
            };
            let info = crate::mls::inspect_group_message(&v1.data)
                .map_err(|e| invalid(format!("group message is not an MLS message: {e}")))?;
            let topic = topic(TopicKind::GroupMessages, &info.group_id);
            envelopes.push(client_envelope(topic, Payload::GroupMessage(message)));
        }
        self.publish_v3(envelopes).await.map(Response::new)
    }

    async fn send_welcome_messages(
        &self,
        request: Request<SendWelcomeMessagesRequest>,
    ) -> Result<Response<()>, Status> {
        let mut envelopes = Vec::new();
        for welcome in request.into_inner().messages {
            let key = match &welcome.version {
                Some(welcome_message_input::Version::V1(v1)) => v1.installation_key.clone(),
                Some(welcome_message_input::Version::WelcomePointer(p)) => {
                    p.installation_key.clone()
                }
                None => return Err(invalid("welcome has no version")),
            };
            identifier(&key, "an installation key", 32)?;
            let topic = topic(TopicKind::WelcomeMessages, &key);
            envelopes.push(client_envelope(topic, Payload::WelcomeMessage(welcome)));
        }
        self.publish_v3(envelopes).await.map(Response::new)
    }

    async fn upload_key_package(
        &self,
        request: Request<UploadKeyPackageRequest>,
    ) -> Result<Response<()>, Status> {
        let upload = request.into_inner();
        let bytes = upload
            .key_package
            .as_ref()
            .map(|kp| kp.key_package_tls_serialized.as_slice())
            .ok_or_else(|| invalid("key package upload carries no key package"))?;
        let installation = check_key_package(bytes, self.state.strictness())?;
        let topic = topic(TopicKind::KeyPackages, &installation);
        self.publish_v3(vec![client_envelope(
            topic,
            Payload::UploadKeyPackage(upload),
        )])
        .await
        .map(Response::new)
    }

    async fn fetch_key_packages(
        &self,
        request: Request<FetchKeyPackagesRequest>,
    ) -> Result<Response<FetchKeyPackagesResponse>, Status> {
        let keys = request.into_inner().installation_keys;
        let topics = keys
            .iter()
            .map(|key| topic(TopicKind::KeyPackages, key))
            .collect();
        let newest = self
            .state
            .newest(message_api::GetNewestEnvelopeRequest { topics })?;
        let mut key_packages = Vec::with_capacity(keys.len());
        for result in newest.results {
            // An installation without a key package gets an empty one, in
            // its place, so the answer lines up with the request.
            let bytes = match result.originator_envelope.as_ref().map(open).transpose()? {
                Some(Stored {
                    payload: Some(Payload::UploadKeyPackage(upload)),
                    ..
                }) => upload
                    .key_package
                    .map(|kp| kp.key_package_tls_serialized)
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            key_packages.push(fetch_key_packages_response::KeyPackage {
                key_package_tls_serialized: bytes,
            });
        }
        sendable(FetchKeyPackagesResponse { key_packages })
    }

    async fn query_group_messages(
        &self,
        request: Request<QueryGroupMessagesRequest>,
    ) -> Result<Response<QueryGroupMessagesResponse>, Status> {
        let request = request.into_inner();
        identifier(&request.group_id, "a group id", 16)?;
        let page = paging(request.paging_info);
        let messages = self.group_messages(&request.group_id, &page)?;
        let paging_info = next_page(
            &page,
            messages.last().and_then(|m| {
                m.version
                    .as_ref()
                    .map(|group_message::Version::V1(v1)| v1.id)
            }),
        );
        sendable(QueryGroupMessagesResponse {
            messages,
            paging_info,
        })
    }

    async fn query_welcome_messages(
        &self,
        request: Request<QueryWelcomeMessagesRequest>,
    ) -> Result<Response<QueryWelcomeMessagesResponse>, Status> {
        let request = request.into_inner();
        identifier(&request.installation_key, "an installation key", 32)?;
        let page = paging(request.paging_info);
        let (messages, last) = self.welcome_messages(&request.installation_key, &page)?;
        sendable(QueryWelcomeMessagesResponse {
            messages,
            paging_info: next_page(&page, last),
        })
    }

    async fn get_newest_group_message(
        &self,
        request: Request<GetNewestGroupMessageRequest>,
    ) -> Result<Response<GetNewestGroupMessageResponse>, Status> {
        let request = request.into_inner();
        capped(&request.group_ids, "group ids")?;
        let newest = Page {
            cursor: 0,
            limit: 1,
            descending: true,
        };
        let mut responses = Vec::with_capacity(request.group_ids.len());
        for group_id in &request.group_ids {
            let mut group_message = self.group_messages(group_id, &newest)?.pop();
            if !request.include_content {
                if let Some(group_message::Version::V1(v1)) =
                    group_message.as_mut().and_then(|m| m.version.as_mut())
                {
                    v1.data.clear();
                }
            }
            responses.push(get_newest_group_message_response::Response { group_message });
        }
        sendable(GetNewestGroupMessageResponse { responses })
    }

    async fn batch_publish_commit_log(
        &self,
        request: Request<BatchPublishCommitLogRequest>,
    ) -> Result<Response<()>, Status> {
        // Accepted and not kept: the node has no commit log to serve.
        capped(&request.into_inner().requests, "commit log entries")?;
        Ok(Response::new(()))
    }

    async fn batch_query_commit_log(
        &self,
        request: Request<BatchQueryCommitLogRequest>,
    ) -> Result<Response<BatchQueryCommitLogResponse>, Status> {
        let requests = request.into_inner().requests;
        capped(&requests, "commit log queries")?;
        let responses = requests
            .into_iter()
            .map(|query| QueryCommitLogResponse {
                group_id: query.group_id,
                commit_log_entries: Vec::new(),
                paging_info: None,
            })
            .collect();
        Ok(Response::new(BatchQueryCommitLogResponse { responses }))
    }
}

/// Where the next page starts: after (or, descending, before) the last
/// id returned, in the same direction.
fn next_page(page: &Page, last: Option<u64>) -> Option<PagingInfo> {
    let direction = if page.descending {
        SortDirection::Descending
    } else {
        SortDirection::Ascending
    };
    last.map(|id| PagingInfo {
        direction: direction as i32,
        limit: V3_PAGE as u32,
        id_cursor: id,
    })
}
#[tonic::async_trait]
impl IdentityApi for NodeService {
    async fn publish_identity_update(
        &self,
        request: Request<PublishIdentityUpdateRequest>,
    ) -> Result<Response<PublishIdentityUpdateResponse>, Status> {
        let update = request
            .into_inner()
            .identity_update
            .ok_or_else(|| invalid("the request carries no identity update"))?;
        let inbox =
            hex::decode(&update.inbox_id).map_err(|_| invalid("the inbox id is not hex"))?;
        identifier(&inbox, "an inbox id", 32)?;
        let topic = topic(TopicKind::IdentityUpdates, &inbox);
        self.publish_v3(vec![client_envelope(
            topic,
            Payload::IdentityUpdate(update),
        )])
        .await?;
        Ok(Response::new(PublishIdentityUpdateResponse {}))
    }

    async fn get_identity_updates(
        &self,
        request: Request<GetIdentityUpdatesRequest>,
    ) -> Result<Response<GetIdentityUpdatesResponse>, Status> {
        let requests = request.into_inner().requests;
        capped(&requests, "inboxes")?;
        let mut responses = Vec::new();
        for asked in requests {
            let inbox = hex::decode(&asked.inbox_id)
                .map_err(|_| invalid(format!("an inbox id is not hex: `{}`", asked.inbox_id)))?;
            let topic = topic(TopicKind::IdentityUpdates, &inbox);
            let mut updates = Vec::new();
            for stored in
                self.read_topic(topic, IDENTITY_ORIGINATOR, asked.sequence_id, usize::MAX)?
            {
                if let Some(Payload::IdentityUpdate(update)) = stored.payload {
                    updates.push(get_identity_updates_response::IdentityUpdateLog {
                        sequence_id: stored.sequence_id,
                        server_timestamp_ns: stored.created_ns,
                        update: Some(update),
                    });
                }
            }
            responses.push(get_identity_updates_response::Response {
                inbox_id: asked.inbox_id,
                updates,
            });
        }
        sendable(GetIdentityUpdatesResponse { responses })
    }

    async fn get_inbox_ids(
        &self,
        request: Request<GetInboxIdsRequest>,
    ) -> Result<Response<GetInboxIdsResponse>, Status> {
        let asked = message_api::GetInboxIdsRequest {
            requests: request
                .into_inner()
                .requests
                .into_iter()
                .map(|r| message_api::get_inbox_ids_request::Request {
                    identifier: r.identifier,
                    identifier_kind: r.identifier_kind,
                })
                .collect(),
        };
        let answered = self.state.inbox_ids(asked)?;
        Ok(Response::new(GetInboxIdsResponse {
            responses: answered
                .responses
                .into_iter()
                .map(|r| get_inbox_ids_response::Response {
                    identifier: r.identifier,
                    inbox_id: r.inbox_id,
                    identifier_kind: r.identifier_kind,
                })
                .collect(),
        }))
    }
}
