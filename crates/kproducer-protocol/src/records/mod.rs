//! Kafka's record batch format v2 (magic 2): the producer's hot path.
//!
//! - [`RecordBatchBuilder`] encodes records straight into one reusable
//!   buffer (no allocation per record once warm) and seals a batch: header,
//!   lengths, CRC-32C, optional compression.
//! - [`RecordBatch`] reads batches back: framing, magic and CRC are checked
//!   up front; records are decompressed once and yielded as zero-copy
//!   slices; decompressed output is bounded.
//! - [`rewrite_producer_state`] and [`set_base_offset`] patch sealed batches
//!   in place; [`build_control_batch`] writes transaction markers.
//! - [`Compression`]: none, gzip, snappy (xerial framing, as Java writes
//!   it), lz4 (frame format), zstd, each behind a cargo feature.
//!
//! Decoding never panics on any input and allocates only in proportion to
//! its input (and, for decompression, up to an explicit limit).
//!
//! # References
//! - <https://kafka.apache.org/documentation/#recordbatch>
//! - KIP-98 (idempotent and transactional producers, the v2 format)
//! - KIP-360 (producer epoch bumps)

mod builder;
mod codec;
mod compression;
mod control;
mod header;
#[cfg(feature = "lz4")]
mod lz4;
mod reader;
mod record;
mod record_size;
#[cfg(feature = "snappy")]
mod snappy;
mod varint;

pub use builder::{BatchMemory, BatchParams, NO_HEADERS, RecordBatchBuilder, RecordHeader};
pub use codec::DEFAULT_MAX_DECOMPRESSED;
pub use compression::{Compression, ParseCompressionError};
pub use control::{ControlRecord, ControlRecordType, build_control_batch};
pub use header::{
    BATCH_HEADER_LEN, BatchHeader, MAGIC_V2, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
    increment_sequence, rewrite_producer_state, rewrite_transactional_state, set_base_offset,
};
pub use reader::{RecordBatch, RecordBatches, Records};
pub use record::Record;
