//! What can go wrong with a request on a [`Connection`](super::Connection),
//! and whether the request may have reached the broker when it did.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use kproducer_protocol::{ApiKey, DecodeError, EncodeError, VersionRange};

use crate::transport::{BrokerAddress, TransportError};

/// Whether a failed request may have reached the broker.
///
/// An idempotent producer must treat a [`MaybeSent`](SendState::MaybeSent)
/// batch as possibly persisted (its sequence numbers are spent) and may
/// re-route a [`NotSent`](SendState::NotSent) batch freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendState {
    /// No byte of the request was handed to the socket: the broker cannot
    /// have seen it.
    NotSent,
    /// The request was written (or was being written) to the socket: the
    /// broker may have processed it.
    MaybeSent,
}

impl fmt::Display for SendState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendState::NotSent => "was not sent",
            SendState::MaybeSent => "may have reached the broker",
        })
    }
}

/// Why a connection closed. Shared by every request that was pending on it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// The broker closed the connection between frames.
    #[error("the broker closed the connection")]
    PeerClosed,
    /// The broker closed the connection in the middle of a response frame.
    #[error("the broker closed the connection in the middle of a response frame")]
    TruncatedFrame,
    /// A response frame announced more bytes than the configured maximum.
    #[error(
        "response frame of {size} bytes exceeds the limit of {max} bytes \
         (raise max_response_frame_bytes if the broker is trusted)"
    )]
    FrameTooLarge {
        /// The size the frame announced.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// The first bytes from the broker are a TLS record, not a Kafka
    /// response: the listener speaks TLS and this client does not.
    #[error(
        "the broker answered with TLS bytes: its listener speaks TLS; set \
         security.protocol=SSL (or SASL_SSL) and ssl.ca.location"
    )]
    TlsListener,
    /// A response frame could not be parsed (for example, too short to hold a
    /// response header).
    #[error("corrupt response frame: {0}")]
    CorruptFrame(DecodeError),
    /// A response body could not be decoded; the stream can no longer be
    /// trusted.
    #[error("a response could not be decoded: {0}")]
    UndecodableResponse(DecodeError),
    /// A response's correlation id is not the one of the oldest outstanding
    /// request. Kafka answers one connection's requests in order, so this
    /// means the stream is out of sync.
    #[error(
        "response correlation id {received} does not match the oldest outstanding request ({})",
        expected.map_or_else(|| "none outstanding".to_owned(), |c| c.to_string())
    )]
    UnexpectedCorrelationId {
        /// The correlation id in the response.
        received: i32,
        /// The correlation id of the oldest outstanding request, if any.
        expected: Option<i32>,
    },
    /// Reading from the socket failed.
    #[error("reading from the socket failed: {0}")]
    Read(Arc<io::Error>),
    /// Writing to the socket failed.
    #[error("writing to the socket failed: {0}")]
    Write(Arc<io::Error>),
    /// A request got no response in time; the connection was closed because
    /// the responses behind it can no longer be trusted to arrive in time.
    #[error("request with correlation id {correlation_id} got no response within {timeout:?}")]
    RequestTimedOut {
        /// The request that timed out.
        correlation_id: i32,
        /// Its timeout.
        timeout: Duration,
    },
    /// Nothing was in flight for the configured idle time
    /// (`connections.max.idle.ms`).
    #[error("the connection was idle for {0:?}")]
    Idle(Duration),
    /// The client closed the connection (explicit close, retired slot, or
    /// every handle dropped).
    #[error("the connection was closed by the client")]
    ClosedByClient,
}

