//! Record batches against bytes written by other implementations and by
//! hand, and the CRC-32C against its published check value.

use bytes::Bytes;
use kproducer_protocol::DecodeError;
use kproducer_protocol::records::{
    BatchParams, Compression, NO_HEADERS, RecordBatch, RecordBatchBuilder,
};

/// One batch as librdkafka wrote it on the wire (captured and published in
/// rskafka's tests): one record, empty key, value "hello kafka", header
/// foo=bar, timestamp 1641388919, no producer id, partition leader epoch 0.
const LIBRDKAFKA_BATCH: &[u8] = b"\
\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x4b\x00\x00\x00\x00\
\x02\x27\x24\xfe\xcd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x61\
\xd5\x9b\x77\x00\x00\x00\x00\x61\xd5\x9b\x77\xff\xff\xff\xff\xff\
\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x01\x32\x00\x00\
\x00\x00\x16\x68\x65\x6c\x6c\x6f\x20\x6b\x61\x66\x6b\x61\x02\x06\
\x66\x6f\x6f\x06\x62\x61\x72";

#[test]
fn reads_a_batch_written_by_librdkafka() {
    let mut buf = Bytes::from_static(LIBRDKAFKA_BATCH);
    let batch = RecordBatch::decode(&mut buf).unwrap();
    assert!(buf.is_empty());
    let h = batch.header();
    assert_eq!(h.base_offset, 0);
    assert_eq!(h.batch_length, 0x4b);
    assert_eq!(h.partition_leader_epoch, 0);
    assert_eq!(h.crc, 0x2724_fecd);
    assert_eq!(h.compression(), Compression::None);
    assert!(!h.is_transactional() && !h.is_control());
    assert_eq!(
        (h.base_timestamp, h.max_timestamp),
        (1641388919, 1641388919)
    );
    assert_eq!(
        (h.producer_id, h.producer_epoch, h.base_sequence),
        (-1, -1, -1)
    );
    assert_eq!(h.records_count, 1);
    let records: Vec<_> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.key.as_deref(), Some(&b""[..]));
    assert_eq!(r.value.as_deref(), Some(&b"hello kafka"[..]));
    assert_eq!(
        r.headers,
        vec![(Bytes::from_static(b"foo"), Some(Bytes::from_static(b"bar")))]
    );
    assert_eq!(r.timestamp(h), 1641388919);
    assert_eq!(r.offset(h), 0);
}

#[test]
fn writes_the_same_bytes_as_librdkafka() {
    let mut b = RecordBatchBuilder::new(Compression::None);
    let added = b.append(
        1641388919,
        Some(b""),
        Some(b"hello kafka"),
        &[("foo", Some("bar"))],
    );
    assert_eq!(added, 26);
    assert_eq!(b.size_estimate(), LIBRDKAFKA_BATCH.len());
    let ours = b.seal(&BatchParams::default()).unwrap();
    // The only difference: producers send partition leader epoch -1 (Java
    // does too); librdkafka sent 0. It lies outside the CRC.
    assert_eq!(&ours[12..16], &[0xff; 4]);
    let mut theirs = LIBRDKAFKA_BATCH.to_vec();
    theirs[12..16].copy_from_slice(&[0xff; 4]);
    assert_eq!(&ours[..], &theirs[..]);
}

/// CRC-32C (Castagnoli), bit by bit: an implementation independent of the
/// `crc32c` crate the codec uses.
fn crc32c_bitwise(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn crc32c_check_value() {
    // The standard check value of CRC-32C over "123456789".
    assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    assert_eq!(crc32c_bitwise(b"123456789"), 0xe306_9283);
}

#[test]
fn hand_assembled_batch() {
    // One record at t=1000: null key, value "abc", no headers, producer 7,
    // epoch 1, base sequence 5, transactional.
    #[rustfmt::skip]
    let mut expected: Vec<u8> = vec![
        0, 0, 0, 0, 0, 0, 0, 0,           // baseOffset
        0, 0, 0, 59,                      // batchLength = 71 - 12
        0xff, 0xff, 0xff, 0xff,           // partitionLeaderEpoch -1
        2,                                // magic
        0, 0, 0, 0,                       // crc, filled below
        0x00, 0x10,                       // attributes: transactional
        0, 0, 0, 0,                       // lastOffsetDelta
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,     // baseTimestamp 1000
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,     // maxTimestamp 1000
        0, 0, 0, 0, 0, 0, 0, 7,           // producerId
        0, 1,                             // producerEpoch
        0, 0, 0, 5,                       // baseSequence
        0, 0, 0, 1,                       // records count
        0x12,                             // record length 9 (zigzag 18)
        0,                                // attributes
        0,                                // timestampDelta 0
        0,                                // offsetDelta 0
        0x01,                             // key length -1 (null)
        0x06, b'a', b'b', b'c',           // value length 3, "abc"
        0,                                // header count 0
    ];
    let crc = crc32c_bitwise(&expected[21..]);
    expected[17..21].copy_from_slice(&crc.to_be_bytes());

    let mut b = RecordBatchBuilder::new(Compression::None);
    b.append(1000, None, Some(b"abc"), NO_HEADERS);
    let ours = b
        .seal(&BatchParams {
            producer_id: 7,
            producer_epoch: 1,
            base_sequence: 5,
            transactional: true,
        })
        .unwrap();
    assert_eq!(&ours[..], &expected[..]);
}

#[test]
fn a_flipped_bit_is_a_crc_error_and_a_wrong_magic_is_refused() {
    let mut bad = LIBRDKAFKA_BATCH.to_vec();
    bad[70] ^= 0x01;
    assert!(matches!(
        RecordBatch::decode(&mut Bytes::from(bad)),
        Err(DecodeError::CrcMismatch {
            expected: 0x2724_fecd,
            ..
        })
    ));
    let mut old = LIBRDKAFKA_BATCH.to_vec();
    old[16] = 1;
    assert!(matches!(
        RecordBatch::decode(&mut Bytes::from(old)),
        Err(DecodeError::InvalidBatch(_))
    ));
}
