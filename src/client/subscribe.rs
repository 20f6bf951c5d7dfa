//! Receiving by stream: what a member's installation does to learn of new
//! group messages and welcomes without polling.
//!
//! A [`Subscriber`] opens server-streaming calls on a node: V4
//! `SubscribeTopics` (any topics, each with a cursor: the node first sends
//! what is after the cursor, then new envelopes as they become readable)
//! and V3 `SubscribeGroupMessages` / `SubscribeWelcomeMessages` (V3 id
//! cursors). A V4 stream yields the [`OriginatorEnvelope`]s one by one —
//! the node's batches are unpacked and its status updates absorbed, with
//! [`TopicStream::caught_up`] telling whether the catch-up is over. A V3
//! stream yields the node's messages as they are.
//!
//! Streams have no deadline (a subscription is meant to stay open); they
//! end when the node ends them, with the status as the last item, or when
//! dropped, which cancels the call. Give the subscriber the same traced
//! transport as the client ([`traced`](super::traced)) and each stream is
//! one RPC span from request to end, with its message count.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio_stream::Stream;
use tonic::Streaming;

use crate::proto::envelopes::{Cursor, OriginatorEnvelope};
use crate::proto::message_api::query_api_client::QueryApiClient;
use crate::proto::message_api::replication_api_client::ReplicationApiClient;
use crate::proto::message_api::subscribe_topics_request::TopicFilter;
use crate::proto::message_api::subscribe_topics_response::{Response, SubscriptionStatus};
use crate::proto::message_api::{SubscribeTopicsRequest, SubscribeTopicsResponse};
use crate::proto::xmtp::mls::api::v1::{
    subscribe_group_messages_request, subscribe_welcome_messages_request, GroupMessage,
    SubscribeGroupMessagesRequest, SubscribeWelcomeMessagesRequest, WelcomeMessage,
};

use super::v3::{methods as v3_methods, mls_client};
use super::v4::{methods as v4_methods, read_client, read_client_legacy};
use super::{ClientError, Transport};

/// Which V4 service name a topic subscription calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadService {
    /// `QueryApi`, the 2026 name for client reads.
    #[default]
    Query,
    /// `ReplicationApi`, the legacy name.
    Replication,
}

/// Opens streams on one node. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Subscriber {
    node: Transport,
}

impl Subscriber {
    /// A subscriber calling through `node` (without a per-call deadline:
    /// give it the transport itself, not one made
    /// [`with_deadline`](Transport::with_deadline)).
    pub fn new(node: Transport) -> Self {
        Self { node }
    }

    /// Subscribes to `topics`, each after its cursor (originator id → last
    /// sequence id seen; empty for everything).
    pub async fn topics(
        &self,
        service: ReadService,
        topics: impl IntoIterator<Item = (Vec<u8>, HashMap<u32, u64>)>,
    ) -> Result<TopicStream, ClientError> {
        let filters = topics
            .into_iter()
            .map(|(topic, cursor)| TopicFilter {
                topic,
                last_seen: Some(Cursor {
                    node_id_to_sequence_id: cursor,
                }),
            })
            .collect();
        let request = SubscribeTopicsRequest { filters };
        let service_box = self.node.service();
        let (method, answer) = match service {
            ReadService::Query => (
                v4_methods::SUBSCRIBE_TOPICS,
                read_client(QueryApiClient::new(service_box))
                    .subscribe_topics(request)
                    .await,
            ),
            ReadService::Replication => (
                v4_methods::SUBSCRIBE_TOPICS_LEGACY,
                read_client_legacy(ReplicationApiClient::new(service_box))
                    .subscribe_topics(request)
                    .await,
            ),
        };
        let inner = answer
            .map_err(|status| ClientError::Rpc { method, status })?
            .into_inner();
        Ok(TopicStream {
            inner: MessageStream { inner, method },
            ready: VecDeque::new(),
            caught_up: false,
        })
    }

