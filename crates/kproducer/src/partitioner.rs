//! Choosing a partition for a record.
//!
//! - Keyed records: Java-compatible murmur2, `(murmur2(key) & 0x7fffffff) %
//!   partitions`, so kproducer places a key exactly where the Java client and
//!   librdkafka's `murmur2_random` do.
//! - Keyless records: uniform sticky (KIP-794): stay on one partition until
//!   about `batch.size` bytes have gone to it, then switch to another chosen at
//!   random. Batches fill up, and load still spreads evenly over time.
//! - [`Partitioner`] lets users bring their own.
//!
//! # References
//! - KIP-480 (sticky partitioner), KIP-794 (uniform sticky partitioner)
//! - Kafka's `Utils.murmur2` and `BuiltInPartitioner`

use std::fmt;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Java-compatible murmur2 hash, as Kafka's `Utils.murmur2` computes it.
///
/// ```
/// use kproducer::partitioner::murmur2;
/// assert_eq!(murmur2(b"foobar"), -790332482);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        if tail.len() == 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's default partitioner picks for `key` among
/// `partitions` partitions.
///
/// ```
/// use kproducer::partitioner::murmur2_partition;
/// // Kafka: toPositive(murmur2("foobar")) % 50 == 16.
/// assert_eq!(murmur2_partition(b"foobar", 50), 16);
/// ```
pub fn murmur2_partition(key: &[u8], partitions: u32) -> i32 {
    debug_assert!(partitions > 0);
    ((murmur2(key) & 0x7fff_ffff) as u32 % partitions.max(1)) as i32
}

/// What a partitioner sees of the record being placed.
///
/// ```
/// use kproducer::partitioner::{PartitionRequest, Partitioner, RoundRobin};
///
/// let req = PartitionRequest { topic: "orders", key: None, value: Some(b"v"), partitions: 3 };
/// let mut rr = RoundRobin::default();
/// assert_eq!(rr.partition(&req), 0);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct PartitionRequest<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The record's key, if any.
    pub key: Option<&'a [u8]>,
    /// The record's value, if any.
    pub value: Option<&'a [u8]>,
    /// How many partitions the topic has (always at least 1).
    pub partitions: u32,
}

