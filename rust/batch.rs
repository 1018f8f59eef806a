//! Batch verification.
//!
//! Items are prepared on the calling thread (in the extension, that is where Python objects
//! are read, under the GIL) and checked on the thread pool without it. Large batches are
//! pipelined: while the pool checks one chunk, the calling thread prepares the next, so the
//! serial preparation overlaps the hashing instead of preceding it. Small batches stay on
//! the calling thread, where handing work to the pool would cost more than it saves.

use std::ops::Range;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Condvar, Mutex};

use rayon::ThreadPool;

/// Below this much work (bytes hashed, plus [`PER_ITEM_WORK`] an item for keying and
/// finalisation) a batch is checked on the calling thread.
pub const PARALLEL_MIN_WORK: usize = 256 * 1024;
/// Per-item allowance, in bytes-equivalent, for the fixed cost of one HMAC.
pub const PER_ITEM_WORK: usize = 192;
/// Items prepared and handed to the pool at a time.
pub const CHUNK: usize = 128;

/// Counts finished chunks; the calling thread waits on it for the last one.
pub struct Latch {
    remaining: Mutex<usize>,
    zero: Condvar,
}

impl Latch {
    fn new(count: usize) -> Self {
        Self { remaining: Mutex::new(count), zero: Condvar::new() }
    }

    fn count_down(&self) {
        let mut remaining = self.remaining.lock().unwrap_or_else(|e| e.into_inner());
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            self.zero.notify_all();
        }
    }

    /// Blocks until every chunk has been checked.
    pub fn wait(&self) {
        let mut remaining = self.remaining.lock().unwrap_or_else(|e| e.into_inner());
        while *remaining > 0 {
            remaining = self.zero.wait(remaining).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A thread pool and the process that built it.
struct ProcessPool {
    pid: u32,
    pool: ThreadPool,
}

static POOL: AtomicPtr<ProcessPool> = AtomicPtr::new(ptr::null_mut());

/// The thread pool of this process.
///
/// Not rayon's global pool: after `fork()` a child inherits that pool's bookkeeping but none of
/// its threads, so work handed to it would wait forever (a Python server that forks workers
/// after warming up, such as gunicorn `--preload`, would hang in them). Each process builds its
/// own pool on first use; a forked child leaks the parent's, whose threads it does not have.
/// Lock-free, so a lock held by another thread at fork time cannot block the child either.
/// `None` only if no thread can be started; batches then run on the calling thread.
pub fn pool() -> Option<&'static ThreadPool> {
    let pid = std::process::id();
    loop {
        let current = POOL.load(Ordering::Acquire);
        // SAFETY: a stored pointer comes from `Box::into_raw` below and is never freed.
        if let Some(entry) = unsafe { current.as_ref() } {
            if entry.pid == pid {
                return Some(&entry.pool);
            }
        }
        let built = rayon::ThreadPoolBuilder::new()
            .thread_name(|index| format!("relaywire-batch-{index}"))
            .build()
            .ok()?;
        let fresh = Box::into_raw(Box::new(ProcessPool { pid, pool: built }));
        if POOL.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // Another thread stored a pool first: use that one, drop ours.
            // SAFETY: `fresh` was never shared.
            drop(unsafe { Box::from_raw(fresh) });
        }
    }
}

/// Per-item allowance, in bytes-equivalent, for one Ed25519 verification (about 40 us, where
/// HMAC-SHA256 hashes a byte in about 1 ns).
pub const ED25519_ITEM_WORK: usize = 32 * 1024;

/// Whether a batch of `count` items holding `body_bytes` in all, each costing `per_item`
/// bytes-equivalent beyond its body, is worth the thread pool.
pub fn is_large(count: usize, body_bytes: usize, per_item: usize) -> bool {
    let work = body_bytes.saturating_add(count.saturating_mul(per_item));
    work >= PARALLEL_MIN_WORK && pool().is_some_and(|pool| pool.current_num_threads() >= 2)
}

