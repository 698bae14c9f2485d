//! Building a record batch in place: appends encode each record straight
//! into one reusable buffer; sealing writes the header, compresses and
//! checksums.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::EncodeError;
use crate::records::codec;
use crate::records::compression::Compression;
use crate::records::header::{
    BATCH_HEADER_LEN, BatchHeader, CONTROL_FLAG, CRC_AT, CRC_FROM, LOG_OVERHEAD, MAGIC_V2,
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, TRANSACTIONAL_FLAG,
};
use crate::records::record_size::record_len;
use crate::records::varint::{self, SLACK, put_varint, put_varlong};

/// A record header as the builder reads it: a key (a UTF-8 string on the
/// wire) and an optional value.
///
/// Implemented for `(K, Option<V>)` tuples of byte-like types and for
/// references to headers, so a producer can pass its own records' headers
/// without copying them.
pub trait RecordHeader {
    /// The header key; must be valid UTF-8.
    fn key(&self) -> &[u8];
    /// The header value, or `None` for a null value.
    fn value(&self) -> Option<&[u8]>;
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> RecordHeader for (K, Option<V>) {
    fn key(&self) -> &[u8] {
        self.0.as_ref()
    }
    fn value(&self) -> Option<&[u8]> {
        self.1.as_ref().map(AsRef::as_ref)
    }
}

impl<H: RecordHeader + ?Sized> RecordHeader for &H {
    fn key(&self) -> &[u8] {
        (**self).key()
    }
    fn value(&self) -> Option<&[u8]> {
        (**self).value()
    }
}

/// An empty header list, for records without headers.
pub const NO_HEADERS: &[(&[u8], Option<&[u8]>)] = &[];

/// Where [`RecordBatchBuilder::seal_with`] takes memory from for sealed
/// uncompressed batches: a producer hands in a pool of buffers its
/// acknowledged batches came back to, so that sealing writes into memory
/// already mapped instead of fresh pages the kernel must zero first.
///
/// ```
/// use bytes::BytesMut;
/// use kproducer_protocol::records::{BatchMemory, BatchParams, Compression, RecordBatchBuilder};
///
/// /// Counts what the builder asks for.
/// struct Counting(usize);
/// impl BatchMemory for Counting {
///     fn take(&mut self, min_capacity: usize) -> BytesMut {
///         self.0 += 1;
///         BytesMut::with_capacity(min_capacity)
///     }
/// }
///
/// let mut builder = RecordBatchBuilder::with_capacity(Compression::None, 4096);
/// builder.append(0, None, Some(b"value"), kproducer_protocol::records::NO_HEADERS);
/// let mut memory = Counting(0);
/// let batch = builder.seal_with(&BatchParams::default(), &mut memory)?;
/// assert_eq!(memory.0, 1, "a small batch is copied into one buffer of the pool");
/// assert!(batch.len() < 100);
/// # Ok::<(), kproducer_protocol::EncodeError>(())
/// ```
pub trait BatchMemory {
    /// An empty buffer with room for at least `min_capacity` bytes.
    fn take(&mut self, min_capacity: usize) -> BytesMut;
}

/// New memory for every sealed batch: what [`RecordBatchBuilder::seal`]
/// uses.
#[derive(Debug)]
struct FreshMemory;

impl BatchMemory for FreshMemory {
    fn take(&mut self, min_capacity: usize) -> BytesMut {
        BytesMut::with_capacity(min_capacity)
    }
}

/// Producer identity and flags stamped on a batch when it is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchParams {
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the batch's first record, or -1.
    pub base_sequence: i32,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
}

impl Default for BatchParams {
    /// No producer id, epoch or sequence; not transactional.
    fn default() -> Self {
        BatchParams {
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
        }
    }
}

/// Whether sealing computes the batch's CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checksum {
    /// Now: the batch is complete.
    Now,
    /// Later, when the caller stamps the producer state.
    Later,
}