/// Chooses a partition for records that do not name one.
///
/// Called on the producer's send path, once per record: implementations must
/// be cheap and must not block. `&mut self` because partitioners keep state
/// (the sticky partition, a round-robin counter); the producer calls it from
/// one place at a time.
///
/// ```
/// use kproducer::partitioner::{PartitionRequest, Partitioner};
///
/// /// Sends everything to partition 0.
/// #[derive(Debug)]
/// struct First;
///
/// impl Partitioner for First {
///     fn partition(&mut self, _req: &PartitionRequest<'_>) -> i32 {
///         0
///     }
/// }
/// ```
pub trait Partitioner: fmt::Debug + Send {
    /// The partition, in `0..req.partitions`.
    fn partition(&mut self, req: &PartitionRequest<'_>) -> i32;

    /// Told how many bytes were appended to `partition` of `topic` after a
    /// choice, so sticky partitioners know when to move on. Default: ignored.
    fn on_append(&mut self, _topic: &str, _partition: i32, _bytes: usize) {}
}

/// Kafka's default: murmur2 for keyed records, uniform sticky for keyless ones
/// (or for all records when `ignore_keys` is set, `partitioner.ignore.keys`).
///
/// ```
/// use kproducer::partitioner::{
///     DefaultPartitioner, PartitionRequest, Partitioner, murmur2_partition,
/// };
///
/// let mut p = DefaultPartitioner::new(16_384, false, 7);
/// let keyed =
///     PartitionRequest { topic: "orders", key: Some(b"foobar"), value: None, partitions: 50 };
/// assert_eq!(p.partition(&keyed), murmur2_partition(b"foobar", 50));
///
/// // Keyless records stick to one partition until batch.size bytes went to it.
/// let keyless = PartitionRequest { key: None, ..keyed };
/// let first = p.partition(&keyless);
/// p.on_append("orders", first, 100);
/// assert_eq!(p.partition(&keyless), first);
/// ```
#[derive(Debug)]
pub struct DefaultPartitioner {
    sticky: UniformSticky,
    ignore_keys: bool,
}

impl DefaultPartitioner {
    /// A default partitioner that switches sticky partitions after
    /// `batch_size` bytes.
    ///
    /// ```
    /// use kproducer::partitioner::{DefaultPartitioner, PartitionRequest, Partitioner};
    ///
    /// // partitioner.ignore.keys=true: keys do not choose the partition.
    /// let mut p = DefaultPartitioner::new(16_384, true, 7);
    /// let req = |key: &'static [u8]| PartitionRequest {
    ///     topic: "t",
    ///     key: Some(key),
    ///     value: None,
    ///     partitions: 8,
    /// };
    /// assert_eq!(p.partition(&req(b"a")), p.partition(&req(b"b")));
    /// ```
    pub fn new(batch_size: usize, ignore_keys: bool, seed: u64) -> Self {
        Self {
            sticky: UniformSticky::new(batch_size, seed),
            ignore_keys,
        }
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(&mut self, req: &PartitionRequest<'_>) -> i32 {
        match req.key {
            Some(key) if !self.ignore_keys => murmur2_partition(key, req.partitions),
            _ => self.sticky.partition(req),
        }
    }

    fn on_append(&mut self, topic: &str, partition: i32, bytes: usize) {
        self.sticky.on_append(topic, partition, bytes);
    }
}

/// KIP-794's uniform sticky partitioner: one partition per topic until
/// `batch_size` bytes were produced to it, then a random other one.
///
/// ```
/// use kproducer::partitioner::{PartitionRequest, Partitioner, UniformSticky};
///
/// let mut p = UniformSticky::new(1000, 42);
/// let req = PartitionRequest { topic: "logs", key: None, value: None, partitions: 4 };
/// let first = p.partition(&req);
/// p.on_append("logs", first, 600);
/// assert_eq!(p.partition(&req), first, "600 of 1000 bytes: still sticky");
/// p.on_append("logs", first, 600);
/// assert_ne!(p.partition(&req), first, "batch.size reached: moves on");
/// ```
#[derive(Debug)]
pub struct UniformSticky {
    batch_size: usize,
    rng: SmallRng,
    // Few topics per producer in practice; a small vec beats a hash map and
    // needs no allocation after each topic's first record.
    current: Vec<StickyTopic>,
}

#[derive(Debug)]
struct StickyTopic {
    topic: Box<str>,
    partition: i32,
    produced: usize,
}

impl UniformSticky {
    /// Switches after `batch_size` bytes; `seed` makes choices reproducible.
    ///
    /// ```
    /// use kproducer::partitioner::{PartitionRequest, Partitioner, UniformSticky};
    ///
    /// // The same seed makes the same choices.
    /// let req = PartitionRequest { topic: "logs", key: None, value: None, partitions: 12 };
    /// let (mut a, mut b) = (UniformSticky::new(16_384, 9), UniformSticky::new(16_384, 9));
    /// assert_eq!(a.partition(&req), b.partition(&req));
    /// ```
    pub fn new(batch_size: usize, seed: u64) -> Self {
        Self {
            batch_size: batch_size.max(1),
            rng: SmallRng::seed_from_u64(seed),
            current: Vec::new(),
        }
    }

