//! Hostile frames never panic a decoder, never make it allocate more than the
//! input justifies, and whatever does decode re-encodes to a value that
//! decodes to itself.
//!
//! Frames start from valid encodings (a rich sample of every API at every
//! supported version, and the librdkafka captures) and are then truncated,
//! bit-flipped, overwritten, spliced and given headers for unknown API keys
//! and out-of-range versions. Each frame goes down the path a broker takes
//! (`RequestHeader::decode`, then `AnyRequest::decode` for the key and version
//! the header names) and the path a client takes (`ResponseHeader::decode` at
//! both header versions, then `AnyResponse::decode`), and its body is also
//! decoded as every API at every version from below the supported range to
//! above it.
//!
//! Deterministic: the proptest seed is fixed ([`SEED`]); a failure prints the
//! shrunk frame. For a longer or different run, `PROPTEST_CASES` sets the
//! number of cases and `PROPTEST_RNG_SEED` (a decimal `u64`) the seed.

mod peak_allocation;
mod samples;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::TaggedFields;
use kproducer_protocol::messages::{
    AnyRequest, AnyResponse, ApiVersionsRequest, FetchRequest, ForgottenTopic, MetadataRequest,
    MetadataRequestTopic, ProduceRequest, TopicProduceData,
};
use kproducer_protocol::{ApiKey, RequestHeader, ResponseHeader};
use peak_allocation::peak_allocation;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};

/// The fixed proptest seed: a failure reproduces on every machine.
const SEED: u64 = 0x6b70_726f_6475_6365;

/// Cases per property. Each case decodes one frame about 350 ways.
const CASES: u32 = 768;

/// Allocation allowed per input byte. A decoded element can be far larger in
/// memory than its smallest encoding (an empty topic is 2 bytes on the wire
/// and a `Vec`, a `String` and tagged fields in memory), and a `Vec` grows by
/// doubling, so the bound is a constant factor, not 1.
const ALLOC_PER_INPUT_BYTE: usize = 64;

/// Allocation allowed whatever the input size (first `Vec` capacities).
const ALLOC_SLACK: usize = 16 * 1024;

// --- the decode paths ------------------------------------------------------

/// Versions to try for `key`: the supported range, one either side, and the
/// extremes.
fn versions_around(key: ApiKey) -> Vec<i16> {
    let r = key.versions();
    let mut v: Vec<i16> = (r.min.saturating_sub(1)..=r.max.saturating_add(1)).collect();
    v.extend([i16::MIN, -1, i16::MAX]);
    v
}

/// Decodes `body` as a request of `key` at `version`; whatever decodes must
/// re-encode at that version and decode to itself.
fn request_body(key: ApiKey, version: i16, body: &Bytes) -> Result<(), TestCaseError> {
    let mut buf = body.clone();
    let Ok(req) = AnyRequest::decode(key, version, &mut buf) else {
        return Ok(());
    };
    prop_assert!(
        key.versions().contains(version),
        "{key} v{version} decoded outside the supported range"
    );
    prop_assert_eq!(req.api_key(), key);
    let mut out = BytesMut::new();
    req.encode(&mut out, version)
        .map_err(|e| TestCaseError::fail(format!("{key} v{version}: re-encode: {e}")))?;
    let back = AnyRequest::decode(key, version, &mut out.freeze())
        .map_err(|e| TestCaseError::fail(format!("{key} v{version}: decode again: {e}")))?;
    prop_assert_eq!(back, req, "{} v{}", key, version);
    Ok(())
}

/// As [`request_body`], for responses.
fn response_body(key: ApiKey, version: i16, body: &Bytes) -> Result<(), TestCaseError> {
    let mut buf = body.clone();
    let Ok(resp) = AnyResponse::decode(key, version, &mut buf) else {
        return Ok(());
    };
    prop_assert!(
        key.versions().contains(version),
        "{key} v{version} decoded outside the supported range"
    );
    prop_assert_eq!(resp.api_key(), key);
    let mut out = BytesMut::new();
    resp.encode(&mut out, version)
        .map_err(|e| TestCaseError::fail(format!("{key} v{version}: re-encode: {e}")))?;
    let back = AnyResponse::decode(key, version, &mut out.freeze())
        .map_err(|e| TestCaseError::fail(format!("{key} v{version}: decode again: {e}")))?;
    prop_assert_eq!(back, resp, "{} v{}", key, version);
    Ok(())
}

/// The broker's path: header, then the body its key and version name.
fn as_request_frame(frame: &Bytes) -> Result<(), TestCaseError> {
    let mut buf = frame.clone();
    let Ok(header) = RequestHeader::decode(&mut buf) else {
        return Ok(());
    };
    if let Some(key) = ApiKey::from_i16(header.api_key) {
        request_body(key, header.api_version, &buf)?;
    }
    Ok(())
}

