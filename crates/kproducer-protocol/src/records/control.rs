//! Control batches: the transaction markers (COMMIT / ABORT) that a
//! transaction coordinator asks partition leaders to write.
//!
//! A control batch has the transactional and control attribute bits set and
//! holds one record whose key is `[version: i16 = 0][type: i16]` and whose
//! value is `[version: i16 = 0][coordinatorEpoch: i32]`.
//!
//! # References
//! - KIP-98 (exactly-once delivery and transactional messaging)

use bytes::Bytes;

use crate::error::DecodeError;
use crate::records::builder::{BatchParams, NO_HEADERS, RecordBatchBuilder};
use crate::records::compression::Compression;
use crate::records::header::NO_SEQUENCE;
use crate::records::record::Record;

/// The kind of transaction marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// The transaction was aborted (type 0).
    Abort,
    /// The transaction was committed (type 1).
    Commit,
}

impl ControlRecordType {
    /// The type id in the control record's key.
    pub const fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
        }
    }
}

/// A parsed transaction marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRecord {
    /// Commit or abort.
    pub kind: ControlRecordType,
    /// The epoch of the coordinator that wrote the marker.
    pub coordinator_epoch: i32,
}

impl ControlRecord {
    /// Reads the marker carried by a control batch's record.
    ///
    /// # Errors
    /// [`DecodeError::InvalidBatch`] when the key or value is missing, too
    /// short, has a negative version or an unknown marker type.
    pub fn parse(record: &Record) -> Result<ControlRecord, DecodeError> {
        let key = record
            .key
            .as_deref()
            .and_then(|k| k.first_chunk::<4>())
            .ok_or(DecodeError::InvalidBatch(
                "control record key is shorter than 4 bytes",
            ))?;
        if i16::from_be_bytes([key[0], key[1]]) < 0 {
            return Err(DecodeError::InvalidBatch(
                "control record key version is negative",
            ));
        }
        let kind = match i16::from_be_bytes([key[2], key[3]]) {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            _ => return Err(DecodeError::InvalidBatch("unknown control record type")),
        };
        let value = record
            .value
            .as_deref()
            .and_then(|v| v.first_chunk::<6>())
            .ok_or(DecodeError::InvalidBatch(
                "transaction marker value is shorter than 6 bytes",
            ))?;
        if i16::from_be_bytes([value[0], value[1]]) < 0 {
            return Err(DecodeError::InvalidBatch(
                "transaction marker value version is negative",
            ));
        }
        Ok(ControlRecord {
            kind,
            coordinator_epoch: i32::from_be_bytes([value[2], value[3], value[4], value[5]]),
        })
    }
}

/// Builds a control batch holding one transaction marker.
///
/// ```
/// use kproducer_protocol::records::{
///     ControlRecord, ControlRecordType, RecordBatch, build_control_batch,
/// };
///
/// let mut bytes = build_control_batch(ControlRecordType::Commit, 42, 3, 7, 1_700_000_000_000);
/// let batch = RecordBatch::decode(&mut bytes)?;
/// assert!(batch.header().is_control() && batch.header().is_transactional());
/// let record = batch.records()?.next().unwrap()?;
/// let marker = ControlRecord::parse(&record)?;
/// assert_eq!((marker.kind, marker.coordinator_epoch), (ControlRecordType::Commit, 7));
/// # Ok::<(), kproducer_protocol::DecodeError>(())
/// ```
pub fn build_control_batch(
    kind: ControlRecordType,
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
    timestamp_ms: i64,
) -> Bytes {
    let mut key = [0u8; 4];
    key[2..].copy_from_slice(&kind.id().to_be_bytes());
    let mut value = [0u8; 6];
    value[2..].copy_from_slice(&coordinator_epoch.to_be_bytes());
    let mut builder = RecordBatchBuilder::with_capacity(Compression::None, 128);
    builder.append(timestamp_ms, Some(&key), Some(&value), NO_HEADERS);
    builder.seal_control(&BatchParams {
        producer_id,
        producer_epoch,
        base_sequence: NO_SEQUENCE,
        transactional: true,
    })
}
