//! Transactions: [`Producer::init_transactions`],
//! [`Producer::begin_transaction`], [`Producer::commit_transaction`] and
//! [`Producer::abort_transaction`], and the builder's `transactional.id`
//! settings. The state machine behind them is described in
//! `docs/transactions.md`.
//!
//! Records sent between `begin_transaction` and a successful
//! `commit_transaction` become visible to read-committed consumers
//! together; after `abort_transaction` none of them ever does. A second
//! producer with the same `transactional.id` fences this one: its later
//! operations fail with [`Error::Fatal`] (code `PRODUCER_FENCED` or
//! `INVALID_PRODUCER_EPOCH`), and none of its records becomes visible after
//! the fence.
//!
//! # References
//! - KIP-98 (exactly-once delivery and transactional messaging)

mod error;
mod offsets;

use std::collections::BTreeMap;
use std::time::Duration;

use kproducer_net::TopicPartition;

use tokio::sync::oneshot;

pub use self::error::{TransactionError, TransactionPhase};
pub use self::offsets::{ConsumerGroupMetadata, OffsetAndMetadata};
use crate::core::Command;
use crate::core::transaction::OffsetCommit;
use crate::core::transaction_io::TxnCommand;
use crate::error::Error;
use crate::producer::{Producer, ProducerBuilder};

impl Producer {
    /// Whether the producer was built with `transactional.id`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// use kproducer::Producer;
    ///
    /// let servers = ["127.0.0.1:9092"];
    /// assert!(!Producer::builder().bootstrap_servers(servers).build()?.is_transactional());
    /// let producer =
    ///     Producer::builder().bootstrap_servers(servers).transactional_id("billing-1").build()?;
    /// assert!(producer.is_transactional() && producer.is_idempotent());
    /// # Ok(()) }
    /// ```
    pub fn is_transactional(&self) -> bool {
        self.settings().config.transactional_id.is_some()
    }

    /// Registers the producer's `transactional.id` with its transaction
    /// coordinator: finds the coordinator, gets the producer id and a new
    /// epoch (which fences any older producer with the same id and aborts
    /// its open transaction). Call once, before the first transaction.
    ///
    /// # Errors
    /// [`TransactionError::Timeout`] when `timeout` passes first (the
    /// initialization goes on: call again to wait for it);
    /// [`Error::Fatal`] when the coordinator refuses (not authorized);
    /// [`TransactionError::InvalidState`] when already initialized;
    /// [`TransactionError::NotTransactional`] without `transactional.id`.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use kproducer::{Producer, Record};
    /// use kproducer_fake_broker::FakeCluster;
    ///
    /// let cluster = FakeCluster::builder().brokers(1).topic("orders", 2).build().unwrap();
    /// let producer = Producer::builder()
    ///     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    ///     .transport(Arc::new(cluster.transport()))
    ///     .transactional_id("orders-writer")
    ///     .build()?;
    /// producer.init_transactions(Duration::from_secs(10)).await?;
    ///
    /// producer.begin_transaction().await?;
    /// producer.send(Record::new("orders", "paid").with_partition(0)).await?;
    /// producer.send(Record::new("orders", "shipped").with_partition(1)).await?;
    /// producer.commit_transaction(Duration::from_secs(10)).await?;
    ///
    /// assert_eq!(cluster.committed_values("orders", 0).unwrap().len(), 1);
    /// assert_eq!(cluster.committed_values("orders", 1).unwrap().len(), 1);
    /// # Ok(()) }
    /// ```
    pub async fn init_transactions(&self, timeout: Duration) -> Result<(), Error> {
        self.transaction_command(TxnCommand::Init, "init_transactions", Some(timeout))
            .await
    }