/// The client's path, for a response it expected from `key` at `version`.
fn as_response_frame(frame: &Bytes, key: ApiKey, version: i16) -> Result<(), TestCaseError> {
    for header_version in [0, 1, key.response_header_version(version)] {
        let mut buf = frame.clone();
        if ResponseHeader::decode(&mut buf, header_version).is_ok() {
            response_body(key, version, &buf)?;
        }
    }
    let _ = ResponseHeader::peek_correlation_id(frame);
    Ok(())
}

/// Every decode path over one frame.
fn every_path(frame: &Bytes, key: ApiKey, version: i16) -> Result<(), TestCaseError> {
    as_request_frame(frame)?;
    as_response_frame(frame, key, version)?;
    for &k in ApiKey::ALL {
        for v in versions_around(k) {
            request_body(k, v, frame)?;
            response_body(k, v, frame)?;
        }
    }
    Ok(())
}

// --- hostile frames --------------------------------------------------------

/// One way to damage a frame. Positions are fractions of the length so that
/// they stay meaningful as proptest shrinks.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(f64),
    FlipBit(f64, u8),
    SetByte(f64, u8),
    /// Writes a large or negative length (`0xff..`, `0x7f..`) over four bytes.
    HugeLength(f64, bool),
    Insert(f64, Vec<u8>),
    Remove(f64, usize),
    Append(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    let at = 0.0..1.0f64;
    prop_oneof![
        at.clone().prop_map(Damage::Truncate),
        (at.clone(), 0u8..8).prop_map(|(p, b)| Damage::FlipBit(p, b)),
        (at.clone(), any::<u8>()).prop_map(|(p, b)| Damage::SetByte(p, b)),
        (at.clone(), any::<bool>()).prop_map(|(p, neg)| Damage::HugeLength(p, neg)),
        (at.clone(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, b)| Damage::Insert(p, b)),
        (at, 1usize..8).prop_map(|(p, n)| Damage::Remove(p, n)),
        proptest::collection::vec(any::<u8>(), 1..16).prop_map(Damage::Append),
    ]
}

fn index(len: usize, at: f64) -> usize {
    // `at` is in [0, 1), so the product is below `len`; the `min` guards the
    // rounding at the top end.
    ((len as f64 * at) as usize).min(len.saturating_sub(1))
}

fn apply(frame: &mut Vec<u8>, d: &Damage) {
    let len = frame.len();
    match d {
        Damage::Truncate(at) => frame.truncate(index(len, *at)),
        Damage::FlipBit(at, bit) if len > 0 => frame[index(len, *at)] ^= 1 << bit,
        Damage::SetByte(at, b) if len > 0 => frame[index(len, *at)] = *b,
        Damage::HugeLength(at, negative) if len > 0 => {
            let i = index(len, *at);
            let pattern = if *negative {
                [0xff; 4]
            } else {
                [0x7f, 0xff, 0xff, 0xff]
            };
            for (dst, src) in frame[i..].iter_mut().zip(pattern) {
                *dst = src;
            }
        }
        Damage::Insert(at, bytes) => {
            let i = if len == 0 { 0 } else { index(len, *at) };
            frame.splice(i..i, bytes.iter().copied());
        }
        Damage::Remove(at, n) if len > 0 => {
            let i = index(len, *at);
            frame.drain(i..(i + n).min(len));
        }
        Damage::Append(bytes) => frame.extend_from_slice(bytes),
        _ => {}
    }
}

/// A header for any key (known or not) at any version, in front of `body`.
fn request_header() -> impl Strategy<Value = RequestHeader> {
    let key = prop_oneof![
        proptest::sample::select(ApiKey::ALL.iter().map(|k| k.as_i16()).collect::<Vec<_>>()),
        Just(-1i16),
        Just(99i16),
        any::<i16>(),
    ];
    let version = prop_oneof![-2i16..16, any::<i16>()];
    (
        key,
        version,
        any::<i32>(),
        proptest::option::of("[a-z]{0,8}"),
    )
        .prop_map(
            |(api_key, api_version, correlation_id, client_id)| RequestHeader {
                api_key,
                api_version,
                correlation_id,
                client_id,
                tagged_fields: Default::default(),
            },
        )
}

/// A valid frame, or body, to start from, with the API and version it is for.
fn start() -> impl Strategy<Value = (ApiKey, i16, Vec<u8>)> {
    let corpus = samples::corpus();
    let with_header = (
        proptest::sample::select(corpus.clone()),
        request_header(),
        any::<bool>(),
    )
        .prop_map(|((key, version, body), mut header, keep_key)| {
            if keep_key {
                header.api_key = key.as_i16();
                header.api_version = version;
            }
            let mut frame = BytesMut::new();
            header.encode(&mut frame).expect("a header always encodes");
            frame.extend_from_slice(&body);
            (key, version, frame.to_vec())
        });
    prop_oneof![
        proptest::sample::select(corpus),
        with_header,
        proptest::sample::select(samples::librdkafka_frames()),
    ]
}

fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(CASES),
        rng_seed: RngSeed::Fixed(
            std::env::var("PROPTEST_RNG_SEED")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(SEED),
        ),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn damaged_frames_never_panic_and_what_decodes_reencodes(
        (key, version, mut frame) in start(),
        damages in proptest::collection::vec(damage(), 0..5),
    ) {
        for d in &damages {
            apply(&mut frame, d);
        }
        every_path(&Bytes::from(frame), key, version)?;
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        every_path(&Bytes::from(data), ApiKey::Produce, 9)?;
    }

    #[test]
    fn allocation_is_bounded_by_the_input(
        (key, version, mut frame) in start(),
        damages in proptest::collection::vec(damage(), 0..5),
    ) {
        for d in &damages {
            apply(&mut frame, d);
        }
        let frame = Bytes::from(frame);
        let limit = frame.len() * ALLOC_PER_INPUT_BYTE + ALLOC_SLACK;
        for &k in ApiKey::ALL {
            for v in versions_around(k) {
                let peak = peak_allocation(|| {
                    let _ = AnyRequest::decode(k, v, &mut frame.clone());
                });
                prop_assert!(peak <= limit, "{} v{} request: {} bytes from {}", k, v, peak, frame.len());
                let peak = peak_allocation(|| {
                    let _ = AnyResponse::decode(k, v, &mut frame.clone());
                });
                prop_assert!(peak <= limit, "{} v{} response: {} bytes from {}", k, v, peak, frame.len());
            }
        }
        let _ = (key, version);
    }
}

/// Every sample decodes at the version it was encoded for: the corpus the
/// damage starts from is valid, so the properties above reach deep fields.
#[test]
fn the_corpus_is_valid() {
    let corpus = samples::corpus();
    for &key in ApiKey::ALL {
        for v in key.versions().min..=key.versions().max {
            assert!(
                corpus.iter().any(|(k, ver, _)| *k == key && *ver == v),
                "no sample for {key} v{v}"
            );
        }
    }
    for (key, version, body) in corpus {
        let mut buf = Bytes::from(body);
        let req = AnyRequest::decode(key, version, &mut buf.clone());
        let resp = AnyResponse::decode(key, version, &mut buf);
        assert!(
            req.is_ok() || resp.is_ok(),
            "{key} v{version}: sample decodes as neither request nor response"
        );
    }
}

/// The allocator really counts: a 1 MiB vector shows up.
#[test]
fn the_allocation_counter_counts() {
    let peak = peak_allocation(|| {
        let v = vec![0u8; 1 << 20];
        std::hint::black_box(&v);
    });
    assert!(peak >= 1 << 20, "{peak}");
}
/// The shapes that cost the most memory per wire byte (many empty structs,
/// many empty tagged fields) stay within the bound; prints the ratios.
#[test]
fn the_costliest_shapes_stay_within_the_bound() {
    const N: usize = 10_000;
    let tags: TaggedFields = (0..N as u32).map(|t| (t, Bytes::new())).collect();
    let cases: Vec<(&str, ApiKey, i16, AnyRequest)> = vec![
        (
            "empty produce topics",
            ApiKey::Produce,
            9,
            AnyRequest::Produce(ProduceRequest {
                topic_data: vec![TopicProduceData::default(); N],
                ..Default::default()
            }),
        ),
        (
            "empty forgotten topics",
            ApiKey::Fetch,
            12,
            AnyRequest::Fetch(FetchRequest {
                forgotten_topics_data: vec![ForgottenTopic::default(); N],
                ..Default::default()
            }),
        ),
        (
            "empty metadata topics",
            ApiKey::Metadata,
            12,
            AnyRequest::Metadata(MetadataRequest {
                topics: Some(vec![MetadataRequestTopic::named(""); N]),
                ..Default::default()
            }),
        ),
        (
            "empty tagged fields",
            ApiKey::ApiVersions,
            3,
            AnyRequest::ApiVersions(ApiVersionsRequest {
                tagged_fields: tags,
                ..Default::default()
            }),
        ),
    ];
    for (what, key, version, req) in cases {
        let mut buf = BytesMut::new();
        req.encode(&mut buf, version).expect("encodes");
        let frame = buf.freeze();
        let peak = peak_allocation(|| {
            let back = AnyRequest::decode(key, version, &mut frame.clone()).expect("decodes");
            std::hint::black_box(&back);
        });
        let ratio = peak as f64 / frame.len() as f64;
        println!(
            "{what}: {} wire bytes, peak {peak} bytes allocated ({ratio:.1}x)",
            frame.len()
        );
        assert!(
            peak <= frame.len() * ALLOC_PER_INPUT_BYTE + ALLOC_SLACK,
            "{what}: {peak} bytes from {}",
            frame.len()
        );
    }
}
