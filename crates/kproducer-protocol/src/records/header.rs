//! The fixed 61-byte record batch header: its layout, a parsed view of it,
//! and in-place patches of a sealed batch.
//!
//! ```text
//! offset  size  field
//!      0     8  baseOffset
//!      8     4  batchLength          (bytes after this field)
//!     12     4  partitionLeaderEpoch
//!     16     1  magic (2)
//!     17     4  crc                  (CRC-32C of bytes 21..end)
//!     21     2  attributes
//!     23     4  lastOffsetDelta
//!     27     8  baseTimestamp
//!     35     8  maxTimestamp
//!     43     8  producerId
//!     51     2  producerEpoch
//!     53     4  baseSequence
//!     57     4  recordsCount
//!     61        records (compressed as one block when a codec is set)
//! ```
//!
//! # References
//! - <https://kafka.apache.org/documentation/#recordbatch>

use bytes::{Buf, BufMut};

use crate::error::DecodeError;
use crate::records::compression::Compression;

/// Size of the batch header, before the first record.
pub const BATCH_HEADER_LEN: usize = 61;
/// Bytes before `batchLength`'s count starts (baseOffset + batchLength).
pub(crate) const LOG_OVERHEAD: usize = 12;
/// The only record batch format this crate reads and writes.
pub const MAGIC_V2: i8 = 2;

pub(crate) const CRC_AT: usize = 17;
/// The CRC covers everything from the attributes to the end of the batch.
pub(crate) const CRC_FROM: usize = 21;
const PRODUCER_ID_AT: usize = 43;
/// Where the attributes (i16) sit: after base offset (8), length (4),
/// leader epoch (4), magic (1) and CRC (4).
const ATTRIBUTES_AT: usize = 21;

/// Attribute bits 0–2: the compression codec.
pub(crate) const COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: timestamps are the broker's log-append time.
pub(crate) const LOG_APPEND_TIME_FLAG: i16 = 0x08;
/// Attribute bit 4: the batch belongs to a transaction.
pub(crate) const TRANSACTIONAL_FLAG: i16 = 0x10;
/// Attribute bit 5: the batch holds a control record (a transaction marker).
pub(crate) const CONTROL_FLAG: i16 = 0x20;

/// `producerId` / `producerEpoch` / `baseSequence` value meaning "none".
pub const NO_PRODUCER_ID: i64 = -1;
/// See [`NO_PRODUCER_ID`].
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// See [`NO_PRODUCER_ID`].
pub const NO_SEQUENCE: i32 = -1;

/// Every field of a record batch header, as read from the wire.
///
/// The compression id is checked when the header is parsed, so
/// [`BatchHeader::compression`] cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record (assigned by the broker).
    pub base_offset: i64,
    /// Bytes after the `batch_length` field, to the end of the batch.
    pub batch_length: i32,
    /// Leader epoch stamped by the broker; -1 from producers.
    pub partition_leader_epoch: i32,
    /// Format version; always 2 here.
    pub magic: i8,
    /// CRC-32C of bytes 21..end, as stored.
    pub crc: u32,
    /// Codec, timestamp type, transactional and control bits.
    pub attributes: i16,
    /// Offset delta of the last record.
    pub last_offset_delta: i32,
    /// Timestamp of the first record; other records store deltas from it.
    pub base_timestamp: i64,
    /// Largest record timestamp.
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

impl BatchHeader {
    /// Parses the first [`BATCH_HEADER_LEN`] bytes of `batch`, checking the
    /// magic byte and the compression id (not the CRC or lengths).
    pub(crate) fn parse(batch: &[u8]) -> Result<BatchHeader, DecodeError> {
        let Some(mut r) = batch.get(..BATCH_HEADER_LEN) else {
            return Err(DecodeError::Truncated {
                what: "record batch header",
                needed: BATCH_HEADER_LEN,
                remaining: batch.len(),
            });
        };
        // `r` holds exactly 61 bytes and the reads below take 61: none can
        // run short.
        let header = BatchHeader {
            base_offset: r.get_i64(),
            batch_length: r.get_i32(),
            partition_leader_epoch: r.get_i32(),
            magic: r.get_i8(),
            crc: r.get_u32(),
            attributes: r.get_i16(),
            last_offset_delta: r.get_i32(),
            base_timestamp: r.get_i64(),
            max_timestamp: r.get_i64(),
            producer_id: r.get_i64(),
            producer_epoch: r.get_i16(),
            base_sequence: r.get_i32(),
            records_count: r.get_i32(),
        };
        if header.magic != MAGIC_V2 {
            return Err(DecodeError::InvalidBatch(
                "magic byte is not 2; only record batch v2 (Kafka 0.11+) is supported",
            ));
        }
        if Compression::from_id((header.attributes & COMPRESSION_MASK) as u8).is_none() {
            return Err(DecodeError::UnsupportedCompression(
                (header.attributes & COMPRESSION_MASK) as u8,
            ));
        }
        Ok(header)
    }

