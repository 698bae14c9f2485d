//! Reading record batches from a `RECORDS` blob: framing, CRC and bounds
//! are checked before anything else, and records are yielded as zero-copy
//! slices.

use bytes::{Bytes, BytesMut};

use crate::error::DecodeError;
use crate::records::codec::{self, DEFAULT_MAX_DECOMPRESSED};
use crate::records::compression::Compression;
use crate::records::header::{BATCH_HEADER_LEN, BatchHeader, CRC_FROM, LOG_OVERHEAD};
use crate::records::record::Record;

/// One validated v2 record batch.
///
/// [`RecordBatch::decode`] checks the framing (length against the bytes
/// left), the magic byte, the compression id and the CRC-32C; records are
/// decoded lazily by [`RecordBatch::records`]. The exact bytes stay
/// available through [`RecordBatch::raw`], so a broker can store a batch as
/// it was received.
///
/// ```
/// use bytes::Bytes;
/// use kproducer_protocol::records::{
///     BatchParams, Compression, NO_HEADERS, RecordBatch, RecordBatchBuilder,
/// };
///
/// let mut blob = Vec::new();
/// let mut builder = RecordBatchBuilder::new(Compression::None);
/// for i in 0..3u8 {
///     builder.append(1000 + i64::from(i), None, Some(&[i]), NO_HEADERS);
///     blob.extend_from_slice(&builder.seal(&BatchParams::default())?);
/// }
/// let batches = RecordBatch::decode_all(Bytes::from(blob)).collect::<Result<Vec<_>, _>>()?;
/// assert_eq!(batches.len(), 3);
/// let record = batches[2].records()?.next().unwrap()?;
/// assert_eq!(record.value.as_deref(), Some(&[2u8][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RecordBatch {
    header: BatchHeader,
    raw: Bytes,
}

impl std::fmt::Debug for RecordBatch {
    /// The header and the size only: the bytes hold record contents.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordBatch")
            .field("header", &self.header)
            .field("len", &self.raw.len())
            .finish()
    }
}

impl RecordBatch {
    /// Reads one batch from the front of `buf`, advancing `buf` past it.
    /// On error `buf` is left as it was.
    ///
    /// # Errors
    /// [`DecodeError::Truncated`] when `buf` holds less than the whole
    /// batch; [`DecodeError::InvalidLength`] for a batch length shorter than
    /// a header; [`DecodeError::InvalidBatch`] for a magic byte other than
    /// 2; [`DecodeError::UnsupportedCompression`] for a codec id Kafka does
    /// not define; [`DecodeError::CrcMismatch`] when the contents do not
    /// match the CRC.
    pub fn decode(buf: &mut Bytes) -> Result<RecordBatch, DecodeError> {
        let Some(length) = buf.get(8..LOG_OVERHEAD) else {
            return Err(DecodeError::Truncated {
                what: "record batch length",
                needed: LOG_OVERHEAD,
                remaining: buf.len(),
            });
        };
        let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        let total = match usize::try_from(length) {
            Ok(n) if n >= BATCH_HEADER_LEN - LOG_OVERHEAD => n + LOG_OVERHEAD,
            _ => {
                return Err(DecodeError::InvalidLength {
                    what: "record batch length",
                    length: i64::from(length),
                    remaining: buf.len().saturating_sub(LOG_OVERHEAD),
                });
            }
        };
        if total > buf.len() {
            return Err(DecodeError::Truncated {
                what: "record batch",
                needed: total,
                remaining: buf.len(),
            });
        }
        // The magic byte decides how to read the rest, so check it (in
        // `parse`) before the CRC.
        let header = BatchHeader::parse(&buf[..total])?;
        let actual = crc32c::crc32c(&buf[CRC_FROM..total]);
        if actual != header.crc {
            return Err(DecodeError::CrcMismatch {
                expected: header.crc,
                actual,
            });
        }
        Ok(RecordBatch {
            header,
            raw: buf.split_to(total),
        })
    }

    /// Iterates over every batch in a `RECORDS` blob, in order. The
    /// iterator yields an error for the first bad batch and then stops.
    ///
    /// A fetch response may end with a partial batch (the broker cuts at
    /// `max_bytes`); that shows up as a final [`DecodeError::Truncated`],
    /// which a consumer treats as the end of the data.
    pub fn decode_all(blob: Bytes) -> RecordBatches {
        RecordBatches {
            rest: blob,
            failed: false,
        }
    }

