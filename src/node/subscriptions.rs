//! Streams: how the node tells subscribers about new envelopes.
//!
//! A subscription is a cursor, not a queue. The node never copies an
//! envelope into a subscriber's queue when it is published; instead every
//! publish *wakes* the subscribers of its topic, and each one reads the
//! store from its own cursors, exactly as `QueryEnvelopes` would. That
//! gives the delivery rules for free: catch-up and live delivery are the
//! same read, so nothing is sent twice or skipped; chain-path envelopes
//! arrive only once the indexer lag makes them readable (a timer wakes the
//! topic then); and a subscriber pins nothing the store evicts.
//!
//! What a subscriber does hold is bounded: a queue of at most
//! [`StreamLimits::buffer`] messages between its reader task and the
//! HTTP/2 stream. A client too slow to drain it while new envelopes keep
//! arriving has its stream ended with `RESOURCE_EXHAUSTED` (xmtpd drops
//! such a listener too); it can resubscribe from its cursor. Catch-up
//! waits for the client instead, since history can be read at any pace.
//! The node serves at most [`StreamLimits::max_subscriptions`] at once.
//!
//! A subscription is freed when its client goes away (the reader task
//! sees its queue closed) and counted by [`Hub::active`].

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tonic::Status;

use super::faults::FaultLayer;

/// Subscriptions a node serves at once, by default.
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 4_096;
/// Messages queued per subscriber, by default (each a batch of envelopes
/// on V4, one message on V3).
pub const DEFAULT_STREAM_BUFFER: usize = 64;
/// How often an idle V4 stream gets a `WAITING` status (xmtpd sends one
/// as a keep-alive for load balancers).
const KEEPALIVE: Duration = Duration::from_secs(30);

/// The bounds on streams.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Subscriptions served at once; one more is refused with
    /// `RESOURCE_EXHAUSTED`.
    pub max_subscriptions: usize,
    /// Messages queued per subscriber before it counts as too slow.
    pub buffer: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
            buffer: DEFAULT_STREAM_BUFFER,
        }
    }
}

/// Checks how many filters a subscribe request names: at least one, at
/// most `max` (xmtpd's words and limit).
pub(crate) fn check_filter_count(count: usize, max: usize) -> Result<(), Status> {
    if count == 0 {
        return Err(super::validate::invalid("filters must not be empty"));
    }
    if count > max {
        return Err(super::validate::invalid(format!(
            "too many filters: {count}, at most {max}"
        )));
    }
    Ok(())
}

/// Where a stream stands, for feeds that report it (V4's status updates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Started,
    CaughtUp,
    Waiting,
}

/// What a subscription reads: its topics, and how to read what is new on
/// them from its cursors (advancing them).
pub(crate) trait Feed: Send + 'static {
    type Message: Send + 'static;
    /// The topics to be woken for.
    fn topics(&self) -> Vec<Vec<u8>>;
    /// The next messages readable on `topics` (all of the feed's when
    /// `None`), at most a page per topic; empty once nothing new is
    /// readable.
    fn read(&mut self, topics: Option<&HashSet<Vec<u8>>>) -> Result<Vec<Self::Message>, Status>;
    /// The message announcing `phase`, if the protocol has one.
    fn status(&self, _phase: Phase) -> Option<Self::Message> {
        None
    }
}

/// What wakes one subscriber.
#[derive(Default)]
struct Waker {
    notify: Notify,
    /// Topics with something new since the subscriber last read.
    dirty: Mutex<HashSet<Vec<u8>>>,
    /// Re-read every topic: set when a write the subscriber's last read
    /// had to stop before (a sequence id still being written) finished.
    everything: AtomicBool,
    /// The last read stopped at a write in progress, so any finished
    /// write may unblock it.
    held: AtomicBool,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    wakers: HashMap<u64, Arc<Waker>>,
    by_topic: HashMap<Vec<u8>, Vec<u64>>,
}

/// Every subscription of a node, and the wake-ups publishes send them.
pub(crate) struct Hub {
    registry: Mutex<Registry>,
    active: AtomicUsize,
    limits: StreamLimits,
    faults: FaultLayer,
}

