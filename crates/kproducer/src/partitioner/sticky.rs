//! KIP-794's uniform sticky partitioner, with its adaptive partitioning.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{PartitionLoad, PartitionRequest, Partitioner, TopicIndex};

/// KIP-794's uniform sticky partitioner: one partition per topic until
/// `batch_size` bytes were produced to it, then another one.
///
/// Which one: with *adaptive partitioning* (on by default, Java's
/// `partitioner.adaptive.partitioning.enable`) and the producer's queues at
/// hand ([`Partitioner::partition_with_load`]), a partition is drawn with
/// weight `longest queue + 1 − its queue`, counting batches waiting to be
/// sent, so partitions whose broker or connection drains them slowly get
/// fewer records (Java's producer weighs the same way); when every queue
/// is as long, or adaptive partitioning is off, or the queues are unknown,
/// a random other partition.
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
///
/// Adaptive: a partition with a long queue is rarely chosen.
///
/// ```
/// use kproducer::partitioner::{
///     PartitionLoad, PartitionRequest, Partitioner, TopicIndex, UniformSticky,
/// };
///
/// let mut p = UniformSticky::new(100, 7);
/// let req = PartitionRequest { topic: "logs", key: None, value: None, partitions: 2 };
/// // Partition 1 has 9 batches waiting, partition 0 none: weights 10 and 1.
/// let load = PartitionLoad::from_waiting_batches(&[0, 9]);
/// let topic = TopicIndex::new(0);
/// let mut on_1 = 0;
/// for _ in 0..1000 {
///     let chosen = p.partition_with_load(topic, &req, load);
///     p.on_append_indexed(topic, "logs", chosen, 100); // switch every time
///     on_1 += usize::from(chosen == 1);
/// }
/// assert!(on_1 < 200, "{on_1} of 1000 switches went to the long queue");
/// ```
#[derive(Debug)]
pub struct UniformSticky {
    batch_size: usize,
    rng: SmallRng,
    /// Weigh the next partition by the queues (KIP-794 adaptive
    /// partitioning).
    adaptive: bool,
    /// Per topic index (the producer's calls): a `Vec` index per record.
    pub(super) indexed: Vec<Sticky>,
    /// Per topic name (calls without an index, and indexes past
    /// [`MAX_INDEXED_TOPICS`]). Few topics per producer in practice; a
    /// small vec beats a hash map and needs no allocation after each
    /// topic's first record.
    pub(super) named: Vec<(Box<str>, Sticky)>,
}

/// Topic indexes kept in [`UniformSticky`]'s `Vec`; larger ones (only a
/// caller numbering topics itself could pass them) are kept by name, so
/// no index can make it allocate without bound.
const MAX_INDEXED_TOPICS: usize = 1 << 16;

