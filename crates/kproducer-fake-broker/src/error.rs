//! Errors from building or operating a fake cluster.

/// A cluster could not be built, or an operation named something that does
/// not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The builder was given no brokers.
    #[error("a cluster needs at least one broker: call .brokers(n) or .broker(id)")]
    NoBrokers,
    /// Two brokers share an id.
    #[error("broker id {0} is used twice: give each broker its own id")]
    DuplicateBroker(i32),
    /// A broker id that the cluster does not have.
    #[error("broker {0} is not part of this cluster")]
    UnknownBroker(i32),
    /// A topic that does not exist.
    #[error("topic {0:?} does not exist: create it first")]
    UnknownTopic(String),
    /// A partition index outside the topic.
    #[error("topic {topic:?} has {partitions} partitions, so partition {partition} does not exist")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
        /// How many the topic has.
        partitions: i32,
    },
    /// A topic that already exists.
    #[error("topic {0:?} already exists")]
    TopicExists(String),
    /// A topic name Kafka would refuse.
    #[error(
        "topic name {0:?} is invalid: use 1 to 249 characters from [a-zA-Z0-9._-], not \".\" or \"..\""
    )]
    InvalidTopicName(String),
    /// A stored batch could not be read back (only possible when record
    /// validation was turned off and a client wrote a bad batch).
    #[error("the batch at offset {offset} of {topic}-{partition} cannot be decoded: {reason}")]
    UndecodableBatch {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The batch's base offset.
        offset: i64,
        /// What the decoder said.
        reason: String,
    },
    /// A batch given to [`FakeCluster::append`](crate::FakeCluster::append)
    /// failed the checks a Produce request's batch must pass.
    #[error("the batch was refused with {code}: {reason}")]
    BatchRefused {
        /// The error code a Produce request would get.
        code: kproducer_protocol::ErrorCode,
        /// Why.
        reason: String,
    },
    /// A partition count below 1.
    #[error("topic {topic:?} needs at least one partition, got {count}")]
    InvalidPartitionCount {
        /// The topic.
        topic: String,
        /// The count given.
        count: i32,
    },
}
