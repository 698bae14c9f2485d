//! Golden vectors from a real client: request frames librdkafka 2.16 sent
//! (through kcat 1.7.1) to `tools/capture-broker`, one directory per
//! compression codec under `tests/vectors/` (see its README for how they were
//! captured). Each frame is decoded with this crate's types, its known fields
//! are asserted, and re-encoding the decoded value must give back the
//! captured bytes exactly.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::{
    ApiVersionsRequest, InitProducerIdRequest, MetadataRequest, ProduceRequest,
};
use kproducer_protocol::records::{Compression, Record, RecordBatch};
use kproducer_protocol::{ApiKey, Message, RequestHeader, ensure_consumed};

/// The codec directories, as librdkafka's `compression.codec` spells them.
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

/// The uncompressed capture made while the broker advertised only older,
/// non-flexible versions.
const CLASSIC: &str = "classic";

/// Every capture directory.
const CAPTURES: [&str; 6] = ["none", "gzip", "snappy", "lz4", "zstd", CLASSIC];

/// librdkafka's default `client.id`.
const CLIENT_ID: &str = "rdkafka";

/// The topic the captures produced to (2 partitions).
const TOPIC: &str = "golden";

/// The producer id and epoch the capture broker granted.
const PRODUCER_ID: i64 = 1000;
const PRODUCER_EPOCH: i16 = 0;

/// The records `capture-all.sh` has kcat produce, as (key, value); kcat sends
/// the line without a `:` with a null key, and `golf:` with an empty value.
const RECORDS: [(Option<&str>, &str); 8] = [
    (Some("alpha"), "first value, first value, first value"),
    (Some("bravo"), "second value, second value, second value"),
    (Some("charlie"), "third value, third value, third value"),
    (Some("delta"), "fourth value, fourth value, fourth value"),
    (Some("echo"), "fifth value, fifth value, fifth value"),
    (Some("foxtrot"), "sixth value, sixth value, sixth value"),
    (Some("golf"), ""),
    (None, "a record without a key"),
];

/// The headers on every record, in order: `dup` twice on purpose.
const HEADERS: [(&str, &str); 3] = [("trace", "golden-1"), ("dup", "first"), ("dup", "second")];

/// Where the fields of a v2 record batch header sit.
mod at {
    pub(crate) const BATCH_LENGTH: usize = 8;
    pub(crate) const MAGIC: usize = 16;
    pub(crate) const CRC: usize = 17;
    pub(crate) const ATTRIBUTES: usize = 21;
    pub(crate) const PRODUCER_ID: usize = 43;
    pub(crate) const PRODUCER_EPOCH: usize = 51;
    pub(crate) const BASE_SEQUENCE: usize = 53;
    pub(crate) const RECORDS: usize = 61;
}

/// One captured request frame.
#[derive(Debug)]
struct Frame {
    /// `<codec>/<file>`, for messages.
    name: String,
    /// The whole frame as captured (header + body).
    raw: Bytes,
    /// The decoded request header.
    header: RequestHeader,
    /// The body, after the header.
    body: Bytes,
}

impl Frame {
    fn api(&self) -> ApiKey {
        ApiKey::from_i16(self.header.api_key)
            .unwrap_or_else(|| panic!("{}: unknown api key {}", self.name, self.header.api_key))
    }

