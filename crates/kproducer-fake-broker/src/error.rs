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

/// [`FakeCluster::listen`](crate::FakeCluster::listen) could not start
/// serving the cluster over TCP.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// The address is not `IP:PORT`.
    #[error("{0:?} is not an address to listen on: give 127.0.0.1:PORT (PORT 0 = any free port)")]
    InvalidAddress(String),
    /// The address is not 127.0.0.1: the fake broker never listens beyond
    /// this machine's IPv4 loopback.
    #[error("the fake broker only listens on 127.0.0.1, not {0}: use 127.0.0.1:PORT")]
    NotLoopback(std::net::IpAddr),
    /// Brokers get consecutive ports from the first one, and the last would
    /// be above 65535.
    #[error(
        "{brokers} brokers do not fit in consecutive ports from {first}: pick a lower port, or 0"
    )]
    PortRange {
        /// The first broker's port.
        first: u16,
        /// How many brokers need a port.
        brokers: usize,
    },
    /// Binding a broker's port failed (in use, or not permitted).
    #[error("broker {broker} cannot listen on {addr}: {source} (pick another port, or 0)")]
    Bind {
        /// The broker.
        broker: i32,
        /// The address it tried.
        addr: std::net::SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A listener already serves this cluster; drop it first.
    #[error("this cluster is already listening: drop or shut down the first LoopbackListener")]
    AlreadyListening,
    /// The TLS settings are unusable (bad PEM, key not matching, …).
    #[error("the fake broker's TLS settings are unusable: {0}")]
    Tls(String),
    /// Not called inside a tokio runtime.
    #[error(
        "the fake broker's listener needs a tokio runtime: call listen from async code running on tokio"
    )]
    NoRuntime,
}
