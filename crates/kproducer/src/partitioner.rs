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

/// A topic's number within one producer: 0, 1, 2, … in the order the
/// producer first saw each topic, never reused while the producer lives.
///
/// The producer hands it to [`Partitioner::partition_indexed`] and
/// [`Partitioner::on_append_indexed`] so that a partitioner with per-topic
/// state can keep it in a `Vec` indexed by [`TopicIndex::get`] instead of
/// looking the topic's name up for every record.
///
/// ```
/// use kproducer::partitioner::TopicIndex;
///
/// let third = TopicIndex::new(2);
/// assert_eq!(third.get(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicIndex(u32);

impl TopicIndex {
    /// The index `index` (the producer numbers its topics from 0).
    ///
    /// ```
    /// assert_eq!(kproducer::partitioner::TopicIndex::new(0).get(), 0);
    /// ```
    pub const fn new(index: u32) -> Self {
        TopicIndex(index)
    }

    /// The index, for indexing a `Vec`.
    ///
    /// ```
    /// let index = kproducer::partitioner::TopicIndex::new(7);
    /// let per_topic = vec![0u64; 8];
    /// assert_eq!(per_topic[index.get()], 0);
    /// ```
    pub const fn get(self) -> usize {
        self.0 as usize
    }
}

/// Chooses a partition for records that do not name one.
///
/// Called on the producer's send path, once per record: implementations must
/// be cheap and must not block. `&mut self` because partitioners keep state
/// (the sticky partition, a round-robin counter); the producer calls it from
/// one place at a time.
///
/// The producer calls [`Partitioner::partition_indexed`] and
/// [`Partitioner::on_append_indexed`], which also pass the topic's
/// [`TopicIndex`]; by default they call [`Partitioner::partition`] and
/// [`Partitioner::on_append`], so implementing those two is enough. A
/// partitioner with per-topic state can implement the indexed ones too and
/// keep that state by index rather than by name.
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
///
/// Per-topic state by index:
///
/// ```
/// use kproducer::partitioner::{PartitionRequest, Partitioner, TopicIndex};
///
/// /// Round robin per topic.
/// #[derive(Debug, Default)]
/// struct PerTopicRoundRobin {
///     next: Vec<u32>,
/// }
///
/// impl Partitioner for PerTopicRoundRobin {
///     fn partition(&mut self, _req: &PartitionRequest<'_>) -> i32 {
///         // Called only by code that has no index; a real implementation
///         // would keep a name-keyed map for it.
///         0
///     }
///
///     fn partition_indexed(&mut self, topic: TopicIndex, req: &PartitionRequest<'_>) -> i32 {
///         if self.next.len() <= topic.get() {
///             self.next.resize(topic.get() + 1, 0);
///         }
///         let next = &mut self.next[topic.get()];
///         let p = *next % req.partitions.max(1);
///         *next = next.wrapping_add(1);
///         p as i32
///     }
/// }
///
/// let mut p = PerTopicRoundRobin::default();
/// let req = PartitionRequest { topic: "a", key: None, value: None, partitions: 3 };
/// let (a, b) = (TopicIndex::new(0), TopicIndex::new(1));
/// assert_eq!(p.partition_indexed(a, &req), 0);
/// assert_eq!(p.partition_indexed(a, &req), 1);
/// assert_eq!(p.partition_indexed(b, &PartitionRequest { topic: "b", ..req }), 0);
/// ```
pub trait Partitioner: fmt::Debug + Send {
    /// The partition, in `0..req.partitions`.
    fn partition(&mut self, req: &PartitionRequest<'_>) -> i32;

    /// Told how many bytes were appended to `partition` of `topic` after a
    /// choice, so sticky partitioners know when to move on. Default: ignored.
    fn on_append(&mut self, _topic: &str, _partition: i32, _bytes: usize) {}

    /// [`Partitioner::partition`], knowing the topic's [`TopicIndex`] in
    /// this producer (what the producer calls). Default: `partition(req)`.
    fn partition_indexed(&mut self, _topic: TopicIndex, req: &PartitionRequest<'_>) -> i32 {
        self.partition(req)
    }

    /// [`Partitioner::on_append`], knowing the topic's [`TopicIndex`] in
    /// this producer (what the producer calls); `name` is the topic's
    /// name. Default: `on_append(name, partition, bytes)`.
    fn on_append_indexed(&mut self, _topic: TopicIndex, name: &str, partition: i32, bytes: usize) {
        self.on_append(name, partition, bytes);
    }
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

    fn partition_indexed(&mut self, topic: TopicIndex, req: &PartitionRequest<'_>) -> i32 {
        match req.key {
            Some(key) if !self.ignore_keys => murmur2_partition(key, req.partitions),
            _ => self.sticky.partition_indexed(topic, req),
        }
    }

    fn on_append_indexed(&mut self, topic: TopicIndex, name: &str, partition: i32, bytes: usize) {
        self.sticky.on_append_indexed(topic, name, partition, bytes);
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
    /// Per topic index (the producer's calls): a `Vec` index per record.
    indexed: Vec<Sticky>,
    /// Per topic name (calls without an index, and indexes past
    /// [`MAX_INDEXED_TOPICS`]). Few topics per producer in practice; a
    /// small vec beats a hash map and needs no allocation after each
    /// topic's first record.
    named: Vec<(Box<str>, Sticky)>,
}

/// Topic indexes kept in [`UniformSticky`]'s `Vec`; larger ones (only a
/// caller numbering topics itself could pass them) are kept by name, so
/// no index can make it allocate without bound.
const MAX_INDEXED_TOPICS: usize = 1 << 16;

/// One topic's sticky partition.
#[derive(Debug, Clone, Copy)]
struct Sticky {
    /// The current partition; -1 before the first choice.
    partition: i32,
    /// Bytes appended to it since it was chosen.
    produced: usize,
}

impl Sticky {
    const UNCHOSEN: Sticky = Sticky {
        partition: -1,
        produced: 0,
    };

    /// The partition for the next record: the current one, or a new one
    /// when there is none yet, it no longer exists, or `batch_size` bytes
    /// went to it.
    fn choose(&mut self, rng: &mut SmallRng, batch_size: usize, partitions: u32) -> i32 {
        if self.partition < 0 {
            self.partition = UniformSticky::pick(rng, partitions, None);
            self.produced = 0;
        } else if self.partition >= partitions as i32 || self.produced >= batch_size {
            self.partition = UniformSticky::pick(rng, partitions, Some(self.partition));
            self.produced = 0;
        }
        self.partition
    }

    /// Counts `bytes` appended to `partition` (only the sticky one counts).
    fn appended(&mut self, partition: i32, bytes: usize) {
        if self.partition == partition {
            self.produced = self.produced.saturating_add(bytes);
        }
    }
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
            indexed: Vec::new(),
            named: Vec::new(),
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
        let at = match self.named.iter().position(|(t, _)| &**t == req.topic) {
            Some(at) => at,
            None => {
                self.named.push((req.topic.into(), Sticky::UNCHOSEN));
                self.named.len() - 1
            }
        };
        self.named[at]
            .1
            .choose(&mut self.rng, self.batch_size, req.partitions)
    }

    fn on_append(&mut self, topic: &str, partition: i32, bytes: usize) {
        if let Some((_, sticky)) = self.named.iter_mut().find(|(t, _)| &**t == topic) {
            sticky.appended(partition, bytes);
        }
    }

    /// Keeps the topic's sticky partition at its index: no name compared.
    /// (Separate from the state [`Partitioner::partition`] keeps by name:
    /// use one or the other for a topic.)
    fn partition_indexed(&mut self, topic: TopicIndex, req: &PartitionRequest<'_>) -> i32 {
        let at = topic.get();
        if at >= MAX_INDEXED_TOPICS {
            return self.partition(req);
        }
        if self.indexed.len() <= at {
            self.indexed.resize(at + 1, Sticky::UNCHOSEN);
        }
        self.indexed[at].choose(&mut self.rng, self.batch_size, req.partitions)
    }

    fn on_append_indexed(&mut self, topic: TopicIndex, name: &str, partition: i32, bytes: usize) {
        let at = topic.get();
        if at >= MAX_INDEXED_TOPICS {
            self.on_append(name, partition, bytes);
        } else if let Some(sticky) = self.indexed.get_mut(at) {
            sticky.appended(partition, bytes);
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
    fn sticky_by_index_chooses_as_sticky_by_name_does() {
        let (mut by_name, mut by_index) = (UniformSticky::new(300, 5), UniformSticky::new(300, 5));
        for i in 0..3_000 {
            let (topic, index) = [("a", 0), ("b", 1), ("c", 2)][i % 3];
            let r = req(topic, None, 7);
            let want = by_name.partition(&r);
            let got = by_index.partition_indexed(TopicIndex::new(index), &r);
            assert_eq!(got, want, "record {i}");
            by_name.on_append(topic, want, 100);
            by_index.on_append_indexed(TopicIndex::new(index), topic, got, 100);
        }
        assert_eq!(by_index.indexed.len(), 3);
        assert!(by_index.named.is_empty(), "indexed calls keep no names");
    }

    #[test]
    fn indexes_past_the_cap_are_kept_by_name_not_allocated_for() {
        let mut p = UniformSticky::new(1000, 3);
        let huge = TopicIndex::new(u32::MAX);
        let first = p.partition_indexed(huge, &req("t", None, 50));
        p.on_append_indexed(huge, "t", first, 600);
        assert_eq!(p.partition_indexed(huge, &req("t", None, 50)), first);
        p.on_append_indexed(huge, "t", first, 600);
        assert_ne!(p.partition_indexed(huge, &req("t", None, 50)), first);
        assert!(p.indexed.is_empty());
        assert_eq!(p.named.len(), 1);
    }

    #[test]
    fn indexed_calls_default_to_the_name_based_ones() {
        #[derive(Debug, Default)]
        struct Named {
            appended: Vec<(String, i32, usize)>,
        }
        impl Partitioner for Named {
            fn partition(&mut self, req: &PartitionRequest<'_>) -> i32 {
                req.partitions as i32 - 1
            }
            fn on_append(&mut self, topic: &str, partition: i32, bytes: usize) {
                self.appended.push((topic.to_owned(), partition, bytes));
            }
        }
        let mut p = Named::default();
        assert_eq!(
            p.partition_indexed(TopicIndex::new(4), &req("t", None, 3)),
            2
        );
        p.on_append_indexed(TopicIndex::new(4), "t", 2, 10);
        assert_eq!(p.appended, [("t".to_owned(), 2, 10)]);
    }

    #[test]
    fn default_partitioner_keeps_keyed_placement_when_indexed() {
        let mut p = DefaultPartitioner::new(100, false, 1);
        let keyed = req("t", Some(b"foobar"), 50);
        assert_eq!(p.partition_indexed(TopicIndex::new(0), &keyed), 16);
        let mut ignoring = DefaultPartitioner::new(100, true, 1);
        let first = ignoring.partition_indexed(TopicIndex::new(0), &keyed);
        ignoring.on_append_indexed(TopicIndex::new(0), "t", first, 100);
        assert_ne!(
            ignoring.partition_indexed(TopicIndex::new(0), &keyed),
            first
        );
    }

    #[test]
    fn round_robin_cycles() {
        let mut p = RoundRobin::default();
        let got: Vec<i32> = (0..7).map(|_| p.partition(&req("t", None, 3))).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
    }
}
