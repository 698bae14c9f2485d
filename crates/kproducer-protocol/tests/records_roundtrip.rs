//! Record batches round-trip through the builder and the reader with every
//! codec; producer-state patches, control batches and limits behave.

use bytes::Bytes;
use kproducer_protocol::records::{
    BatchParams, Compression, ControlRecord, ControlRecordType, NO_HEADERS, Record, RecordBatch,
    RecordBatchBuilder, build_control_batch, rewrite_producer_state, set_base_offset,
};
use kproducer_protocol::{DecodeError, EncodeError};

/// Every codec this build includes (all of them with default features).
fn codecs() -> impl Iterator<Item = Compression> {
    Compression::ALL.into_iter().filter(|c| c.is_available())
}

/// Every compressing codec this build includes.
fn compressed_codecs() -> impl Iterator<Item = Compression> {
    Compression::ALL
        .into_iter()
        .filter(|c| *c != Compression::None && c.is_available())
}

const PARAMS: BatchParams = BatchParams {
    producer_id: 4242,
    producer_epoch: 3,
    base_sequence: 100,
    transactional: false,
};

fn decode_one(bytes: Bytes) -> (RecordBatch, Vec<Record>) {
    let mut buf = bytes;
    let batch = RecordBatch::decode(&mut buf).unwrap();
    assert!(buf.is_empty());
    let records = batch
        .records()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (batch, records)
}