/// The default initial buffer capacity: Kafka's default `batch.size`.
const DEFAULT_CAPACITY: usize = 16 * 1024;

/// Builds one v2 record batch at a time, reusing its buffer.
///
/// Each [`append`](Self::append) encodes the record directly into the
/// builder's buffer; once the buffer has grown to the batch size in use,
/// appending allocates nothing. [`seal`](Self::seal) returns the finished
/// batch and leaves the builder empty, with the same capacity, for the next
/// batch.
///
/// ```
/// use kproducer_protocol::records::{BatchParams, Compression, RecordBatch, RecordBatchBuilder};
///
/// let mut builder = RecordBatchBuilder::new(Compression::None);
/// builder.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[("trace", Some("abc"))]);
/// builder.append(1_700_000_000_005, None, None, kproducer_protocol::records::NO_HEADERS);
/// assert_eq!(builder.record_count(), 2);
///
/// let params = BatchParams { producer_id: 42, producer_epoch: 0, base_sequence: 0,
///     transactional: false };
/// let mut sealed = builder.seal(&params)?;
/// assert!(builder.is_empty());
///
/// let batch = RecordBatch::decode(&mut sealed)?;
/// assert_eq!(batch.header().records_count, 2);
/// assert_eq!(batch.header().last_sequence(), 1);
/// let records: Vec<_> = batch.records()?.collect::<Result<_, _>>()?;
/// assert_eq!(records[0].key.as_deref(), Some(&b"key"[..]));
/// assert_eq!(records[1].timestamp(batch.header()), 1_700_000_000_005);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RecordBatchBuilder {
    compression: Compression,
    /// 61 placeholder header bytes, then the encoded records.
    buf: BytesMut,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    /// Set by [`append`](Self::append) when a record could not be encoded;
    /// [`seal`](Self::seal) reports it.
    invalid: Option<EncodeError>,
    /// Whether the batch being built is a control batch.
    control: bool,
}

impl RecordBatchBuilder {
    /// An empty builder for batches compressed with `compression`, with room
    /// for 16 KiB (Kafka's default `batch.size`) before it grows.
    pub fn new(compression: Compression) -> Self {
        Self::with_capacity(compression, DEFAULT_CAPACITY)
    }

    /// An empty builder with room for `capacity` uncompressed bytes
    /// (including the 61-byte header) before it grows; pass the producer's
    /// `batch.size`.
    pub fn with_capacity(compression: Compression, capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(capacity.max(BATCH_HEADER_LEN));
        buf.put_bytes(0, BATCH_HEADER_LEN);
        RecordBatchBuilder {
            compression,
            buf,
            count: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            invalid: None,
            control: false,
        }
    }

