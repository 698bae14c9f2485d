//! FindCoordinator (10): which broker coordinates a group or a
//! transactional id, and the check the coordinator APIs make first.
//!
//! One broker coordinates everything: the one chosen with
//! [`FakeCluster::set_coordinator`](crate::FakeCluster::set_coordinator),
//! else the lowest broker id. While it is down the answer is 15
//! `COORDINATOR_NOT_AVAILABLE`; a coordinator request sent to any other
//! broker is 16 `NOT_COORDINATOR`.

use kproducer_protocol::messages::{Coordinator, FindCoordinatorRequest, FindCoordinatorResponse};
use kproducer_protocol::{ApiKey, ErrorCode, RequestHeader};

use super::{Handled, InjectedErrors};
use crate::cluster::FakeCluster;
use crate::cluster_state::ClusterState;
use crate::server::response_frame;

/// Fails unless `broker` is the (live) coordinator.
pub(crate) fn ensure_coordinator(state: &ClusterState, broker: i32) -> Result<(), ErrorCode> {
    if state.coordinator_id() == Some(broker) {
        Ok(())
    } else {
        Err(ErrorCode::NOT_COORDINATOR)
    }
}

pub(crate) fn handle(
    cluster: &FakeCluster,
    header: &RequestHeader,
    request: &FindCoordinatorRequest,
    errors: &InjectedErrors,
) -> Handled {
    let state = cluster.lock();
    let found = match errors.top_level() {
        Some(code) => Err(code),
        None => state
            .coordinator_id()
            .and_then(|id| {
                state
                    .brokers
                    .get(&id)
                    .filter(|b| b.up)
                    .map(|b| (id, b.address.clone()))
            })
            .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE),
    };
    drop(state);
    let (error_code, node_id, host, port) = match &found {
        Ok((id, addr)) => (
            ErrorCode::NONE,
            *id,
            addr.host.clone(),
            i32::from(addr.port),
        ),
        Err(code) => (*code, -1, String::new(), -1),
    };
    let message = (!error_code.is_ok()).then(|| error_code.name().to_owned());
    let body = if header.api_version >= 4 {
        FindCoordinatorResponse {
            coordinators: request
                .coordinator_keys
                .iter()
                .map(|key| Coordinator {
                    key: key.clone(),
                    node_id,
                    host: host.clone(),
                    port,
                    error_code: error_code.as_i16(),
                    error_message: message.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    } else {
        FindCoordinatorResponse {
            error_code: error_code.as_i16(),
            error_message: message,
            node_id,
            host,
            port,
            ..Default::default()
        }
    };
    Handled::answer(response_frame(
        ApiKey::FindCoordinator,
        header.api_version,
        header.correlation_id,
        &body,
    ))
}
