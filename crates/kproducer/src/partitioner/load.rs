//! What the producer tells a partitioner about its partitions' queues: how
//! many batches wait in each. KIP-794's adaptive partitioning reads a long
//! queue as a sign that the partition's path to its broker is slow, and
//! sends keyless records to the partitions whose queues are short.

use std::fmt;

use crate::core::accumulator::PartitionQueue;

/// How many batches wait in each partition's queue of one topic: the batch
/// being filled plus the sealed ones not yet sent (batches in flight do not
/// count), the measure Kafka's Java producer uses for KIP-794's adaptive
/// partitioning.
///
/// A partition whose broker (or, with several connections per broker,
/// whose connection) is slower than the others drains its queue more
/// slowly, so its queue grows; a partitioner that prefers short queues
/// sends less there and the producer as a whole goes faster.
///
/// The producer passes it to [`Partitioner::partition_with_load`]
/// (`crate::partitioner::Partitioner::partition_with_load`); reading it is
/// a slice index per partition, nothing is computed until asked.
///
/// ```
/// use kproducer::partitioner::PartitionLoad;
///
/// let load = PartitionLoad::from_waiting_batches(&[0, 3, 1]);
/// assert_eq!(load.waiting_batches(1), Some(3));
/// assert_eq!(load.waiting_batches(7), Some(0), "past the slice: nothing waits");
/// assert_eq!(PartitionLoad::UNKNOWN.waiting_batches(1), None);
/// ```
///
/// [`Partitioner::partition_with_load`]: crate::partitioner::Partitioner::partition_with_load
#[derive(Clone, Copy)]
pub struct PartitionLoad<'a>(Source<'a>);

#[derive(Clone, Copy)]
enum Source<'a> {
    Unknown,
    Counts(&'a [u32]),
    /// The core's queues of one topic, by partition (`None`: no record
    /// went to that partition yet).
    Queues(&'a [Option<PartitionQueue>]),
}

impl<'a> PartitionLoad<'a> {
    /// Nothing is known about the queues (a caller that has none to show).
    ///
    /// ```
    /// use kproducer::partitioner::PartitionLoad;
    /// assert!(!PartitionLoad::UNKNOWN.is_known());
    /// ```
    pub const UNKNOWN: PartitionLoad<'static> = PartitionLoad(Source::Unknown);

    /// Queues holding `counts[p]` batches for partition `p` (partitions
    /// past the slice hold none). For tests and for callers that keep
    /// their own counts.
    ///
    /// ```
    /// use kproducer::partitioner::PartitionLoad;
    /// let load = PartitionLoad::from_waiting_batches(&[2, 0]);
    /// assert!(load.is_known());
    /// assert_eq!(load.waiting_batches(0), Some(2));
    /// ```
    pub fn from_waiting_batches(counts: &'a [u32]) -> Self {
        PartitionLoad(Source::Counts(counts))
    }

    /// The producer's own queues of one topic, indexed by partition.
    pub(crate) fn of_queues(queues: &'a [Option<PartitionQueue>]) -> Self {
        PartitionLoad(Source::Queues(queues))
    }

    /// Whether the queues are known at all.
    ///
    /// ```
    /// use kproducer::partitioner::PartitionLoad;
    /// assert!(PartitionLoad::from_waiting_batches(&[]).is_known());
    /// ```
    pub fn is_known(&self) -> bool {
        !matches!(self.0, Source::Unknown)
    }

    /// Batches waiting in `partition`'s queue (0 for a partition that has
    /// none yet), or `None` when the queues are unknown.
    ///
    /// ```
    /// use kproducer::partitioner::PartitionLoad;
    /// assert_eq!(PartitionLoad::from_waiting_batches(&[4]).waiting_batches(0), Some(4));
    /// ```
    pub fn waiting_batches(&self, partition: u32) -> Option<u32> {
        let at = partition as usize;
        match self.0 {
            Source::Unknown => None,
            Source::Counts(counts) => Some(counts.get(at).copied().unwrap_or(0)),
            Source::Queues(queues) => Some(
                queues
                    .get(at)
                    .and_then(Option::as_ref)
                    .map_or(0, PartitionQueue::waiting_batches),
            ),
        }
    }
}

impl fmt::Debug for PartitionLoad<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Source::Unknown => f.write_str("PartitionLoad(unknown)"),
            Source::Counts(counts) => f.debug_tuple("PartitionLoad").field(&counts).finish(),
            Source::Queues(queues) => {
                let counts: Vec<u32> = (0..queues.len() as u32)
                    .map(|p| self.waiting_batches(p).unwrap_or(0))
                    .collect();
                f.debug_tuple("PartitionLoad").field(&counts).finish()
            }
        }
    }
}
