//! One module per API the broker serves; this file decodes a request body
//! into the right type and dispatches it.

pub(crate) mod api_versions;
mod fetch;
mod leader;
mod list_offsets;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::{
    ApiKey, DecodeError, EncodeError, ErrorCode, Message, RequestHeader, VersionRange,
    ensure_consumed,
    messages::{ApiVersionsRequest, FetchRequest, ListOffsetsRequest},
};

use crate::cluster::FakeCluster;
use crate::fault_plan::ErrorScope;
use crate::inspect::ProducedBatch;
use crate::topic_partition::{ConnectionId, TopicPartition};

/// The APIs this broker serves, each at every version the protocol crate
/// speaks.
pub(crate) const SERVED: &[ApiKey] = &[ApiKey::ApiVersions, ApiKey::Fetch, ApiKey::ListOffsets];

/// The versions the broker serves for `api`, if it serves it.
pub(crate) fn served_versions(api: ApiKey) -> Option<VersionRange> {
    SERVED.contains(&api).then(|| api.versions())
}

/// A decoded request body.
#[derive(Debug)]
pub(crate) enum Decoded {
    ApiVersions(ApiVersionsRequest),
    Fetch(FetchRequest),
    ListOffsets(ListOffsetsRequest),
}

/// Why a body could not be decoded.
#[derive(Debug)]
pub(crate) enum DecodeFailure {
    /// The API or version is not served.
    UnsupportedVersion,
    /// The bytes are not a valid body.
    Malformed(#[allow(dead_code)] DecodeError),
}

fn body<M: Message>(mut buf: Bytes, version: i16, what: &'static str) -> Result<M, DecodeFailure> {
    let m = M::decode(&mut buf, version).map_err(DecodeFailure::Malformed)?;
    ensure_consumed(&buf, what).map_err(DecodeFailure::Malformed)?;
    Ok(m)
}

/// Decodes the body of a request for `api` at `version`.
pub(crate) fn decode(api: ApiKey, version: i16, buf: Bytes) -> Result<Decoded, DecodeFailure> {
    if !served_versions(api).is_some_and(|r| r.contains(version)) {
        return Err(DecodeFailure::UnsupportedVersion);
    }
    match api {
        ApiKey::ApiVersions => Ok(Decoded::ApiVersions(body(buf, version, "ApiVersions")?)),
        ApiKey::Fetch => Ok(Decoded::Fetch(body(buf, version, "Fetch")?)),
        ApiKey::ListOffsets => Ok(Decoded::ListOffsets(body(buf, version, "ListOffsets")?)),
        _ => Err(DecodeFailure::UnsupportedVersion),
    }
}

impl Decoded {
    /// The topic-partitions the request names (for fault matching).
    pub(crate) fn partitions(&self) -> Vec<TopicPartition> {
        match self {
            Decoded::ApiVersions(_) => Vec::new(),
            Decoded::Fetch(r) => r
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| TopicPartition::new(t.topic.clone(), p.partition))
                })
                .collect(),
            Decoded::ListOffsets(r) => r
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| TopicPartition::new(t.name.clone(), p.partition_index))
                })
                .collect(),
        }
    }
}

/// The result of handling a request.
#[derive(Debug)]
pub(crate) struct Handled {
    /// The response frame, or `None` when the request expects no response.
    pub(crate) frame: Option<Result<BytesMut, EncodeError>>,
    /// For Produce: what happened to each batch.
    pub(crate) batches: Vec<ProducedBatch>,
    /// How long to wait before answering (a Fetch with nothing to return
    /// waits its `max_wait_ms`).
    pub(crate) linger: Duration,
    /// Close the connection instead of answering (Kafka's way of telling
    /// an acks=0 producer that a partition failed).
    pub(crate) close_connection: bool,
}

impl Handled {
    /// A response and nothing else.
    pub(crate) fn answer(frame: Result<BytesMut, EncodeError>) -> Self {
        Self {
            frame: Some(frame),
            batches: Vec::new(),
            linger: Duration::ZERO,
            close_connection: false,
        }
    }
}

/// Handles a decoded request.
pub(crate) fn execute(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: &RequestHeader,
    request: Decoded,
    errors: &InjectedErrors,
) -> Handled {
    match request {
        Decoded::ApiVersions(r) => api_versions::handle(header, &r, errors),
        Decoded::Fetch(r) => fetch::handle(cluster, conn, header, &r, errors),
        Decoded::ListOffsets(r) => list_offsets::handle(cluster, conn, header, &r, errors),
    }
}

/// Error codes a fault plan injected into one request.
#[derive(Debug, Default)]
pub(crate) struct InjectedErrors {
    entries: Vec<(ErrorCode, ErrorScope, Option<TopicPartition>)>,
}

impl InjectedErrors {
    pub(crate) fn push(
        &mut self,
        code: ErrorCode,
        scope: ErrorScope,
        partition: Option<TopicPartition>,
    ) {
        self.entries.push((code, scope, partition));
    }

    /// The code for an API with a single top-level error: the first
    /// injected, whatever its scope.
    pub(crate) fn top_level(&self) -> Option<ErrorCode> {
        self.entries.first().map(|e| e.0)
    }

    /// The code for one partition: the first rule that covers it.
    pub(crate) fn for_partition(&self, tp: &TopicPartition) -> Option<ErrorCode> {
        self.entries
            .iter()
            .find(|(_, scope, p)| {
                *scope == ErrorScope::Request || p.as_ref().is_none_or(|p| p == tp)
            })
            .map(|e| e.0)
    }
}
