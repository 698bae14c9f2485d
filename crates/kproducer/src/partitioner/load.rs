//! What the producer tells a partitioner about its partitions' queues: how
//! many batches wait in each. KIP-794's adaptive partitioning reads a long
//! queue as a sign that the partition's path to its broker is slow, and
//! sends keyless records to the partitions whose queues are short.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

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
/// With `partitioner.availability.timeout.ms` set, it also says which
/// partitions are *unavailable*: their oldest batch has been ready to send
/// for longer than that without being sent (the broker is not taking
/// them: it is down, or stopped answering, or its window stays full), as
/// Java's producer judges it. The default partitioner leaves them out of
/// its draw.
///
/// The producer passes it to [`Partitioner::partition_with_load`]; reading
/// it is a slice index per partition, nothing is computed until asked.
///
/// ```
/// use kproducer::partitioner::PartitionLoad;
///
/// let load = PartitionLoad::from_waiting_batches(&[0, 3, 1]);
/// assert_eq!(load.waiting_batches(1), Some(3));
/// assert_eq!(load.waiting_batches(7), Some(0), "past the slice: nothing waits");
/// assert_eq!(PartitionLoad::UNKNOWN.waiting_batches(1), None);
///
/// // Partition 2's broker has not taken its batches for too long.
/// let load = PartitionLoad::from_waiting_batches(&[0, 3, 9]).with_unavailable(&[2]);
/// assert!(load.is_available(1));
/// assert!(!load.is_available(2));
/// ```
///
/// [`Partitioner::partition_with_load`]: crate::partitioner::Partitioner::partition_with_load
#[derive(Clone, Copy)]
pub struct PartitionLoad<'a>(Source<'a>);

#[derive(Clone, Copy)]
enum Source<'a> {
    Unknown,
    Counts {
        waiting: &'a [u32],
        unavailable: &'a [u32],
    },
    /// The core's queues of one topic, by partition (`None`: no record
    /// went to that partition yet).
    Queues {
        queues: &'a [Option<PartitionQueue>],
        availability: Option<Availability>,
    },
}

/// What `partitioner.availability.timeout.ms` asks of a queue: its front
/// batch ready since no earlier than `cutoff` (now less the timeout),
/// judged with the producer's `linger`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Availability {
    pub(crate) cutoff: Instant,
    pub(crate) linger: Duration,
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
        PartitionLoad(Source::Counts {
            waiting: counts,
            unavailable: &[],
        })
    }

    /// The same counts, with `partitions` unavailable (see
    /// [`is_available`](Self::is_available)). Only for loads made by
    /// [`from_waiting_batches`](Self::from_waiting_batches); others are
    /// returned as they are.
    ///
    /// ```
    /// use kproducer::partitioner::PartitionLoad;
    /// let load = PartitionLoad::from_waiting_batches(&[1, 1]).with_unavailable(&[0]);
    /// assert!(!load.is_available(0));
    /// assert!(load.is_available(1));
    /// ```
    pub fn with_unavailable(self, partitions: &'a [u32]) -> Self {
        match self.0 {
            Source::Counts { waiting, .. } => PartitionLoad(Source::Counts {
                waiting,
                unavailable: partitions,
            }),
            _ => self,
        }
    }

    /// The producer's own queues of one topic, indexed by partition;
    /// with `availability` when `partitioner.availability.timeout.ms` is
    /// set.
    pub(crate) fn of_queues(
        queues: &'a [Option<PartitionQueue>],
        availability: Option<Availability>,
    ) -> Self {
        PartitionLoad(Source::Queues {
            queues,
            availability,
        })
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
            Source::Counts { waiting, .. } => Some(waiting.get(at).copied().unwrap_or(0)),
            Source::Queues { queues, .. } => Some(
                queues
                    .get(at)
                    .and_then(Option::as_ref)
                    .map_or(0, PartitionQueue::waiting_batches),
            ),
        }
    }

    /// Whether `partition` can take records: false only when
    /// `partitioner.availability.timeout.ms` is set and the partition's
    /// oldest batch has been ready to send for longer than that (or, for
    /// a load made by hand, when [`with_unavailable`](Self::with_unavailable)
    /// named it). True when nothing is known.
    ///
    /// ```
    /// use kproducer::partitioner::PartitionLoad;
    /// assert!(PartitionLoad::UNKNOWN.is_available(3));
    /// ```
    pub fn is_available(&self, partition: u32) -> bool {
        match self.0 {
            Source::Unknown => true,
            Source::Counts { unavailable, .. } => !unavailable.contains(&partition),
            Source::Queues {
                availability: None, ..
            } => true,
            Source::Queues {
                queues,
                availability: Some(a),
            } => queues
                .get(partition as usize)
                .and_then(Option::as_ref)
                .and_then(|q| q.ready_since(a.linger))
                .is_none_or(|since| since >= a.cutoff),
        }
    }
}

impl fmt::Debug for PartitionLoad<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Source::Unknown => f.write_str("PartitionLoad(unknown)"),
            Source::Counts {
                waiting,
                unavailable,
            } => f
                .debug_struct("PartitionLoad")
                .field("waiting", &waiting)
                .field("unavailable", &unavailable)
                .finish(),
            Source::Queues { queues, .. } => {
                let counts: Vec<u32> = (0..queues.len() as u32)
                    .map(|p| self.waiting_batches(p).unwrap_or(0))
                    .collect();
                f.debug_tuple("PartitionLoad").field(&counts).finish()
            }
        }
    }
}
