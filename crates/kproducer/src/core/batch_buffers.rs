//! Memory for sealed batches, recycled: an acknowledged batch's buffer
//! goes back to a pool that the next sealed batch is written into.
//!
//! Why: with a large `batch.size` every sealed batch used to land in fresh
//! memory (a copy of a small batch, or a new builder buffer after a full
//! one was handed over), and the allocator returned those large blocks to
//! the kernel when the batch was acknowledged. Each new batch then paid a
//! page fault and the kernel zeroing every page on first touch — the
//! largest single cost of the producer in the 2026-11-26 profile. Reusing
//! buffers keeps the pages mapped.
//!
//! Buffers are kept by size class (powers of two), so a buffer taken for a
//! batch of `n` bytes has room for `n` and at most about twice that. The
//! pool holds at most `limit` bytes of idle buffers; beyond that a returned
//! buffer is freed. A buffer is only ever reused once nothing else refers
//! to it ([`Bytes::try_into_mut`] succeeds only for the last reference),
//! so bytes a retry or a connection may still read are never overwritten.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use kproducer_protocol::records::BatchMemory;

/// Below this a batch is copied into memory of its own size: small
/// allocations are cheap and recycled by the allocator itself.
const SMALLEST_POOLED: usize = 4096;

/// Size classes: class `c` holds buffers of capacity `2^c ..= 2^(c+1) - 1`.
const CLASSES: usize = usize::BITS as usize;

/// The idle buffers, by size class.
#[derive(Debug)]
struct Idle {
    classes: Vec<Vec<BytesMut>>,
    bytes: usize,
}

/// A pool of batch buffers shared by the partition queues of one producer
/// (cheap to clone; the core task is its only user, so the lock is never
/// contended).
#[derive(Debug, Clone)]
pub(crate) struct BatchBuffers {
    idle: Arc<Mutex<Idle>>,
    limit: usize,
}

impl BatchBuffers {
    /// A pool holding at most `limit` bytes of idle buffers.
    pub(crate) fn new(limit: usize) -> Self {
        BatchBuffers {
            idle: Arc::new(Mutex::new(Idle {
                classes: (0..CLASSES).map(|_| Vec::new()).collect(),
                bytes: 0,
            })),
            limit,
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Idle> {
        // Poisoned only if a holder panicked mid-push or pop; the pool's
        // contents are still valid buffers.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives a resolved batch's memory back, if nothing else refers to it.
    pub(crate) fn recycle(&self, data: Bytes) {
        if data.len() < SMALLEST_POOLED {
            return;
        }
        let Ok(mut buf) = data.try_into_mut() else {
            return;
        };
        let capacity = buf.capacity();
        if capacity < SMALLEST_POOLED {
            return;
        }
        buf.clear();
        let mut idle = self.idle();
        if idle.bytes + capacity > self.limit {
            return;
        }
        idle.bytes += capacity;
        idle.classes[floor_log2(capacity)].push(buf);
    }

    /// Bytes of idle buffers held now.
    #[cfg(test)]
    fn idle_bytes(&self) -> usize {
        self.idle().bytes
    }
}

impl BatchMemory for BatchBuffers {
    fn take(&mut self, min_capacity: usize) -> BytesMut {
        if min_capacity < SMALLEST_POOLED {
            return BytesMut::with_capacity(min_capacity);
        }
        let class = ceil_log2(min_capacity);
        if class >= CLASSES - 1 {
            return BytesMut::with_capacity(min_capacity);
        }
        let mut idle = self.idle();
        if let Some(buf) = idle.classes[class].pop() {
            idle.bytes -= buf.capacity();
            return buf;
        }
        drop(idle);
        // A power of two, so it comes back to the class it is taken from.
        BytesMut::with_capacity(1 << class)
    }
}

/// `⌊log2 n⌋` for `n ≥ 1`.
fn floor_log2(n: usize) -> usize {
    (usize::BITS - 1 - n.max(1).leading_zeros()) as usize
}

/// `⌈log2 n⌉` for `n ≥ 1`.
fn ceil_log2(n: usize) -> usize {
    let floor = floor_log2(n);
    if n.is_power_of_two() {
        floor
    } else {
        floor + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_buffer_is_taken_again_for_a_batch_of_its_class() {
        let mut pool = BatchBuffers::new(1 << 20);
        let buf = pool.take(10_000);
        assert_eq!(buf.capacity(), 16_384, "rounded up to its class");
        let ptr = buf.as_ptr();
        let mut filled = buf;
        filled.extend_from_slice(&[7; 10_000]);
        pool.recycle(filled.freeze());
        assert_eq!(pool.idle_bytes(), 16_384);
        let again = pool.take(9_000);
        assert_eq!(again.as_ptr(), ptr, "the same memory");
        assert!(again.is_empty(), "handed out empty");
        assert_eq!(pool.idle_bytes(), 0);
    }

    #[test]
    fn memory_still_referenced_elsewhere_is_not_reused() {
        let mut pool = BatchBuffers::new(1 << 20);
        let mut buf = pool.take(8_192);
        buf.extend_from_slice(&[1; 8_192]);
        let data = buf.freeze();
        let in_flight = data.clone();
        pool.recycle(data);
        assert_eq!(
            pool.idle_bytes(),
            0,
            "a retry or a connection may still read it"
        );
        assert_eq!(&in_flight[..8], &[1; 8]);
    }

    #[test]
    fn the_pool_never_holds_more_than_its_limit() {
        let mut pool = BatchBuffers::new(40_000);
        for _ in 0..4 {
            let mut buf = pool.take(16_384);
            buf.extend_from_slice(&[0; 16_384]);
            pool.recycle(buf.freeze());
            let mut other = BytesMut::with_capacity(16_384);
            other.extend_from_slice(&[0; 16_384]);
            pool.recycle(other.freeze());
        }
        assert!(pool.idle_bytes() <= 40_000, "{}", pool.idle_bytes());
        assert_eq!(pool.idle_bytes(), 32_768);
    }

    #[test]
    fn a_buffer_is_big_enough_for_what_was_asked() {
        let mut pool = BatchBuffers::new(1 << 24);
        for n in [1, 4_095, 4_096, 4_097, 65_536, 65_537, 1_048_576] {
            let mut buf = pool.take(n);
            assert!(buf.capacity() >= n, "{n}");
            buf.resize(n, 0);
            pool.recycle(buf.freeze());
        }
        for n in [4_097, 65_537, 1_048_576] {
            assert!(pool.take(n).capacity() >= n, "{n}");
        }
    }

    #[test]
    fn log2_bounds() {
        assert_eq!((floor_log2(1), ceil_log2(1)), (0, 0));
        assert_eq!((floor_log2(4096), ceil_log2(4096)), (12, 12));
        assert_eq!((floor_log2(4097), ceil_log2(4097)), (12, 13));
        assert_eq!(floor_log2(usize::MAX), CLASSES - 1);
    }
}
