//! What a coordinator request comes back with: the broker's response, or
//! why there is none ([`RequestFailure`]), as the core's event loop carries
//! it back to the transaction ([`TxnEvent`]).

use kproducer_net::{ConnectionError, SendState};
use kproducer_protocol::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnResponse, EndTxnResponse, FindCoordinatorResponse,
    InitProducerIdResponse, TxnOffsetCommitResponse,
};
use kproducer_protocol::{ApiKey, EncodeError};

use crate::core::transaction::{Answer, Unsendable};

/// Why a coordinator request got no answer.
#[derive(Debug)]
pub(crate) enum RequestFailure {
    /// The connection failed after the request was written, or the request
    /// timed out: the coordinator may have acted on it. Retry.
    Lost(String),
    /// The request never reached the broker (no connection, or it closed
    /// before the request was written). Retry.
    NotSent(String),
    /// The request cannot be sent at all: fatal.
    Unsendable(Unsendable),
}

impl RequestFailure {
    /// What a failed request means for the transaction. Kept apart: a
    /// broker without the API, a broker whose version of it cannot carry
    /// what the request holds, and a request kproducer could not encode.
    pub(super) fn of(e: ConnectionError) -> Self {
        match &e {
            ConnectionError::UnsupportedApi { .. } => {
                RequestFailure::Unsendable(Unsendable::NoVersion(e.to_string()))
            }
            // The one value TxnOffsetCommit cannot represent in an older
            // version: the KIP-447 group metadata below v3. As fatal as a
            // missing API (Java's producer fails the same way), rather
            // than dropping the zombie fencing the caller asked for.
            ConnectionError::Encode {
                api: ApiKey::TxnOffsetCommit,
                version,
                source: EncodeError::NotRepresentable { .. },
            } => RequestFailure::Unsendable(Unsendable::GroupMetadataNeedsV3 { version: *version }),
            ConnectionError::Encode { .. } => {
                RequestFailure::Unsendable(Unsendable::Encode(e.to_string()))
            }
            _ if e.send_state() == SendState::NotSent => RequestFailure::NotSent(e.to_string()),
            _ => RequestFailure::Lost(e.to_string()),
        }
    }

    /// The failure as the state machine takes it.
    pub(super) fn answer<T>(self) -> Answer<T> {
        match self {
            RequestFailure::Lost(why) => Answer::Lost(why),
            RequestFailure::NotSent(why) => Answer::NotSent(why),
            RequestFailure::Unsendable(why) => Answer::Unsendable(why),
        }
    }
}

pub(super) type Outcome<T> = Result<T, RequestFailure>;

/// A coordinator request's outcome.
#[derive(Debug)]
pub(crate) enum TxnEvent {
    FindCoordinator(Outcome<FindCoordinatorResponse>),
    InitProducerId {
        bump: bool,
        result: Outcome<InitProducerIdResponse>,
    },
    AddPartitions(Outcome<AddPartitionsToTxnResponse>),
    EndTxn(Outcome<EndTxnResponse>),
    AddOffsets(Outcome<AddOffsetsToTxnResponse>),
    FindGroupCoordinator(Outcome<FindCoordinatorResponse>),
    CommitOffsets(Outcome<TxnOffsetCommitResponse>),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::BytesMut;
    use kproducer_net::{BrokerAddress, CloseReason};
    use kproducer_protocol::Message;
    use kproducer_protocol::messages::TxnOffsetCommitRequest;

    use super::*;

    fn broker() -> BrokerAddress {
        BrokerAddress::new("127.0.0.1", 9092)
    }

    /// What the connection reports when a request cannot be encoded at
    /// `version`: the real encoder's error.
    fn encode_error(request: &TxnOffsetCommitRequest, version: i16) -> ConnectionError {
        let source = request
            .encode(&mut BytesMut::new(), version)
            .expect_err("not encodable at this version");
        ConnectionError::Encode {
            api: ApiKey::TxnOffsetCommit,
            version,
            source,
        }
    }

    #[test]
    fn group_metadata_below_v3_is_told_apart_from_a_missing_api() {
        let with_member = TxnOffsetCommitRequest {
            generation_id: 4,
            member_id: "m-1".into(),
            ..Default::default()
        };
        assert!(matches!(
            RequestFailure::of(encode_error(&with_member, 2)),
            RequestFailure::Unsendable(Unsendable::GroupMetadataNeedsV3 { version: 2 })
        ));
        let missing = ConnectionError::UnsupportedApi {
            broker: broker(),
            api: ApiKey::EndTxn,
            broker_range: None,
        };
        assert!(matches!(
            RequestFailure::of(missing),
            RequestFailure::Unsendable(Unsendable::NoVersion(why)) if why.contains("EndTxn")
        ));
    }

    #[test]
    fn a_value_too_long_to_encode_is_an_encode_failure() {
        let long = TxnOffsetCommitRequest {
            member_id: "m".repeat(usize::from(u16::MAX)),
            ..Default::default()
        };
        let failure = RequestFailure::of(encode_error(&long, 3));
        assert!(
            matches!(&failure, RequestFailure::Unsendable(Unsendable::Encode(why)) if why.contains("member_id")),
            "{failure:?}"
        );
    }

    #[test]
    fn only_a_request_that_may_have_been_written_is_lost() {
        let closed = |state| ConnectionError::Closed {
            broker: broker(),
            reason: CloseReason::PeerClosed,
            state,
        };
        assert!(matches!(
            RequestFailure::of(closed(SendState::MaybeSent)),
            RequestFailure::Lost(_)
        ));
        assert!(matches!(
            RequestFailure::of(ConnectionError::TimedOut {
                broker: broker(),
                timeout: Duration::from_secs(30),
                state: SendState::MaybeSent,
            }),
            RequestFailure::Lost(_)
        ));
        assert!(matches!(
            RequestFailure::of(closed(SendState::NotSent)),
            RequestFailure::NotSent(_)
        ));
    }
}