#[test]
fn every_codec_round_trips_keys_values_nulls_headers_and_timestamps() {
    type Header<'a> = (&'a str, Option<&'a [u8]>);
    type Row<'a> = (i64, Option<Vec<u8>>, Option<Vec<u8>>, &'a [Header<'a>]);
    let headers: [Header<'_>; 3] = [("dup", Some(b"one")), ("dup", None), ("dup", Some(b""))];
    for codec in codecs() {
        let mut b = RecordBatchBuilder::new(codec);
        // Out-of-order timestamps: deltas may be negative.
        let rows: Vec<Row<'_>> = vec![
            (5_000, Some(b"k1".to_vec()), Some(b"v1".to_vec()), &[]),
            (4_000, None, None, &headers),
            (9_000, Some(vec![]), Some(vec![]), &headers[..1]),
            (5_500, None, Some(vec![7u8; 10_000]), &[]),
        ];
        for (ts, k, v, h) in &rows {
            b.append(*ts, k.as_deref(), v.as_deref(), h);
        }
        assert_eq!(b.first_timestamp(), Some(5_000));
        let (batch, records) = decode_one(b.seal(&PARAMS).unwrap());
        let h = batch.header();
        assert_eq!(h.compression(), codec, "{codec}");
        assert_eq!((h.base_timestamp, h.max_timestamp), (5_000, 9_000));
        assert_eq!((h.records_count, h.last_offset_delta), (4, 3));
        assert_eq!((h.producer_id, h.producer_epoch), (4242, 3));
        assert_eq!((h.base_sequence, h.last_sequence()), (100, 103));
        assert_eq!(h.partition_leader_epoch, -1);
        assert_eq!(records.len(), rows.len());
        for (i, (r, (ts, k, v, hs))) in records.iter().zip(&rows).enumerate() {
            assert_eq!(r.offset_delta, i as i32);
            assert_eq!(r.timestamp(h), *ts, "{codec} record {i}");
            assert_eq!(r.key.as_deref(), k.as_deref());
            assert_eq!(r.value.as_deref(), v.as_deref());
            let want: Vec<_> = hs
                .iter()
                .map(|(k, v)| {
                    (
                        Bytes::copy_from_slice(k.as_bytes()),
                        v.map(Bytes::copy_from_slice),
                    )
                })
                .collect();
            assert_eq!(r.headers, want);
        }
    }
}

#[test]
fn compression_shrinks_repetitive_records() {
    for codec in codecs() {
        let mut b = RecordBatchBuilder::new(codec);
        for i in 0..1000 {
            b.append(i, None, Some(b"the same hundred-ish bytes of payload, again and again and again and again and again and again."), NO_HEADERS);
        }
        let uncompressed = b.size_estimate();
        let sealed = b.seal(&BatchParams::default()).unwrap();
        if codec == Compression::None {
            assert_eq!(sealed.len(), uncompressed);
        } else {
            assert!(
                sealed.len() * 5 < uncompressed,
                "{codec}: {} of {uncompressed}",
                sealed.len()
            );
        }
        assert_eq!(decode_one(sealed).1.len(), 1000);
    }
}

#[test]
fn the_builder_is_reusable_and_keeps_its_capacity() {
    let mut b = RecordBatchBuilder::with_capacity(Compression::None, 4096);
    for round in 0..3i64 {
        for i in 0..30 {
            b.append(round * 100 + i, None, Some(&[round as u8; 100]), NO_HEADERS);
        }
        let cap = b.capacity();
        let sealed = b.seal(&BatchParams::default()).unwrap();
        assert!(b.is_empty());
        assert_eq!(b.first_timestamp(), None);
        assert_eq!(b.size_estimate(), 61);
        assert!(b.capacity() >= cap.min(4096));
        let (batch, records) = decode_one(sealed);
        assert_eq!(batch.header().base_timestamp, round * 100);
        assert_eq!(records.len(), 30);
        assert!(
            records
                .iter()
                .all(|r| r.value.as_deref() == Some(&[round as u8; 100][..]))
        );
    }
}

#[test]
fn append_reports_the_bytes_it_added() {
    let mut b = RecordBatchBuilder::new(Compression::Lz4);
    let mut total = 61;
    for i in 0..50 {
        let key = format!("key-{i}");
        let predicted = b.encoded_size(
            i * 1000,
            Some(key.as_bytes()),
            Some(b"v"),
            &[("h", Some("x"))],
        );
        let added = b.append(
            i * 1000,
            Some(key.as_bytes()),
            Some(b"v"),
            &[("h", Some("x"))],
        );
        assert_eq!(added, predicted);
        total += added;
        assert_eq!(b.size_estimate(), total);
    }
}

#[test]
fn invalid_header_keys_are_refused() {
    let mut b = RecordBatchBuilder::new(Compression::None);
    let bad: &[(&[u8], Option<&[u8]>)] = &[(&[0xff, 0xfe], None)];
    assert_eq!(
        b.try_append(0, None, None, bad),
        Err(EncodeError::InvalidUtf8 {
            what: "record header key"
        })
    );
    assert!(b.is_empty(), "a refused record leaves the batch unchanged");
    // `append` defers the error to `seal`, which then resets the builder.
    b.append(0, None, Some(b"fine"), NO_HEADERS);
    assert_eq!(b.append(0, None, None, bad), 0);
    assert!(matches!(
        b.seal(&BatchParams::default()),
        Err(EncodeError::InvalidUtf8 { .. })
    ));
    assert!(b.is_empty());
    b.append(0, None, Some(b"next"), NO_HEADERS);
    assert_eq!(
        decode_one(b.seal(&BatchParams::default()).unwrap()).1.len(),
        1
    );
}

#[test]
fn rewrite_producer_state_keeps_the_crc_valid() {
    for codec in codecs() {
        let mut b = RecordBatchBuilder::new(codec);
        for i in 0..10 {
            b.append(i, Some(b"k"), Some(b"v"), NO_HEADERS);
        }
        let sealed = b.seal(&PARAMS).unwrap();
        let mut patched = sealed.to_vec();
        rewrite_producer_state(&mut patched, 9, 4, i32::MAX - 3).unwrap();
        let (batch, records) = decode_one(Bytes::from(patched.clone()));
        let h = batch.header();
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (9, 4, i32::MAX - 3)
        );
        // Sequences wrap from i32::MAX to 0: MAX-3 + 9 → 5.
        assert_eq!(h.last_sequence(), 5);
        assert_eq!(records.len(), 10);
        assert_eq!(&patched[61..], &sealed[61..], "records untouched");

        let moved = batch.with_base_offset(1_000);
        assert_eq!(moved.header().base_offset, 1_000);
        let (reread, _) = decode_one(moved.raw().clone());
        assert_eq!(reread.header(), moved.header());

        set_base_offset(&mut patched, 1_000).unwrap();
        let (batch, records) = decode_one(Bytes::from(patched));
        assert_eq!(batch.header().last_offset(), 1_009);
        assert_eq!(records[9].offset(batch.header()), 1_009);
    }
}

#[test]
fn patching_refuses_slices_that_are_not_one_batch() {
    let mut b = RecordBatchBuilder::new(Compression::None);
    b.append(0, None, Some(b"v"), NO_HEADERS);
    let sealed = b.seal(&PARAMS).unwrap().to_vec();
    let mut short = sealed[..sealed.len() - 1].to_vec();
    assert!(rewrite_producer_state(&mut short, 1, 1, 1).is_err());
    assert_eq!(&short[..], &sealed[..sealed.len() - 1], "left untouched");
    let mut long = [&sealed[..], &[0u8]].concat();
    assert!(set_base_offset(&mut long, 5).is_err());
    assert!(set_base_offset(&mut [0u8; 7], 5).is_err());
}

#[test]
fn control_batches_carry_one_marker() {
    for kind in [ControlRecordType::Abort, ControlRecordType::Commit] {
        let (batch, records) = decode_one(build_control_batch(kind, 77, 2, 9, 123_456));
        let h = batch.header();
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(h.attributes, 0x30);
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (77, 2, -1)
        );
        assert_eq!((h.records_count, h.base_timestamp), (1, 123_456));
        let r = &records[0];
        assert_eq!(r.key.as_deref(), Some(&[0, 0, 0, kind.id() as u8][..]));
        assert_eq!(r.value.as_deref(), Some(&[0, 0, 0, 0, 0, 9][..]));
        assert_eq!(
            ControlRecord::parse(r).unwrap(),
            ControlRecord {
                kind,
                coordinator_epoch: 9
            }
        );
    }
}

