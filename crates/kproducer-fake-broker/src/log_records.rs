//! Reading a partition's log back as records, and the assertions fault
//! tests end with: exact values in order, nothing duplicated.

use std::collections::HashMap;

use bytes::Bytes;
use kproducer_net::TopicPartition;
use kproducer_protocol::records::RecordBatch;

use crate::cluster::FakeCluster;
use crate::error::ClusterError;
use crate::partition_log::PartitionLog;
use crate::producer_state::add_sequence;

/// A record in a partition's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (ms).
    pub timestamp: i64,
    /// Its key.
    pub key: Option<Bytes>,
    /// Its value.
    pub value: Option<Bytes>,
    /// Its headers, in order.
    pub headers: Vec<(Bytes, Option<Bytes>)>,
    /// The producer id of its batch (-1 without idempotence).
    pub producer_id: i64,
    /// The producer epoch of its batch.
    pub producer_epoch: i16,
    /// Its sequence number (-1 without idempotence).
    pub sequence: i32,
    /// Written in a transaction.
    pub transactional: bool,
    /// Part of a transaction that was aborted (a read-committed consumer
    /// skips it).
    pub aborted: bool,
}

fn decode_log(tp: &TopicPartition, log: &PartitionLog) -> Result<Vec<LogRecord>, ClusterError> {
    let undecodable = |offset: i64, reason: String| ClusterError::UndecodableBatch {
        topic: tp.topic.to_string(),
        partition: tp.partition,
        offset,
        reason,
    };
    let aborted = log.aborted_transactions();
    let mut out = Vec::new();
    for stored in log.batches().filter(|b| !b.meta.is_control) {
        let mut bytes = stored.bytes_with_offset();
        let batch = RecordBatch::decode(&mut bytes)
            .map_err(|e| undecodable(stored.base_offset, e.to_string()))?;
        let header = *batch.header();
        let records = batch
            .records()
            .map_err(|e| undecodable(stored.base_offset, e.to_string()))?;
        for record in records {
            let r = record.map_err(|e| undecodable(stored.base_offset, e.to_string()))?;
            let offset = r.offset(&header);
            out.push(LogRecord {
                offset,
                timestamp: r.timestamp(&header),
                sequence: if header.base_sequence < 0 {
                    -1
                } else {
                    add_sequence(header.base_sequence, r.offset_delta)
                },
                key: r.key,
                value: r.value,
                headers: r.headers,
                producer_id: header.producer_id,
                producer_epoch: header.producer_epoch,
                transactional: header.is_transactional(),
                aborted: header.is_transactional()
                    && aborted.iter().any(|a| {
                        a.producer_id == header.producer_id
                            && a.first_offset <= offset
                            && offset <= a.last_offset
                    }),
            });
        }
    }
    Ok(out)
}

impl FakeCluster {
    /// Every record of a partition (control batches left out), in offset
    /// order.
    pub fn records(&self, topic: &str, partition: i32) -> Result<Vec<LogRecord>, ClusterError> {
        let s = self.lock();
        let p = s.partition(topic, partition)?;
        decode_log(&TopicPartition::new(topic, partition), &p.log)
    }

    /// The records a read-committed consumer sees, in offset order:
    /// non-transactional records and records of committed transactions,
    /// below the last stable offset. Records of aborted transactions,
    /// records of a transaction still open (and everything after its first
    /// record) and control batches are left out.
    ///
    /// ```
    /// use kproducer_fake_broker::FakeCluster;
    /// use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};
    ///
    /// let cluster = FakeCluster::builder().brokers(1).topic("t", 1).build().unwrap();
    /// let mut b = RecordBatchBuilder::new(Compression::None);
    /// b.append(0, None, Some(b"plain"), NO_HEADERS);
    /// cluster.append("t", 0, b.seal(&BatchParams::default()).unwrap()).unwrap();
    /// let visible = cluster.read_committed("t", 0).unwrap();
    /// assert_eq!(visible[0].value.as_deref(), Some(&b"plain"[..]));
    /// ```
    pub fn read_committed(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Vec<LogRecord>, ClusterError> {
        let s = self.lock();
        let p = s.partition(topic, partition)?;
        let stable = p.log.last_stable_offset();
        let records = decode_log(&TopicPartition::new(topic, partition), &p.log)?;
        Ok(records
            .into_iter()
            .filter(|r| r.offset < stable && !r.aborted)
            .collect())
    }

    /// The values a read-committed consumer would see, in order (see
    /// [`FakeCluster::read_committed`]).
    pub fn committed_values(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Vec<Option<Bytes>>, ClusterError> {
        Ok(self
            .read_committed(topic, partition)?
            .into_iter()
            .map(|r| r.value)
            .collect())
    }

    /// Checks that the partition holds exactly `expected` as committed
    /// values, in this order; the error says where they differ.
    pub fn check_values(
        &self,
        topic: &str,
        partition: i32,
        expected: &[&[u8]],
    ) -> Result<(), String> {
        let got = self
            .committed_values(topic, partition)
            .map_err(|e| e.to_string())?;
        let show = |v: Option<&Option<Bytes>>| match v {
            None => "nothing".to_owned(),
            Some(None) => "null".to_owned(),
            Some(Some(b)) => format!("{:?}", String::from_utf8_lossy(b)),
        };
        let n = got.len().max(expected.len());
        for i in 0..n {
            let want = expected.get(i).map(|e| Some(Bytes::copy_from_slice(e)));
            if got.get(i) != want.as_ref() {
                return Err(format!(
                    "{topic}-{partition}: record {i} is {}, expected {} ({} records, {} expected)",
                    show(got.get(i)),
                    show(want.as_ref()),
                    got.len(),
                    expected.len()
                ));
            }
        }
        Ok(())
    }

    /// Asserts [`FakeCluster::check_values`].
    ///
    /// # Panics
    /// When the values differ (this is a test assertion).
    pub fn assert_values(&self, topic: &str, partition: i32, expected: &[&[u8]]) {
        if let Err(e) = self.check_values(topic, partition, expected) {
            panic!("{e}");
        }
    }

    /// Checks that no idempotent record was written twice: within every
    /// partition, no two committed records share a producer id, epoch and
    /// sequence. (Records without a producer id cannot be judged.)
    pub fn check_no_duplicates(&self) -> Result<(), String> {
        let names: Vec<(String, usize)> = {
            let s = self.lock();
            s.topics
                .iter()
                .map(|(n, t)| (n.clone(), t.partitions.len()))
                .collect()
        };
        for (topic, count) in names {
            for p in 0..i32::try_from(count).unwrap_or(i32::MAX) {
                let records = self.records(&topic, p).map_err(|e| e.to_string())?;
                let mut seen: HashMap<(i64, i16, i32), i64> = HashMap::new();
                for r in records.iter().filter(|r| r.producer_id >= 0 && !r.aborted) {
                    if let Some(first) =
                        seen.insert((r.producer_id, r.producer_epoch, r.sequence), r.offset)
                    {
                        return Err(format!(
                            "{topic}-{p}: producer {} epoch {} sequence {} is at offsets {first} and {}",
                            r.producer_id, r.producer_epoch, r.sequence, r.offset
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Asserts [`FakeCluster::check_no_duplicates`].
    ///
    /// # Panics
    /// When a record is duplicated (this is a test assertion).
    pub fn assert_no_duplicates(&self) {
        if let Err(e) = self.check_no_duplicates() {
            panic!("{e}");
        }
    }
}