    /// Writes the header into `out` (exactly [`BATCH_HEADER_LEN`] bytes).
    pub(crate) fn write(&self, out: &mut [u8; BATCH_HEADER_LEN]) {
        // 61 bytes of room, 61 bytes written: `BufMut` on a slice cannot run
        // out of space here.
        let mut w = &mut out[..];
        w.put_i64(self.base_offset);
        w.put_i32(self.batch_length);
        w.put_i32(self.partition_leader_epoch);
        w.put_i8(self.magic);
        w.put_u32(self.crc);
        w.put_i16(self.attributes);
        w.put_i32(self.last_offset_delta);
        w.put_i64(self.base_timestamp);
        w.put_i64(self.max_timestamp);
        w.put_i64(self.producer_id);
        w.put_i16(self.producer_epoch);
        w.put_i32(self.base_sequence);
        w.put_i32(self.records_count);
    }

    /// The codec of the records section.
    pub fn compression(&self) -> Compression {
        // `parse` rejected ids without a codec; `None` is unreachable for
        // parsed headers and harmless for hand-built ones.
        Compression::from_id((self.attributes & COMPRESSION_MASK) as u8).unwrap_or_default()
    }

    /// Whether the batch belongs to a transaction (attribute bit 4).
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG != 0
    }

    /// Whether the batch is a control batch (a transaction marker, bit 5).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }

    /// Whether timestamps are the broker's log-append time (bit 3) rather
    /// than the producer's create time.
    pub fn is_log_append_time(&self) -> bool {
        self.attributes & LOG_APPEND_TIME_FLAG != 0
    }

    /// Offset of the last record: `base_offset + last_offset_delta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// Sequence number of the last record, wrapping from `i32::MAX` to 0 as
    /// Kafka's sequences do; -1 when the batch has no sequence.
    ///
    /// ```
    /// # use kproducer_protocol::records::BatchHeader;
    /// # fn h(base_sequence: i32, last_offset_delta: i32) -> BatchHeader {
    /// #     BatchHeader { base_offset: 0, batch_length: 49, partition_leader_epoch: -1,
    /// #         magic: 2, crc: 0, attributes: 0, last_offset_delta, base_timestamp: 0,
    /// #         max_timestamp: 0, producer_id: 1, producer_epoch: 0, base_sequence,
    /// #         records_count: last_offset_delta + 1 }
    /// # }
    /// assert_eq!(h(10, 4).last_sequence(), 14);
    /// assert_eq!(h(i32::MAX - 1, 3).last_sequence(), 1); // MAX-1, MAX, 0, 1
    /// assert_eq!(h(-1, 3).last_sequence(), -1);
    /// ```
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }

    /// Total size of the batch on the wire: `batch_length + 12`.
    pub fn total_len(&self) -> usize {
        usize::try_from(self.batch_length).unwrap_or(0) + LOG_OVERHEAD
    }
}

/// `sequence + delta` modulo 2^31, for non-negative inputs (Kafka's
/// `DefaultRecordBatch.incrementSequence`).
pub fn increment_sequence(sequence: i32, delta: i32) -> i32 {
    ((i64::from(sequence) + i64::from(delta)).rem_euclid(1 << 31)) as i32
}

/// Checks that `batch` is exactly one well-formed v2 batch header's worth of
/// framing: long enough, magic 2, and `batchLength + 12 == batch.len()`.
fn check_framing(batch: &[u8]) -> Result<(), DecodeError> {
    let header = BatchHeader::parse(batch)?;
    if header.batch_length < 0 || header.total_len() != batch.len() {
        return Err(DecodeError::InvalidBatch(
            "batchLength does not match the size of the batch slice",
        ));
    }
    Ok(())
}