#[test]
fn transactional_flag_is_written() {
    let codec = codecs().last().unwrap_or_default();
    let mut b = RecordBatchBuilder::new(codec);
    b.append(0, None, Some(b"v"), NO_HEADERS);
    let (batch, _) = decode_one(
        b.seal(&BatchParams {
            transactional: true,
            ..PARAMS
        })
        .unwrap(),
    );
    assert!(batch.header().is_transactional());
    assert!(!batch.header().is_control());
    assert_eq!(batch.header().attributes, 0x10 | i16::from(codec.id()));
}

#[test]
fn empty_batches_seal_and_read_back() {
    for codec in codecs() {
        let mut b = RecordBatchBuilder::new(codec);
        let (batch, records) = decode_one(b.seal(&BatchParams::default()).unwrap());
        assert_eq!(batch.header().records_count, 0);
        assert!(records.is_empty());
    }
}

#[test]
fn decode_all_reads_consecutive_batches_and_stops_at_a_bad_one() {
    let mut blob = Vec::new();
    let mut b = RecordBatchBuilder::new(codecs().last().unwrap_or_default());
    for i in 0..4 {
        b.append(i, None, Some(b"x"), NO_HEADERS);
        blob.extend_from_slice(&b.seal(&BatchParams::default()).unwrap());
    }
    let all: Vec<_> = RecordBatch::decode_all(Bytes::from(blob.clone())).collect();
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(Result::is_ok));
    // A partial trailing batch is an error, reported once.
    blob.truncate(blob.len() - 3);
    let all: Vec<_> = RecordBatch::decode_all(Bytes::from(blob)).collect();
    assert_eq!(all.len(), 4);
    assert!(matches!(all[3], Err(DecodeError::Truncated { .. })));
    // The raw bytes are exactly what was read.
    let first = all[0].as_ref().unwrap();
    assert_eq!(first.raw().len(), first.header().total_len());
}

#[test]
fn decompression_is_bounded() {
    for codec in compressed_codecs() {
        let mut b = RecordBatchBuilder::with_capacity(codec, 4 << 20);
        for i in 0..40 {
            b.append(i, None, Some(&[0u8; 100_000]), NO_HEADERS);
        }
        let sealed = b.seal(&BatchParams::default()).unwrap();
        let batch = RecordBatch::decode(&mut sealed.clone()).unwrap();
        let err = batch.records_with_limit(1 << 20).unwrap_err();
        assert!(
            matches!(err, DecodeError::Decompression { .. }),
            "{codec}: {err}"
        );
        assert!(err.to_string().contains("limit"), "{codec}: {err}");
        assert_eq!(batch.records().unwrap().count(), 40, "{codec}");
    }
}

#[test]
fn unknown_codec_ids_and_inconsistent_counts_are_refused() {
    let mut b = RecordBatchBuilder::new(Compression::None);
    b.append(0, None, Some(b"v"), NO_HEADERS);
    b.append(1, None, Some(b"v"), NO_HEADERS);
    let sealed = b.seal(&BatchParams::default()).unwrap().to_vec();

    // Codec id 5, CRC fixed up (rewrite recomputes it).
    let mut bad = sealed.clone();
    bad[22] |= 0x05;
    assert!(rewrite_producer_state(&mut bad, -1, -1, -1).is_err());

    // Record count 3 with only two records.
    let mut bad = sealed.clone();
    bad[60] = 3;
    bad[26] = 2; // lastOffsetDelta to match
    rewrite_producer_state(&mut bad, -1, -1, -1).unwrap();
    let batch = RecordBatch::decode(&mut Bytes::from(bad)).unwrap();
    let results: Vec<_> = batch.records().unwrap().collect();
    assert_eq!(results.len(), 3);
    assert!(results[2].is_err());

    // lastOffsetDelta disagreeing with the count.
    let mut bad = sealed;
    bad[26] = 5;
    rewrite_producer_state(&mut bad, -1, -1, -1).unwrap();
    let batch = RecordBatch::decode(&mut Bytes::from(bad)).unwrap();
    assert!(matches!(batch.records(), Err(DecodeError::InvalidBatch(_))));
}

#[cfg(not(feature = "zstd"))]
#[test]
fn codecs_left_out_of_the_build_are_reported() {
    assert!(!Compression::Zstd.is_available());
    let mut b = RecordBatchBuilder::new(Compression::Zstd);
    b.append(0, None, Some(b"v"), NO_HEADERS);
    assert_eq!(
        b.seal(&BatchParams::default()),
        Err(EncodeError::UnsupportedCompression("zstd"))
    );
}