/// A request on a connection failed.
///
/// Every variant says whether the request may have reached the broker:
/// [`ConnectionError::send_state`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The connection could not be opened.
    #[error("could not connect to {broker}: {source}")]
    Connect {
        /// The broker.
        broker: BrokerAddress,
        /// What the transport said.
        #[source]
        source: Arc<TransportError>,
    },
    /// The connection closed before the request completed.
    #[error("connection to {broker} closed ({reason}); the request {state}")]
    Closed {
        /// The broker.
        broker: BrokerAddress,
        /// Why it closed.
        #[source]
        reason: CloseReason,
        /// Whether this request may have reached the broker.
        state: SendState,
    },
    /// This request got no response within its timeout. The connection was
    /// closed (as Kafka's Java client does), failing the requests behind it.
    #[error("request to {broker} timed out after {timeout:?}; the request {state}")]
    TimedOut {
        /// The broker.
        broker: BrokerAddress,
        /// The timeout that ran out.
        timeout: Duration,
        /// Whether this request may have reached the broker.
        state: SendState,
    },
    /// The request could not be encoded; nothing was sent.
    #[error("cannot encode {api} v{version} request: {source}")]
    Encode {
        /// The API.
        api: ApiKey,
        /// The version tried.
        version: i16,
        /// What the encoder said.
        #[source]
        source: EncodeError,
    },
    /// The response arrived but could not be decoded. The broker processed
    /// the request; the connection was closed because the stream can no
    /// longer be trusted.
    #[error("cannot decode {api} v{version} response from {broker}: {source}")]
    Decode {
        /// The broker.
        broker: BrokerAddress,
        /// The API.
        api: ApiKey,
        /// The version used.
        version: i16,
        /// What the decoder said.
        #[source]
        source: DecodeError,
    },
    /// The broker supports no version of this API that this client speaks;
    /// nothing was sent. Upgrade the broker or the client.
    #[error(
        "{broker} supports no version of {api} that this client speaks \
         (broker: {}, client: {}..={})",
        broker_range.map_or_else(|| "not supported".to_owned(), |r| format!("{}..={}", r.min, r.max)),
        api.versions().min, api.versions().max
    )]
    UnsupportedApi {
        /// The broker.
        broker: BrokerAddress,
        /// The API.
        api: ApiKey,
        /// What the broker advertised, if anything.
        broker_range: Option<VersionRange>,
    },
    /// A connection was opened outside a tokio runtime; its task needs one.
    #[error("connections must be opened from within a tokio runtime")]
    NoRuntime,
    /// The ApiVersions handshake on connect failed with a broker error code.
    #[error("ApiVersions handshake with {broker} failed with error code {error_code}")]
    Handshake {
        /// The broker.
        broker: BrokerAddress,
        /// The Kafka error code the broker returned.
        error_code: i16,
    },
}

impl ConnectionError {
    /// Whether the request may have reached the broker.
    pub fn send_state(&self) -> SendState {
        match self {
            ConnectionError::Closed { state, .. } | ConnectionError::TimedOut { state, .. } => {
                *state
            }
            ConnectionError::Decode { .. } => SendState::MaybeSent,
            ConnectionError::Connect { .. }
            | ConnectionError::Encode { .. }
            | ConnectionError::UnsupportedApi { .. }
            | ConnectionError::Handshake { .. }
            | ConnectionError::NoRuntime => SendState::NotSent,
        }
    }

    /// True when the broker may have processed the request, so an
    /// idempotent producer must consider its sequence numbers spent.
    ///
    /// ```
    /// use kproducer_net::{BrokerAddress, CloseReason, ConnectionError, SendState};
    /// let e = ConnectionError::Closed {
    ///     broker: BrokerAddress::new("127.0.0.1", 9092),
    ///     reason: CloseReason::PeerClosed,
    ///     state: SendState::MaybeSent,
    /// };
    /// assert!(e.is_possibly_persisted());
    /// ```
    pub fn is_possibly_persisted(&self) -> bool {
        self.send_state() == SendState::MaybeSent
    }

    /// The SASL failure, when the connection could not be opened because
    /// authentication failed.
    pub fn sasl_error(&self) -> Option<&crate::SaslError> {
        match self {
            ConnectionError::Connect { source, .. } => source.sasl_error(),
            _ => None,
        }
    }

    /// The reason the connection closed, when the error is a closed
    /// connection.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        match self {
            ConnectionError::Closed { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
