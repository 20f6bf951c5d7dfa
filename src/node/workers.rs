//! The `--workers N` fault: a node that handles at most N calls' injected
//! delays at once and queues the rest, so its capacity is known exactly.
//!
//! Each worker keeps the time from which it is free. A call takes the
//! worker free first, starts when both it and the worker are there, and
//! keeps the worker for its delay. Keeping the time per worker, instead of
//! holding a permit while sleeping, matters: a timer wakes up to a
//! millisecond late, and with permits every late wake-up would stretch
//! the worker's busy time, putting a node with 4 workers and a 10 ms
//! delay near 360 calls a second instead of the 400 it promises.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most workers a node may have (each is one timestamp).
pub const MAX_WORKERS: usize = 100_000;

/// N workers and when each becomes free.
pub(crate) struct Workers {
    free_from: Mutex<BinaryHeap<Reverse<Instant>>>,
}

impl Workers {
    /// `count` workers, all free now.
    pub(crate) fn new(count: usize) -> Self {
        let now = Instant::now();
        let count = count.clamp(1, MAX_WORKERS);
        Self {
            free_from: Mutex::new((0..count).map(|_| Reverse(now)).collect()),
        }
    }

    /// Books the first free worker for `delay` for a call that arrives
    /// now, and returns when the call's delay ends.
    pub(crate) fn book(&self, delay: Duration) -> Instant {
        let now = Instant::now();
        let mut free_from = self.free_from.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mut earliest) = free_from.peek_mut() else {
            return now + delay;
        };
        let done = earliest.0.max(now) + delay;
        earliest.0 = done;
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_beyond_the_workers_queue_for_the_first_free_one() {
        let workers = Workers::new(2);
        let delay = Duration::from_millis(10);
        let start = Instant::now();
        let ends: Vec<Duration> = (0..5)
            .map(|_| workers.book(delay).saturating_duration_since(start))
            .collect();
        // Two at once, then each pair 10 ms after the one before.
        let expected = [10, 10, 20, 20, 30];
        for (end, ms) in ends.iter().zip(expected) {
            let late = end.saturating_sub(Duration::from_millis(ms));
            assert!(
                *end >= Duration::from_millis(ms) && late < Duration::from_millis(5),
                "{ends:?}"
            );
        }
    }
}
