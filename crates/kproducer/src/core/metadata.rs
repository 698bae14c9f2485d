//! What the producer knows of the cluster: brokers, and per topic its
//! partitions' leaders. Plain data, updated from Metadata responses.

use std::sync::Arc;

use kproducer_net::BrokerAddress;
use kproducer_protocol::ErrorCode;
use kproducer_protocol::messages::{
    MetadataRequest, MetadataRequestTopic, MetadataResponse, NodeEndpoint,
};
use tokio::time::Instant;

/// One partition's leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Leader {
    pub(crate) broker: i32,
    pub(crate) epoch: i32,
}

/// One topic as the cluster described it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopicMeta {
    /// Per partition index: its leader, or `None` when it has none now.
    pub(crate) partitions: Vec<Option<Leader>>,
    /// Per partition index: the newest leader epoch seen (-1: none), from
    /// Metadata or a produce response's leader hint. An answer carrying an
    /// older epoch is stale (a broker that has not heard of the election
    /// yet) and does not replace what is known, as in Java's client.
    pub(crate) epochs: Vec<i32>,
    /// The topic's id (all zero when the broker does not send one). A new
    /// id means the topic was deleted and recreated: its epochs start over.
    pub(crate) topic_id: [u8; 16],
    /// The topic-level error of the last answer (NONE when known).
    pub(crate) error: ErrorCode,
}

/// The metadata cache.
#[derive(Debug, Default)]
pub(crate) struct Metadata {
    pub(crate) brokers: super::fast_hash::FastMap<i32, BrokerAddress>,
    pub(crate) topics: super::fast_hash::FastMap<Arc<str>, TopicMeta>,
    /// Topics the producer writes to: what each refresh asks for.
    pub(crate) wanted: super::fast_hash::FastSet<Arc<str>>,
    /// A refresh was asked for (new topic, leader moved, …).
    pub(crate) refresh_requested: bool,
    /// A Metadata request is in flight.
    pub(crate) in_flight: bool,
    /// When the last answer arrived.
    pub(crate) updated_at: Option<Instant>,
    /// Not before this instant (backoff after a failed attempt).
    pub(crate) next_attempt: Option<Instant>,
    /// Consecutive failed attempts.
    pub(crate) failures: u32,
    /// The last failure, for error messages.
    pub(crate) last_error: Option<String>,
}

/// What changed in an update.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    /// Partitions whose leader is now known or different: (topic, partition, broker).
    pub(crate) leaders: Vec<(Arc<str>, i32, i32)>,
}

impl Metadata {
    /// The partitions of `topic`, if known and usable.
    pub(crate) fn partition_count(&self, topic: &str) -> Option<usize> {
        self.topics
            .get(topic)
            .filter(|t| t.error == ErrorCode::NONE && !t.partitions.is_empty())
            .map(|t| t.partitions.len())
    }

    /// The leader of `topic`-`partition`, if any.
    pub(crate) fn leader(&self, topic: &str, partition: i32) -> Option<Leader> {
        let t = self.topics.get(topic)?;
        *t.partitions.get(usize::try_from(partition).ok()?)?
    }

    /// Whether a refresh should start now.
    pub(crate) fn refresh_due(&self, now: Instant, max_age: std::time::Duration) -> bool {
        if self.in_flight || self.wanted.is_empty() {
            return false;
        }
        if self.next_attempt.is_some_and(|t| t > now) {
            return false;
        }
        self.refresh_requested || self.updated_at.is_none_or(|t| t + max_age <= now)
    }

    /// The request for the wanted topics.
    pub(crate) fn request(&self, allow_auto_create: bool) -> MetadataRequest {
        let mut names: Vec<&Arc<str>> = self.wanted.iter().collect();
        names.sort();
        MetadataRequest {
            topics: Some(
                names
                    .into_iter()
                    .map(|n| MetadataRequestTopic {
                        topic_id: [0; 16],
                        name: Some(n.to_string()),
                        tagged_fields: Default::default(),
                    })
                    .collect(),
            ),
            allow_auto_topic_creation: allow_auto_create,
            ..MetadataRequest::default()
        }
    }

