//! V3 `SubscribeGroupMessages` and `SubscribeWelcomeMessages`: per group
//! (or installation) a V3 id cursor, read like the V3 queries (ascending
//! after the cursor) and sent one message at a time, as node-go streams
//! them. V3 has no status updates.

use std::collections::HashSet;

use tonic::Status;

use crate::proto::xmtp::mls::api::v1::{
    group_message, GroupMessage, SubscribeGroupMessagesRequest, SubscribeWelcomeMessagesRequest,
    WelcomeMessage,
};
use crate::topic::{topic, TopicKind};

use super::service::{NodeService, MAX_TOPICS};
use super::subscriptions::{check_filter_count, Feed};
use super::v3::{identifier, Page, V3_PAGE};

/// One subscribed group or installation: its id, topic and V3 cursor.
struct Filter {
    id: Vec<u8>,
    topic: Vec<u8>,
    cursor: u64,
}

/// Checks the filters (at least one, at most [`MAX_TOPICS`], ids of the
/// right length) and keeps the first cursor of an id named twice.
fn filters(
    given: impl ExactSizeIterator<Item = (Vec<u8>, u64)>,
    kind: TopicKind,
    what: &str,
    length: usize,
) -> Result<Vec<Filter>, Status> {
    check_filter_count(given.len(), MAX_TOPICS)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (id, cursor) in given {
        identifier(&id, what, length)?;
        if seen.insert(id.clone()) {
            out.push(Filter {
                topic: topic(kind, &id),
                id,
                cursor,
            });
        }
    }
    Ok(out)
}

/// Reads every wanted filter's next page with `page`, which returns the
/// messages and the id to resume after.
fn read_filters<M>(
    filters: &mut [Filter],
    topics: Option<&HashSet<Vec<u8>>>,
    mut page: impl FnMut(&[u8], &Page) -> Result<(Vec<M>, Option<u64>), Status>,
) -> Result<Vec<M>, Status> {
    let mut out = Vec::new();
    for filter in filters {
        if topics.is_some_and(|wanted| !wanted.contains(&filter.topic)) {
            continue;
        }
        let (messages, last) = page(
            &filter.id,
            &Page {
                cursor: filter.cursor,
                limit: V3_PAGE,
                descending: false,
            },
        )?;
        if let Some(last) = last {
            filter.cursor = last;
        }
        out.extend(messages);
    }
    Ok(out)
}

/// A `SubscribeGroupMessages` subscription.
pub(crate) struct GroupFeed {
    service: NodeService,
    filters: Vec<Filter>,
}

impl GroupFeed {
    pub(crate) fn new(
        service: NodeService,
        request: SubscribeGroupMessagesRequest,
    ) -> Result<Self, Status> {
        let given = request
            .filters
            .into_iter()
            .map(|f| (f.group_id, f.id_cursor));
        let filters = filters(given, TopicKind::GroupMessages, "a group id", 16)?;
        Ok(Self { service, filters })
    }
}

impl Feed for GroupFeed {
    type Message = GroupMessage;

    fn topics(&self) -> Vec<Vec<u8>> {
        self.filters.iter().map(|f| f.topic.clone()).collect()
    }

    fn read(&mut self, topics: Option<&HashSet<Vec<u8>>>) -> Result<Vec<GroupMessage>, Status> {
        let service = &self.service;
        read_filters(&mut self.filters, topics, |group_id, page| {
            let messages = service.group_messages(group_id, page)?;
            let last = messages.last().and_then(|m| {
                m.version
                    .as_ref()
                    .map(|group_message::Version::V1(v1)| v1.id)
            });
            Ok((messages, last))
        })
    }
}

/// A `SubscribeWelcomeMessages` subscription.
pub(crate) struct WelcomeFeed {
    service: NodeService,
    filters: Vec<Filter>,
}

impl WelcomeFeed {
    pub(crate) fn new(
        service: NodeService,
        request: SubscribeWelcomeMessagesRequest,
    ) -> Result<Self, Status> {
        let given = request
            .filters
            .into_iter()
            .map(|f| (f.installation_key, f.id_cursor));
        let filters = filters(given, TopicKind::WelcomeMessages, "an installation key", 32)?;
        Ok(Self { service, filters })
    }
}

impl Feed for WelcomeFeed {
    type Message = WelcomeMessage;

    fn topics(&self) -> Vec<Vec<u8>> {
        self.filters.iter().map(|f| f.topic.clone()).collect()
    }

    fn read(&mut self, topics: Option<&HashSet<Vec<u8>>>) -> Result<Vec<WelcomeMessage>, Status> {
        let service = &self.service;
        read_filters(&mut self.filters, topics, |key, page| {
            service.welcome_messages(key, page)
        })
    }
}
