//! One module per API the broker serves; this file decodes a request body
//! into the right type and dispatches it.

mod add_offsets_to_txn;
mod add_partitions_to_txn;
pub(crate) mod api_versions;
mod coordinator;
mod end_txn;
mod fetch;
mod init_producer_id;
mod leader;
mod list_offsets;
mod metadata;
mod produce;
mod txn_offset_commit;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kproducer_net::TopicPartition;
use kproducer_protocol::messages::AnyRequest;
use kproducer_protocol::{
    ApiKey, DecodeError, EncodeError, ErrorCode, RequestHeader, VersionRange,
};

use crate::cluster::FakeCluster;
use crate::fault_plan::ErrorScope;
use crate::inspect::ProducedBatch;

use crate::connection_id::ConnectionId;

/// The APIs this broker serves, each at every version the protocol crate
/// speaks.
pub(crate) const SERVED: &[ApiKey] = &[
    ApiKey::ApiVersions,
    ApiKey::Metadata,
    ApiKey::Produce,
    ApiKey::InitProducerId,
    ApiKey::FindCoordinator,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::TxnOffsetCommit,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    // Answered by the connection's SASL gate (`crate::sasl`), never by
    // `execute`.
    ApiKey::SaslHandshake,
    ApiKey::SaslAuthenticate,
];

/// The versions the broker serves for `api`, if it serves it.
pub(crate) fn served_versions(api: ApiKey) -> Option<VersionRange> {
    SERVED.contains(&api).then(|| api.versions())
}

/// Why a body could not be decoded.
#[derive(Debug)]
pub(crate) enum DecodeFailure {
    /// The API or version is not served.
    UnsupportedVersion,
    /// The bytes are not a valid body.
    Malformed(DecodeError),
}

/// Decodes the body of a request for `api` at `version`.
///
/// Bytes left after the body are ignored, as Kafka ignores them: librdkafka
/// 2.16 pads its "all topics" Metadata request (v9+) with zero bytes and
/// real brokers answer it.
pub(crate) fn decode(
    api: ApiKey,
    version: i16,
    mut buf: Bytes,
) -> Result<AnyRequest, DecodeFailure> {
    if !served_versions(api).is_some_and(|r| r.contains(version)) {
        return Err(DecodeFailure::UnsupportedVersion);
    }
    let request = AnyRequest::decode(api, version, &mut buf).map_err(DecodeFailure::Malformed)?;
    if !buf.is_empty() {
        tracing::trace!(api = %api, version, left = buf.len(), "ignoring trailing request bytes");
    }
    Ok(request)
}

/// The topic-partitions a request names (for fault matching). Metadata,
/// which names topics only, matches no partition rule.
pub(crate) fn partitions(request: &AnyRequest) -> Vec<TopicPartition> {
    let tp = |t: &str, p: i32| TopicPartition::new(t, p);
    match request {
        AnyRequest::Produce(r) => r
            .topic_data
            .iter()
            .flat_map(|t| t.partition_data.iter().map(|p| tp(&t.name, p.index)))
            .collect(),
        AnyRequest::Fetch(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| tp(&t.topic, p.partition)))
            .collect(),
        AnyRequest::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| tp(&t.name, p.partition_index)))
            .collect(),
        AnyRequest::AddPartitionsToTxn(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|&p| tp(&t.name, p)))
            .collect(),
        AnyRequest::TxnOffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| tp(&t.name, p.partition_index)))
            .collect(),
        _ => Vec::new(),
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
    request: AnyRequest,
    errors: &InjectedErrors,
) -> Handled {
    match request {
        AnyRequest::ApiVersions(r) => api_versions::handle(header, &r, errors),
        AnyRequest::Metadata(r) => metadata::handle(cluster, header, &r, errors),
        AnyRequest::Produce(r) => produce::handle(cluster, conn, header, &r, errors),
        AnyRequest::InitProducerId(r) => {
            init_producer_id::handle(cluster, conn, header, &r, errors)
        }
        AnyRequest::EndTxn(r) => end_txn::handle(cluster, conn, header, &r, errors),
        AnyRequest::FindCoordinator(r) => coordinator::handle(cluster, header, &r, errors),
        AnyRequest::AddPartitionsToTxn(r) => {
            add_partitions_to_txn::handle(cluster, conn, header, &r, errors)
        }
        AnyRequest::AddOffsetsToTxn(r) => {
            add_offsets_to_txn::handle(cluster, conn, header, &r, errors)
        }
        AnyRequest::TxnOffsetCommit(r) => {
            txn_offset_commit::handle(cluster, conn, header, &r, errors)
        }
        AnyRequest::Fetch(r) => fetch::handle(cluster, conn, header, &r, errors),
        AnyRequest::ListOffsets(r) => list_offsets::handle(cluster, conn, header, &r, errors),
        // `decode` lets only served APIs through; were one missed here, the
        // client sees the connection close, as for any unsupported request.
        _ => Handled {
            frame: None,
            batches: Vec::new(),
            linger: Duration::ZERO,
            close_connection: true,
        },
    }
}

/// Error codes a fault plan injected into one request.
#[derive(Debug, Default)]
pub(crate) struct InjectedErrors {
    entries: Vec<Injected>,
}

#[derive(Debug)]
struct Injected {
    code: ErrorCode,
    scope: ErrorScope,
    partition: Option<TopicPartition>,
    after_append: bool,
}

impl InjectedErrors {
    /// Adds an error; `after_append` errors let a Produce append first.
    pub(crate) fn push(
        &mut self,
        code: ErrorCode,
        scope: ErrorScope,
        partition: Option<TopicPartition>,
        after_append: bool,
    ) {
        self.entries.push(Injected {
            code,
            scope,
            partition,
            after_append,
        });
    }

    /// The code for an API with a single top-level error: the first
    /// injected, whatever its scope or timing.
    pub(crate) fn top_level(&self) -> Option<ErrorCode> {
        self.entries.first().map(|e| e.code)
    }

    fn covering(&self, tp: &TopicPartition, after_append: bool) -> Option<ErrorCode> {
        self.entries
            .iter()
            .find(|e| {
                e.after_append == after_append
                    && (e.scope == ErrorScope::Request
                        || e.partition.as_ref().is_none_or(|p| p == tp))
            })
            .map(|e| e.code)
    }

    /// The code that replaces handling one partition: the first rule that
    /// covers it. For APIs other than Produce, after-append errors count too.
    pub(crate) fn for_partition(&self, tp: &TopicPartition) -> Option<ErrorCode> {
        self.covering(tp, false).or_else(|| self.covering(tp, true))
    }

    /// Produce: the code that replaces handling a partition.
    pub(crate) fn before_append(&self, tp: &TopicPartition) -> Option<ErrorCode> {
        self.covering(tp, false)
    }

    /// Produce: the code answered after appending a partition's batch.
    pub(crate) fn after_append(&self, tp: &TopicPartition) -> Option<ErrorCode> {
        self.covering(tp, true)
    }
}
