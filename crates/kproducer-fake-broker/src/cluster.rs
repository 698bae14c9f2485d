//! [`FakeCluster`]: the handle tests hold, and the operations they can apply
//! at any moment.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use kproducer_net::{BrokerAddress, TopicPartition};

use crate::batch_check::check_batch;
use crate::builder::FakeClusterBuilder;
use crate::cluster_state::ClusterState;
use crate::config::{ClusterConfig, ServiceTime};
use crate::error::{ClusterError, ListenError};
use crate::fault_plan::{FaultId, FaultRule};
use crate::group_offsets::CommittedOffset;
use crate::inspect::{Counters, PartitionSnapshot, RequestRecord};
use crate::listener::LoopbackListener;
use crate::partition_log::AppendOutcome;
use crate::transactions::TxnEntry;
use crate::transport::FakeTransport;

/// An in-memory Kafka cluster. Cheap to clone: clones share the cluster.
///
/// ```
/// use kproducer_fake_broker::FakeCluster;
///
/// let cluster = FakeCluster::builder().brokers(2).topic("t", 2).build().unwrap();
/// cluster.move_leader("t", 0, 1).unwrap();
/// assert_eq!(cluster.leader("t", 0).unwrap(), 1);
/// cluster.broker_down(1).unwrap();
/// assert!(!cluster.is_up(1).unwrap());
/// let snapshot = cluster.partition("t", 0).unwrap();
/// assert_eq!(snapshot.leader_epoch, 1);
/// assert!(snapshot.batches.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct FakeCluster {
    state: Arc<Mutex<ClusterState>>,
}

impl FakeCluster {
    /// Starts describing a cluster.
    pub fn builder() -> FakeClusterBuilder {
        FakeClusterBuilder::default()
    }

