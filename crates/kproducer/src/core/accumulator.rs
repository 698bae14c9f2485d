//! Per-partition batching: one open batch built in place with the protocol
//! crate's [`RecordBatchBuilder`], sealed on `batch.size`, `linger.ms` or a
//! flush, then queued (in order) until the drain sends it.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use kproducer_net::TopicPartition;
use kproducer_protocol::records::{BatchParams, Compression, RecordBatchBuilder};
use tokio::time::Instant;

use super::batch_buffers::BatchBuffers;
use super::idempotence::BatchSequence;
use super::resolution::Reply;
use crate::error::Error;
use crate::record::{Header, Topic};

/// The builder's first buffer, at most: it grows (doubling) to what the
/// partition's batches need, up to `batch.size`. Sized to the batches
/// rather than to `batch.size`, a sealed batch usually fills at least half
/// of it and is handed over as it is (the builder takes a recycled buffer
/// of the same size) instead of being copied out of a mostly empty
/// `batch.size` buffer; and a partition with small batches does not hold
/// a `batch.size` buffer of its own.
const FIRST_BUILDER_CAPACITY: usize = 16 * 1024;

/// One record waiting for its outcome: how to tell its sender (a future's
/// channel or a report token) and its timestamp. 24 bytes.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) reply: Reply,
    pub(crate) timestamp: i64,
}

/// What the accumulator reads of a record: its parts, borrowed (the core
/// keeps the record's topic for the partition key, so no `Arc` is cloned
/// per record).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordParts<'a> {
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a [u8]>,
    pub(crate) headers: &'a [Header],
    /// CreateTime, milliseconds since the Unix epoch.
    pub(crate) timestamp: i64,
    /// [`Record::size_bound`](crate::Record::size_bound).
    pub(crate) size_bound: usize,
}

impl<'a> RecordParts<'a> {
    /// The parts of `record`, stamped with `timestamp`.
    #[cfg(test)]
    pub(crate) fn of(record: &'a crate::record::Record, timestamp: i64) -> Self {
        RecordParts {
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: &record.headers,
            timestamp,
            size_bound: record.size_bound(),
        }
    }
}

/// Half of tokio's timer tick (1 ms). A tokio timer fires on the first
/// tick at or after its deadline, so a linger timed to end exactly at
/// `created + linger.ms` really ends 0–1 ms late, half a millisecond on
/// average, and that lateness is added to every batch's oldest record.
/// Aiming half a tick early makes the timer fire on the tick *nearest* the
/// deadline: within ±0.5 ms of it, on time on average. (Kafka's Java
/// producer, which reads a millisecond clock, closes a batch anywhere in
/// the last millisecond before its linger ends.)
pub(crate) const LINGER_TICK_ALLOWANCE: Duration = Duration::from_micros(500);

/// The moment a batch opened at `created` has lingered long enough:
/// `linger` less [`LINGER_TICK_ALLOWANCE`] (a linger of zero stays zero).
pub(crate) fn linger_end(created: Instant, linger: Duration) -> Instant {
    created + linger.saturating_sub(LINGER_TICK_ALLOWANCE)
}

/// Orders batches of one partition: creation order, then split order.
pub(crate) type BatchOrder = (u64, u32);

/// A sealed batch: from the moment it is closed until its records resolve.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) order: BatchOrder,
    pub(crate) topic: Topic,
    pub(crate) tp: TopicPartition,
    /// The sealed v2 batch (producer state stamped at first send).
    pub(crate) data: Bytes,
    pub(crate) count: i32,
    pub(crate) records: Vec<Pending>,
    /// `buffer.memory` bytes to give back when the batch resolves.
    pub(crate) reserved: usize,
    /// Which flush generation the records belong to.
    pub(crate) flush_gen: u64,
    /// When the first record was appended: the delivery timeout counts
    /// from here.
    pub(crate) created: Instant,
    /// The sequence, once first sent (idempotent producers only).
    pub(crate) seq: Option<BatchSequence>,
    pub(crate) attempts: u32,
    pub(crate) retry_at: Option<Instant>,
    /// The broker may hold this batch (it was written and the answer lost).
    pub(crate) maybe_persisted: bool,
    /// Its last attempt never reached the socket (the connection closed
    /// first, `NotSent`): sending it again is not a retry.
    pub(crate) unsent: bool,
    /// The last error seen, for the delivery-timeout message.
    pub(crate) last_error: Option<String>,
}

