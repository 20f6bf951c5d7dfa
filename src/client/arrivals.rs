//! What another party has received, and when: the far end of a
//! visibility measurement.
//!
//! A receiving task (a member reading its group's stream, a newcomer
//! reading its welcomes) records each arrival under a key. A measurement
//! waits for its key and takes the instant of arrival, which may be
//! earlier than the wait began: the receiver does not stop to be watched.
//! Arrivals nobody claims (the measurement is off, or its write failed
//! after publishing) are dropped once older than the keep time, so a
//! receiver that runs for days holds a bounded set.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::ClientError;

/// Unclaimed arrivals kept before old ones are first swept.
const SWEEP_ABOVE: usize = 1_024;

/// Arrivals by key, each with a value and its instant.
#[derive(Debug)]
pub(crate) struct Arrivals<K, V> {
    seen: Mutex<Seen<K, V>>,
    arrived: Notify,
    keep: Duration,
}

#[derive(Debug)]
struct Seen<K, V> {
    by_key: HashMap<K, (V, Instant)>,
    /// The size at which to sweep next: twice what a sweep left, so that
    /// many recent arrivals do not make every record a full scan.
    sweep_at: usize,
}

impl<K: Eq + Hash, V> Arrivals<K, V> {
    /// Arrivals kept unclaimed for at least `keep`.
    pub(crate) fn new(keep: Duration) -> Self {
        Self {
            seen: Mutex::new(Seen {
                by_key: HashMap::new(),
                sweep_at: SWEEP_ABOVE,
            }),
            arrived: Notify::new(),
            keep,
        }
    }

    /// Records that `key` arrived now, carrying `value`.
    pub(crate) fn record(&self, key: K, value: V) {
        let now = Instant::now();
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.by_key.len() >= seen.sweep_at {
                seen.by_key
                    .retain(|_, (_, at)| now.duration_since(*at) < self.keep);
                seen.sweep_at = SWEEP_ABOVE.max(2 * seen.by_key.len());
            }
            seen.by_key.insert(key, (value, now));
        }
        self.arrived.notify_waiters();
    }

    /// Claims `key` if it has arrived.
    pub(crate) fn take(&self, key: &K) -> Option<(V, Instant)> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_key
            .remove(key)
    }

    /// Waits up to `deadline` for `key` and claims it; past the deadline,
    /// `what` was not visible.
    pub(crate) async fn wait(
        &self,
        key: &K,
        what: &'static str,
        deadline: Duration,
    ) -> Result<(V, Instant), ClientError> {
        let until = Instant::now() + deadline;
        loop {
            // Registered before the check, so an arrival between the two
            // still wakes this waiter.
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = self.take(key) {
                return Ok(found);
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return Err(ClientError::NotVisible {
                    what,
                    waited: deadline,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_gets_the_instant_of_arrival() {
        let arrivals = std::sync::Arc::new(Arrivals::new(Duration::from_secs(60)));
        arrivals.record("early", 1);
        let recorded = Instant::now();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let (value, at) = arrivals.wait(&"early", "x", Duration::ZERO).await.unwrap();
        assert_eq!(value, 1);
        assert!(at <= recorded, "the arrival's instant, not the wait's");
        assert!(arrivals.take(&"early").is_none(), "claimed once");

        let late = {
            let arrivals = arrivals.clone();
            tokio::spawn(async move { arrivals.wait(&"late", "x", Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        arrivals.record("other", 0);
        arrivals.record("late", 2);
        assert_eq!(late.await.unwrap().unwrap().0, 2);

        let error = arrivals
            .wait(&"never", "message", Duration::from_millis(5))
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            ClientError::NotVisible {
                what: "message",
                ..
            }
        ));
    }

    #[tokio::test]
    async fn unclaimed_arrivals_are_swept_after_the_keep_time() {
        let arrivals = Arrivals::new(Duration::from_millis(20));
        arrivals.record(usize::MAX, ());
        tokio::time::sleep(Duration::from_millis(40)).await;
        for key in 0..SWEEP_ABOVE {
            arrivals.record(key, ());
        }
        assert!(arrivals.take(&usize::MAX).is_none(), "the old one is gone");
        assert!(arrivals.take(&0).is_some(), "recent ones stay");
    }
}