    pub(crate) fn from_state(state: ClusterState) -> Self {
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Locks the state. A panic while the lock was held (only possible in a
    /// test's own code) does not make the cluster unusable: the state is
    /// taken as it was left.
    pub(crate) fn lock(&self) -> MutexGuard<'_, ClusterState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A transport whose connections reach this cluster's brokers.
    pub fn transport(&self) -> FakeTransport {
        FakeTransport::new(self.clone())
    }

    /// Serves this cluster over TCP on 127.0.0.1 as well, one port per
    /// broker: `addr` is `127.0.0.1:PORT`, the first broker's port (the
    /// others take the following ports), or `127.0.0.1:0` for a free port
    /// per broker. While the returned listener lives, Metadata advertises
    /// `127.0.0.1:<port>` for each broker, so external clients such as
    /// librdkafka route to partition leaders; in-memory connections keep
    /// working. Only 127.0.0.1 is accepted.
    ///
    /// ```
    /// use kproducer_fake_broker::FakeCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cluster = FakeCluster::builder().brokers(2).topic("t", 6).build().unwrap();
    /// let listener = cluster.listen("127.0.0.1:0").await.unwrap();
    /// let bootstrap = listener.bootstrap_servers(); // "127.0.0.1:PORT,127.0.0.1:PORT"
    /// assert_eq!(bootstrap.split(',').count(), 2);
    /// assert!(cluster.listen("0.0.0.0:0").await.is_err());
    /// listener.shutdown().await;
    /// # }
    /// ```
    pub async fn listen(&self, addr: &str) -> Result<LoopbackListener, ListenError> {
        LoopbackListener::start(self, addr, None).await
    }

    /// As [`FakeCluster::listen`], but every port speaks TLS with `tls`
    /// (and requires client certificates when `tls` says so). Connections
    /// whose handshake fails are closed.
    ///
    /// ```
    /// use kproducer_fake_broker::{FakeCluster, SelfSignedTls};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cluster = FakeCluster::builder().brokers(1).topic("t", 1).build().unwrap();
    /// let tls = SelfSignedTls::for_loopback().unwrap();
    /// let listener = cluster.listen_tls("127.0.0.1:0", &tls.server_tls()).await.unwrap();
    /// // Clients trust tls.pki.ca_pem() (ssl.ca.location / ssl.ca.pem).
    /// assert!(listener.address(0).is_some());
    /// # }
    /// ```
    pub async fn listen_tls(
        &self,
        addr: &str,
        tls: &crate::ServerTls,
    ) -> Result<LoopbackListener, ListenError> {
        LoopbackListener::start(self, addr, Some(tls)).await
    }

    /// The settings the cluster was built with.
    pub fn config(&self) -> ClusterConfig {
        self.lock().config.clone()
    }

    /// Broker ids, ascending.
    pub fn broker_ids(&self) -> Vec<i32> {
        self.lock().brokers.keys().copied().collect()
    }

    /// The address broker `id` advertises: `fake-broker-<id>:9092`, or
    /// `127.0.0.1:<port>` while a [`LoopbackListener`] serves the cluster.
    /// [`FakeTransport`] reaches either.
    pub fn address(&self, id: i32) -> Result<BrokerAddress, ClusterError> {
        Ok(self.lock().broker(id)?.address.clone())
    }

    /// Every broker's address, comma-separated, as `bootstrap.servers` wants.
    pub fn bootstrap_servers(&self) -> String {
        let s = self.lock();
        let all: Vec<String> = s.brokers.values().map(|b| b.address.to_string()).collect();
        all.join(",")
    }

    /// The topic's id (Metadata v10+ reports it).
    pub fn topic_id(&self, topic: &str) -> Result<[u8; 16], ClusterError> {
        let s = self.lock();
        s.topics
            .get(topic)
            .map(|t| t.id)
            .ok_or_else(|| ClusterError::UnknownTopic(topic.to_owned()))
    }

    /// The partition's current leader.
    pub fn leader(&self, topic: &str, partition: i32) -> Result<i32, ClusterError> {
        Ok(self.lock().partition(topic, partition)?.leader)
    }

    /// Makes `new_leader` the partition's leader and bumps its leader epoch.
    /// The log moves with it (one replica, always in sync), so the new
    /// leader's duplicate cache answers retries of batches the old leader
    /// appended. The old leader answers 6 `NOT_LEADER_OR_FOLLOWER` from now on.
    pub fn move_leader(
        &self,
        topic: &str,
        partition: i32,
        new_leader: i32,
    ) -> Result<(), ClusterError> {
        let mut s = self.lock();
        s.broker(new_leader)?;
        let p = s.partition_mut(topic, partition)?;
        p.leader = new_leader;
        p.leader_epoch += 1;
        Ok(())
    }

    /// Takes a broker down: its open connections close and new ones are
    /// refused until [`FakeCluster::broker_up`].
    pub fn broker_down(&self, id: i32) -> Result<(), ClusterError> {
        let mut s = self.lock();
        let b = s.broker_mut(id)?;
        b.up = false;
        b.generation.send_modify(|g| *g += 1);
        Ok(())
    }

    /// Brings a broker back; it accepts connections again.
    pub fn broker_up(&self, id: i32) -> Result<(), ClusterError> {
        self.lock().broker_mut(id)?.up = true;
        Ok(())
    }

    /// Sets one broker's service time from now on (requests already being
    /// served keep what they were charged): a broker that gets slower, or
    /// faster, mid-run. See
    /// [`FakeClusterBuilder::broker_service_time`](crate::FakeClusterBuilder::broker_service_time).
    pub fn set_broker_service_time(&self, id: i32, t: ServiceTime) -> Result<(), ClusterError> {
        self.lock().broker_mut(id)?.service_time = Some(t);
        Ok(())
    }

    /// The service time broker `id` charges: its own if one was set, else
    /// the cluster's.
    pub fn broker_service_time(&self, id: i32) -> Result<ServiceTime, ClusterError> {
        let s = self.lock();
        let own = s.broker(id)?.service_time;
        Ok(own.unwrap_or(s.config.service_time))
    }

    /// Whether the broker accepts connections.
    pub fn is_up(&self, id: i32) -> Result<bool, ClusterError> {
        Ok(self.lock().broker(id)?.up)
    }

    /// Forgets a producer's state on one partition, as Kafka does when
    /// `producer.id.expiration.ms` passes. Returns whether there was state.
    pub fn expire_producer(
        &self,
        topic: &str,
        partition: i32,
        producer_id: i64,
    ) -> Result<bool, ClusterError> {
        Ok(self
            .lock()
            .partition_mut(topic, partition)?
            .log
            .expire_producer(producer_id))
    }

    /// Forgets a producer's state on every partition. Returns on how many
    /// partitions there was state.
    pub fn expire_producer_everywhere(&self, producer_id: i64) -> usize {
        let mut s = self.lock();
        s.topics
            .values_mut()
            .flat_map(|t| t.partitions.iter_mut())
            .map(|p| p.log.expire_producer(producer_id))
            .filter(|&had_state| had_state)
            .count()
    }

    /// Moves the partition's log start offset forward (retention or
    /// DeleteRecords), dropping older batches and the state of producers
    /// whose last batch lies before it, as brokers before Kafka 2.5 did: a
    /// seam for truncation scenarios. (The bound set with
    /// [`FakeClusterBuilder::retention_bytes`] keeps that state, as Kafka
    /// 2.5+ does.) Returns the new log start offset.
    pub fn advance_log_start_offset(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<i64, ClusterError> {
        Ok(self
            .lock()
            .partition_mut(topic, partition)?
            .log
            .advance_log_start_offset(offset))
    }

    /// Makes `broker` the group and transaction coordinator (by default the
    /// lowest broker id). Coordinator requests to other brokers get 16
    /// `NOT_COORDINATOR`.
    pub fn set_coordinator(&self, broker: i32) -> Result<(), ClusterError> {
        let mut s = self.lock();
        s.broker(broker)?;
        s.coordinator = Some(broker);
        Ok(())
    }

    /// The broker coordinating groups and transactions.
    pub fn coordinator(&self) -> i32 {
        self.lock().coordinator_id().unwrap_or(-1)
    }

    /// The transaction coordinator's record of a transactional id.
    pub fn transaction(&self, transactional_id: &str) -> Option<TxnEntry> {
        self.lock().txn.entry(transactional_id).cloned()
    }

    /// A consumer group's committed offsets: those a transaction's commit
    /// marker completed (TxnOffsetCommit leaves them pending until then; an
    /// abort discards them). What a consumer of the group would resume
    /// from.
    ///
    /// ```
    /// use kproducer_fake_broker::FakeCluster;
    ///
    /// let cluster = FakeCluster::builder().brokers(1).topic("in", 1).build().unwrap();
    /// assert!(cluster.committed_offsets("readers").is_empty());
    /// ```
    pub fn committed_offsets(&self, group: &str) -> BTreeMap<TopicPartition, CommittedOffset> {
        self.lock().groups.committed(group)
    }

    /// A consumer group's offsets waiting in open transactions (not yet
    /// committed or aborted), of every producer.
    pub fn pending_offsets(&self, group: &str) -> BTreeMap<TopicPartition, CommittedOffset> {
        self.lock().groups.pending(group)
    }

    /// Declares a consumer group's generation and members (member id and
    /// static `group.instance.id`, if any), as a rebalance would leave
    /// them. From then on a TxnOffsetCommit v3 that names a member of the
    /// group is checked against them (KIP-447): an unknown member gets 25
    /// `UNKNOWN_MEMBER_ID`, another generation 22 `ILLEGAL_GENERATION`, an
    /// instance id registered to another member 82 `FENCED_INSTANCE_ID`.
    ///
    /// ```
    /// use kproducer_fake_broker::FakeCluster;
    ///
    /// let cluster = FakeCluster::builder().brokers(1).topic("in", 1).build().unwrap();
    /// cluster.set_group_members("readers", 3, &[("member-1", None), ("member-2", Some("host-2"))]);
    /// ```
    pub fn set_group_members(
        &self,
        group: &str,
        generation: i32,
        members: &[(&str, Option<&str>)],
    ) {
        self.lock().groups.set_members(group, generation, members);
    }

    /// Appends a record batch straight into a partition's log, as a Produce
    /// to its leader would (same batch checks and idempotence rules), but
    /// without a connection, leadership check or fault plan: for seeding
    /// logs before a test.
    ///
    /// ```
    /// use kproducer_fake_broker::{AppendOutcome, FakeCluster};
    /// use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};
    ///
    /// let cluster = FakeCluster::builder().brokers(1).topic("t", 1).build().unwrap();
    /// let mut b = RecordBatchBuilder::new(Compression::None);
    /// b.append(0, None, Some(b"hello"), NO_HEADERS);
    /// let batch = b.seal(&BatchParams::default()).unwrap();
    /// assert_eq!(cluster.append("t", 0, batch).unwrap(), AppendOutcome::Appended { base_offset: 0 });
    /// cluster.assert_values("t", 0, &[b"hello"]);
    /// ```
    pub fn append(
        &self,
        topic: &str,
        partition: i32,
        records: Bytes,
    ) -> Result<AppendOutcome, ClusterError> {
        let mut s = self.lock();
        let (max, validate, rules) = (
            s.config.max_message_bytes,
            s.config.validate_records,
            s.config.idempotence_rules(),
        );
        let p = s.partition_mut(topic, partition)?;
        let (meta, raw) =
            check_batch(Some(&records), max, validate).map_err(|r| ClusterError::BatchRefused {
                code: r.code,
                reason: r.message,
            })?;
        Ok(p.log.append(meta, raw, rules))
    }

    /// Creates a topic now (leaders spread over the brokers).
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), ClusterError> {
        self.lock().create_topic(name, partitions, None)
    }

    /// Adds a fault rule; it applies to requests that arrive from now on.
    pub fn add_fault(&self, rule: FaultRule) -> FaultId {
        self.lock().faults.add(rule)
    }

    /// Removes a fault rule. Returns whether it was there.
    pub fn remove_fault(&self, id: FaultId) -> bool {
        self.lock().faults.remove(id)
    }

    /// Whether a one-shot rule has fired.
    pub fn fault_fired(&self, id: FaultId) -> bool {
        self.lock().faults.is_spent(id)
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// A partition's state and batches now.
    pub fn partition(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<PartitionSnapshot, ClusterError> {
        let s = self.lock();
        let p = s.partition(topic, partition)?;
        Ok(PartitionSnapshot::of(
            TopicPartition::new(topic, partition),
            p.leader,
            p.leader_epoch,
            &p.log,
        ))
    }

    /// Every partition's state now, ordered by topic then partition.
    pub fn partitions(&self) -> Vec<PartitionSnapshot> {
        let s = self.lock();
        s.topics
            .iter()
            .flat_map(|(name, t)| {
                t.partitions.iter().zip(0..).map(move |(p, i)| {
                    PartitionSnapshot::of(
                        TopicPartition::new(name.clone(), i),
                        p.leader,
                        p.leader_epoch,
                        &p.log,
                    )
                })
            })
            .collect()
    }

    /// Every request so far (empty when the request log is turned off).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.clone()
    }

    /// How many requests the brokers have finished with (answered, dropped
    /// or closed the connection on), whether or not the request log is kept.
    pub fn requests_finished(&self) -> u64 {
        *self.lock().finished.borrow()
    }

    /// Waits until the brokers have finished with `n` requests in total:
    /// a way for a test to let the broker catch up without sleeping.
    pub async fn wait_for_requests(&self, n: u64) {
        let mut rx = self.lock().finished.subscribe();
        // The sender lives as long as the cluster state, which `self` keeps
        // alive; an error would mean nothing more can arrive anyway.
        let _ = rx.wait_for(|&done| done >= n).await;
    }

    /// Running totals.
    pub fn counters(&self) -> Counters {
        self.lock().counters.clone()
    }
}
