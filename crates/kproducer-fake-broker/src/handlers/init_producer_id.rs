//! InitProducerId (22): producer ids and epochs, from the transaction
//! coordinator's state machine. Idempotent producers may ask any broker; a
//! transactional id must ask the coordinator (16 `NOT_COORDINATOR`).

use kproducer_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};
use kproducer_protocol::{ApiKey, RequestHeader};

use super::coordinator::ensure_coordinator;
use super::{Handled, InjectedErrors};
use crate::cluster::FakeCluster;
use crate::connection_id::ConnectionId;
use crate::server::response_frame;
use crate::txn_markers::write_markers;

pub(crate) fn handle(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: &RequestHeader,
    request: &InitProducerIdRequest,
    errors: &InjectedErrors,
) -> Handled {
    let mut state = cluster.lock();
    let tid = request.transactional_id.as_deref();
    let outcome = match errors.top_level() {
        Some(code) => Err(code),
        None if tid.is_some() => ensure_coordinator(&state, conn.broker),
        None => Ok(()),
    }
    .and_then(|()| {
        state
            .txn
            .init_producer_id(tid, request.producer_id, request.producer_epoch)
    });
    let body = match outcome {
        Ok(o) => {
            if let Some(tid) = tid {
                state
                    .txn
                    .set_transaction_timeout(tid, request.transaction_timeout_ms);
            }
            if let Some(aborted) = &o.aborted {
                write_markers(&mut state, aborted);
            }
            // A test seam (`FakeClusterBuilder::idempotent_producer_epoch`):
            // idempotent producers may be handed a chosen first epoch.
            let producer_epoch = if tid.is_none() {
                state.config.idempotent_producer_epoch
            } else {
                o.producer_epoch
            };
            InitProducerIdResponse {
                producer_id: o.producer_id,
                producer_epoch,
                ..Default::default()
            }
        }
        Err(code) => InitProducerIdResponse {
            error_code: code.as_i16(),
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        },
    };
    drop(state);
    Handled::answer(response_frame(
        ApiKey::InitProducerId,
        header.api_version,
        header.correlation_id,
        &body,
    ))
}
