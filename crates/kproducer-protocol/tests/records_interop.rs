//! Compressed records sections written by the reference C implementations
//! (GNU gzip 1.x, the zstd 1.x CLI at level 3, the lz4 1.x CLI) decode to
//! the same records as the uncompressed section they were made from, and a
//! hand-assembled multi-block xerial snappy stream decodes too.
//!
//! The vectors were produced from `SECTION` with
//! `gzip -9n`, `zstd -3`, `lz4 -B4 --no-frame-crc` (the frame settings
//! Kafka's Java client uses) and `lz4 -B4 -BX` (block and content checksums,
//! which the reader skips). Our own output was checked the other way round
//! with `gzip -d`, `zstd -d` and `lz4 -d` when these tests were written.

use bytes::Bytes;
use kproducer_protocol::records::{
    BatchParams, Compression, NO_HEADERS, RecordBatch, RecordBatchBuilder, rewrite_producer_state,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Three records (t = 1700000000000 + i, key "key", value 40 × 'a' + i,
/// header h=v), uncompressed, as our builder writes them.
const SECTION: &str = "6a000000066b6579506161616161616161616161616161616161616161616161616161616161616161616161616161616102026802766a000202066b6579506262626262626262626262626262626262626262626262626262626262626262626262626262626202026802766a000404066b657950636363636363636363636363636363636363636363636363636363636363636363636363636363630202680276";

const GZIP: &str = "1f8b0800000000000203cb62606060cb4ead0c4824123031653095653130318175251109a0ba5858c0ba928904605d00f9e4dfe6a2000000";
const ZSTD: &str = "28b52ffd24a26d0100e06a000000066b6579506102026802766a000202620404630202680276060070450081200bb872b3128e12200167b3060c";
const LZ4_KAFKA_FLAGS: &str = "04224d1860408232000000af6a000000066b657950610100149102026802766a00020236001f6201001403360021040436001f6301001450020268027600000000";
const LZ4_CHECKSUMS: &str = "04224d187440bd32000000af6a000000066b657950610100149102026802766a00020236001f6201001403360021040436001f63010014500202680276909bdb890000000068aadfe8";

/// A three-record batch of codec `codec` around `section`, with a valid CRC.
fn batch(codec: Compression, section: &[u8]) -> RecordBatch {
    batch_of(codec, section, 3)
}

/// A `count`-record batch of codec `codec` around `section`, with a valid
/// CRC and base timestamp 1700000000000.
fn batch_of(codec: Compression, section: &[u8], count: i32) -> RecordBatch {
    let mut empty = RecordBatchBuilder::new(Compression::None);
    let mut raw = empty.seal(&BatchParams::default()).unwrap().to_vec();
    raw.extend_from_slice(section);
    let batch_length = (raw.len() - 12) as i32;
    raw[8..12].copy_from_slice(&batch_length.to_be_bytes());
    raw[22] = codec.id();
    raw[23..27].copy_from_slice(&(count - 1).to_be_bytes()); // lastOffsetDelta
    raw[27..35].copy_from_slice(&1_700_000_000_000i64.to_be_bytes()); // baseTimestamp
    raw[57..61].copy_from_slice(&count.to_be_bytes()); // records count
    rewrite_producer_state(&mut raw, -1, -1, -1).unwrap();
    RecordBatch::decode(&mut Bytes::from(raw)).unwrap()
}

fn check(codec: Compression, compressed: &str) {
    if !codec.is_available() {
        return;
    }
    let records: Vec<_> = batch(codec, &hex(compressed))
        .records()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<_> = batch(Compression::None, &hex(SECTION))
        .records()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records, expected, "{codec}");
    assert_eq!(records[2].value.as_deref(), Some(&[b'c'; 40][..]));
}

#[test]
fn the_section_is_what_our_builder_writes() {
    let mut b = RecordBatchBuilder::new(Compression::None);
    for i in 0..3u8 {
        b.append(
            1_700_000_000_000 + i64::from(i),
            Some(b"key"),
            Some(&[b'a' + i; 40]),
            &[("h", Some("v"))],
        );
    }
    let sealed = b.seal(&BatchParams::default()).unwrap();
    assert_eq!(&sealed[61..], &hex(SECTION)[..]);
}

#[test]
fn gnu_gzip() {
    check(Compression::Gzip, GZIP);
}

#[test]
fn zstd_cli() {
    check(Compression::Zstd, ZSTD);
}

#[test]
fn lz4_cli_with_kafkas_frame_settings() {
    check(Compression::Lz4, LZ4_KAFKA_FLAGS);
}

#[test]
fn lz4_cli_with_checksums() {
    check(Compression::Lz4, LZ4_CHECKSUMS);
}

#[test]
fn our_lz4_frame_header_is_byte_identical_to_the_reference() {
    // `lz4 -B4 --no-frame-crc` starts its frame with the same 7 bytes we
    // write: magic, FLG 0x60, BD 0x40, header checksum 0x82.
    assert_eq!(
        &hex(LZ4_KAFKA_FLAGS)[..7],
        &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]
    );
    if Compression::Lz4.is_available() {
        let mut b = RecordBatchBuilder::new(Compression::Lz4);
        b.append(0, None, Some(b"x"), NO_HEADERS);
        let sealed = b.seal(&BatchParams::default()).unwrap();
        assert_eq!(&sealed[61..68], &hex(LZ4_KAFKA_FLAGS)[..7]);
    }
}

/// A raw snappy block for `word` × 50 (300 bytes), assembled by hand:
/// length varint 300, a 6-byte literal, four 64-byte copies and one 38-byte
/// copy at offset 6.
#[cfg(feature = "snappy")]
fn snappy_block(word: &[u8; 6]) -> Vec<u8> {
    let mut b = vec![0xac, 0x02, 0x14];
    b.extend_from_slice(word);
    for _ in 0..4 {
        b.extend_from_slice(&[0xfe, 0x06, 0x00]);
    }
    b.extend_from_slice(&[0x96, 0x06, 0x00]);
    b
}

#[cfg(feature = "snappy")]
#[test]
fn xerial_stream_as_snappy_java_frames_it() {
    // One record whose value is SNAPPY×50 + XERIAL×50 (600 bytes).
    let mut value = b"SNAPPY".repeat(50);
    value.extend_from_slice(&b"XERIAL".repeat(50));
    let mut b = RecordBatchBuilder::new(Compression::None);
    b.append(1_700_000_000_000, None, Some(&value), NO_HEADERS);
    let sealed = b.seal(&BatchParams::default()).unwrap();
    let section = &sealed[61..];
    let (prefix, rest) = section.split_at(section.len() - value.len() - 1);
    assert_eq!(rest, [&value[..], &[0]].concat()); // value, then 0 headers

    // The xerial header, then four length-prefixed raw blocks: the record
    // prefix, the two hand-assembled blocks, and the header count.
    let mut encoder = snap::raw::Encoder::new();
    let blocks = [
        encoder.compress_vec(prefix).unwrap(),
        snappy_block(b"SNAPPY"),
        snappy_block(b"XERIAL"),
        encoder.compress_vec(&[0]).unwrap(),
    ];
    let mut stream = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    for block in &blocks {
        stream.extend_from_slice(&(block.len() as i32).to_be_bytes());
        stream.extend_from_slice(block);
    }
    assert_eq!(blocks[1].len(), 24);

    let records: Vec<_> = batch_of(Compression::Snappy, &stream, 1)
        .records()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value.as_deref(), Some(&value[..]));
}