    /// Decodes the body as `M`, checks that it consumed everything, and that
    /// re-encoding header and body reproduces the captured bytes exactly.
    fn decode<M: Message + std::fmt::Debug>(&self) -> M {
        let version = self.header.api_version;
        let mut body = self.body.clone();
        let msg = M::decode(&mut body, version)
            .unwrap_or_else(|e| panic!("{}: decode v{version}: {e}", self.name));
        ensure_consumed(&body, "golden body")
            .unwrap_or_else(|e| panic!("{}: after decoding {msg:?}: {e}", self.name));
        let mut again = BytesMut::new();
        self.header
            .encode(&mut again)
            .unwrap_or_else(|e| panic!("{}: re-encode header: {e}", self.name));
        msg.encode(&mut again, version)
            .unwrap_or_else(|e| panic!("{}: re-encode body: {e}", self.name));
        assert_eq!(
            &again[..],
            &self.raw[..],
            "{}: re-encoding differs from librdkafka's bytes",
            self.name
        );
        msg
    }
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Reads a codec's frames in capture order, checking each against its
/// manifest line (api key, version, correlation id, size).
fn frames(codec: &str) -> Vec<Frame> {
    let dir = vectors_dir().join(codec);
    let manifest = fs::read_to_string(dir.join("manifest.txt"))
        .unwrap_or_else(|e| panic!("{codec}/manifest.txt: {e}"));
    let mut out = Vec::new();
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split_whitespace();
        let file = parts.next().expect("manifest line has a file name");
        let field = |key: &str| -> i64 {
            line.split_whitespace()
                .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("{codec}/manifest.txt: no {key} in {line:?}"))
                .parse()
                .unwrap_or_else(|e| panic!("{codec}/manifest.txt: {key} in {line:?}: {e}"))
        };
        let name = format!("{codec}/{file}");
        let raw = Bytes::from(fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{name}: {e}")));
        assert_eq!(raw.len() as i64, field("size"), "{name}: size");
        let mut body = raw.clone();
        let header = RequestHeader::decode(&mut body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(i64::from(header.api_key), field("api_key"), "{name}");
        assert_eq!(i64::from(header.api_version), field("version"), "{name}");
        assert_eq!(
            i64::from(header.correlation_id),
            field("correlation_id"),
            "{name}"
        );
        out.push(Frame {
            name,
            raw,
            header,
            body,
        });
    }
    assert!(!out.is_empty(), "{codec}: no frames captured");
    out
}

fn all_frames() -> Vec<Frame> {
    CAPTURES.iter().flat_map(|c| frames(c)).collect()
}

fn frames_of(api: ApiKey) -> Vec<Frame> {
    let found: Vec<Frame> = all_frames()
        .into_iter()
        .filter(|f| f.api() == api)
        .collect();
    assert!(!found.is_empty(), "no {api} frames in any codec");
    found
}

#[test]
fn every_capture_holds_the_expected_requests_at_the_expected_versions() {
    let versions = |capture: &str| {
        let mut seen: Vec<(ApiKey, i16)> = frames(capture)
            .iter()
            .map(|f| (f.api(), f.header.api_version))
            .collect();
        seen.sort();
        seen.dedup();
        seen
    };
    for codec in CODECS {
        // What librdkafka 2.16 picks when offered exactly this crate's ranges.
        assert_eq!(
            versions(codec),
            vec![
                (ApiKey::Produce, 10),
                (ApiKey::Metadata, 12),
                (ApiKey::ApiVersions, 3),
                (ApiKey::InitProducerId, 4),
            ],
            "{codec}"
        );
    }
    // Offered ApiVersions 0-2, librdkafka's v3 is refused and it retries
    // with v0 (not 2); the rest follow the capped ranges.
    assert_eq!(
        versions(CLASSIC),
        vec![
            (ApiKey::Produce, 8),
            (ApiKey::Metadata, 8),
            (ApiKey::ApiVersions, 0),
            (ApiKey::ApiVersions, 3),
            (ApiKey::InitProducerId, 1),
        ]
    );
}

#[test]
fn headers_carry_librdkafkas_client_id_and_no_tagged_fields() {
    for f in all_frames() {
        assert_eq!(f.header.client_id.as_deref(), Some(CLIENT_ID), "{}", f.name);
        assert!(f.header.tagged_fields.is_empty(), "{}", f.name);
        let api = f.api();
        let expected = if api.is_flexible(f.header.api_version) {
            2
        } else {
            1
        };
        assert_eq!(f.header.header_version(), expected, "{}", f.name);
        let classic = f.name.starts_with(CLASSIC);
        let ours_refused = api == ApiKey::ApiVersions && f.header.api_version == 3;
        assert_eq!(
            expected == 1,
            classic && !ours_refused,
            "{}: flexible everywhere except the classic capture",
            f.name
        );
    }
}

#[test]
fn api_versions_request_names_librdkafka_2_16() {
    for f in frames_of(ApiKey::ApiVersions) {
        let req: ApiVersionsRequest = f.decode();
        if f.header.api_version >= 3 {
            assert_eq!(req.client_software_name, "librdkafka", "{}", f.name);
            assert_eq!(req.client_software_version, "2.16.0", "{}", f.name);
        } else {
            // v0-v2 bodies are empty.
            assert!(f.body.is_empty(), "{}", f.name);
        }
        assert!(req.tagged_fields.is_empty(), "{}", f.name);
    }
}

#[test]
fn metadata_request_asks_for_the_topic_by_name_and_allows_auto_creation() {
    for f in frames_of(ApiKey::Metadata) {
        let req: MetadataRequest = f.decode();
        let topics = req
            .topics
            .as_ref()
            .unwrap_or_else(|| panic!("{}: asked for all topics", f.name));
        assert_eq!(topics.len(), 1, "{}", f.name);
        assert_eq!(topics[0].name.as_deref(), Some(TOPIC), "{}", f.name);
        assert_eq!(topics[0].topic_id, [0; 16], "{}: no topic id", f.name);
        assert!(req.allow_auto_topic_creation, "{}", f.name);
        assert!(!req.include_topic_authorized_operations, "{}", f.name);
        assert!(!req.include_cluster_authorized_operations, "{}", f.name);
    }
}

#[test]
fn init_producer_id_request_is_idempotent_not_transactional() {
    for f in frames_of(ApiKey::InitProducerId) {
        let req: InitProducerIdRequest = f.decode();
        assert_eq!(req.transactional_id, None, "{}", f.name);
        assert_eq!(req.transaction_timeout_ms, -1, "{}", f.name);
        // -1 on the wire from v3, and the default below it.
        assert_eq!(req.producer_id, -1, "{}: no id to bump yet", f.name);
        assert_eq!(req.producer_epoch, -1, "{}", f.name);
    }
}

/// One partition's record batch from a captured Produce request.
#[derive(Debug)]
struct ProducedBatch {
    /// `<capture>/<file> partition <n>`, for messages.
    name: String,
    /// The RECORDS field, exactly as sent.
    records: Bytes,
}

/// Decodes a capture's Produce requests, checks their request-level fields,
/// and returns one entry per partition. librdkafka sends one request per
/// partition, and each partition exactly once here.
fn produced_batches(capture: &str) -> Vec<ProducedBatch> {
    let mut out = Vec::new();
    let mut partitions = Vec::new();
    for f in frames(capture)
        .into_iter()
        .filter(|f| f.api() == ApiKey::Produce)
    {
        let req: ProduceRequest = f.decode();
        let name = &f.name;
        assert_eq!(req.transactional_id, None, "{name}");
        assert_eq!(req.acks, -1, "{name}: idempotence forces acks=all");
        assert_eq!(req.timeout_ms, 30_000, "{name}: request.timeout.ms default");
        assert_eq!(req.topic_data.len(), 1, "{name}");
        let topic = &req.topic_data[0];
        assert_eq!(topic.name, TOPIC, "{name}");
        assert_eq!(
            topic.partition_data.len(),
            1,
            "{name}: one partition per request"
        );
        for p in &topic.partition_data {
            assert!(
                !partitions.contains(&p.index),
                "{name}: partition {} twice",
                p.index
            );
            partitions.push(p.index);
            out.push(ProducedBatch {
                name: format!("{name} partition {}", p.index),
                records: p
                    .records
                    .clone()
                    .unwrap_or_else(|| panic!("{name}: null records")),
            });
        }
    }
    partitions.sort();
    assert_eq!(
        partitions,
        vec![0, 1],
        "{capture}: both partitions got records"
    );
    out
}

/// The compression id (attribute bits 0-2) each capture used.
fn compression_id(capture: &str) -> i16 {
    match capture {
        "none" | CLASSIC => 0,
        "gzip" => 1,
        "snappy" => 2,
        "lz4" => 3,
        "zstd" => 4,
        other => panic!("unknown capture {other}"),
    }
}

#[test]
fn produce_batches_are_idempotent_v2_batches_with_a_valid_crc_read_by_hand() {
    // Read without this crate's record reader, so that a reader that skipped
    // a check could not make this pass.
    let i16_at = |b: &[u8], at: usize| i16::from_be_bytes([b[at], b[at + 1]]);
    let i32_at = |b: &[u8], at: usize| i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    for capture in CAPTURES {
        for pb in produced_batches(capture) {
            let (b, name) = (&pb.records[..], &pb.name);
            assert!(b.len() > at::RECORDS, "{name}: shorter than a batch header");
            assert_eq!(
                i32_at(b, at::BATCH_LENGTH) as usize,
                b.len() - 12,
                "{name}: one batch, length"
            );
            assert_eq!(b[at::MAGIC], 2, "{name}: magic");
            let crc =
                u32::from_be_bytes([b[at::CRC], b[at::CRC + 1], b[at::CRC + 2], b[at::CRC + 3]]);
            assert_eq!(crc32c::crc32c(&b[at::ATTRIBUTES..]), crc, "{name}: CRC-32C");
            let attributes = i16_at(b, at::ATTRIBUTES);
            assert_eq!(attributes & 0x7, compression_id(capture), "{name}: codec");
            assert_eq!(
                attributes & !0x7,
                0,
                "{name}: not transactional, not control"
            );
            let pid =
                i64::from_be_bytes(b[at::PRODUCER_ID..at::PRODUCER_ID + 8].try_into().unwrap());
            assert_eq!(pid, PRODUCER_ID, "{name}");
            assert_eq!(i16_at(b, at::PRODUCER_EPOCH), PRODUCER_EPOCH, "{name}");
            assert_eq!(
                i32_at(b, at::BASE_SEQUENCE),
                0,
                "{name}: first batch of the partition"
            );
        }
    }
}

#[test]
fn compressed_sections_use_the_framing_librdkafka_chose() {
    // The first bytes after the batch header: a gzip member, an LZ4 *frame*,
    // a zstd frame, and for snappy a raw block (a varint length), not Java's
    // xerial framing. Readers must accept all of these.
    let xerial: &[u8] = b"\x82SNAPPY\0";
    for capture in ["gzip", "snappy", "lz4", "zstd"] {
        for pb in produced_batches(capture) {
            let section = &pb.records[at::RECORDS..];
            let framed = match capture {
                "gzip" => section.starts_with(&[0x1f, 0x8b]),
                "lz4" => section.starts_with(&[0x04, 0x22, 0x4d, 0x18]),
                "zstd" => section.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]),
                _ => !section.starts_with(xerial),
            };
            assert!(framed, "{}: {capture} framing", pb.name);
        }
    }
}

