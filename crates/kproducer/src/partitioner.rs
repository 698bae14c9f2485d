//! Choosing a partition for a record.
//!
//! - Keyed records: Java-compatible murmur2, `(murmur2(key) & 0x7fffffff) %
//!   partitions`, so kproducer places a key exactly where the Java client and
//!   librdkafka's `murmur2_random` do.
//! - Keyless records: uniform sticky (KIP-794): stay on one partition until
//!   about `batch.size` bytes have gone to it, then switch to another chosen at
//!   random. Batches fill up, and load still spreads evenly over time. With
//!   adaptive partitioning (on by default, as in Java) the draw is weighted
//!   by how many batches wait in each partition's queue ([`PartitionLoad`]):
//!   partitions whose broker or connection drains them slowly get fewer
//!   records; with `partitioner.availability.timeout.ms`, a partition
//!   whose oldest batch has waited that long to be sent gets none.
//! - [`Partitioner`] lets users bring their own.
//!
//! # References
//! - KIP-480 (sticky partitioner), KIP-794 (uniform sticky partitioner)
//! - Kafka's `Utils.murmur2` and `BuiltInPartitioner`

use std::fmt;

pub(crate) mod load;
mod sticky;

pub use self::load::PartitionLoad;
pub use self::sticky::UniformSticky;

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

    /// [`Partitioner::partition_indexed`], with the topic's queues at hand:
    /// `load` says how many batches wait to be sent in each partition's
    /// queue (see [`PartitionLoad`]), which a partitioner can use to
    /// prefer partitions that drain quickly (KIP-794's adaptive
    /// partitioning; [`UniformSticky`] does). What the producer calls, for
    /// every record that names no partition; reading `load` is cheap but
    /// not free, so read it only when choosing anew. Default:
    /// `partition_indexed(topic, req)`.
    ///
    /// ```
    /// use kproducer::partitioner::{PartitionLoad, PartitionRequest, Partitioner, TopicIndex};
    ///
    /// /// Always the partition with the shortest queue.
    /// #[derive(Debug)]
    /// struct Shortest;
    ///
    /// impl Partitioner for Shortest {
    ///     fn partition(&mut self, _req: &PartitionRequest<'_>) -> i32 {
    ///         0
    ///     }
    ///
    ///     fn partition_with_load(
    ///         &mut self,
    ///         _topic: TopicIndex,
    ///         req: &PartitionRequest<'_>,
    ///         load: PartitionLoad<'_>,
    ///     ) -> i32 {
    ///         (0..req.partitions)
    ///             .min_by_key(|&p| load.waiting_batches(p).unwrap_or(0))
    ///             .map_or(0, |p| p as i32)
    ///     }
    /// }
    ///
    /// let req = PartitionRequest { topic: "t", key: None, value: None, partitions: 3 };
    /// let load = PartitionLoad::from_waiting_batches(&[2, 0, 1]);
    /// assert_eq!(Shortest.partition_with_load(TopicIndex::new(0), &req, load), 1);
    /// ```
    fn partition_with_load(
        &mut self,
        topic: TopicIndex,
        req: &PartitionRequest<'_>,
        load: PartitionLoad<'_>,
    ) -> i32 {
        let _ = load;
        self.partition_indexed(topic, req)
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

    /// Adaptive partitioning of keyless records on (the default) or off:
    /// see [`UniformSticky::adaptive`]. Keyed records are placed by their
    /// key either way.
    ///
    /// ```
    /// use kproducer::partitioner::DefaultPartitioner;
    ///
    /// // partitioner.adaptive.partitioning.enable=false
    /// let _p = DefaultPartitioner::new(16_384, false, 7).adaptive(false);
    /// ```
    pub fn adaptive(mut self, enabled: bool) -> Self {
        self.sticky = self.sticky.adaptive(enabled);
        self
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

    #[inline]
    fn partition_with_load(
        &mut self,
        topic: TopicIndex,
        req: &PartitionRequest<'_>,
        load: PartitionLoad<'_>,
    ) -> i32 {
        match req.key {
            Some(key) if !self.ignore_keys => murmur2_partition(key, req.partitions),
            _ => self.sticky.partition_with_load(topic, req, load),
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
mod tests;
