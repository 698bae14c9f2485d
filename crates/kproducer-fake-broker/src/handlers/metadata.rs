//! Metadata (3): live brokers, the controller, and each requested topic's
//! partitions with their leaders.
//!
//! - Only brokers that are up are listed; a partition whose leader is down
//!   is reported with 5 `LEADER_NOT_AVAILABLE` and leader -1 (the fake
//!   cluster elects no new leader by itself: tests move leaders).
//! - An unknown topic is 3 `UNKNOWN_TOPIC_OR_PARTITION`, or is created when
//!   the cluster auto-creates topics and the request allows it; an invalid
//!   name is 17 `INVALID_TOPIC_EXCEPTION`; an unknown topic id is 100
//!   `UNKNOWN_TOPIC_ID`.
//! - An injected error sets every listed topic's error code.

use kproducer_protocol::messages::{
    MetadataRequest, MetadataResponse, MetadataResponseBroker, MetadataResponsePartition,
    MetadataResponseTopic,
};
use kproducer_protocol::{ApiKey, ErrorCode, RequestHeader};

use super::{Handled, InjectedErrors};
use crate::cluster::FakeCluster;
use crate::cluster_state::{ClusterState, TopicState, is_valid_topic_name};
use crate::server::response_frame;

fn describe(state: &ClusterState, name: &str, topic: &TopicState) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .zip(0..)
        .map(|(p, index)| {
            let leader_up = state.brokers.get(&p.leader).is_some_and(|b| b.up);
            MetadataResponsePartition {
                error_code: if leader_up {
                    0
                } else {
                    ErrorCode::LEADER_NOT_AVAILABLE.as_i16()
                },
                partition_index: index,
                leader_id: if leader_up { p.leader } else { -1 },
                leader_epoch: p.leader_epoch,
                replica_nodes: vec![p.leader],
                isr_nodes: if leader_up {
                    vec![p.leader]
                } else {
                    Vec::new()
                },
                offline_replicas: if leader_up {
                    Vec::new()
                } else {
                    vec![p.leader]
                },
                tagged_fields: Default::default(),
            }
        })
        .collect();
    MetadataResponseTopic {
        name: Some(name.to_owned()),
        topic_id: topic.id,
        partitions,
        ..Default::default()
    }
}

fn error_topic(name: Option<String>, topic_id: [u8; 16], code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.as_i16(),
        name,
        topic_id,
        ..Default::default()
    }
}

pub(crate) fn handle(
    cluster: &FakeCluster,
    header: &RequestHeader,
    request: &MetadataRequest,
    errors: &InjectedErrors,
) -> Handled {
    let version = header.api_version;
    let may_create = version < 4 || request.allow_auto_topic_creation;
    let mut state = cluster.lock();
    let topics: Vec<MetadataResponseTopic> = match &request.topics {
        None => state
            .topics
            .iter()
            .map(|(name, t)| describe(&state, name, t))
            .collect(),
        Some(asked) => asked
            .iter()
            .map(|t| {
                let name = match &t.name {
                    Some(n) => n.clone(),
                    None => match state.topics.iter().find(|(_, s)| s.id == t.topic_id) {
                        Some((n, _)) => n.clone(),
                        None => return error_topic(None, t.topic_id, ErrorCode::UNKNOWN_TOPIC_ID),
                    },
                };
                if !is_valid_topic_name(&name) {
                    return error_topic(Some(name), [0; 16], ErrorCode::INVALID_TOPIC_EXCEPTION);
                }
                if !state.topics.contains_key(&name)
                    && may_create
                    && state.config.auto_create_topics
                {
                    let partitions = state.config.auto_create_partitions;
                    // The name was checked above, so only a bad partition
                    // count can fail, and then the topic reads as unknown.
                    let _ = state.create_topic(&name, partitions, None);
                }
                match state.topics.get(&name) {
                    Some(topic) => describe(&state, &name, topic),
                    None => error_topic(Some(name), [0; 16], ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                }
            })
            .collect(),
    };
    let topics = match errors.top_level() {
        Some(code) => topics
            .into_iter()
            .map(|mut t| {
                t.error_code = code.as_i16();
                t.partitions.clear();
                t
            })
            .collect(),
        None => topics,
    };
    let brokers = state
        .brokers
        .iter()
        .filter(|(_, b)| b.up)
        .map(|(&id, b)| MetadataResponseBroker {
            node_id: id,
            host: b.address.host.clone(),
            port: i32::from(b.address.port),
            rack: None,
            tagged_fields: Default::default(),
        })
        .collect::<Vec<_>>();
    let body = MetadataResponse {
        controller_id: brokers.first().map_or(-1, |b| b.node_id),
        brokers,
        cluster_id: Some(state.config.cluster_id.clone()),
        topics,
        ..Default::default()
    };
    drop(state);
    Handled::answer(response_frame(
        ApiKey::Metadata,
        header.api_version,
        header.correlation_id,
        &body,
    ))
}