    /// Applies a produce response's leader hint (KIP-951): `topic`-`partition`
    /// is now led by `leader` at `epoch`, reachable at one of `endpoints`.
    /// Returns whether the partition's leader changed. Hints older than
    /// what is known are ignored.
    pub(crate) fn apply_leader_hint(
        &mut self,
        topic: &str,
        partition: i32,
        leader: i32,
        epoch: i32,
        endpoints: &[NodeEndpoint],
    ) -> bool {
        for n in endpoints {
            if let Ok(port) = u16::try_from(n.port) {
                self.brokers
                    .entry(n.node_id)
                    .or_insert_with(|| BrokerAddress::new(n.host.clone(), port));
            }
        }
        if leader < 0 || !self.brokers.contains_key(&leader) {
            return false;
        }
        let Some(topic) = self.topics.get_mut(topic) else {
            return false;
        };
        let Ok(i) = usize::try_from(partition) else {
            return false;
        };
        let (Some(slot), Some(seen)) = (topic.partitions.get_mut(i), topic.epochs.get_mut(i))
        else {
            return false;
        };
        let newer = epoch > *seen;
        *seen = (*seen).max(epoch);
        match slot {
            // Known at this epoch or newer, or already there.
            Some(known) if !newer || known.broker == leader => {
                known.epoch = known.epoch.max(epoch);
                false
            }
            // No leader known: the hint is taken unless it is older than
            // an epoch already seen.
            None if epoch < *seen => false,
            _ => {
                *slot = Some(Leader {
                    broker: leader,
                    epoch,
                });
                true
            }
        }
    }

    /// Applies an answer.
    pub(crate) fn update(&mut self, response: &MetadataResponse, now: Instant) -> Changes {
        let mut changes = Changes::default();
        for b in &response.brokers {
            let Ok(port) = u16::try_from(b.port) else {
                continue;
            };
            self.brokers
                .insert(b.node_id, BrokerAddress::new(b.host.clone(), port));
        }
        for t in &response.topics {
            let Some(name) = t.name.as_deref() else {
                continue;
            };
            let key: Arc<str> = self
                .wanted
                .get(name)
                .cloned()
                .unwrap_or_else(|| Arc::from(name));
            let error = ErrorCode::from_i16(t.error_code);
            let entry = self.topics.entry(key.clone()).or_default();
            entry.error = error;
            if error != ErrorCode::NONE {
                continue;
            }
            // Kafka numbers a topic's partitions 0..n and lists every one of
            // them; an index outside that range can only come from a broken
            // broker and is skipped, so that one bad response cannot make us
            // allocate for 2^31 partitions.
            // A recreated topic (new id) numbers its leader epochs afresh.
            if t.topic_id != [0; 16] && t.topic_id != entry.topic_id {
                if entry.topic_id != [0; 16] {
                    entry.epochs.fill(-1);
                }
                entry.topic_id = t.topic_id;
            }
            let count = t.partitions.len();
            if entry.partitions.len() < count {
                entry.partitions.resize(count, None);
            }
            if entry.epochs.len() < entry.partitions.len() {
                entry.epochs.resize(entry.partitions.len(), -1);
            }
            for p in &t.partitions {
                let Some(i) = usize::try_from(p.partition_index)
                    .ok()
                    .filter(|i| *i < count)
                else {
                    continue;
                };
                // A stale answer (an older leader epoch than one already
                // seen, -1 meaning the broker sends none) keeps what we know.
                if p.leader_epoch >= 0 && p.leader_epoch < entry.epochs[i] {
                    continue;
                }
                entry.epochs[i] = entry.epochs[i].max(p.leader_epoch);
                let leader = (p.leader_id >= 0 && self.brokers.contains_key(&p.leader_id))
                    .then_some(Leader {
                        broker: p.leader_id,
                        epoch: p.leader_epoch,
                    });
                if let Some(l) = leader
                    && entry.partitions[i].map(|o| o.broker) != Some(l.broker)
                {
                    changes
                        .leaders
                        .push((key.clone(), p.partition_index, l.broker));
                }
                entry.partitions[i] = leader;
            }
        }
        self.updated_at = Some(now);
        self.refresh_requested = false;
        self.failures = 0;
        self.next_attempt = None;
        changes
    }
}

