//! The cluster's mutable state, behind the one lock [`FakeCluster`] holds.
//!
//! Handlers and operations take the lock, act, and let go; nothing awaits
//! while holding it.
//!
//! [`FakeCluster`]: crate::FakeCluster

use std::collections::BTreeMap;

use kproducer_net::BrokerAddress;
use tokio::sync::watch;

use crate::config::ClusterConfig;
use crate::connection_id::ConnectionId;
use crate::error::ClusterError;
use crate::fault_plan::FaultPlan;
use crate::group_offsets::GroupOffsets;
use crate::inspect::{Counters, RequestRecord};
use crate::partition_log::PartitionLog;
use crate::transactions::TransactionCoordinator;

/// One broker.
#[derive(Debug)]
pub(crate) struct BrokerState {
    /// The address Metadata and FindCoordinator advertise: the in-memory
    /// name, or `127.0.0.1:<port>` while a loopback listener serves it.
    pub(crate) address: BrokerAddress,
    /// The in-memory name (`fake-broker-<id>:9092`), which
    /// [`FakeTransport`](crate::FakeTransport) always resolves.
    pub(crate) in_memory_address: BrokerAddress,
    pub(crate) up: bool,
    /// Bumped every time the broker goes down; a connection accepted under
    /// an older generation closes.
    pub(crate) generation: watch::Sender<u64>,
    /// Connections accepted so far (the next connection's ordinal).
    pub(crate) accepted: u64,
    /// This broker's own service time, replacing the cluster's
    /// ([`ClusterConfig::service_time`]) when set.
    pub(crate) service_time: Option<crate::config::ServiceTime>,
}

/// One partition.
#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    pub(crate) leader: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) log: PartitionLog,
}

/// One topic.
#[derive(Debug)]
pub(crate) struct TopicState {
    pub(crate) id: [u8; 16],
    pub(crate) partitions: Vec<PartitionState>,
}

/// Everything a cluster holds.
#[derive(Debug)]
pub(crate) struct ClusterState {
    pub(crate) config: ClusterConfig,
    pub(crate) brokers: BTreeMap<i32, BrokerState>,
    pub(crate) topics: BTreeMap<String, TopicState>,
    pub(crate) faults: FaultPlan,
    pub(crate) requests: Vec<RequestRecord>,
    pub(crate) next_request_seq: u64,
    /// How many requests were finished (answered, dropped or closed on);
    /// watched by [`FakeCluster::wait_for_requests`](crate::FakeCluster::wait_for_requests).
    pub(crate) finished: watch::Sender<u64>,
    pub(crate) counters: Counters,
    pub(crate) topics_created: u64,
    pub(crate) txn: TransactionCoordinator,
    /// Consumer groups' committed and pending offsets.
    pub(crate) groups: GroupOffsets,
    /// The coordinator a test chose; the lowest broker id otherwise.
    pub(crate) coordinator: Option<i32>,
    /// Whether a loopback listener currently serves the cluster.
    pub(crate) listening: bool,
}