    fn pick(rng: &mut SmallRng, partitions: u32, avoid: Option<i32>) -> i32 {
        if partitions <= 1 {
            return 0;
        }
        match avoid {
            // Draw from the other partitions-1 so a switch always moves.
            Some(a) if (0..partitions as i32).contains(&a) => {
                let p = rng.random_range(0..partitions - 1) as i32;
                if p >= a { p + 1 } else { p }
            }
            _ => rng.random_range(0..partitions) as i32,
        }
    }
}

impl Partitioner for UniformSticky {
    fn partition(&mut self, req: &PartitionRequest<'_>) -> i32 {
        let rng = &mut self.rng;
        match self.current.iter_mut().find(|t| &*t.topic == req.topic) {
            Some(t) => {
                if t.partition >= req.partitions as i32 || t.produced >= self.batch_size {
                    t.partition = Self::pick(rng, req.partitions, Some(t.partition));
                    t.produced = 0;
                }
                t.partition
            }
            None => {
                let partition = Self::pick(rng, req.partitions, None);
                self.current.push(StickyTopic {
                    topic: req.topic.into(),
                    partition,
                    produced: 0,
                });
                partition
            }
        }
    }

    fn on_append(&mut self, topic: &str, partition: i32, bytes: usize) {
        if let Some(t) = self
            .current
            .iter_mut()
            .find(|t| &*t.topic == topic && t.partition == partition)
        {
            t.produced = t.produced.saturating_add(bytes);
        }
    }
}

/// Cycles through partitions, one record each, like Kafka's
/// `RoundRobinPartitioner` but with one counter for all topics.
///
/// ```
/// use kproducer::partitioner::{PartitionRequest, Partitioner, RoundRobin};
///
/// let mut rr = RoundRobin::default();
/// let req = PartitionRequest { topic: "t", key: Some(b"ignored"), value: None, partitions: 3 };
/// let chosen: Vec<i32> = (0..4).map(|_| rr.partition(&req)).collect();
/// assert_eq!(chosen, [0, 1, 2, 0]);
/// ```
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: u32,
}

impl Partitioner for RoundRobin {
    fn partition(&mut self, req: &PartitionRequest<'_>) -> i32 {
        let p = self.next % req.partitions.max(1);
        self.next = self.next.wrapping_add(1);
        p as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_utils_test() {
        // Kafka's UtilsTest.testMurmur2.
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (key, want) in cases {
            assert_eq!(murmur2(key), *want, "{}", String::from_utf8_lossy(key));
        }
    }

    fn req<'a>(topic: &'a str, key: Option<&'a [u8]>, partitions: u32) -> PartitionRequest<'a> {
        PartitionRequest {
            topic,
            key,
            value: None,
            partitions,
        }
    }

    #[test]
    fn keyed_records_use_murmur2_unless_keys_are_ignored() {
        let mut p = DefaultPartitioner::new(100, false, 1);
        for _ in 0..10 {
            assert_eq!(p.partition(&req("t", Some(b"foobar"), 50)), 16);
        }
        let mut p = DefaultPartitioner::new(100, true, 1);
        let first = p.partition(&req("t", Some(b"foobar"), 50));
        p.on_append("t", first, 100);
        assert_ne!(p.partition(&req("t", Some(b"foobar"), 50)), first);
    }

    #[test]
    fn sticky_switches_after_batch_size_and_spreads_evenly() {
        let mut p = UniformSticky::new(1000, 42);
        let mut counts = [0u32; 6];
        let mut last = -1;
        let mut switches = 0;
        for _ in 0..60_000 {
            let part = p.partition(&req("t", None, 6));
            if part != last {
                switches += 1;
                last = part;
            }
            counts[part as usize] += 1;
            p.on_append("t", part, 100);
        }
        // One switch per 10 records of 100 bytes.
        assert_eq!(switches, 6_000);
        for c in counts {
            assert!((8_000..12_000).contains(&c), "uneven: {counts:?}");
        }
    }

    #[test]
    fn sticky_is_per_topic_and_survives_partition_count_shrinking() {
        let mut p = UniformSticky::new(1 << 20, 7);
        let a = p.partition(&req("a", None, 100));
        let _ = p.partition(&req("b", None, 100));
        assert_eq!(p.partition(&req("a", None, 100)), a);
        let shrunk = p.partition(&req("a", None, 1));
        assert_eq!(shrunk, 0);
    }

    #[test]
    fn round_robin_cycles() {
        let mut p = RoundRobin::default();
        let got: Vec<i32> = (0..7).map(|_| p.partition(&req("t", None, 3))).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
    }
}