#[cfg(test)]
mod tests {
    use kproducer_protocol::messages::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    use super::*;

    fn partition(index: i32, leader: i32) -> MetadataResponsePartition {
        MetadataResponsePartition {
            partition_index: index,
            leader_id: leader,
            ..Default::default()
        }
    }

    fn answer(leader: i32, epoch: i32) -> MetadataResponse {
        MetadataResponse {
            brokers: [1, 2]
                .map(|id| MetadataResponseBroker {
                    node_id: id,
                    host: "127.0.0.1".into(),
                    port: 9090 + id,
                    ..Default::default()
                })
                .into(),
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                partitions: vec![MetadataResponsePartition {
                    leader_epoch: epoch,
                    ..partition(0, leader)
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_metadata_answer_with_an_older_leader_epoch_keeps_the_newer_leader() {
        let mut metadata = Metadata::default();
        metadata.update(&answer(1, 5), Instant::now());
        metadata.update(&answer(2, 6), Instant::now());
        // A broker that has not heard of epoch 6 yet still names broker 1.
        let changes = metadata.update(&answer(1, 5), Instant::now());
        assert!(changes.leaders.is_empty());
        assert_eq!(
            metadata.leader("t", 0),
            Some(Leader {
                broker: 2,
                epoch: 6
            })
        );
        // The same epoch or a newer one is taken.
        metadata.update(&answer(1, 7), Instant::now());
        assert_eq!(metadata.leader("t", 0).map(|l| l.broker), Some(1));
    }

    #[test]
    fn a_metadata_answer_older_than_a_leader_hint_keeps_the_hinted_leader() {
        let mut metadata = Metadata::default();
        metadata.update(&answer(1, 5), Instant::now());
        assert!(metadata.apply_leader_hint("t", 0, 2, 6, &[]));
        metadata.update(&answer(1, 5), Instant::now());
        assert_eq!(metadata.leader("t", 0).map(|l| l.broker), Some(2));
        // And a hint older than what Metadata said is ignored too.
        metadata.update(&answer(1, 8), Instant::now());
        assert!(!metadata.apply_leader_hint("t", 0, 2, 7, &[]));
        assert_eq!(metadata.leader("t", 0).map(|l| l.broker), Some(1));
    }

    #[test]
    fn a_stale_answer_does_not_bring_back_a_leader_after_a_newer_answer_said_none() {
        let mut metadata = Metadata::default();
        metadata.update(&answer(1, 5), Instant::now());
        metadata.update(&answer(-1, 6), Instant::now());
        metadata.update(&answer(1, 5), Instant::now());
        assert_eq!(metadata.leader("t", 0), None);
    }

    #[test]
    fn brokers_without_leader_epochs_are_believed() {
        let mut metadata = Metadata::default();
        metadata.update(&answer(1, 5), Instant::now());
        metadata.update(&answer(2, -1), Instant::now());
        assert_eq!(metadata.leader("t", 0).map(|l| l.broker), Some(2));
    }

    #[test]
    fn a_recreated_topic_starts_its_epochs_over() {
        let mut metadata = Metadata::default();
        let mut first = answer(1, 9);
        first.topics[0].topic_id = [1; 16];
        metadata.update(&first, Instant::now());
        let mut recreated = answer(2, 0);
        recreated.topics[0].topic_id = [2; 16];
        metadata.update(&recreated, Instant::now());
        assert_eq!(metadata.leader("t", 0).map(|l| l.broker), Some(2));
    }

    #[test]
    fn a_partition_index_outside_the_listed_range_is_skipped_not_allocated_for() {
        let response = MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: 9092,
                ..Default::default()
            }],
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                partitions: vec![partition(0, 1), partition(1, 1), partition(i32::MAX, 1)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut metadata = Metadata::default();
        metadata.update(&response, Instant::now());
        // Three partitions listed: indexes 0..3 are kept, i32::MAX is not.
        assert_eq!(
            metadata.topics.get("t").map(|t| t.partitions.len()),
            Some(3)
        );
        assert_eq!(metadata.leader("t", 1).map(|l| l.broker), Some(1));
        assert_eq!(metadata.leader("t", i32::MAX), None);
    }
}
