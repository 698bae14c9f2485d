//! What a coordinator request comes back with: the broker's response, or
//! why there is none ([`RequestFailure`]), as the core's event loop carries
//! it back to the transaction ([`TxnEvent`]).

use kproducer_net::ConnectionError;
use kproducer_protocol::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnResponse, EndTxnResponse, FindCoordinatorResponse,
    InitProducerIdResponse, TxnOffsetCommitResponse,
};

use crate::core::transaction::Answer;

/// Why a coordinator request got no answer.
#[derive(Debug)]
pub(crate) enum RequestFailure {
    /// The connection failed or the request timed out: retry.
    Lost(String),
    /// The broker supports no version of the API: fatal.
    Unsupported(String),
}

impl RequestFailure {
    pub(super) fn of(e: ConnectionError) -> Self {
        match e {
            // An encode error is a request the broker's version cannot
            // carry (TxnOffsetCommit group metadata below v3): as fatal as
            // a missing API, as in Java.
            ConnectionError::UnsupportedApi { .. } | ConnectionError::Encode { .. } => {
                RequestFailure::Unsupported(e.to_string())
            }
            other => RequestFailure::Lost(other.to_string()),
        }
    }

    pub(super) fn answer<T>(self) -> Answer<T> {
        match self {
            RequestFailure::Lost(why) => Answer::Lost(why),
            RequestFailure::Unsupported(why) => Answer::Unsupported(why),
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