/// A record's key and value, owned, for comparing sets.
type KeyValue = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The codec a capture used, as this crate names it.
fn capture_compression(capture: &str) -> Compression {
    match capture {
        CLASSIC => Compression::None,
        codec => codec.parse().unwrap_or_else(|e| panic!("{codec}: {e}")),
    }
}

/// Reads every batch of a capture with [`RecordBatch`], checks its header
/// and records, and returns all (key, value) pairs, sorted.
fn decoded_records(capture: &str) -> Vec<KeyValue> {
    let expected_compression = capture_compression(capture);
    let expected_headers: Vec<(&[u8], Option<&[u8]>)> = HEADERS
        .iter()
        .map(|(k, v)| (k.as_bytes(), Some(v.as_bytes())))
        .collect();
    let mut all = Vec::new();
    for pb in produced_batches(capture) {
        let name = &pb.name;
        let mut blob = pb.records.clone();
        let batch = RecordBatch::decode(&mut blob).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(blob.is_empty(), "{name}: one batch");
        assert_eq!(
            batch.raw(),
            &pb.records,
            "{name}: raw() is the batch as sent"
        );
        let h = batch.header();
        assert_eq!(h.magic, 2, "{name}");
        assert_eq!(h.base_offset, 0, "{name}: producers send base offset 0");
        // librdkafka writes 0 here where Java's producer writes -1; a broker
        // overwrites it, so readers must accept both.
        assert_eq!(h.partition_leader_epoch, 0, "{name}");
        assert_eq!(h.producer_id, PRODUCER_ID, "{name}");
        assert_eq!(h.producer_epoch, PRODUCER_EPOCH, "{name}");
        assert_eq!(h.base_sequence, 0, "{name}");
        assert_eq!(h.compression(), expected_compression, "{name}");
        assert!(!h.is_transactional() && !h.is_control(), "{name}");
        assert!(!h.is_log_append_time(), "{name}");
        assert_eq!(h.records_count, h.last_offset_delta + 1, "{name}");
        assert_eq!(h.last_sequence(), h.last_offset_delta, "{name}");
        let records: Vec<Record> = batch
            .records()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(records.len(), h.records_count as usize, "{name}");
        let mut max_timestamp = i64::MIN;
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.offset_delta as usize, i, "{name}: record {i}");
            assert_eq!(r.offset(h), i as i64, "{name}: record {i}");
            assert_eq!(r.attributes, 0, "{name}: record {i}");
            let ts = r.timestamp(h);
            assert!(ts >= h.base_timestamp, "{name}: record {i} before the base");
            max_timestamp = max_timestamp.max(ts);
            let headers: Vec<(&[u8], Option<&[u8]>)> = r
                .headers
                .iter()
                .map(|(k, v)| (&k[..], v.as_deref()))
                .collect();
            assert_eq!(headers, expected_headers, "{name}: record {i} headers");
            all.push((
                r.key.as_deref().map(<[u8]>::to_vec),
                r.value.as_deref().map(<[u8]>::to_vec),
            ));
        }
        assert_eq!(h.max_timestamp, max_timestamp, "{name}: max timestamp");
    }
    all.sort();
    all
}

#[test]
fn every_capture_decodes_to_the_records_kcat_sent() {
    let mut expected: Vec<KeyValue> = RECORDS
        .iter()
        .map(|(k, v)| {
            (
                k.map(|k| k.as_bytes().to_vec()),
                Some(v.as_bytes().to_vec()),
            )
        })
        .collect();
    expected.sort();
    let mut checked = 0;
    for capture in CAPTURES {
        let compression = capture_compression(capture);
        if !compression.is_available() {
            eprintln!(
                "skipping the {capture} capture: the {compression} feature is off in this build"
            );
            continue;
        }
        assert_eq!(decoded_records(capture), expected, "{capture}");
        checked += 1;
    }
    assert!(
        checked >= 2,
        "at least the uncompressed captures are always checked"
    );
}