impl Hub {
    pub(crate) fn new(limits: StreamLimits, faults: FaultLayer) -> Arc<Self> {
        Arc::new(Self {
            registry: Mutex::default(),
            active: AtomicUsize::new(0),
            limits,
            faults,
        })
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscriptions being served now.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// An envelope on `topic` was stored, readable from `visible_at`.
    pub(crate) fn published(self: &Arc<Self>, topic: &[u8], visible_at: Instant) {
        self.write_finished();
        if visible_at <= Instant::now() {
            self.wake(topic);
            return;
        }
        // Chain path: wake the topic when the indexer has caught up. (Also
        // for subscribers not yet registered: their catch-up may run
        // before the envelope is readable.)
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let hub = Arc::downgrade(self);
        let topic = topic.to_vec();
        runtime.spawn(async move {
            tokio::time::sleep_until(visible_at).await;
            if let Some(hub) = Weak::upgrade(&hub) {
                hub.wake(&topic);
            }
        });
    }

    /// A reserved sequence id was stored or given up: subscribers whose
    /// last read stopped before it may read on.
    pub(crate) fn write_finished(&self) {
        for waker in self.registry().wakers.values() {
            if waker.held.load(Ordering::SeqCst) {
                waker.everything.store(true, Ordering::SeqCst);
                waker.notify.notify_one();
            }
        }
    }

    fn wake(&self, topic: &[u8]) {
        let registry = self.registry();
        for id in registry.by_topic.get(topic).into_iter().flatten() {
            if let Some(waker) = registry.wakers.get(id) {
                lock(&waker.dirty).insert(topic.to_vec());
                waker.notify.notify_one();
            }
        }
    }

    fn register(self: &Arc<Self>, topics: &[Vec<u8>]) -> Result<Registration, Status> {
        let mut registry = self.registry();
        if registry.wakers.len() >= self.limits.max_subscriptions {
            return Err(Status::resource_exhausted(format!(
                "the node serves at most {} subscriptions at once; close one or retry later",
                self.limits.max_subscriptions
            )));
        }
        registry.next_id += 1;
        let id = registry.next_id;
        let waker = Arc::new(Waker::default());
        registry.wakers.insert(id, Arc::clone(&waker));
        for topic in topics {
            registry.by_topic.entry(topic.clone()).or_default().push(id);
        }
        self.active.fetch_add(1, Ordering::SeqCst);
        Ok(Registration {
            hub: Arc::clone(self),
            id,
            topics: topics.to_vec(),
            waker,
        })
    }

    /// Serves `feed` as a stream: registers it (or refuses past the
    /// limit), then reads in a task of its own until the client goes away.
    pub(crate) fn serve<F: Feed>(
        self: &Arc<Self>,
        feed: F,
        has_pending: impl Fn() -> bool + Send + 'static,
    ) -> Result<Delivery<F::Message>, Status> {
        let registration = self.register(&feed.topics())?;
        let (queue, receiver) = mpsc::channel(self.limits.buffer.max(1));
        let end = Arc::new(Mutex::new(None));
        let reader = Reader {
            feed,
            queue,
            registration,
            has_pending: Box::new(has_pending),
            faults: self.faults.clone(),
        };
        tokio::spawn(reader.run(Arc::clone(&end)));
        Ok(Delivery {
            receiver,
            end,
            finished: false,
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A subscription's place in the hub; dropping it frees the place.
struct Registration {
    hub: Arc<Hub>,
    id: u64,
    topics: Vec<Vec<u8>>,
    waker: Arc<Waker>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut registry = self.hub.registry();
        registry.wakers.remove(&self.id);
        for topic in &self.topics {
            if let Some(ids) = registry.by_topic.get_mut(topic) {
                ids.retain(|id| *id != self.id);
                if ids.is_empty() {
                    registry.by_topic.remove(topic);
                }
            }
        }
        self.hub.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why the reader stopped without a status of its own: the client left.
struct Gone;

/// One subscription's task: reads its feed and queues what it finds.
struct Reader<F: Feed> {
    feed: F,
    queue: mpsc::Sender<F::Message>,
    registration: Registration,
    has_pending: Box<dyn Fn() -> bool + Send>,
    faults: FaultLayer,
}

impl<F: Feed> Reader<F> {
    /// Runs until the client goes away or the stream must end with a
    /// status, which goes to `end` before the queue closes (so the client
    /// reads it after the last message).
    async fn run(mut self, end: Arc<Mutex<Option<Status>>>) {
        if let Err(Ended::Status(status)) = self.deliver().await {
            *lock(&end) = Some(status);
        }
    }

    async fn deliver(&mut self) -> Result<(), Ended> {
        self.announce(Phase::Started).await?;
        // Catch-up: at the client's pace.
        loop {
            let messages = self.read(None).await?;
            if messages.is_empty() {
                break;
            }
            for message in messages {
                self.queue.send(message).await.map_err(|_| Gone)?;
            }
        }
        self.announce(Phase::CaughtUp).await?;
        // Live: each wake-up reads what is new on the topics it names.
        loop {
            let waker = Arc::clone(&self.registration.waker);
            tokio::select! {
                () = waker.notify.notified() => {}
                () = self.queue.closed() => return Err(Gone.into()),
                () = tokio::time::sleep(KEEPALIVE) => {
                    if let Some(status) = self.feed.status(Phase::Waiting) {
                        self.offer(status)?;
                    }
                    continue;
                }
            }
            let topics = if waker.everything.swap(false, Ordering::SeqCst) {
                lock(&waker.dirty).clear();
                None
            } else {
                Some(std::mem::take(&mut *lock(&waker.dirty)))
            };
            loop {
                let messages = self.read(topics.as_ref()).await?;
                if messages.is_empty() {
                    break;
                }
                for message in messages {
                    self.offer(message)?;
                }
            }
        }
    }

    /// Reads the feed, after any stall the node is in.
    async fn read(&mut self, topics: Option<&HashSet<Vec<u8>>>) -> Result<Vec<F::Message>, Ended> {
        if let Some(until) = self.faults.stalled_until() {
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                () = self.queue.closed() => return Err(Gone.into()),
            }
        }
        let waker = &self.registration.waker;
        // Marked before reading, so a write that finishes during the read
        // still wakes us.
        waker.held.store(true, Ordering::SeqCst);
        let messages = self.feed.read(topics).map_err(Ended::Status)?;
        if !(self.has_pending)() {
            waker.held.store(false, Ordering::SeqCst);
        }
        Ok(messages)
    }

    async fn announce(&mut self, phase: Phase) -> Result<(), Ended> {
        if let Some(status) = self.feed.status(phase) {
            self.queue.send(status).await.map_err(|_| Gone)?;
        }
        Ok(())
    }

    /// Queues a live message, or ends a subscriber that fell behind.
    fn offer(&self, message: F::Message) -> Result<(), Ended> {
        self.queue.try_send(message).map_err(|error| match error {
            mpsc::error::TrySendError::Closed(_) => Ended::Gone(Gone),
            mpsc::error::TrySendError::Full(_) => {
                Ended::Status(Status::resource_exhausted(format!(
                    "the subscriber fell {} messages behind and was disconnected; \
                     resubscribe from the last cursor it processed",
                    self.queue.max_capacity()
                )))
            }
        })
    }
}

/// How a reader stops.
enum Ended {
    Gone(Gone),
    Status(Status),
}

impl From<Gone> for Ended {
    fn from(gone: Gone) -> Self {
        Self::Gone(gone)
    }
}

/// The stream a handler returns: the queued messages, then the status
/// the reader ended with, if any.
pub(crate) struct Delivery<T> {
    receiver: mpsc::Receiver<T>,
    end: Arc<Mutex<Option<Status>>>,
    finished: bool,
}

impl<T> tokio_stream::Stream for Delivery<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.receiver.poll_recv(cx) {
            Poll::Ready(Some(message)) => Poll::Ready(Some(Ok(message))),
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(lock(&self.end).take().map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
