//! Describing a cluster before it exists.

use kproducer_net::BrokerAddress;
use tokio::sync::watch;

use crate::cluster::FakeCluster;
use crate::cluster_state::{BrokerState, ClusterState};
use crate::config::{ClusterConfig, ServiceTime};
use crate::error::ClusterError;
use crate::producer_state::BehaviourMode;

/// The port every fake broker advertises; brokers differ by host name.
pub const FAKE_BROKER_PORT: u16 = 9092;

/// The address broker `id` advertises: `fake-broker-<id>:9092`. Only
/// [`FakeTransport`](crate::FakeTransport) can reach it.
pub fn fake_broker_address(id: i32) -> BrokerAddress {
    BrokerAddress::new(format!("fake-broker-{id}"), FAKE_BROKER_PORT)
}

#[derive(Debug, Clone)]
struct TopicSpec {
    name: String,
    partitions: i32,
    leaders: Option<Vec<i32>>,
}

/// Builds a [`FakeCluster`]; start with [`FakeCluster::builder`].
///
/// ```
/// use std::time::Duration;
/// use kproducer_fake_broker::{BehaviourMode, FakeCluster, ServiceTime};
///
/// let cluster = FakeCluster::builder()
///     .brokers(3)
///     .topic("orders", 6)
///     .topic_with_leaders("audit", &[2, 2])
///     .mode(BehaviourMode::Kafka4_5)
///     .service_time(ServiceTime::new(Duration::from_micros(50), Duration::from_micros(5)))
///     .build()
///     .unwrap();
/// assert_eq!(cluster.broker_ids(), vec![0, 1, 2]);
/// assert_eq!(cluster.leader("audit", 1).unwrap(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeClusterBuilder {
    broker_ids: Vec<i32>,
    topics: Vec<TopicSpec>,
    config: ClusterConfig,
    broker_service_times: std::collections::BTreeMap<i32, ServiceTime>,
}

impl FakeClusterBuilder {
    /// Adds brokers with ids `0..n` (after any already added, ids continue
    /// from the largest).
    pub fn brokers(mut self, n: u16) -> Self {
        let start = self.broker_ids.iter().max().map_or(0, |m| m + 1);
        self.broker_ids.extend((0..i32::from(n)).map(|i| start + i));
        self
    }

    /// Adds one broker with this id.
    pub fn broker(mut self, id: i32) -> Self {
        self.broker_ids.push(id);
        self
    }

    /// Adds a topic; partition leaders are spread over the brokers.
    pub fn topic(mut self, name: impl Into<String>, partitions: i32) -> Self {
        self.topics.push(TopicSpec {
            name: name.into(),
            partitions,
            leaders: None,
        });
        self
    }

    /// Adds a topic with one partition per entry, led by that broker.
    pub fn topic_with_leaders(mut self, name: impl Into<String>, leaders: &[i32]) -> Self {
        self.topics.push(TopicSpec {
            name: name.into(),
            partitions: i32::try_from(leaders.len()).unwrap_or(i32::MAX),
            leaders: Some(leaders.to_vec()),
        });
        self
    }

    /// The cluster id Metadata reports.
    pub fn cluster_id(mut self, id: impl Into<String>) -> Self {
        self.config.cluster_id = id.into();
        self
    }

    /// Which Kafka version's idempotence behaviour to reproduce.
    pub fn mode(mut self, mode: BehaviourMode) -> Self {
        self.config.mode = mode;
        self
    }

    /// Answer duplicate batches with 46 like brokers before 2.0.
    pub fn legacy_duplicate_error(mut self, on: bool) -> Self {
        self.config.legacy_duplicate_error = on;
        self
    }

    /// Create unknown topics on first use (off by default, as in most
    /// production clusters), with `partitions` partitions.
    pub fn auto_create_topics(mut self, partitions: Option<i32>) -> Self {
        self.config.auto_create_topics = partitions.is_some();
        if let Some(p) = partitions {
            self.config.auto_create_partitions = p;
        }
        self
    }

    /// Time charged per request (default zero).
    pub fn service_time(mut self, t: ServiceTime) -> Self {
        self.config.service_time = t;
        self
    }

    /// Largest batch accepted (`message.max.bytes`).
    /// One broker's own service time, in place of the cluster's
    /// ([`service_time`](Self::service_time)): a slow broker next to fast
    /// ones. Applies to a broker id added before or after this call; change
    /// it while running with
    /// [`FakeCluster::set_broker_service_time`](crate::FakeCluster::set_broker_service_time).
    ///
    /// ```
    /// use std::time::Duration;
    /// use kproducer_fake_broker::{FakeCluster, ServiceTime};
    /// let slow = ServiceTime::new(Duration::from_millis(10), Duration::from_micros(100));
    /// let cluster = FakeCluster::builder()
    ///     .brokers(3)
    ///     .broker_service_time(2, slow)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cluster.broker_service_time(2).unwrap(), slow);
    /// assert_eq!(cluster.broker_service_time(0).unwrap(), ServiceTime::zero());
    /// ```
    pub fn broker_service_time(mut self, id: i32, t: ServiceTime) -> Self {
        self.broker_service_times.insert(id, t);
        self
    }

