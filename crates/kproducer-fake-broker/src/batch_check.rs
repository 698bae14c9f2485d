//! What the broker checks in a produced batch before the idempotence rules
//! see it, with the error codes Kafka answers (`LogValidator`,
//! `ProduceRequest.validateRecords`):
//!
//! - a frame that is not exactly one whole v2 batch (truncated, wrong
//!   magic, more than one batch, no records): 87 `INVALID_RECORD`;
//! - a CRC that does not match: 2 `CORRUPT_MESSAGE`;
//! - larger than `message.max.bytes`: 10 `MESSAGE_TOO_LARGE`;
//! - a record count that disagrees with the offset range or with the
//!   records actually present, a control batch from a client, or a
//!   producer id with a negative sequence: 87 `INVALID_RECORD`.
//!
//! Decoding the records (decompressing them) is the expensive part; it can
//! be turned off with [`ClusterConfig::validate_records`] for benchmarks.
//!
//! [`ClusterConfig::validate_records`]: crate::ClusterConfig::validate_records

use bytes::Bytes;
use kproducer_protocol::records::RecordBatch;
use kproducer_protocol::{DecodeError, ErrorCode};

use crate::partition_log::BatchMeta;

/// A batch refused before sequence checks, with the reason for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchRefusal {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> BatchRefusal {
    BatchRefusal {
        code,
        message: message.into(),
    }
}

/// Checks a partition's produce payload and returns the batch's header
/// fields and its bytes.
pub(crate) fn check_batch(
    records: Option<&Bytes>,
    max_message_bytes: usize,
    validate_records: bool,
) -> Result<(BatchMeta, Bytes), BatchRefusal> {
    let Some(records) = records.filter(|r| !r.is_empty()) else {
        return Err(refuse(
            ErrorCode::INVALID_RECORD,
            "produce request carries no record batch",
        ));
    };
    if records.len() > max_message_bytes {
        return Err(refuse(
            ErrorCode::MESSAGE_TOO_LARGE,
            format!(
                "batch of {} bytes exceeds message.max.bytes {max_message_bytes}",
                records.len()
            ),
        ));
    }
    let mut rest = records.clone();
    let batch = RecordBatch::decode(&mut rest).map_err(|e| match e {
        DecodeError::CrcMismatch { .. } => refuse(ErrorCode::CORRUPT_MESSAGE, e.to_string()),
        other => refuse(ErrorCode::INVALID_RECORD, other.to_string()),
    })?;
    if !rest.is_empty() {
        return Err(refuse(
            ErrorCode::INVALID_RECORD,
            "produce requests v3+ must carry exactly one record batch per partition",
        ));
    }
    let h = *batch.header();
    if h.is_control() {
        return Err(refuse(
            ErrorCode::INVALID_RECORD,
            "clients may not write control batches",
        ));
    }
    if h.records_count <= 0 || i64::from(h.last_offset_delta) + 1 != i64::from(h.records_count) {
        return Err(refuse(
            ErrorCode::INVALID_RECORD,
            format!(
                "record count {} does not match last offset delta {}",
                h.records_count, h.last_offset_delta
            ),
        ));
    }
    if h.producer_id >= 0 && h.base_sequence < 0 {
        return Err(refuse(
            ErrorCode::INVALID_RECORD,
            "a batch with a producer id needs a sequence number",
        ));
    }
    if validate_records {
        let records = batch
            .records()
            .map_err(|e| refuse(ErrorCode::INVALID_RECORD, e.to_string()))?;
        let mut seen = 0i32;
        for r in records {
            r.map_err(|e| refuse(ErrorCode::INVALID_RECORD, e.to_string()))?;
            seen += 1;
        }
        if seen != h.records_count {
            return Err(refuse(
                ErrorCode::INVALID_RECORD,
                format!(
                    "header says {} records, batch holds {seen}",
                    h.records_count
                ),
            ));
        }
    }
    let meta = BatchMeta {
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        record_count: h.records_count,
        is_transactional: h.is_transactional(),
        is_control: false,
        max_timestamp: h.max_timestamp,
    };
    Ok((meta, batch.into_raw()))
}

/// The header fields of a batch the broker refused, read straight from its
/// first 61 bytes without any check, for the request log (so a test can see
/// which sequence was refused, for example as too large). `None` when the
/// bytes are too short to hold a header.
pub(crate) fn peek_meta(records: Option<&Bytes>) -> Option<BatchMeta> {
    let b = records?.get(..61)?;
    let i16_at = |at: usize| i16::from_be_bytes([b[at], b[at + 1]]);
    let i32_at = |at: usize| i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let i64_at = |at: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[at..at + 8]);
        i64::from_be_bytes(x)
    };
    let attributes = i16_at(21);
    Some(BatchMeta {
        producer_id: i64_at(43),
        producer_epoch: i16_at(51),
        base_sequence: i32_at(53),
        record_count: i32_at(57),
        is_transactional: attributes & 0x10 != 0,
        is_control: attributes & 0x20 != 0,
        max_timestamp: i64_at(35),
    })
}
