//! V4 `SubscribeTopics`: each topic with its own cursor, read like
//! `QueryEnvelopes` and sent in batches between xmtpd's status updates
//! (`STARTED`, then `CATCHUP_COMPLETE` after the catch-up, `WAITING` as a
//! keep-alive).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prost::Message;
use tonic::Status;

use crate::proto::envelopes::{OriginatorEnvelope, UnsignedOriginatorEnvelope};
use crate::proto::message_api::{
    subscribe_topics_response::{self, Envelopes, StatusUpdate, SubscriptionStatus},
    SubscribeTopicsRequest, SubscribeTopicsResponse,
};

use super::service::{NodeState, MAX_CURSOR_ENTRIES, MAX_TOPICS};
use super::store::{COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR};
use super::subscriptions::{check_filter_count, Feed, Phase};
use super::validate::invalid;

/// Envelopes read per topic at a time (xmtpd's page).
const PAGE: usize = 500;
/// A batch is closed once it holds this many bytes, so one message stays
/// far below the 25 MiB payload limit.
const BATCH_BYTES: usize = 4 << 20;

/// One subscription's topics and cursors.
pub(crate) struct TopicFeed {
    state: Arc<NodeState>,
    cursors: Vec<(Vec<u8>, HashMap<u32, u64>)>,
}

impl TopicFeed {
    /// Checks a request as xmtpd does: at least one filter and at most
    /// [`MAX_TOPICS`], topics of 1..=128 bytes, cursors naming at most
    /// [`MAX_CURSOR_ENTRIES`] originators, all of them known. A topic
    /// named twice keeps its first cursor.
    pub(crate) fn new(
        state: Arc<NodeState>,
        request: SubscribeTopicsRequest,
    ) -> Result<Self, Status> {
        let filters = request.filters;
        check_filter_count(filters.len(), MAX_TOPICS)?;
        let mut seen = HashSet::new();
        let mut cursors = Vec::with_capacity(filters.len());
        for filter in filters {
            if filter.topic.is_empty() || filter.topic.len() > 128 {
                return Err(invalid(format!(
                    "topic length {} is outside 1..=128 bytes",
                    filter.topic.len()
                )));
            }
            let cursor = filter.last_seen.unwrap_or_default().node_id_to_sequence_id;
            if cursor.len() > MAX_CURSOR_ENTRIES {
                return Err(invalid(format!(
                    "at most {MAX_CURSOR_ENTRIES} cursor entries"
                )));
            }
            if let Some(unknown) = cursor.keys().find(|id| !is_known(**id)) {
                return Err(invalid(format!(
                    "unknown originator node id {unknown} in a cursor (this node knows \
                     {COMMITS_ORIGINATOR}, {IDENTITY_ORIGINATOR} and {NODE_ORIGINATOR})"
                )));
            }
            if seen.insert(filter.topic.clone()) {
                cursors.push((filter.topic, cursor));
            }
        }
        Ok(Self { state, cursors })
    }
}

fn is_known(originator: u32) -> bool {
    [COMMITS_ORIGINATOR, IDENTITY_ORIGINATOR, NODE_ORIGINATOR].contains(&originator)
}

impl Feed for TopicFeed {
    type Message = SubscribeTopicsResponse;

    fn topics(&self) -> Vec<Vec<u8>> {
        self.cursors
            .iter()
            .map(|(topic, _)| topic.clone())
            .collect()
    }

    fn read(&mut self, topics: Option<&HashSet<Vec<u8>>>) -> Result<Vec<Self::Message>, Status> {
        let mut batches = Batches::default();
        for (topic, cursor) in &mut self.cursors {
            if topics.is_some_and(|wanted| !wanted.contains(topic)) {
                continue;
            }
            let envelopes =
                self.state
                    .store
                    .query_topics(std::slice::from_ref(topic), cursor, PAGE);
            for envelope in envelopes {
                let (originator, sequence_id) = position(&envelope)?;
                cursor.insert(originator, sequence_id);
                batches.push(envelope);
            }
        }
        Ok(batches.finish())
    }

    fn status(&self, phase: Phase) -> Option<Self::Message> {
        let status = match phase {
            Phase::Started => SubscriptionStatus::Started,
            Phase::CaughtUp => SubscriptionStatus::CatchupComplete,
            Phase::Waiting => SubscriptionStatus::Waiting,
        };
        Some(SubscribeTopicsResponse {
            response: Some(subscribe_topics_response::Response::StatusUpdate(
                StatusUpdate {
                    status: status as i32,
                },
            )),
        })
    }
}

/// Where an envelope sits in its originator's log.
fn position(envelope: &OriginatorEnvelope) -> Result<(u32, u64), Status> {
    let unsigned =
        UnsignedOriginatorEnvelope::decode(envelope.unsigned_originator_envelope.as_slice())
            .map_err(|_| Status::internal("a stored envelope does not decode"))?;
    Ok((unsigned.originator_node_id, unsigned.originator_sequence_id))
}

/// Envelopes cut into messages of at most [`BATCH_BYTES`].
#[derive(Default)]
struct Batches {
    done: Vec<SubscribeTopicsResponse>,
    open: Vec<OriginatorEnvelope>,
    bytes: usize,
}

impl Batches {
    fn push(&mut self, envelope: OriginatorEnvelope) {
        let size = envelope.encoded_len();
        if self.bytes + size > BATCH_BYTES && !self.open.is_empty() {
            self.close();
        }
        self.bytes += size;
        self.open.push(envelope);
    }

    fn close(&mut self) {
        let envelopes = std::mem::take(&mut self.open);
        self.bytes = 0;
        self.done.push(SubscribeTopicsResponse {
            response: Some(subscribe_topics_response::Response::Envelopes(Envelopes {
                envelopes,
            })),
        });
    }

    fn finish(mut self) -> Vec<SubscribeTopicsResponse> {
        if !self.open.is_empty() {
            self.close();
        }
        self.done
    }
}