/// The open batch's bookkeeping (its bytes live in the partition's builder).
#[derive(Debug)]
struct OpenBatch {
    records: Vec<Pending>,
    reserved: usize,
    created: Instant,
    flush_gen: u64,
}

/// Everything queued for one partition.
#[derive(Debug)]
pub(crate) struct PartitionQueue {
    pub(crate) topic: Topic,
    pub(crate) tp: TopicPartition,
    builder: RecordBatchBuilder,
    /// Where sealed batches are written (buffers of acknowledged batches).
    memory: BatchBuffers,
    /// Records in the last sealed batch: the next one's list starts with
    /// room for as many, instead of growing (and copying) step by step.
    last_count: usize,
    open: Option<OpenBatch>,
    /// Sealed batches in order; retried batches go back in their place.
    pub(crate) ready: VecDeque<Batch>,
    /// Batches of this partition in flight right now.
    pub(crate) in_flight: usize,
    /// Every batch gets its producer state stamped (and with it its CRC)
    /// before it is first sent (idempotent producers): sealing leaves the
    /// CRC out rather than compute it twice.
    stamped_at_send: bool,
}

/// Why a record could not be appended; the record's reply comes back.
#[derive(Debug)]
pub(crate) struct Rejected {
    pub(crate) reply: Reply,
    pub(crate) reserved: usize,
    pub(crate) error: Error,
}

impl PartitionQueue {
    pub(crate) fn new(
        topic: Topic,
        partition: i32,
        compression: Compression,
        batch_size: usize,
        memory: BatchBuffers,
    ) -> Self {
        let tp = TopicPartition::new(topic.shared().clone(), partition);
        PartitionQueue {
            topic,
            tp,
            builder: RecordBatchBuilder::with_capacity(
                compression,
                batch_size.clamp(128, FIRST_BUILDER_CAPACITY),
            ),
            memory,
            last_count: 0,
            open: None,
            ready: VecDeque::new(),
            in_flight: 0,
            stamped_at_send: false,
        }
    }

    /// Says that every batch of this queue gets its producer state stamped
    /// before it is first sent (`records::rewrite_transactional_state`,
    /// which computes the CRC): sealing then leaves the CRC out.
    pub(crate) fn stamped_at_send(mut self, stamped: bool) -> Self {
        self.stamped_at_send = stamped;
        self
    }

    /// Appends a record. Seals the open batch first if the record would
    /// overflow `batch_size` or belongs to a newer flush generation, and
    /// after, if the batch is full. `next_order` hands out batch orders.
    #[allow(clippy::too_many_arguments)]
    // Inlined into the core's routing loop (its one caller there): its seven
    // arguments are passed in registers and spilled no more.
    #[inline(always)]
    pub(crate) fn append(
        &mut self,
        record: RecordParts<'_>,
        reply: Reply,
        reserved: usize,
        now: Instant,
        batch_size: usize,
        flush_gen: u64,
        next_order: &mut u64,
    ) -> Result<(), Rejected> {
        if let Some(open) = &self.open
            && (open.flush_gen != flush_gen || !self.fits(&record, batch_size))
        {
            self.seal(next_order);
        }
        if let Err(e) =
            self.builder
                .try_append(record.timestamp, record.key, record.value, record.headers)
        {
            return Err(Rejected {
                reply,
                reserved,
                error: Error::InvalidRecord {
                    topic: self.topic.clone(),
                    reason: e.to_string(),
                },
            });
        }
        let last_count = self.last_count;
        let open = self.open.get_or_insert_with(|| OpenBatch {
            records: Vec::with_capacity(last_count),
            reserved: 0,
            created: now,
            flush_gen,
        });
        // A record that waited for metadata was sent before the batch
        // opened: the batch's delivery deadline is its oldest record's.
        open.created = open.created.min(now);
        open.records.push(Pending {
            reply,
            timestamp: record.timestamp,
        });
        open.reserved += reserved;
        if self.builder.size_estimate() >= batch_size {
            self.seal(next_order);
        }
        Ok(())
    }