/// Checks `count` items, in order, `chunk` at a time.
///
/// `prepare(range)` builds the items of `range` on the calling thread. `check(items, out)`
/// writes one answer per item (a chunk at once, so that a scheme can verify its signatures
/// together). `release(job)` runs `job` with whatever the caller holds released (the
/// extension passes `py.detach`): the serial check of a small batch, or the wait for the
/// pool's last chunk of a large one. `large` picks the pipelined path (see [`is_large`]).
pub fn check_batch<T, R, E, P, C, F>(
    count: usize,
    large: bool,
    chunk: usize,
    mut prepare: P,
    check: C,
    release: F,
) -> Result<Vec<R>, E>
where
    T: Send + Sync,
    R: Send + Sync + Clone + Default,
    P: FnMut(Range<usize>) -> Result<Vec<T>, E>,
    C: Fn(&[T], &mut [R]) + Sync,
    F: FnOnce(&(dyn Fn() + Sync)),
{
    let mut results = vec![R::default(); count];
    let pool = if large { pool() } else { None };
    let Some(pool) = pool else {
        let items = prepare(0..count)?;
        let out = Mutex::new(&mut results[..]);
        release(&|| {
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            check(&items, &mut out);
        });
        return Ok(results);
    };

    let chunk = chunk.max(1);
    let latch = Latch::new(count.div_ceil(chunk));
    let (check, latch_ref) = (&check, &latch);
    pool.in_place_scope(|scope| {
        for (index, out) in results.chunks_mut(chunk).enumerate() {
            let start = index * chunk;
            let items = prepare(start..start + out.len())?;
            scope.spawn(move |_| {
                check(&items, out);
                latch_ref.count_down();
            });
        }
        release(&|| latch_ref.wait());
        Ok(())
    })?;
    Ok(results)
}

/// A chunk checker from a per-item check.
pub fn each<T, R>(check: impl Fn(&T) -> R + Sync) -> impl Fn(&[T], &mut [R]) + Sync {
    move |items, out| {
        for (slot, item) in out.iter_mut().zip(items) {
            *slot = check(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(count: usize, large: bool) -> Result<Vec<bool>, String> {
        let numbers: Vec<usize> = (0..count).collect();
        check_batch(
            count,
            large,
            CHUNK,
            |range: Range<usize>| Ok::<_, String>(numbers[range].to_vec()),
            each(|n: &usize| n % 7 == 1),
            |job| job(),
        )
    }

    #[test]
    fn order_is_kept_serial_and_pipelined() {
        for count in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 10 * CHUNK + 3] {
            let expected: Vec<bool> = (0..count).map(|n| n % 7 == 1).collect();
            assert_eq!(run(count, false).unwrap(), expected);
            assert_eq!(run(count, true).unwrap(), expected);
        }
    }

    #[test]
    fn a_preparation_error_stops_the_batch() {
        let result = check_batch(
            1000,
            true,
            CHUNK,
            |range: Range<usize>| {
                if range.start >= 3 * CHUNK {
                    Err(format!("bad item at {}", range.start))
                } else {
                    Ok(range.collect::<Vec<_>>())
                }
            },
            each(|_: &usize| true),
            |job| job(),
        );
        assert_eq!(result, Err(format!("bad item at {}", 3 * CHUNK)));
    }

    #[test]
    fn size_threshold() {
        assert!(!is_large(10, 10 * 1024, PER_ITEM_WORK));
        let threads = pool().map_or(1, ThreadPool::current_num_threads);
        assert_eq!(is_large(10_000, 10_000 * 1024, PER_ITEM_WORK), threads >= 2);
        assert_eq!(is_large(10, 0, ED25519_ITEM_WORK), threads >= 2);
    }

    #[test]
    fn chunks_are_checked_whole() {
        // A chunk checker sees its items together: here each answer is the chunk's length.
        let lengths = |items: &[usize], out: &mut [usize]| out.fill(items.len());
        let numbers: Vec<usize> = (0..10).collect();
        let run = |large| {
            let prepare = |r: Range<usize>| Ok::<_, ()>(numbers[r].to_vec());
            check_batch(10, large, 4, prepare, lengths, |job| job())
        };
        if pool().is_some() {
            assert_eq!(run(true).unwrap(), [4, 4, 4, 4, 4, 4, 4, 4, 2, 2]);
        }
        assert_eq!(run(false).unwrap(), [10; 10]);
    }
}