/// Rewrites the producer id, epoch and base sequence of a sealed batch in
/// place and recomputes its CRC.
///
/// An idempotent producer needs this when it bumps its epoch (KIP-360) or
/// resets sequences after an unrecoverable error: the records stay as they
/// are, only their identity changes. `batch` must be exactly one batch.
///
/// ```
/// use kproducer_protocol::records::{
///     BatchParams, Compression, RecordBatch, RecordBatchBuilder, rewrite_producer_state,
/// };
///
/// let mut b = RecordBatchBuilder::new(Compression::None);
/// b.append(1_000, None, Some(b"v"), kproducer_protocol::records::NO_HEADERS);
/// let sealed = b.seal(&BatchParams { producer_id: 7, producer_epoch: 0, base_sequence: 0,
///     transactional: false }).unwrap();
/// let mut bytes = sealed.to_vec();
/// rewrite_producer_state(&mut bytes, 7, 1, 42).unwrap();
/// let batch = RecordBatch::decode(&mut bytes::Bytes::from(bytes)).unwrap(); // CRC still valid
/// assert_eq!((batch.header().producer_epoch, batch.header().base_sequence), (1, 42));
/// ```
///
/// # Errors
/// [`DecodeError`] when `batch` is not one complete v2 batch; it is left
/// untouched then.
pub fn rewrite_producer_state(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), DecodeError> {
    check_framing(batch)?;
    let mut w = &mut batch[PRODUCER_ID_AT..BATCH_HEADER_LEN];
    w.put_i64(producer_id);
    w.put_i16(producer_epoch);
    w.put_i32(base_sequence);
    let crc = crc32c::crc32c(&batch[CRC_FROM..]);
    batch[CRC_AT..CRC_FROM].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Like [`rewrite_producer_state`], and also sets or clears the batch's
/// transactional flag (attribute bit 4), in the same CRC pass: a
/// transactional producer seals its batches like any other and marks them
/// as part of its transaction when it first sends them (KIP-98).
///
/// ```
/// use kproducer_protocol::records::{
///     BatchParams, Compression, NO_HEADERS, RecordBatch, RecordBatchBuilder,
///     rewrite_transactional_state,
/// };
///
/// let mut b = RecordBatchBuilder::new(Compression::None);
/// b.append(1_000, None, Some(b"v"), NO_HEADERS);
/// let mut bytes = b.seal(&BatchParams::default()).unwrap().to_vec();
/// rewrite_transactional_state(&mut bytes, 7, 3, 0, true).unwrap();
/// let batch = RecordBatch::decode(&mut bytes::Bytes::from(bytes)).unwrap(); // CRC still valid
/// assert!(batch.header().is_transactional());
/// assert_eq!((batch.header().producer_id, batch.header().producer_epoch), (7, 3));
/// ```
///
/// # Errors
/// [`DecodeError`] when `batch` is not one complete v2 batch; it is left
/// untouched then.
pub fn rewrite_transactional_state(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
) -> Result<(), DecodeError> {
    check_framing(batch)?;
    let at = ATTRIBUTES_AT;
    let mut attributes = i16::from_be_bytes([batch[at], batch[at + 1]]);
    if transactional {
        attributes |= TRANSACTIONAL_FLAG;
    } else {
        attributes &= !TRANSACTIONAL_FLAG;
    }
    batch[at..at + 2].copy_from_slice(&attributes.to_be_bytes());
    rewrite_producer_state(batch, producer_id, producer_epoch, base_sequence)
}

/// Sets the base offset of a batch in place. The base offset lies outside
/// the CRC (the broker assigns offsets), so nothing else changes.
///
/// ```
/// # use kproducer_protocol::records::{set_base_offset, build_control_batch, ControlRecordType};
/// let mut b = build_control_batch(ControlRecordType::Commit, 1, 0, 0, 0).to_vec();
/// set_base_offset(&mut b, 1234).unwrap();
/// assert_eq!(&b[..8], &1234i64.to_be_bytes());
/// ```
///
/// # Errors
/// [`DecodeError`] when `batch` is not one complete v2 batch; it is left
/// untouched then.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), DecodeError> {
    check_framing(batch)?;
    batch[..8].copy_from_slice(&base_offset.to_be_bytes());
    Ok(())
}
