//! A fast, deterministic hasher for the core's per-record lookups (topic
//! metadata and the partition queues), which std's SipHash made a visible
//! share of the per-record cost.
//!
//! It is the multiply-rotate scheme of rustc's `FxHasher`, written here (a
//! few lines, no dependency). It resists no hash flooding; its keys are the
//! topics this producer sends to and their partitions, chosen by the
//! application, not by a peer.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed with [`FastHasher`].
///
/// Also what makes the core's decisions repeatable: maps it iterates to
/// decide (brokers to connect or scale, requests to send, records to
/// fail) visit their keys in the same order in every run, so a test on
/// paused time replays the same schedule (std's `RandomState` changed
/// the order, and with it the timings, from run to run).
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A `HashSet` keyed with [`FastHasher`].
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Multiply-rotate hashing, 8 bytes at a time.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kproducer_net::TopicPartition;

    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_neighbours_differ() {
        let mut m: FastMap<TopicPartition, i32> = FastMap::default();
        for topic in ["a", "orders", "orders-and-more-than-eight", "orders2"] {
            for p in 0..64 {
                m.insert(TopicPartition::new(topic, p), p);
            }
        }
        assert_eq!(m.len(), 4 * 64);
        let key: Arc<str> = Arc::from("orders");
        assert_eq!(m.get(&TopicPartition::new(key, 17)), Some(&17));
        let h = |s: &str| {
            let mut h = FastHasher::default();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_ne!(h("orders"), h("orders2"));
        assert_eq!(h("orders"), h("orders"));
    }
}