    /// The codec [`seal`](Self::seal) will use.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Records appended since the last seal.
    pub fn record_count(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was appended since the last seal.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Uncompressed size of the batch so far, including the 61-byte header:
    /// the number to check against `batch.size`.
    pub fn size_estimate(&self) -> usize {
        self.buf.len()
    }

    /// The buffer's current capacity.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Timestamp of the first record appended since the last seal.
    pub fn first_timestamp(&self) -> Option<i64> {
        (self.count > 0).then_some(self.base_timestamp)
    }

    /// Bytes that appending this record would add, without appending it.
    pub fn encoded_size<H: RecordHeader>(
        &self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> usize {
        let base = if self.count == 0 {
            timestamp_ms
        } else {
            self.base_timestamp
        };
        record_len(
            timestamp_ms.wrapping_sub(base),
            self.count,
            key,
            value,
            headers,
        )
        .map_or(usize::MAX, |(body, _)| {
            varint::varint_len(body as i32) + body
        })
    }

    /// Appends a record and returns the bytes it added.
    ///
    /// Header keys must be UTF-8 and every length must fit Kafka's 32-bit
    /// fields; a record that breaks these rules is not appended (0 is
    /// returned) and the next [`seal`](Self::seal) fails with the reason.
    /// Use [`try_append`](Self::try_append) to see the error at once.
    pub fn append<H: RecordHeader>(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> usize {
        match self.try_append(timestamp_ms, key, value, headers) {
            Ok(n) => n,
            Err(e) => {
                self.invalid.get_or_insert(e);
                0
            }
        }
    }

    /// Appends a record and returns the bytes it added, or says why the
    /// record cannot be encoded (leaving the batch unchanged).
    ///
    /// # Errors
    /// [`EncodeError::InvalidUtf8`] for a header key that is not UTF-8;
    /// [`EncodeError::TooLong`] for a record or a batch larger than Kafka's
    /// 32-bit lengths allow.
    pub fn try_append<H: RecordHeader>(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> Result<usize, EncodeError> {
        if self.count == i32::MAX {
            return Err(EncodeError::TooLong {
                what: "record batch (record count)",
                length: self.count as usize,
            });
        }
        for h in headers {
            if std::str::from_utf8(h.key()).is_err() {
                return Err(EncodeError::InvalidUtf8 {
                    what: "record header key",
                });
            }
        }
        let base = if self.count == 0 {
            timestamp_ms
        } else {
            self.base_timestamp
        };
        let timestamp_delta = timestamp_ms.wrapping_sub(base);
        let (body_len, key_len) = record_len(timestamp_delta, self.count, key, value, headers)?;
        // `record_len` checked that body_len fits an i32.
        let body_len_i32 = body_len as i32;
        let total = varint::varint_len(body_len_i32) + body_len;
        if self.buf.len() + total - LOG_OVERHEAD > i32::MAX as usize {
            return Err(EncodeError::TooLong {
                what: "record batch",
                length: self.buf.len() + total,
            });
        }
        // Room for the record plus the varints' slack (see `varint`), so
        // that their wide stores never reallocate.
        self.buf.reserve(total + SLACK);

        // length, attributes, timestampDelta, offsetDelta, keyLength, key,
        // valueLength, value, headers.
        let buf = &mut self.buf;
        put_varint(buf, body_len_i32);
        buf.put_u8(0);
        put_varlong(buf, timestamp_delta);
        put_varint(buf, self.count);
        put_varint(buf, key_len);
        if let Some(k) = key {
            buf.put_slice(k);
        }
        // Lengths were checked by `record_len`, so the casts are exact.
        put_varint(buf, value.map_or(-1, |v| v.len() as i32));
        if let Some(v) = value {
            buf.put_slice(v);
        }
        if headers.is_empty() {
            buf.put_u8(0);
        } else {
            self.put_headers(headers);
        }

        if self.count == 0 {
            self.base_timestamp = timestamp_ms;
            self.max_timestamp = timestamp_ms;
        } else if timestamp_ms > self.max_timestamp {
            self.max_timestamp = timestamp_ms;
        }
        self.count += 1;
        Ok(total)
    }

    /// Writes a record's header count and headers (lengths already checked).
    fn put_headers<H: RecordHeader>(&mut self, headers: &[H]) {
        let buf = &mut self.buf;
        put_varint(buf, headers.len() as i32);
        for h in headers {
            put_varint(buf, h.key().len() as i32);
            buf.put_slice(h.key());
            put_varint(buf, h.value().map_or(-1, |v| v.len() as i32));
            if let Some(v) = h.value() {
                buf.put_slice(v);
            }
        }
    }

    /// Finishes the batch: writes the header (base offset 0, partition
    /// leader epoch -1, magic 2, CRC-32C, attributes, offsets, timestamps,
    /// producer state, record count), compresses the records if the builder
    /// has a codec, and resets the builder for the next batch, keeping its
    /// buffer capacity.
    ///
    /// Uncompressed batches are handed over without copying when they fill
    /// at least half of the buffer (the builder then takes a fresh buffer of
    /// the same capacity); smaller ones are copied out so that the returned
    /// bytes do not pin unused capacity. [`seal_with`](Self::seal_with)
    /// takes both kinds of memory from a pool instead.
    ///
    /// # Errors
    /// The first error an [`append`](Self::append) hit since the last seal,
    /// [`EncodeError::UnsupportedCompression`] when the codec's cargo feature
    /// is off, or [`EncodeError::Compression`]. The builder is reset in every
    /// case.
    pub fn seal(&mut self, params: &BatchParams) -> Result<Bytes, EncodeError> {
        self.seal_with(params, &mut FreshMemory)
    }

    /// [`seal`](Self::seal), taking the memory an uncompressed batch needs
    /// (its copy, or the builder's replacement buffer) from `memory`.
    ///
    /// # Errors
    /// As [`seal`](Self::seal).
    pub fn seal_with(
        &mut self,
        params: &BatchParams,
        memory: &mut dyn BatchMemory,
    ) -> Result<Bytes, EncodeError> {
        self.seal_checked(params, memory, Checksum::Now)
    }

    /// [`seal_with`](Self::seal_with) without producer state and with the
    /// CRC left at zero, for a producer that stamps every batch with
    /// [`rewrite_producer_state`] or [`rewrite_transactional_state`] before
    /// sending it: those compute the CRC, so computing it here too would be
    /// a second pass over the whole batch for nothing. The batch is not
    /// valid on the wire until it is stamped.
    ///
    /// ```
    /// use bytes::{Bytes, BytesMut};
    /// use kproducer_protocol::records::{
    ///     BatchMemory, Compression, NO_HEADERS, RecordBatch, RecordBatchBuilder,
    ///     rewrite_producer_state,
    /// };
    ///
    /// struct Fresh;
    /// impl BatchMemory for Fresh {
    ///     fn take(&mut self, min_capacity: usize) -> BytesMut {
    ///         BytesMut::with_capacity(min_capacity)
    ///     }
    /// }
    ///
    /// let mut builder = RecordBatchBuilder::new(Compression::None);
    /// builder.append(1_000, None, Some(b"v"), NO_HEADERS);
    /// let mut bytes = builder.seal_unstamped(&mut Fresh)?.to_vec();
    /// assert!(RecordBatch::decode(&mut Bytes::from(bytes.clone())).is_err(), "no CRC yet");
    /// rewrite_producer_state(&mut bytes, 7, 0, 0)?;
    /// let batch = RecordBatch::decode(&mut Bytes::from(bytes))?;
    /// assert_eq!(batch.header().producer_id, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`seal`](Self::seal).
    ///
    /// [`rewrite_producer_state`]: crate::records::rewrite_producer_state
    /// [`rewrite_transactional_state`]: crate::records::rewrite_transactional_state
    pub fn seal_unstamped(&mut self, memory: &mut dyn BatchMemory) -> Result<Bytes, EncodeError> {
        self.seal_checked(&BatchParams::default(), memory, Checksum::Later)
    }

    fn seal_checked(
        &mut self,
        params: &BatchParams,
        memory: &mut dyn BatchMemory,
        checksum: Checksum,
    ) -> Result<Bytes, EncodeError> {
        if let Some(e) = self.invalid.take() {
            self.reset();
            return Err(e);
        }
        let result = match self.compression {
            Compression::None => Ok(self.seal_uncompressed(params, memory, checksum)),
            codec => self.seal_compressed(codec, params, checksum),
        };
        self.reset();
        result
    }

    /// Seals a control batch (used by [`build_control_batch`]).
    ///
    /// [`build_control_batch`]: crate::records::build_control_batch
    pub(crate) fn seal_control(&mut self, params: &BatchParams) -> Bytes {
        self.control = true;
        let out = self.seal_uncompressed(params, &mut FreshMemory, Checksum::Now);
        self.reset();
        out
    }

    fn header(&self, params: &BatchParams, codec: Compression, batch_len: usize) -> BatchHeader {
        let mut attributes = i16::from(codec.id());
        if params.transactional {
            attributes |= TRANSACTIONAL_FLAG;
        }
        if self.control {
            attributes |= CONTROL_FLAG;
        }
        BatchHeader {
            base_offset: 0,
            // `try_append` kept the uncompressed batch within i32; compressed
            // sizes are checked by the caller.
            batch_length: (batch_len - LOG_OVERHEAD) as i32,
            partition_leader_epoch: -1,
            magic: MAGIC_V2,
            crc: 0,
            attributes,
            last_offset_delta: self.count - 1,
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            producer_id: params.producer_id,
            producer_epoch: params.producer_epoch,
            base_sequence: params.base_sequence,
            records_count: self.count,
        }
    }

    /// Writes `header` into the first 61 bytes of `batch` and stamps the CRC
    /// (unless it is left for later). Callers pass buffers that start with
    /// the 61 placeholder header bytes, so the slicing below is in bounds.
    fn finish(batch: &mut [u8], header: &BatchHeader, checksum: Checksum) {
        let mut fixed = [0u8; BATCH_HEADER_LEN];
        header.write(&mut fixed);
        batch[..BATCH_HEADER_LEN].copy_from_slice(&fixed);
        if checksum == Checksum::Now {
            let crc = crc32c::crc32c(&batch[CRC_FROM..]);
            batch[CRC_AT..CRC_FROM].copy_from_slice(&crc.to_be_bytes());
        }
    }

    fn seal_uncompressed(
        &mut self,
        params: &BatchParams,
        memory: &mut dyn BatchMemory,
        checksum: Checksum,
    ) -> Bytes {
        let header = self.header(params, Compression::None, self.buf.len());
        Self::finish(&mut self.buf, &header, checksum);
        let capacity = self.buf.capacity();
        if self.buf.len() * 2 >= capacity {
            let mut next = memory.take(capacity);
            next.clear();
            std::mem::replace(&mut self.buf, next).freeze()
        } else {
            let mut out = memory.take(self.buf.len());
            out.clear();
            out.extend_from_slice(&self.buf);
            out.freeze()
        }
    }

    fn seal_compressed(
        &mut self,
        codec: Compression,
        params: &BatchParams,
        checksum: Checksum,
    ) -> Result<Bytes, EncodeError> {
        let records = &self.buf[BATCH_HEADER_LEN..];
        let mut out = Vec::with_capacity(BATCH_HEADER_LEN + records.len() / 2 + 64);
        out.resize(BATCH_HEADER_LEN, 0);
        codec::compress(codec, records, &mut out)?;
        // Sealed batches wait in memory until acknowledged: do not let them
        // pin the compressor's growth slack.
        out.shrink_to_fit();
        if out.len() - LOG_OVERHEAD > i32::MAX as usize {
            return Err(EncodeError::TooLong {
                what: "compressed record batch",
                length: out.len(),
            });
        }
        let header = self.header(params, codec, out.len());
        Self::finish(&mut out, &header, checksum);
        Ok(Bytes::from(out))
    }

    /// Discards every record appended since the last seal, keeping the
    /// buffer's capacity.
    pub fn clear(&mut self) {
        self.reset();
    }

    /// Empties the builder, keeping its buffer.
    fn reset(&mut self) {
        self.buf.clear();
        self.buf.put_bytes(0, BATCH_HEADER_LEN);
        self.count = 0;
        self.base_timestamp = 0;
        self.max_timestamp = 0;
        self.invalid = None;
        self.control = false;
    }
}

impl std::fmt::Debug for RecordBatchBuilder {
    /// Sizes and counts only: the buffer holds record contents.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordBatchBuilder")
            .field("compression", &self.compression)
            .field("record_count", &self.count)
            .field("size_estimate", &self.buf.len())
            .field("capacity", &self.buf.capacity())
            .field("first_timestamp", &self.first_timestamp())
            .field("invalid", &self.invalid)
            .finish()
    }
}
