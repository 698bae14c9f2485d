//! EndTxn (26): commit or abort; the coordinator writes a marker (control
//! batch) to every partition in the transaction before answering.

use kproducer_protocol::messages::{EndTxnRequest, EndTxnResponse};
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
    request: &EndTxnRequest,
    errors: &InjectedErrors,
) -> Handled {
    let mut state = cluster.lock();
    let result = match errors.top_level() {
        Some(code) => Err(code),
        None => ensure_coordinator(&state, conn.broker).and_then(|()| {
            state.txn.end_txn(
                &request.transactional_id,
                request.producer_id,
                request.producer_epoch,
                request.committed,
            )
        }),
    };
    let error_code = match result {
        Ok(Some(ended)) => {
            write_markers(&mut state, &ended);
            0
        }
        Ok(None) => 0,
        Err(code) => code.as_i16(),
    };
    drop(state);
    let body = EndTxnResponse {
        error_code,
        ..Default::default()
    };
    Handled::answer(response_frame(
        ApiKey::EndTxn,
        header.api_version,
        header.correlation_id,
        &body,
    ))
}
