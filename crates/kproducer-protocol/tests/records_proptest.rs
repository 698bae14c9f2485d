//! Property tests: random batches round-trip with every codec, and no input
//! (random, truncated, bit-flipped, or corrupt inside a valid CRC) makes the
//! reader panic.
//!
//! proptest prints the failing input and persists its seed on failure.

use bytes::Bytes;
use kproducer_protocol::DecodeError;
use kproducer_protocol::records::{
    BatchParams, Compression, RecordBatch, RecordBatchBuilder, rewrite_producer_state,
};
use proptest::prelude::*;

/// Every codec this build includes (all of them with default features).
fn codecs() -> impl Iterator<Item = Compression> {
    Compression::ALL.into_iter().filter(|c| c.is_available())
}

type Header = (String, Option<Vec<u8>>);

#[derive(Debug, Clone)]
struct Row {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<Header>,
}

fn row() -> impl Strategy<Value = Row> {
    let bytes = || proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40));
    let header = ("[a-z\u{e9}\u{1F600}]{0,6}", bytes());
    (
        // Around a realistic epoch-ms base, some far away.
        prop_oneof![1_700_000_000_000i64..1_700_000_100_000, any::<i64>()],
        bytes(),
        bytes(),
        proptest::collection::vec(header, 0..4),
    )
        .prop_map(|(timestamp, key, value, headers)| Row {
            timestamp,
            key,
            value,
            headers,
        })
}

fn codec() -> impl Strategy<Value = Compression> {
    proptest::sample::select(codecs().collect::<Vec<_>>())
}

fn params() -> impl Strategy<Value = BatchParams> {
    (any::<i64>(), any::<i16>(), any::<i32>(), any::<bool>()).prop_map(
        |(producer_id, producer_epoch, base_sequence, transactional)| BatchParams {
            producer_id,
            producer_epoch,
            base_sequence,
            transactional,
        },
    )
}

fn build(codec: Compression, rows: &[Row], params: &BatchParams) -> Bytes {
    let mut b = RecordBatchBuilder::new(codec);
    for r in rows {
        let added = b.append(
            r.timestamp,
            r.key.as_deref(),
            r.value.as_deref(),
            &r.headers,
        );
        assert!(added > 0);
    }
    b.seal(params).unwrap()
}

/// Runs the whole reader over `bytes`; returns whether every step succeeded.
fn read_everything(bytes: Bytes) -> bool {
    let mut ok = true;
    for batch in RecordBatch::decode_all(bytes) {
        match batch {
            Ok(batch) => match batch.records_with_limit(1 << 20) {
                Ok(records) => ok &= records.filter(Result::is_err).count() == 0,
                Err(_) => ok = false,
            },
            Err(_) => ok = false,
        }
    }
    ok
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_batches_round_trip(
        codec in codec(),
        rows in proptest::collection::vec(row(), 0..20),
        params in params(),
    ) {
        let sealed = build(codec, &rows, &params);
        let mut buf = sealed.clone();
        let batch = RecordBatch::decode(&mut buf).unwrap();
        prop_assert!(buf.is_empty());
        let h = *batch.header();
        prop_assert_eq!(batch.raw(), &sealed);
        prop_assert_eq!(h.compression(), codec);
        prop_assert_eq!(h.is_transactional(), params.transactional);
        prop_assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence),
            (params.producer_id, params.producer_epoch, params.base_sequence));
        prop_assert_eq!(h.records_count as usize, rows.len());
        if let Some(first) = rows.first() {
            prop_assert_eq!(h.base_timestamp, first.timestamp);
            prop_assert_eq!(h.max_timestamp, rows.iter().map(|r| r.timestamp).max().unwrap());
        }
        let records: Vec<_> = batch.records().unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(records.len(), rows.len());
        for (r, want) in records.iter().zip(&rows) {
            prop_assert_eq!(r.timestamp(&h), want.timestamp);
            prop_assert_eq!(r.key.as_deref(), want.key.as_deref());
            prop_assert_eq!(r.value.as_deref(), want.value.as_deref());
            let headers: Vec<_> = r.headers.iter()
                .map(|(k, v)| (String::from_utf8(k.to_vec()).unwrap(), v.as_ref().map(|v| v.to_vec())))
                .collect();
            prop_assert_eq!(&headers, &want.headers);
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic(
        codec in codec(),
        rows in proptest::collection::vec(row(), 1..6),
    ) {
        let sealed = build(codec, &rows, &BatchParams::default());
        for cut in 0..sealed.len() {
            let mut prefix = sealed.slice(..cut);
            prop_assert!(RecordBatch::decode(&mut prefix).is_err(), "prefix of {} bytes", cut);
            prop_assert_eq!(prefix.len(), cut, "input untouched on error");
        }
    }

    #[test]
    fn flipped_bytes_in_the_crc_range_are_crc_errors(
        codec in codec(),
        rows in proptest::collection::vec(row(), 1..6),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let sealed = build(codec, &rows, &BatchParams::default());
        let mut bad = sealed.to_vec();
        let i = 21 + at.index(bad.len() - 21);
        bad[i] ^= flip;
        let result = RecordBatch::decode(&mut Bytes::from(bad));
        // A flip in the attributes can turn the codec id into an undefined
        // one, refused before the CRC; anything else fails the CRC.
        prop_assert!(
            matches!(result, Err(DecodeError::CrcMismatch { .. }) | Err(DecodeError::UnsupportedCompression(_))),
            "byte {} flipped: {:?}", i, result
        );
    }

    #[test]
    fn corrupt_data_under_a_valid_crc_never_panics(
        codec in codec(),
        rows in proptest::collection::vec(row(), 1..8),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        // Corrupt the header's counts and the (compressed) records, then
        // re-frame and recompute the CRC so the reader gets past the
        // checksum and into the record parser and the decompressors.
        let sealed = build(codec, &rows, &BatchParams::default());
        let mut bad = sealed.to_vec();
        for (at, byte) in &edits {
            let i = 23 + at.index(bad.len() - 23);
            if !(43..57).contains(&i) {
                bad[i] = *byte;
            }
        }
        if truncate {
            let len = 61 + cut.index(bad.len() - 61 + 1);
            bad.truncate(len);
            let batch_length = (len - 12) as i32;
            bad[8..12].copy_from_slice(&batch_length.to_be_bytes());
        }
        bad[21] = 0; // keep the codec id defined
        bad[22] = (bad[22] & !0x07) | codec.id();
        rewrite_producer_state(&mut bad, -1, -1, -1).unwrap();
        let _ = read_everything(Bytes::from(bad));
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_everything(Bytes::from(data.clone()));
        // Same bytes behind a plausible header, with a valid CRC.
        if data.len() >= 61 {
            let mut framed = data;
            let batch_length = (framed.len() - 12) as i32;
            framed[8..12].copy_from_slice(&batch_length.to_be_bytes());
            framed[16] = 2;
            framed[21] = 0;
            framed[22] %= 5;
            rewrite_producer_state(&mut framed, -1, -1, -1).unwrap();
            let _ = read_everything(Bytes::from(framed));
        }
    }
}
