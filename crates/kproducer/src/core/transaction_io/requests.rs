//! Running the transaction state machine's decisions: each
//! [`TxnRequest`] becomes a request to the transaction coordinator (or,
//! for FindCoordinator, to any broker), sent on the broker's shared
//! connection, whose outcome comes back as an [`Event::Transaction`].

use std::future::Future;
use std::pin::Pin;

use kproducer_net::{BrokerAddress, Connection};
use kproducer_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnTopic, EndTxnRequest, FindCoordinatorRequest,
    InitProducerIdRequest,
};

use super::offsets;
use super::outcome::{RequestFailure, TxnEvent};
use crate::core::idempotence::ProducerIdentity;
use crate::core::transaction::{Coordinator, TxnRequest};
use crate::core::{Core, Event};

pub(super) type ConnectionFuture = Pin<Box<dyn Future<Output = Result<Connection, String>> + Send>>;

impl Core {
    /// A connection to the coordinator: the broker's shared connection
    /// when its address is known from metadata, else a direct one.
    fn coordinator_connection(&mut self, c: &Coordinator) -> ConnectionFuture {
        if self.metadata.brokers.contains_key(&c.node)
            && let Some(link) = self.link(c.node)
        {
            let group = link.group.clone();
            return Box::pin(async move { group.connection(0).await.map_err(|e| e.to_string()) });
        }
        let transport = self.transport.clone();
        let config = self.group_config.connection.clone();
        let address = BrokerAddress::new(c.host.clone(), c.port);
        Box::pin(async move {
            Connection::connect(transport.as_ref(), &address, config)
                .await
                .map_err(|e| format!("transaction coordinator {address}: {e}"))
        })
    }

    fn producer_identity(&self) -> ProducerIdentity {
        self.idempotence
            .as_ref()
            .and_then(|i| i.producer())
            .unwrap_or(ProducerIdentity { id: -1, epoch: -1 })
    }

    pub(super) fn send_transaction_request(&mut self, request: TxnRequest) {
        let Some(link) = &self.transaction else {
            return;
        };
        let id = link.transactional_id.clone();
        let timeout_ms = link.timeout_ms;
        let coordinator = link.machine.coordinator().cloned();
        let producer = self.producer_identity();
        tracing::debug!(?request, "transaction request");
        let group_coordinator = link.machine.group_coordinator().cloned();
        let connection = match (&request, coordinator, group_coordinator) {
            (TxnRequest::CommitOffsets(_), _, Some(g)) => self.coordinator_connection(&g),
            (
                TxnRequest::FindCoordinator
                | TxnRequest::FindGroupCoordinator { .. }
                | TxnRequest::CommitOffsets(_),
                _,
                _,
            )
            | (_, None, _) => self.control_connection(),
            (_, Some(c), _) => self.coordinator_connection(&c),
        };
        let future: Pin<Box<dyn Future<Output = Event> + Send>> = match request {
            TxnRequest::FindCoordinator => {
                let body = FindCoordinatorRequest {
                    key: id.clone(),
                    key_type: 1,
                    coordinator_keys: vec![id],
                    ..Default::default()
                };
                Box::pin(async move {
                    let result = match connection.await {
                        Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
                        Err(e) => Err(RequestFailure::NotSent(e)),
                    };
                    Event::Transaction(TxnEvent::FindCoordinator(result))
                })
            }
            TxnRequest::InitProducerId { bump } => {
                let (producer_id, producer_epoch) = if bump {
                    (producer.id, producer.epoch)
                } else {
                    (-1, -1)
                };
                let body = InitProducerIdRequest {
                    transactional_id: Some(id),
                    transaction_timeout_ms: timeout_ms,
                    producer_id,
                    producer_epoch,
                    tagged_fields: Default::default(),
                };
                Box::pin(async move {
                    let result = match connection.await {
                        Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
                        Err(e) => Err(RequestFailure::NotSent(e)),
                    };
                    Event::Transaction(TxnEvent::InitProducerId { bump, result })
                })
            }
            TxnRequest::AddPartitions(partitions) => {
                let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
                for tp in partitions {
                    match topics.iter_mut().find(|t| *t.name == *tp.topic) {
                        Some(t) => t.partitions.push(tp.partition),
                        None => topics.push(AddPartitionsToTxnTopic {
                            name: tp.topic.to_string(),
                            partitions: vec![tp.partition],
                            ..Default::default()
                        }),
                    }
                }
                let body = AddPartitionsToTxnRequest {
                    transactional_id: id,
                    producer_id: producer.id,
                    producer_epoch: producer.epoch,
                    topics,
                    ..Default::default()
                };
                Box::pin(async move {
                    let result = match connection.await {
                        Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
                        Err(e) => Err(RequestFailure::NotSent(e)),
                    };
                    Event::Transaction(TxnEvent::AddPartitions(result))
                })
            }
            TxnRequest::EndTxn { commit } => {
                let body = EndTxnRequest {
                    transactional_id: id,
                    producer_id: producer.id,
                    producer_epoch: producer.epoch,
                    committed: commit,
                    ..Default::default()
                };
                Box::pin(async move {
                    let result = match connection.await {
                        Ok(c) => c.send(&body).await.map_err(RequestFailure::of),
                        Err(e) => Err(RequestFailure::NotSent(e)),
                    };
                    Event::Transaction(TxnEvent::EndTxn(result))
                })
            }
            TxnRequest::AddOffsets { group_id } => {
                offsets::add_offsets(group_id, id, producer, connection)
            }
            TxnRequest::FindGroupCoordinator { group_id } => {
                offsets::find_group_coordinator(group_id, connection)
            }
            TxnRequest::CommitOffsets(commit) => {
                offsets::commit_offsets(commit, id, producer, connection)
            }
        };
        self.events.push(future);
    }
}
