//! CPU-bound steps over many members (verifying identity logs and key
//! packages, sealing welcomes) spread over the machine's cores.
//!
//! Adding 100 members means 100 signature checks, 100 key-package
//! validations and 100 HPKE seals: tens of milliseconds on one core. The
//! work is independent per member, so it is split into one contiguous
//! chunk per core on scoped threads, keeping the input order.

use std::num::NonZeroUsize;

/// Below this many items a single thread is faster than spawning more.
const MIN_PARALLEL: usize = 16;

/// `items.iter().map(work)`, in order, on up to one thread per core.
pub(crate) fn map<T, R, F>(items: &[T], work: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = std::thread::available_parallelism()
        .map(NonZeroUsize::get)
        .unwrap_or(1);
    if threads < 2 || items.len() < MIN_PARALLEL {
        return items.iter().map(work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            // A panic in `work` is a bug; re-raise it on the caller's thread.
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = super::map(&items, |x| x * 2);
        assert_eq!(doubled, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }
}