    /// Opens a transaction: records sent from now on belong to it until
    /// [`commit_transaction`](Self::commit_transaction) or
    /// [`abort_transaction`](Self::abort_transaction). No round trip: the
    /// coordinator learns of each partition when its first batch is sent.
    ///
    /// # Errors
    /// [`TransactionError::InvalidState`] before `init_transactions` or
    /// inside an open transaction; [`Error::Fatal`] once fenced.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use kproducer::Producer;
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 2).build().unwrap();
    /// # let producer = Producer::builder()
    /// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #     .transport(Arc::new(cluster.transport()))
    /// #     .transactional_id("orders-writer")
    /// #     .build()?;
    /// use kproducer::{Error, Record, TransactionError};
    ///
    /// // Sending before a transaction is open is a typed error.
    /// let early = producer.send(Record::new("orders", "too early")).await;
    /// assert!(matches!(early, Err(Error::Transaction(TransactionError::NoTransaction))));
    ///
    /// producer.init_transactions(Duration::from_secs(10)).await?;
    /// producer.begin_transaction().await?;
    /// let twice = producer.begin_transaction().await;
    /// assert!(matches!(twice, Err(Error::Transaction(TransactionError::InvalidState { .. }))));
    /// # Ok(()) }
    /// ```
    pub async fn begin_transaction(&self) -> Result<(), Error> {
        self.transaction_command(TxnCommand::Begin, "begin_transaction", None)
            .await
    }

    /// Commits the open transaction: sends every record of it (without
    /// waiting for `linger.ms`), waits until all are acknowledged, then asks
    /// the coordinator to commit. On success every record of the transaction
    /// is visible to read-committed consumers.
    ///
    /// # Errors
    /// [`TransactionError::Abortable`] when a record of the transaction
    /// failed or the coordinator refused: call
    /// [`abort_transaction`](Self::abort_transaction) and carry on;
    /// [`Error::Fatal`] when fenced by a newer producer;
    /// [`TransactionError::Timeout`] when `timeout` passes first (the commit
    /// goes on: call again to wait for its outcome);
    /// [`TransactionError::InvalidState`] without an open transaction
    /// (committing twice).
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use kproducer::Producer;
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 1).build().unwrap();
    /// # let producer = Producer::builder()
    /// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #     .transport(Arc::new(cluster.transport()))
    /// #     .transactional_id("orders-writer")
    /// #     .build()?;
    /// use kproducer::{Error, Record, TransactionError};
    ///
    /// producer.init_transactions(Duration::from_secs(10)).await?;
    /// producer.begin_transaction().await?;
    /// let delivery = producer.send(Record::new("orders", "paid")).await?;
    /// producer.commit_transaction(Duration::from_secs(10)).await?;
    /// assert_eq!(delivery.await?.offset, 0, "committed records are acknowledged");
    ///
    /// let again = producer.commit_transaction(Duration::from_secs(10)).await;
    /// assert!(matches!(again, Err(Error::Transaction(TransactionError::InvalidState { .. }))));
    /// # Ok(()) }
    /// ```
    pub async fn commit_transaction(&self, timeout: Duration) -> Result<(), Error> {
        self.transaction_command(TxnCommand::Commit, "commit_transaction", Some(timeout))
            .await
    }

    /// Aborts the open transaction: records of it not yet sent fail with
    /// [`TransactionError::Aborted`], records in flight are waited for, then
    /// the coordinator writes abort markers. None of the transaction's
    /// records ever becomes visible to read-committed consumers. After an
    /// abortable error the epoch is bumped too (KIP-360), so the next
    /// transaction starts clean.
    ///
    /// # Errors
    /// [`Error::Fatal`] when fenced; [`TransactionError::Timeout`] when
    /// `timeout` passes first (call again to wait);
    /// [`TransactionError::InvalidState`] without an open transaction.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// # use std::sync::Arc;
    /// # use std::time::Duration;
    /// # use kproducer::Producer;
    /// # use kproducer_fake_broker::FakeCluster;
    /// # let cluster = FakeCluster::builder().brokers(1).topic("orders", 1).build().unwrap();
    /// # let producer = Producer::builder()
    /// #     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    /// #     .transport(Arc::new(cluster.transport()))
    /// #     .transactional_id("orders-writer")
    /// #     .build()?;
    /// use kproducer::Record;
    ///
    /// producer.init_transactions(Duration::from_secs(10)).await?;
    /// producer.begin_transaction().await?;
    /// producer.send(Record::new("orders", "never visible")).await?;
    /// producer.flush().await?; // written to the log, not yet committed
    /// producer.abort_transaction(Duration::from_secs(10)).await?;
    /// assert!(cluster.committed_values("orders", 0).unwrap().is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn abort_transaction(&self, timeout: Duration) -> Result<(), Error> {
        self.transaction_command(TxnCommand::Abort, "abort_transaction", Some(timeout))
            .await
    }

    /// Commits a consumer group's offsets in the open transaction: they
    /// become the group's committed offsets when the transaction commits,
    /// together with the records sent in it, and are discarded when it
    /// aborts. This is what consume-transform-produce applications need
    /// for exactly-once processing: the input's progress and the output
    /// are committed atomically.
    ///
    /// `offsets` maps each consumed partition to the offset of the **next**
    /// record to consume. `group` is the consumer's group metadata: with
    /// its generation and member id (KIP-447) the group coordinator refuses
    /// the offsets of a consumer that a rebalance has removed from the
    /// group; [`ConsumerGroupMetadata::new`] sends the group id alone.
    ///
    /// As Kafka's Java producer does, it asks the transaction coordinator
    /// to add the group to the transaction (AddOffsetsToTxn), then finds
    /// the group's coordinator and sends it the offsets (TxnOffsetCommit)
    /// with the producer id and epoch. It returns once the group
    /// coordinator has accepted every offset. Coordinator trouble (moved,
    /// loading, not available, concurrent transactions) is retried after
    /// `retry.backoff.ms`.
    ///
    /// # Errors
    /// - [`TransactionError::InvalidState`] outside an open transaction (before
    ///   `begin_transaction`, during a commit or an abort), or while another
    ///   call with other offsets is under way;
    /// - [`TransactionError::Abortable`] when the group coordinator refused the
    ///   offsets because the group rebalanced
    ///   ([`TransactionError::is_group_rebalance`]: 25 `UNKNOWN_MEMBER_ID`, 22
    ///   `ILLEGAL_GENERATION`, 82 `FENCED_INSTANCE_ID`), the group is not
    ///   authorized (30), or the transaction had already failed: abort the
    ///   transaction, then carry on;
    /// - [`Error::Fatal`] when the producer is fenced by a newer instance or
    ///   not authorized, or the broker cannot carry the group metadata
    ///   (TxnOffsetCommit below v3);
    /// - [`TransactionError::Timeout`] after `max.block.ms`: the call goes
    ///   on, calling it again with the same offsets waits for it;
    /// - [`TransactionError::NotTransactional`] without `transactional.id`.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), kproducer::Error> {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use kproducer::{ConsumerGroupMetadata, OffsetAndMetadata, Producer, Record, TopicPartition};
    /// use kproducer_fake_broker::FakeCluster;
    ///
    /// let cluster = FakeCluster::builder().brokers(1).topic("in", 1).topic("out", 1).build().unwrap();
    /// let producer = Producer::builder()
    ///     .bootstrap_servers(cluster.bootstrap_servers().split(','))
    ///     .transport(Arc::new(cluster.transport()))
    ///     .transactional_id("enricher-1")
    ///     .build()?;
    /// producer.init_transactions(Duration::from_secs(10)).await?;
    ///
    /// // Consumed "in" up to offset 41: write the results, commit the progress.
    /// producer.begin_transaction().await?;
    /// producer.send(Record::new("out", "enriched")).await?;
    /// producer
    ///     .send_offsets_to_transaction(
    ///         [(TopicPartition::new("in", 0), OffsetAndMetadata::new(42))],
    ///         ConsumerGroupMetadata::new("enrichers"),
    ///     )
    ///     .await?;
    /// producer.commit_transaction(Duration::from_secs(10)).await?;
    ///
    /// let committed = cluster.committed_offsets("enrichers");
    /// assert_eq!(committed[&TopicPartition::new("in", 0)].offset, 42);
    /// assert_eq!(cluster.committed_values("out", 0).unwrap().len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # References
    /// - KIP-98 (transactional offset commits), KIP-447 (group metadata)
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
        group: ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = offsets.into_iter().collect();
        let command = TxnCommand::SendOffsets(Box::new(OffsetCommit { group, offsets }));
        let timeout = self.settings().config.max_block;
        self.transaction_command(command, "send_offsets_to_transaction", Some(timeout))
            .await
    }

    async fn transaction_command(
        &self,
        op: TxnCommand,
        operation: &'static str,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        if !self.is_transactional() {
            return Err(TransactionError::NotTransactional { operation }.into());
        }
        let (reply, rx) = oneshot::channel();
        self.command(Command::Transaction { op, reply })?;
        let outcome = match timeout {
            Some(t) => match tokio::time::timeout(t, rx).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    return Err(TransactionError::Timeout {
                        operation,
                        timeout: t,
                    }
                    .into());
                }
            },
            None => rx.await,
        };
        outcome.map_err(|_| Error::Closed)?
    }
}

impl ProducerBuilder {
    /// `transactional.id`: makes the producer transactional. It implies
    /// idempotence and one connection per broker; asking for more
    /// connections with it is a configuration error.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use kproducer::Producer;
    ///
    /// let servers = ["127.0.0.1:9092"];
    /// let producer = Producer::builder().bootstrap_servers(servers).transactional_id("t-1").build();
    /// assert!(producer.unwrap().is_transactional());
    ///
    /// let err = Producer::builder()
    ///     .bootstrap_servers(servers)
    ///     .transactional_id("t-1")
    ///     .connections(1, 8)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("one connection per broker"));
    /// # }
    /// ```
    #[must_use]
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.config.transactional_id = Some(id.into());
        self
    }

    /// `transaction.timeout.ms`: how long the coordinator lets a
    /// transaction stay open before aborting it (sent with
    /// InitProducerId). Default 60 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let _builder = kproducer::Producer::builder()
    ///     .transactional_id("t-1")
    ///     .transaction_timeout(Duration::from_secs(30));
    /// ```
    #[must_use]
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.config.transaction_timeout = timeout;
        self
    }
}
