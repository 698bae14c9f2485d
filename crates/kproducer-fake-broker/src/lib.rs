//! An in-memory Kafka cluster with Kafka's real idempotence rules, fault
//! plans and an in-memory [`Transport`](kproducer_net::Transport).
//!
//! - [`ProducerStates`]: the idempotence rules as a pure state machine.
//! - [`FakeCluster`]: brokers, topics, partitions, leaders and logs, with
//!   operations a test can apply at any moment (move a leader, take a broker
//!   down, expire a producer, advance a log start offset, create a topic).
//! - [`FaultPlan`] rules: match requests and act on them (error codes,
//!   delays, dropped responses, closed connections, holds).
//! - [`FakeTransport`]: connects a client to the cluster through in-memory
//!   duplex streams; each connection's requests are served one at a time, in
//!   arrival order, with a configurable service time.

mod producer_state;

pub use producer_state::{
    BATCHES_RETAINED, BehaviourMode, CachedBatch, IdempotenceRules, IncomingBatch, NO_PRODUCER_ID,
    ProducerEntry, ProducerStates, RejectReason, SequenceDecision, add_sequence, next_sequence,
};