    /// The batch header.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The batch exactly as it was read.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The batch's bytes, consuming the batch.
    pub fn into_raw(self) -> Bytes {
        self.raw
    }

    /// A copy of this batch with its base offset set, as a broker stores a
    /// batch once it has assigned offsets. The CRC does not cover the base
    /// offset, so it stays valid.
    pub fn with_base_offset(&self, base_offset: i64) -> RecordBatch {
        let mut raw = BytesMut::from(&self.raw[..]);
        raw[..8].copy_from_slice(&base_offset.to_be_bytes());
        RecordBatch {
            header: BatchHeader {
                base_offset,
                ..self.header
            },
            raw: raw.freeze(),
        }
    }

    /// Decompresses the records section (once, into one buffer) and returns
    /// an iterator over its records, allowing at most
    /// [`DEFAULT_MAX_DECOMPRESSED`] bytes of decompressed output.
    ///
    /// # Errors
    /// See [`records_with_limit`](Self::records_with_limit).
    pub fn records(&self) -> Result<Records, DecodeError> {
        self.records_with_limit(DEFAULT_MAX_DECOMPRESSED)
    }

    /// Like [`records`](Self::records) with an explicit cap on decompressed
    /// bytes (uncompressed batches are not copied and ignore it).
    ///
    /// The decompression buffer never exceeds `max_decompressed + 1` bytes.
    /// zstd frames whose declared window is larger than
    /// `min(max_decompressed, 8 MiB)` are refused, since the decoder reserves
    /// the window up front (Kafka's default zstd level 3 uses at most 2 MiB).
    ///
    /// # Errors
    /// [`DecodeError::InvalidBatch`] for a negative record count or a
    /// `lastOffsetDelta` that does not match it;
    /// [`DecodeError::UnsupportedCompression`] when the codec's feature is
    /// off; [`DecodeError::Decompression`] for corrupt data or output over
    /// `max_decompressed`. Errors in individual records come from the
    /// iterator.
    pub fn records_with_limit(&self, max_decompressed: usize) -> Result<Records, DecodeError> {
        let count = self.header.records_count;
        if count < 0 {
            return Err(DecodeError::InvalidBatch("record count is negative"));
        }
        if count > 0 && self.header.last_offset_delta != count - 1 {
            return Err(DecodeError::InvalidBatch(
                "lastOffsetDelta does not match the record count",
            ));
        }
        let section = self.raw.slice(BATCH_HEADER_LEN..);
        let data = match self.header.compression() {
            Compression::None => section,
            codec if !codec.is_available() => {
                return Err(DecodeError::UnsupportedCompression(codec.id()));
            }
            codec => Bytes::from(codec::decompress(codec, &section, max_decompressed)?),
        };
        Ok(Records {
            data,
            count,
            next: 0,
            done: false,
        })
    }
}

/// The batches of a `RECORDS` blob; see [`RecordBatch::decode_all`].
#[derive(Clone)]
pub struct RecordBatches {
    rest: Bytes,
    failed: bool,
}

impl std::fmt::Debug for RecordBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordBatches")
            .field("bytes_left", &self.rest.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Iterator for RecordBatches {
    type Item = Result<RecordBatch, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let result = RecordBatch::decode(&mut self.rest);
        self.failed = result.is_err();
        Some(result)
    }
}

/// The records of one batch; see [`RecordBatch::records`].
///
/// Yields exactly `records_count` records, then fails if bytes remain. After
/// the first error it yields nothing more.
#[derive(Clone)]
pub struct Records {
    data: Bytes,
    count: i32,
    next: i32,
    done: bool,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("count", &self.count)
            .field("next", &self.next)
            .field("bytes_left", &self.data.len())
            .field("done", &self.done)
            .finish()
    }
}

impl Iterator for Records {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.next == self.count {
            self.done = true;
            return (!self.data.is_empty()).then(|| {
                Err(DecodeError::TrailingBytes {
                    what: "record batch records",
                    remaining: self.data.len(),
                })
            });
        }
        let result = Record::decode(&mut self.data, self.next);
        self.next += 1;
        self.done = result.is_err();
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        let left = (self.count - self.next) as usize;
        (0, Some(left + 1))
    }
}