    /// Largest batch accepted (`message.max.bytes`).
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.config.max_message_bytes = bytes;
        self
    }

    /// Largest request frame before the connection is closed.
    pub fn max_frame_bytes(mut self, bytes: usize) -> Self {
        self.config.max_frame_bytes = bytes;
        self
    }

    /// Keep the per-request log (default on; benchmarks turn it off).
    pub fn record_requests(mut self, on: bool) -> Self {
        self.config.record_requests = on;
        self
    }

    /// Decode every produced batch's records to check them (default on;
    /// benchmarks turn it off).
    pub fn validate_records(mut self, on: bool) -> Self {
        self.config.validate_records = on;
        self
    }

    /// The epoch InitProducerId hands out with each new producer id to
    /// idempotent (non-transactional) producers (Kafka: always 0). A test
    /// seam for epoch exhaustion: start a producer at `i16::MAX` and its
    /// next epoch bump must ask for a new producer id instead.
    ///
    /// ```
    /// use kproducer_fake_broker::FakeCluster;
    ///
    /// let cluster = FakeCluster::builder()
    ///     .brokers(1)
    ///     .idempotent_producer_epoch(i16::MAX)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cluster.config().idempotent_producer_epoch, i16::MAX);
    /// ```
    pub fn idempotent_producer_epoch(mut self, epoch: i16) -> Self {
        self.config.idempotent_producer_epoch = epoch;
        self
    }

    /// Bounds every partition's log to about `bytes` of batches, as Kafka's
    /// `retention.bytes` does (`None`, the default: keep everything). After
    /// each append the oldest whole batches are dropped and the log start
    /// offset moves past them; the newest batch always stays. Producers
    /// keep their idempotence state (except in
    /// [`BehaviourMode::Pre2_5`]), so an active producer is not disturbed.
    ///
    /// ```
    /// use kproducer_fake_broker::FakeCluster;
    /// use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};
    ///
    /// let cluster = FakeCluster::builder()
    ///     .brokers(1)
    ///     .topic("t", 1)
    ///     .retention_bytes(Some(1024))
    ///     .build()
    ///     .unwrap();
    /// for _ in 0..100 {
    ///     let mut b = RecordBatchBuilder::new(Compression::None);
    ///     b.append(0, None, Some(&[7u8; 100][..]), NO_HEADERS);
    ///     cluster.append("t", 0, b.seal(&BatchParams::default()).unwrap()).unwrap();
    /// }
    /// let p = cluster.partition("t", 0).unwrap();
    /// assert!(p.retained_bytes() <= 1024);
    /// assert_eq!(p.high_watermark, 100);
    /// assert_eq!(p.log_start_offset, p.batches[0].base_offset);
    /// assert!(p.log_start_offset > 0);
    /// ```
    pub fn retention_bytes(mut self, bytes: Option<usize>) -> Self {
        self.config.retention_bytes = bytes;
        self
    }

    /// Requires SASL authentication on every connection, with these
    /// mechanisms and users (see [`SaslServerConfig`](crate::SaslServerConfig)).
    pub fn sasl(mut self, sasl: crate::SaslServerConfig) -> Self {
        self.config.sasl = Some(sasl);
        self
    }

    /// Builds the cluster. Fails when there are no brokers, ids repeat, or a
    /// topic is invalid.
    pub fn build(self) -> Result<FakeCluster, ClusterError> {
        if self.broker_ids.is_empty() {
            return Err(ClusterError::NoBrokers);
        }
        let mut state = ClusterState::new(self.config);
        for id in self.broker_ids {
            let broker = BrokerState {
                address: fake_broker_address(id),
                in_memory_address: fake_broker_address(id),
                up: true,
                generation: watch::Sender::new(0),
                accepted: 0,
                service_time: self.broker_service_times.get(&id).copied(),
            };
            if state.brokers.insert(id, broker).is_some() {
                return Err(ClusterError::DuplicateBroker(id));
            }
        }
        for t in self.topics {
            state.create_topic(&t.name, t.partitions, t.leaders.as_deref())?;
        }
        Ok(FakeCluster::from_state(state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_descriptions_are_refused_with_a_reason() {
        let cases = [
            (FakeCluster::builder(), ClusterError::NoBrokers),
            (
                FakeCluster::builder().broker(1).broker(1),
                ClusterError::DuplicateBroker(1),
            ),
            (
                FakeCluster::builder().brokers(1).topic("t", 0),
                ClusterError::InvalidPartitionCount {
                    topic: "t".into(),
                    count: 0,
                },
            ),
            (
                FakeCluster::builder()
                    .brokers(1)
                    .topic_with_leaders("t", &[5]),
                ClusterError::UnknownBroker(5),
            ),
            (
                FakeCluster::builder().brokers(1).topic("bad name", 1),
                ClusterError::InvalidTopicName("bad name".into()),
            ),
            (
                FakeCluster::builder()
                    .brokers(1)
                    .topic("t", 1)
                    .topic("t", 1),
                ClusterError::TopicExists("t".into()),
            ),
        ];
        for (i, (builder, expect)) in cases.into_iter().enumerate() {
            assert_eq!(builder.build().err(), Some(expect), "case {i}");
        }
    }

    #[test]
    fn leaders_are_spread_and_rotate_per_topic() {
        let c = FakeCluster::builder()
            .brokers(3)
            .topic("a", 4)
            .topic("b", 2)
            .build()
            .expect("valid cluster");
        let a: Vec<i32> = (0..4).map(|p| c.leader("a", p).expect("exists")).collect();
        let b: Vec<i32> = (0..2).map(|p| c.leader("b", p).expect("exists")).collect();
        assert_eq!(a, vec![0, 1, 2, 0]);
        assert_eq!(b, vec![1, 2]);
    }
}
