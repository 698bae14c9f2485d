//! AddOffsetsToTxn (25): a consumer group joins the ongoing transaction, so
//! that the transaction's end commits or discards the offsets the producer
//! then sends with TxnOffsetCommit. 16 from a broker that is not the
//! coordinator, 49 / 90 from the coordinator's producer checks, or 0.

use kproducer_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use kproducer_protocol::{ApiKey, RequestHeader};

use super::coordinator::ensure_coordinator;
use super::{Handled, InjectedErrors};
use crate::cluster::FakeCluster;
use crate::connection_id::ConnectionId;
use crate::server::response_frame;

pub(crate) fn handle(
    cluster: &FakeCluster,
    conn: ConnectionId,
    header: &RequestHeader,
    request: &AddOffsetsToTxnRequest,
    errors: &InjectedErrors,
) -> Handled {
    let mut state = cluster.lock();
    let result = match errors.top_level() {
        Some(code) => Err(code),
        None => ensure_coordinator(&state, conn.broker).and_then(|()| {
            state.txn.add_offsets(
                &request.transactional_id,
                request.producer_id,
                request.producer_epoch,
                &request.group_id,
            )
        }),
    };
    drop(state);
    let body = AddOffsetsToTxnResponse {
        error_code: result.err().map_or(0, |c| c.as_i16()),
        ..Default::default()
    };
    Handled::answer(response_frame(
        ApiKey::AddOffsetsToTxn,
        header.api_version,
        header.correlation_id,
        &body,
    ))
}