    /// Whether `record` still fits the open batch within `batch_size`.
    /// The record's size bound (a few additions) answers almost always; the
    /// exact encoded size (varint lengths) is computed only near the limit.
    fn fits(&self, record: &RecordParts<'_>, batch_size: usize) -> bool {
        let used = self.builder.size_estimate();
        if used.saturating_add(record.size_bound) <= batch_size {
            return true;
        }
        let size =
            self.builder
                .encoded_size(record.timestamp, record.key, record.value, record.headers);
        used.saturating_add(size) <= batch_size
    }

    /// When the open batch's linger ends, if there is one: see
    /// [`linger_end`].
    pub(crate) fn linger_deadline(&self, linger: Duration) -> Option<Instant> {
        self.open.as_ref().map(|o| linger_end(o.created, linger))
    }

    /// The open batch's encoded size so far (0 without one).
    pub(crate) fn open_size(&self) -> usize {
        self.open
            .as_ref()
            .map_or(0, |_| self.builder.size_estimate())
    }

    /// `buffer.memory` bytes the open batch holds (0 without one): what
    /// the adaptive scaler counts as this partition's part of the buffer,
    /// with its sealed batches.
    pub(crate) fn open_reserved(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.reserved)
    }

    /// The open batch's size so far, if there is one and no sealed batch
    /// waits before it: a candidate to ride along with a request that goes
    /// to its connection anyway (see `Core::drain`).
    pub(crate) fn ride_along_size(&self) -> Option<usize> {
        if !self.ready.is_empty() {
            return None;
        }
        self.open.as_ref().map(|_| self.builder.size_estimate())
    }

    /// Closes the open batch now, whether its linger has passed or not.
    pub(crate) fn seal_now(&mut self, next_order: &mut u64) {
        self.seal(next_order);
    }

    /// Seals the open batch if its linger has ended (or `force`).
    pub(crate) fn seal_if_due(
        &mut self,
        now: Instant,
        linger: Duration,
        force: bool,
        next_order: &mut u64,
    ) {
        if let Some(o) = &self.open
            && (force || linger_end(o.created, linger) <= now)
        {
            self.seal(next_order);
        }
    }

    /// Closes the open batch and queues it. A batch that cannot be sealed
    /// (a compression failure) fails its records here.
    fn seal(&mut self, next_order: &mut u64) {
        let Some(open) = self.open.take() else {
            return;
        };
        let count = self.builder.record_count() as i32;
        self.last_count = open.records.len();
        let sealed = if self.stamped_at_send {
            self.builder.seal_unstamped(&mut self.memory)
        } else {
            self.builder
                .seal_with(&BatchParams::default(), &mut self.memory)
        };
        match sealed {
            Ok(data) => {
                *next_order += 1;
                self.ready.push_back(Batch {
                    order: (*next_order, 0),
                    topic: self.topic.clone(),
                    tp: self.tp.clone(),
                    data,
                    count,
                    records: open.records,
                    reserved: open.reserved,
                    flush_gen: open.flush_gen,
                    created: open.created,
                    seq: None,
                    attempts: 0,
                    retry_at: None,
                    maybe_persisted: false,
                    unsent: false,
                    last_error: None,
                });
            }
            Err(e) => {
                // Reported through a zero-record "batch" the core fails.
                *next_order += 1;
                self.ready.push_back(Batch {
                    order: (*next_order, 0),
                    topic: self.topic.clone(),
                    tp: self.tp.clone(),
                    data: Bytes::new(),
                    count: 0,
                    records: open.records,
                    reserved: open.reserved,
                    flush_gen: open.flush_gen,
                    created: open.created,
                    seq: None,
                    attempts: 0,
                    retry_at: None,
                    maybe_persisted: false,
                    unsent: false,
                    last_error: Some(format!("the batch could not be sealed: {e}")),
                });
            }
        }
    }

    /// Puts a batch back in its place (by order) for a retry.
    pub(crate) fn requeue(&mut self, batch: Batch) {
        let at = self
            .ready
            .iter()
            .position(|b| b.order > batch.order)
            .unwrap_or(self.ready.len());
        self.ready.insert(at, batch);
    }

    /// Batches waiting here: the open one and the sealed ones not yet
    /// sent (the measure of KIP-794's adaptive partitioning, see
    /// [`PartitionLoad`](crate::partitioner::PartitionLoad)).
    pub(crate) fn waiting_batches(&self) -> u32 {
        let waiting = self.ready.len() + usize::from(self.open.is_some());
        u32::try_from(waiting).unwrap_or(u32::MAX)
    }

    /// Since when the batch at the front of the queue has been ready to
    /// send, if one waits: its retry time if it was backing off, otherwise
    /// the end of its linger (the latest it became ready: a full batch is
    /// ready sooner). For `partitioner.availability.timeout.ms`.
    pub(crate) fn ready_since(&self, linger: Duration) -> Option<Instant> {
        let front = self.ready.front()?;
        Some(
            front
                .retry_at
                .unwrap_or_else(|| linger_end(front.created, linger)),
        )
    }

    /// Records queued here, open and sealed.
    #[cfg(test)]
    pub(crate) fn record_count(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.records.len())
            + self.ready.iter().map(|b| b.records.len()).sum::<usize>()
    }

    /// Takes every record not yet in flight (open and queued), to fail them.
    pub(crate) fn take_all(&mut self, next_order: &mut u64) -> Vec<Batch> {
        self.seal(next_order);
        self.ready.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery;
    use crate::record::Record;

    fn queue(batch_size: usize) -> PartitionQueue {
        PartitionQueue::new(
            Topic::new("t"),
            0,
            Compression::None,
            batch_size,
            BatchBuffers::new(1 << 20),
        )
    }

    fn append(
        q: &mut PartitionQueue,
        value: usize,
        now: Instant,
        batch_size: usize,
        generation: u64,
        order: &mut u64,
    ) {
        let record = Record::new("t", vec![b'v'; value]);
        let (tx, _rx) = delivery::channel(&record.topic);
        q.append(
            RecordParts::of(&record, 1_000),
            Reply::Future(tx),
            value,
            now,
            batch_size,
            generation,
            order,
        )
        .expect("valid record");
    }

    #[test]
    fn seals_when_the_next_record_would_overflow_batch_size() {
        let now = Instant::now();
        let mut order = 0;
        let mut q = queue(300);
        append(&mut q, 100, now, 300, 0, &mut order);
        append(&mut q, 100, now, 300, 0, &mut order);
        assert!(q.ready.is_empty(), "two records fit");
        append(&mut q, 100, now, 300, 0, &mut order);
        assert_eq!(
            q.ready.len(),
            1,
            "the third would overflow: the first two go"
        );
        assert_eq!(q.ready[0].count, 2);
        assert!(q.ready[0].data.len() <= 300);
    }

    #[test]
    fn an_oversized_record_gets_a_batch_of_its_own() {
        let now = Instant::now();
        let mut order = 0;
        let mut q = queue(100);
        append(&mut q, 500, now, 100, 0, &mut order);
        assert_eq!(q.ready.len(), 1);
        assert_eq!(q.ready[0].count, 1);
    }

    #[test]
    fn linger_and_flush_generations_seal() {
        let now = Instant::now();
        let linger = Duration::from_millis(5);
        let mut order = 0;
        let mut q = queue(16_384);
        append(&mut q, 10, now, 16_384, 0, &mut order);
        q.seal_if_due(now + Duration::from_millis(4), linger, false, &mut order);
        assert!(q.ready.is_empty());
        // Due half a timer tick early, so the timer's tick lands nearest
        // the linger's end.
        let due = now + linger - LINGER_TICK_ALLOWANCE;
        assert_eq!(q.linger_deadline(linger), Some(due));
        q.seal_if_due(due - Duration::from_micros(1), linger, false, &mut order);
        assert!(q.ready.is_empty());
        q.seal_if_due(due, linger, false, &mut order);
        assert_eq!(q.ready.len(), 1);
        // A record of a newer flush generation never joins an older batch.
        append(&mut q, 10, now, 16_384, 0, &mut order);
        append(&mut q, 10, now, 16_384, 1, &mut order);
        assert_eq!(q.ready.len(), 2);
        assert_eq!(q.ready[1].flush_gen, 0);
    }

    #[test]
    fn requeued_batches_go_back_in_their_place() {
        let now = Instant::now();
        let mut order = 0;
        let mut q = queue(100);
        for _ in 0..3 {
            append(&mut q, 500, now, 100, 0, &mut order);
        }
        let first = q.ready.pop_front().unwrap();
        let second = q.ready.pop_front().unwrap();
        q.requeue(second);
        q.requeue(first);
        let orders: Vec<BatchOrder> = q.ready.iter().map(|b| b.order).collect();
        assert_eq!(orders, vec![(1, 0), (2, 0), (3, 0)]);
    }
}