/// One topic's sticky partition.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sticky {
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
    /// went to it. `load` is read only when choosing a new one.
    #[inline]
    fn choose(
        &mut self,
        rng: &mut SmallRng,
        batch_size: usize,
        partitions: u32,
        load: Option<PartitionLoad<'_>>,
    ) -> i32 {
        if self.partition < 0 || self.partition >= partitions as i32 || self.produced >= batch_size
        {
            self.switch(rng, partitions, load);
        }
        self.partition
    }

    #[cold]
    fn switch(&mut self, rng: &mut SmallRng, partitions: u32, load: Option<PartitionLoad<'_>>) {
        let current = (self.partition >= 0).then_some(self.partition);
        self.partition = match load.and_then(|load| pick_weighted(rng, partitions, load)) {
            Some(p) => p,
            None => UniformSticky::pick(rng, partitions, current),
        };
        self.produced = 0;
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
            adaptive: true,
            indexed: Vec::new(),
            named: Vec::new(),
        }
    }

    /// Turns adaptive partitioning on (the default) or off: off, the next
    /// partition is drawn uniformly whatever the queues hold
    /// (`partitioner.adaptive.partitioning.enable=false`).
    ///
    /// ```
    /// use kproducer::partitioner::{
    ///     PartitionLoad, PartitionRequest, Partitioner, TopicIndex, UniformSticky,
    /// };
    ///
    /// let mut p = UniformSticky::new(100, 7).adaptive(false);
    /// let req = PartitionRequest { topic: "logs", key: None, value: None, partitions: 2 };
    /// let load = PartitionLoad::from_waiting_batches(&[0, 9]);
    /// let topic = TopicIndex::new(0);
    /// let mut on_1 = 0;
    /// for _ in 0..1000 {
    ///     let chosen = p.partition_with_load(topic, &req, load);
    ///     p.on_append_indexed(topic, "logs", chosen, 100);
    ///     on_1 += usize::from(chosen == 1);
    /// }
    /// // With two partitions a switch always moves: half go to each.
    /// assert_eq!(on_1, 500);
    /// ```
    pub fn adaptive(mut self, enabled: bool) -> Self {
        self.adaptive = enabled;
        self
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

    /// The topic's sticky partition, kept at its index (by name past
    /// [`MAX_INDEXED_TOPICS`]); a new one weighed by `load`, if given.
    #[inline]
    fn choose_indexed(
        &mut self,
        topic: TopicIndex,
        req: &PartitionRequest<'_>,
        load: Option<PartitionLoad<'_>>,
    ) -> i32 {
        let at = topic.get();
        if at >= MAX_INDEXED_TOPICS {
            return self.partition(req);
        }
        if self.indexed.len() <= at {
            self.indexed.resize(at + 1, Sticky::UNCHOSEN);
        }
        self.indexed[at].choose(&mut self.rng, self.batch_size, req.partitions, load)
    }
}

/// KIP-794's weighted draw: partition `p` with weight `max + 1 − q[p]`,
/// where `q[p]` is the batches waiting in its queue and `max` the longest
/// queue, over the available partitions ([`PartitionLoad::is_available`]:
/// all of them unless `partitioner.availability.timeout.ms` is set).
/// `None` when the load says nothing to choose by: unknown, fewer than
/// two partitions, no partition available, or every partition available
/// and every queue as long (then a uniform draw that moves off the
/// current partition is better).
fn pick_weighted(rng: &mut SmallRng, partitions: u32, load: PartitionLoad<'_>) -> Option<i32> {
    if partitions < 2 {
        return None;
    }
    let (mut longest, mut shortest, mut total, mut available) = (0u32, u32::MAX, 0u64, 0u64);
    for p in (0..partitions).filter(|&p| load.is_available(p)) {
        let waiting = load.waiting_batches(p)?;
        longest = longest.max(waiting);
        shortest = shortest.min(waiting);
        total += u64::from(waiting);
        available += 1;
    }
    if available == 0 || (longest == shortest && available == u64::from(partitions)) {
        return None;
    }
    let top = u64::from(longest) + 1;
    // Σ (top − q[p]) over the available = top · available − Σ q[p] ≥ available > 0.
    let weights = top * available - total;
    let mut draw = rng.random_range(0..weights);
    let mut last = None;
    for p in (0..partitions).filter(|&p| load.is_available(p)) {
        let weight = top - u64::from(load.waiting_batches(p).unwrap_or(longest));
        if draw < weight {
            return Some(p as i32);
        }
        draw -= weight;
        last = Some(p as i32);
    }
    // Unreachable: the weights add up to `weights` and `draw` is below it.
    last
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
            .choose(&mut self.rng, self.batch_size, req.partitions, None)
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
        self.choose_indexed(topic, req, None)
    }

    /// As [`Partitioner::partition_indexed`], and a new partition is
    /// weighed by `load` when adaptive partitioning is on.
    #[inline]
    fn partition_with_load(
        &mut self,
        topic: TopicIndex,
        req: &PartitionRequest<'_>,
        load: PartitionLoad<'_>,
    ) -> i32 {
        let load = self.adaptive.then_some(load);
        self.choose_indexed(topic, req, load)
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
