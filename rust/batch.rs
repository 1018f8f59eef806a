//! Batch verification: large batches are spread over all cores, small ones stay serial because
//! handing work to the thread pool costs more than hashing a few short bodies.

use rayon::prelude::*;

/// Below this much work (bytes hashed, plus a per-item allowance for keying and
/// finalisation) a batch runs on the calling thread.
pub const PARALLEL_MIN_WORK: usize = 64 * 1024;
/// Per-item allowance, in bytes-equivalent, for the fixed cost of one HMAC.
pub const PER_ITEM_WORK: usize = 192;
/// Items handed to a worker at a time, so that scheduling stays cheap next to hashing.
const MIN_CHUNK: usize = 16;

/// Applies `check` to every item, in order.
pub fn check_all<T, F>(items: &[T], body_bytes: usize, check: F) -> Vec<bool>
where
    T: Sync,
    F: Fn(&T) -> bool + Sync + Send,
{
    let work = body_bytes.saturating_add(items.len().saturating_mul(PER_ITEM_WORK));
    if work < PARALLEL_MIN_WORK || rayon::current_num_threads() < 2 {
        items.iter().map(check).collect()
    } else {
        items
            .par_iter()
            .with_min_len(MIN_CHUNK)
            .map(check)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_kept_serial_and_parallel() {
        let small: Vec<u32> = (0..10).collect();
        assert_eq!(
            check_all(&small, 0, |n| n % 3 == 0),
            small.iter().map(|n| n % 3 == 0).collect::<Vec<_>>()
        );
        let large: Vec<u32> = (0..100_000).collect();
        let expected: Vec<bool> = large.iter().map(|n| n % 7 == 1).collect();
        assert_eq!(check_all(&large, 1 << 30, |n| n % 7 == 1), expected);
    }
}
