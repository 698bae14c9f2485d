//! What [`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction)
//! takes: the consumer group's metadata ([`ConsumerGroupMetadata`]) and an
//! offset per partition ([`OffsetAndMetadata`]).

/// The consumer group whose offsets a transaction commits, as the consumer
/// knows it after its last rebalance.
///
/// With the generation id and member id (what Java's
/// `KafkaConsumer::groupMetadata` returns) the group coordinator refuses
/// the offsets of a consumer that has been rebalanced out of the group
/// (KIP-447): the transaction then fails with an abortable error whose code
/// is `UNKNOWN_MEMBER_ID`, `ILLEGAL_GENERATION` or `FENCED_INSTANCE_ID`
/// (see [`TransactionError::is_group_rebalance`](crate::TransactionError::is_group_rebalance)).
/// [`ConsumerGroupMetadata::new`] is the older form with the group id only:
/// nothing is checked, as before KIP-447.
///
/// ```
/// use kproducer::ConsumerGroupMetadata;
///
/// let plain = ConsumerGroupMetadata::new("order-processors");
/// assert_eq!(plain.generation_id, -1);
///
/// let fenced = ConsumerGroupMetadata {
///     generation_id: 12,
///     member_id: "consumer-1-8d5e".into(),
///     group_instance_id: Some("processor-host-3".into()),
///     ..ConsumerGroupMetadata::new("order-processors")
/// };
/// assert_eq!(fenced.group_id, "order-processors");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsumerGroupMetadata {
    /// The consumer group's id (`group.id`).
    pub group_id: String,
    /// The group generation the consumer joined, -1 when unknown.
    pub generation_id: i32,
    /// The member id the group coordinator gave the consumer, empty when
    /// unknown.
    pub member_id: String,
    /// The consumer's static membership id (`group.instance.id`), if any.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// The group by its id only (generation -1, no member id, no instance
    /// id): the pre-KIP-447 form, which the coordinator does not check
    /// against the group's members.
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// The offset to commit for one partition: the offset of the **next**
/// record the group should consume (the last processed offset + 1), with
/// optional metadata kept alongside it.
///
/// ```
/// use kproducer::OffsetAndMetadata;
///
/// let next = OffsetAndMetadata::new(42).with_metadata("processed by host-3");
/// assert_eq!(next.offset, 42);
/// assert_eq!(OffsetAndMetadata::from(7).metadata, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetAndMetadata {
    /// The next offset to consume.
    pub offset: i64,
    /// Metadata kept with the offset.
    pub metadata: Option<String>,
    /// The leader epoch of the last consumed record, when the consumer
    /// knows it (sent with TxnOffsetCommit v2+).
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset without metadata or leader epoch.
    pub fn new(offset: i64) -> Self {
        Self {
            offset,
            metadata: None,
            leader_epoch: None,
        }
    }

    /// The same offset with `metadata` kept alongside it.
    #[must_use]
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// The same offset with the last consumed record's leader epoch.
    #[must_use]
    pub fn with_leader_epoch(mut self, leader_epoch: i32) -> Self {
        self.leader_epoch = Some(leader_epoch);
        self
    }
}

impl From<i64> for OffsetAndMetadata {
    fn from(offset: i64) -> Self {
        Self::new(offset)
    }
}