/// Kafka's rule for topic names: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn is_valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl ClusterState {
    pub(crate) fn new(config: ClusterConfig) -> Self {
        Self {
            config,
            brokers: BTreeMap::new(),
            topics: BTreeMap::new(),
            faults: FaultPlan::default(),
            requests: Vec::new(),
            next_request_seq: 0,
            finished: watch::Sender::new(0),
            counters: Counters::default(),
            topics_created: 0,
            txn: TransactionCoordinator::default(),
            groups: GroupOffsets::default(),
            coordinator: None,
            listening: false,
        }
    }

    /// The broker that coordinates groups and transactions.
    pub(crate) fn coordinator_id(&self) -> Option<i32> {
        self.coordinator
            .or_else(|| self.brokers.keys().next().copied())
    }

    pub(crate) fn broker(&self, id: i32) -> Result<&BrokerState, ClusterError> {
        self.brokers.get(&id).ok_or(ClusterError::UnknownBroker(id))
    }

    pub(crate) fn broker_mut(&mut self, id: i32) -> Result<&mut BrokerState, ClusterError> {
        self.brokers
            .get_mut(&id)
            .ok_or(ClusterError::UnknownBroker(id))
    }

    /// The broker advertising `address` (or known in memory by it), if any.
    pub(crate) fn broker_at(&self, address: &BrokerAddress) -> Option<i32> {
        self.brokers
            .iter()
            .find(|(_, b)| &b.address == address || &b.in_memory_address == address)
            .map(|(&id, _)| id)
    }

    /// Creates a topic; leaders are spread round-robin over the brokers,
    /// starting one broker further for each topic so that partition 0 of
    /// every topic does not land on the same broker.
    pub(crate) fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        leaders: Option<&[i32]>,
    ) -> Result<(), ClusterError> {
        if !is_valid_topic_name(name) {
            return Err(ClusterError::InvalidTopicName(name.to_owned()));
        }
        if self.topics.contains_key(name) {
            return Err(ClusterError::TopicExists(name.to_owned()));
        }
        // With explicit leaders the partition count is their number.
        let count = leaders.map_or(partitions, |l| i32::try_from(l.len()).unwrap_or(i32::MAX));
        if count < 1 {
            return Err(ClusterError::InvalidPartitionCount {
                topic: name.to_owned(),
                count,
            });
        }
        let leaders: Vec<i32> = match leaders {
            Some(l) => {
                if let Some(&bad) = l.iter().find(|id| !self.brokers.contains_key(id)) {
                    return Err(ClusterError::UnknownBroker(bad));
                }
                l.to_vec()
            }
            None => {
                let ids: Vec<i32> = self.brokers.keys().copied().collect();
                if ids.is_empty() {
                    return Err(ClusterError::NoBrokers);
                }
                let start = usize::try_from(self.topics_created).unwrap_or(0);
                // `count` is at least 1 here, so the conversion cannot fail;
                // `ids` is not empty, so the index is in bounds.
                (0..usize::try_from(count).unwrap_or(0))
                    .map(|p| ids[(start + p) % ids.len()])
                    .collect()
            }
        };
        let retention = self.config.retention();
        self.topics_created += 1;
        let mut id = [0u8; 16];
        id[8..].copy_from_slice(&self.topics_created.to_be_bytes());
        id[0] = 0x6b; // never the all-zero "no id" uuid
        self.topics.insert(
            name.to_owned(),
            TopicState {
                id,
                partitions: leaders
                    .into_iter()
                    .map(|leader| PartitionState {
                        leader,
                        leader_epoch: 0,
                        log: PartitionLog::with_retention(retention),
                    })
                    .collect(),
            },
        );
        Ok(())
    }

    pub(crate) fn partition(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<&PartitionState, ClusterError> {
        let t = self
            .topics
            .get(topic)
            .ok_or_else(|| ClusterError::UnknownTopic(topic.to_owned()))?;
        usize::try_from(partition)
            .ok()
            .and_then(|p| t.partitions.get(p))
            .ok_or_else(|| unknown_partition(topic, partition, t.partitions.len()))
    }

    pub(crate) fn partition_mut(
        &mut self,
        topic: &str,
        partition: i32,
    ) -> Result<&mut PartitionState, ClusterError> {
        let t = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| ClusterError::UnknownTopic(topic.to_owned()))?;
        let count = t.partitions.len();
        usize::try_from(partition)
            .ok()
            .and_then(|p| t.partitions.get_mut(p))
            .ok_or_else(|| unknown_partition(topic, partition, count))
    }

    /// Appends to the request log (when enabled) and counts the request.
    pub(crate) fn log_request(&mut self, mut record: RequestRecord) {
        *self.counters.requests.entry(record.api_key).or_default() += 1;
        if self.config.record_requests {
            record.seq = self.next_request_seq;
            self.requests.push(record);
        }
        self.next_request_seq += 1;
        self.finished.send_replace(self.next_request_seq);
    }

    /// Registers a new connection to `broker`, or `None` when the broker is
    /// down or unknown.
    pub(crate) fn accept(&mut self, broker: i32) -> Option<(ConnectionId, watch::Receiver<u64>)> {
        let Some(b) = self.brokers.get_mut(&broker).filter(|b| b.up) else {
            self.counters.connections_refused += 1;
            return None;
        };
        let id = ConnectionId {
            broker,
            ordinal: b.accepted,
        };
        b.accepted += 1;
        self.counters.connections_accepted += 1;
        Some((id, b.generation.subscribe()))
    }
}

fn unknown_partition(topic: &str, partition: i32, count: usize) -> ClusterError {
    ClusterError::UnknownPartition {
        topic: topic.to_owned(),
        partition,
        partitions: i32::try_from(count).unwrap_or(i32::MAX),
    }
}