    /// Subscribes to groups' messages, each after its V3 id cursor.
    pub async fn group_messages(
        &self,
        groups: impl IntoIterator<Item = (Vec<u8>, u64)>,
    ) -> Result<MessageStream<GroupMessage>, ClientError> {
        let filters = groups
            .into_iter()
            .map(
                |(group_id, id_cursor)| subscribe_group_messages_request::Filter {
                    group_id,
                    id_cursor,
                },
            )
            .collect();
        let method = v3_methods::SUBSCRIBE_GROUP_MESSAGES;
        let inner = mls_client(self.node.service())
            .subscribe_group_messages(SubscribeGroupMessagesRequest { filters })
            .await
            .map_err(|status| ClientError::Rpc { method, status })?
            .into_inner();
        Ok(MessageStream { inner, method })
    }

    /// Subscribes to installations' welcomes, each after its V3 id cursor.
    pub async fn welcomes(
        &self,
        installations: impl IntoIterator<Item = (Vec<u8>, u64)>,
    ) -> Result<MessageStream<WelcomeMessage>, ClientError> {
        let filters = installations
            .into_iter()
            .map(
                |(installation_key, id_cursor)| subscribe_welcome_messages_request::Filter {
                    installation_key,
                    id_cursor,
                },
            )
            .collect();
        let method = v3_methods::SUBSCRIBE_WELCOME_MESSAGES;
        let inner = mls_client(self.node.service())
            .subscribe_welcome_messages(SubscribeWelcomeMessagesRequest { filters })
            .await
            .map_err(|status| ClientError::Rpc { method, status })?
            .into_inner();
        Ok(MessageStream { inner, method })
    }
}

/// The messages of one stream, as the node sends them; an error status
/// from the node is the last item.
pub struct MessageStream<T> {
    inner: Streaming<T>,
    method: &'static str,
}

impl<T> std::fmt::Debug for MessageStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStream")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl<T> Stream for MessageStream<T> {
    type Item = Result<T, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let method = self.method;
        Pin::new(&mut self.inner)
            .poll_next(cx)
            .map(|item| item.map(|item| item.map_err(|status| ClientError::Rpc { method, status })))
    }
}

/// A V4 topic subscription, one envelope at a time.
#[derive(Debug)]
pub struct TopicStream {
    inner: MessageStream<SubscribeTopicsResponse>,
    ready: VecDeque<OriginatorEnvelope>,
    caught_up: bool,
}

impl TopicStream {
    /// Whether the node has said the catch-up is complete: every envelope
    /// yielded after this was published after the subscription started.
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }
}

impl Stream for TopicStream {
    type Item = Result<OriginatorEnvelope, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(envelope) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(envelope)));
            }
            let response = match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                Some(Ok(response)) => response,
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => return Poll::Ready(None),
            };
            match response.response {
                Some(Response::Envelopes(batch)) => self.ready.extend(batch.envelopes),
                Some(Response::StatusUpdate(update))
                    if update.status == SubscriptionStatus::CatchupComplete as i32 =>
                {
                    self.caught_up = true;
                }
                Some(Response::StatusUpdate(_)) | None => {}
            }
        }
    }
}

/// How a reader that stays subscribed (a member's group stream, a
/// newcomer's welcome stream) goes on after its stream ends: it warns
/// once, pauses, and subscribes again from where it stopped, as libxmtp's
/// streams do.
#[derive(Debug)]
pub(crate) struct Resubscribe {
    what: &'static str,
    warned: bool,
}

impl Resubscribe {
    /// How long a reader waits before subscribing again.
    const PAUSE: Duration = Duration::from_millis(100);

    /// For the stream `what` (e.g. `a receiver's group stream`).
    pub(crate) fn new(what: &'static str) -> Self {
        Self {
            what,
            warned: false,
        }
    }

    /// After the stream ended with `ended`: warns of the first error,
    /// then waits before the next subscription.
    pub(crate) async fn after(&mut self, ended: Result<(), ClientError>) {
        if let Err(error) = ended {
            if !std::mem::replace(&mut self.warned, true) {
                tracing::warn!(%error, stream = self.what, "a stream ended; subscribing again");
            }
        }
        tokio::time::sleep(Self::PAUSE).await;
    }
}
