//! What a test can look at after (or during) a run: the request log,
//! counters, and each partition's batches.

use std::collections::BTreeMap;

use kproducer_net::TopicPartition;
use kproducer_protocol::ErrorCode;

use crate::connection_id::ConnectionId;
use crate::partition_log::{BatchMeta, PartitionLog};

/// How the broker finished with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A response was written.
    Answered,
    /// No response by design (Produce with acks=0).
    NoResponseExpected,
    /// Handled, but a fault plan dropped the response.
    ResponseDropped,
    /// The connection was closed (fault plan, bad frame, unknown API or
    /// unsupported version).
    ConnectionClosed,
}

/// One batch carried by a Produce request, and what the broker did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedBatch {
    /// Where it was sent.
    pub topic_partition: TopicPartition,
    /// Its header fields (producer id, epoch, sequences, record count).
    pub meta: BatchMeta,
    /// The last sequence (wrapped).
    pub last_sequence: i32,
    /// The error code the partition was answered with.
    pub error_code: ErrorCode,
    /// The base offset answered (-1 when refused).
    pub base_offset: i64,
}

/// One request as the broker saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// Position in the cluster-wide log, from 0.
    pub seq: u64,
    /// The connection that carried it.
    pub connection: ConnectionId,
    /// The raw API key.
    pub api_key: i16,
    /// The API version.
    pub api_version: i16,
    /// The correlation id.
    pub correlation_id: i32,
    /// For Produce: every batch, in request order.
    pub batches: Vec<ProducedBatch>,
    /// How it ended.
    pub disposition: Disposition,
    /// When the broker took it off the connection and began serving it (on
    /// tokio's clock, so virtual under paused time). A connection is served
    /// one request at a time, so this is never before the previous request
    /// on the same connection finished; a pipelined request may have
    /// arrived earlier and waited in the socket.
    pub received_at: tokio::time::Instant,
    /// When the broker finished with it: the response (if any) is written
    /// right after, with no further waiting.
    pub finished_at: tokio::time::Instant,
}

/// Running totals since the cluster was built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests handled, by raw API key.
    pub requests: BTreeMap<i16, u64>,
    /// Connections accepted.
    pub connections_accepted: u64,
    /// Connection attempts refused (broker down).
    pub connections_refused: u64,
    /// Connections being served right now (accepted and not yet closed by
    /// either side): 0 after a client has closed everything it opened.
    pub connections_open: u64,
    /// Batches appended to a log.
    pub batches_appended: u64,
    /// Records (offsets) appended to a log.
    pub records_appended: u64,
    /// Batches answered as duplicates (success with the original offset).
    pub duplicate_batches: u64,
    /// Batches refused, by error code.
    pub rejected_batches: BTreeMap<ErrorCode, u64>,
    /// Transactional batches appended to a partition that their producer's
    /// ongoing transaction does not include: the producer skipped
    /// AddPartitionsToTxn (Kafka 3.6+ refuses these with its transaction
    /// verification, KIP-890; the fake broker appends and counts them).
    pub unadded_transactional_batches: u64,
    /// TxnOffsetCommit requests for a group that the producer's ongoing
    /// transaction does not include: the producer skipped AddOffsetsToTxn,
    /// so no marker will ever complete those offsets (Kafka keeps them
    /// pending too; the fake broker keeps and counts them).
    pub unadded_offset_commits: u64,
}

/// A batch in a partition's log, without its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSummary {
    /// Offset of its first record.
    pub base_offset: i64,
    /// Offset of its last record.
    pub last_offset: i64,
    /// Its header fields.
    pub meta: BatchMeta,
    /// Size in bytes as received.
    pub size_bytes: usize,
}

/// A partition's state at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSnapshot {
    /// Which partition.
    pub topic_partition: TopicPartition,
    /// The leading broker.
    pub leader: i32,
    /// The leader epoch (bumped on every leader move).
    pub leader_epoch: i32,
    /// First offset in the log.
    pub log_start_offset: i64,
    /// High watermark.
    pub high_watermark: i64,
    /// Last stable offset.
    pub last_stable_offset: i64,
    /// Every batch, oldest first.
    pub batches: Vec<BatchSummary>,
}

impl PartitionSnapshot {
    pub(crate) fn of(
        tp: TopicPartition,
        leader: i32,
        leader_epoch: i32,
        log: &PartitionLog,
    ) -> Self {
        Self {
            topic_partition: tp,
            leader,
            leader_epoch,
            log_start_offset: log.log_start_offset(),
            high_watermark: log.high_watermark(),
            last_stable_offset: log.last_stable_offset(),
            batches: log
                .batches()
                .map(|b| BatchSummary {
                    base_offset: b.base_offset,
                    last_offset: b.last_offset(),
                    meta: b.meta,
                    size_bytes: b.raw.len(),
                })
                .collect(),
        }
    }

    /// Bytes of batch data the partition holds now: what its retention
    /// bound ([`FakeClusterBuilder::retention_bytes`]) limits.
    ///
    /// [`FakeClusterBuilder::retention_bytes`]: crate::FakeClusterBuilder::retention_bytes
    pub fn retained_bytes(&self) -> usize {
        self.batches.iter().map(|b| b.size_bytes).sum()
    }

    /// Each batch's `(producer id, epoch, base sequence, record count)`, in log
    /// order: what "no duplicates, order kept" assertions compare.
    pub fn sequences(&self) -> Vec<(i64, i16, i32, i32)> {
        self.batches
            .iter()
            .map(|b| {
                (
                    b.meta.producer_id,
                    b.meta.producer_epoch,
                    b.meta.base_sequence,
                    b.meta.record_count,
                )
            })
            .collect()
    }
}
