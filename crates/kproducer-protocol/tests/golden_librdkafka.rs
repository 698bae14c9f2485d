//! Golden vectors from a real client: request frames librdkafka 2.16 sent
//! (through kcat 1.7.1) to `tools/capture-broker`, one directory per
//! compression codec under `tests/vectors/` (see its README for how they were
//! captured). Each frame is decoded with this crate's types, its known fields
//! are asserted, and re-encoding the decoded value must give back the
//! captured bytes exactly.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use kproducer_protocol::messages::ApiVersionsRequest;
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
