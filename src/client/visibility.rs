//! Waiting for a write to become readable.
//!
//! On V4, identity updates and commits travel through a chain and an
//! indexer, so a successful publish does not mean the item can be read.
//! The client polls with a short, growing interval until the item appears
//! or the deadline passes, which is then a `not_visible` failure.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::ClientError;

/// First pause between polls; it grows by half each time up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Polls `check` until it yields a value or `deadline` passes. The first
/// poll happens at once.
pub(crate) async fn await_visible<T, F, Fut>(
    what: &'static str,
    deadline: Duration,
    mut check: F,
) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ClientError>>,
{
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(found) = check().await? {
            return Ok(found);
        }
        let waited = started.elapsed();
        if waited >= deadline {
            return Err(ClientError::NotVisible { what, waited });
        }
        tokio::time::sleep(pause.min(deadline - waited)).await;
        pause = (pause * 3 / 2).min(MAX_PAUSE);
    }
}
