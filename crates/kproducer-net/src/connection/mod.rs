//! One multiplexed connection to a broker.
//!
//! A task owns the socket; callers talk to it through a channel, so the send
//! path takes no lock. Requests are pipelined up to
//! [`ConnectionConfig::max_in_flight`]; responses are matched by correlation
//! id in order. When the connection dies, every request not yet answered
//! fails with a [`ConnectionError`] saying whether it may have reached the
//! broker ([`ConnectionError::is_possibly_persisted`]).
//!
//! # When does a request fail, and what does the error promise?
//!
//! | what happened | error | [`SendState`] |
//! |---|---|---|
//! | encoding failed, API/version unsupported | `Encode`, `UnsupportedApi` | `NotSent` |
//! | connection already closed or closing; waiting for a slot when it died; still queued behind a stalled write | `Closed` | `NotSent` |
//! | handed to the writer, then the connection died (EOF, read/write error, oversized/corrupt/out-of-order frame, another request's timeout, `close()`) | `Closed` | `MaybeSent` |
//! | no response within the request timeout (the connection is closed too) | `TimedOut` | `MaybeSent` |
//! | a response arrived but its body did not decode (the connection is closed too) | `Decode` | `MaybeSent` |
//!
//! `NotSent` is a guarantee: no byte of the request reached the socket.
//! `MaybeSent` is conservative: a request still in the write buffer counts.
//! Requests are answered in the order they were written (Kafka processes one
//! connection's requests one at a time), so a response for any request other
//! than the oldest one outstanding closes the connection.
//!
//! # Ordering
//!
//! Requests are written in the order they are queued: the order of
//! [`Reservation::send`] calls, or, for the `send*` methods, the order in
//! which they obtain their in-flight slot. A task that must keep several
//! pipelined requests in order (Produce batches carrying sequence numbers)
//! reserves slots and queues through [`Connection::reserve`].

mod codec;
mod config;
mod error;
mod headers;
mod link;
mod reservation;
mod stats;
mod task;
mod versions;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use kproducer_protocol::{ApiKey, Message, Request, ensure_consumed};
use tokio::sync::mpsc;
use tokio::time::Instant;

pub use config::{
    ConnectionConfig, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_RESPONSE_FRAME_BYTES, DEFAULT_REQUEST_TIMEOUT,
};
pub use error::{CloseReason, ConnectionError, SendState};
pub use link::{PendingResponse, RawRequest};
pub use reservation::Reservation;
pub use stats::ConnectionMetrics;
pub use versions::NegotiatedVersions;

use link::{Link, Shared};

use crate::transport::{BoxStream, BrokerAddress, Transport};

/// A multiplexed, pipelined connection to one broker. Cloning is cheap and
/// every clone talks to the same socket.
///
/// ```
/// # tokio_test_block_on(async {
/// use kproducer_net::{BrokerAddress, Connection, ConnectionConfig};
/// use kproducer_protocol::{ApiKey, messages::ApiVersionsRequest};
///
/// // A tiny broker on the other end of an in-memory pipe that answers
/// // ApiVersions v3 requests with an empty API list.
/// let (client, mut server) = tokio::io::duplex(4096);
/// tokio::spawn(async move {
///     use tokio::io::{AsyncReadExt, AsyncWriteExt};
///     loop {
///         let Ok(len) = server.read_u32().await else { return };
///         let mut frame = vec![0; len as usize];
///         if server.read_exact(&mut frame).await.is_err() { return }
///         // correlation id (4) + error 0 (2) + empty compact array (1)
///         // + throttle (4) + no tagged fields (1)
///         let mut out = frame[4..8].to_vec();
///         out.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 0]);
///         server.write_u32(out.len() as u32).await.unwrap();
///         server.write_all(&out).await.unwrap();
///     }
/// });
///
/// let conn = Connection::from_stream(
///     Box::new(client),
///     BrokerAddress::new("127.0.0.1", 9092),
///     ConnectionConfig::default(),
/// )
/// .await
/// .unwrap();
/// // The broker listed no APIs, so none was negotiated...
/// assert_eq!(conn.versions().version(ApiKey::Produce), None);
/// // ...but an explicit version still goes through.
/// let resp = conn.send_version(&ApiVersionsRequest::default(), 3).await.unwrap();
/// assert_eq!(resp.error_code, 0);
/// assert_eq!(conn.metrics().responses_received, 2);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Connection {
    link: Arc<Link>,
    versions: Arc<NegotiatedVersions>,
}

impl Connection {
    /// Opens a stream with `transport` and sets the connection up
    /// (including the ApiVersions handshake when configured).
    pub async fn connect(
        transport: &dyn Transport,
        broker: &BrokerAddress,
        config: ConnectionConfig,
    ) -> Result<Self, ConnectionError> {
        Self::open(transport, broker, config, None).await
    }

    /// `connect`, with the group slot recorded for tracing.
    pub(crate) async fn open(
        transport: &dyn Transport,
        broker: &BrokerAddress,
        config: ConnectionConfig,
        slot: Option<usize>,
    ) -> Result<Self, ConnectionError> {
        let stream =
            transport
                .connect(broker)
                .await
                .map_err(|source| ConnectionError::Connect {
                    broker: broker.clone(),
                    source: Arc::new(source),
                })?;
        Self::start(stream, broker.clone(), config, slot).await
    }

    /// Sets a connection up on an already open stream. Spawns the
    /// connection's task on the current tokio runtime (outside one, fails
    /// with [`ConnectionError::NoRuntime`]).
    pub async fn from_stream(
        stream: BoxStream,
        broker: BrokerAddress,
        config: ConnectionConfig,
    ) -> Result<Self, ConnectionError> {
        Self::start(stream, broker, config, None).await
    }

    async fn start(
        stream: BoxStream,
        broker: BrokerAddress,
        config: ConnectionConfig,
        slot: Option<usize>,
    ) -> Result<Self, ConnectionError> {
        let headers = headers::EncodedHeaders::new(config.client_id.as_deref()).map_err(
            |(api, version, source)| ConnectionError::Encode {
                api,
                version,
                source,
            },
        )?;
        let shared = Arc::new(Shared::new(broker, config.max_in_flight, slot));
        let (commands, rx) = mpsc::unbounded_channel();
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| ConnectionError::NoRuntime)?;
        runtime.spawn(task::run(
            stream,
            rx,
            shared.clone(),
            config.max_response_frame_bytes,
            config.idle_timeout,
        ));
        let link = Arc::new(Link {
            commands,
            shared,
            headers,
            request_timeout: config.request_timeout,
        });
        let versions = if config.negotiate_versions {
            versions::negotiate(&link).await?
        } else {
            NegotiatedVersions::client_max()
        };
        tracing::debug!(broker = %link.shared.broker, "connection ready");
        Ok(Self {
            link,
            versions: Arc::new(versions),
        })
    }

    /// The broker at the other end.
    pub fn broker(&self) -> &BrokerAddress {
        &self.link.shared.broker
    }

    /// The API versions negotiated on connect.
    pub fn versions(&self) -> &NegotiatedVersions {
        &self.versions
    }

    /// Sends `request` at the negotiated version and decodes the response.
    ///
    /// Fails with [`ConnectionError::UnsupportedApi`] (nothing sent) when
    /// the broker supports no version of the API that this client speaks.
    pub async fn send<R: Request>(&self, request: &R) -> Result<R::Response, ConnectionError> {
        let version =
            self.versions
                .version(R::API_KEY)
                .ok_or_else(|| ConnectionError::UnsupportedApi {
                    broker: self.broker().clone(),
                    api: R::API_KEY,
                    broker_range: self.versions.broker_range(R::API_KEY),
                })?;
        self.send_version(request, version).await
    }

    /// Sends `request` at an explicit `version` and decodes the response.
    ///
    /// A response that cannot be decoded closes the connection (the stream
    /// can no longer be trusted) and fails with [`ConnectionError::Decode`].
    pub async fn send_version<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, ConnectionError> {
        let mut body = BytesMut::new();
        request
            .encode(&mut body, version)
            .map_err(|source| ConnectionError::Encode {
                api: R::API_KEY,
                version,
                source,
            })?;
        let mut answer = self.send_raw(R::API_KEY, version, body.freeze()).await?;
        R::Response::decode(&mut answer, version)
            .and_then(|r| ensure_consumed(&answer, R::API_KEY.name()).map(|()| r))
            .map_err(|source| {
                self.link
                    .shared
                    .abort(CloseReason::UndecodableResponse(source.clone()));
                ConnectionError::Decode {
                    broker: self.broker().clone(),
                    api: R::API_KEY,
                    version,
                    source,
                }
            })
    }

    /// Sends a pre-encoded request body and returns the response body (the
    /// response header already removed). The hot path for Produce.
    pub async fn send_raw(
        &self,
        api_key: ApiKey,
        version: i16,
        body: Bytes,
    ) -> Result<Bytes, ConnectionError> {
        let answer = self
            .link
            .submit(RawRequest::new(api_key, version, body))
            .await?;
        Ok(answer.unwrap_or_default())
    }

    /// Sends a request the broker will not answer (Produce with `acks=0`):
    /// completes once the request is written to the socket.
    pub async fn send_raw_no_response(
        &self,
        api_key: ApiKey,
        version: i16,
        body: Bytes,
    ) -> Result<(), ConnectionError> {
        let mut req = RawRequest::new(api_key, version, body);
        req.expects_response = false;
        self.link.submit(req).await.map(|_| ())
    }

    /// Sends a [`RawRequest`]: `Some(response body)`, or `None` for a
    /// request that expects no response.
    pub async fn submit(&self, request: RawRequest) -> Result<Option<Bytes>, ConnectionError> {
        self.link.submit(request).await
    }

    /// Waits for a free in-flight slot and reserves it, so a request can be
    /// built knowing it will be written at once (see [`Reservation`]).
    /// Requests queued through reservations from one task are written in
    /// the order [`Reservation::send`] is called.
    ///
    /// Fails with `Closed` / `NotSent` when the connection closes first.
    pub async fn reserve(&self) -> Result<Reservation, ConnectionError> {
        let slot = self.link.reserve().await?;
        Ok(Reservation {
            link: self.link.clone(),
            slot,
        })
    }

    /// A process-unique id for this connection (a reconnect gets a new one).
    pub(crate) fn id(&self) -> u64 {
        self.link.shared.id
    }

    /// Reserves a free in-flight slot without waiting, for callers that
    /// never block (the producer's core): `Ok(None)` when the window is
    /// full. The time from a refusal until a slot frees up counts as permit
    /// wait, so the scaler sees the pressure all the same.
    ///
    /// Fails with `Closed` / `NotSent` when the connection is closed or
    /// closing.
    pub fn try_reserve(&self) -> Result<Option<Reservation>, ConnectionError> {
        Ok(self.link.try_reserve()?.map(|slot| Reservation {
            link: self.link.clone(),
            slot,
        }))
    }

    /// Counters for this connection (metrics and the scaler's signals).
    pub fn metrics(&self) -> ConnectionMetrics {
        self.link.shared.stats.snapshot()
    }

    /// True once the connection has closed (for any reason).
    pub fn is_closed(&self) -> bool {
        self.link.shared.closed.get().is_some()
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.link.shared.closed.get().map(|c| c.reason.clone())
    }

    /// Resolves once the connection has closed, every request on it has
    /// completed and its socket is dropped; yields why it closed.
    pub async fn closed(&self) -> CloseReason {
        self.link.shared.wait_finished().await;
        self.close_reason().unwrap_or(CloseReason::ClosedByClient)
    }

    /// When the connection closed, once it has.
    pub(crate) fn closed_at(&self) -> Option<Instant> {
        self.link.shared.closed.get().map(|c| c.at)
    }

    /// Closes now: every request not yet answered fails (`MaybeSent` if it
    /// was written, `NotSent` otherwise).
    pub fn close(&self) {
        self.link.shared.abort(CloseReason::ClosedByClient);
    }

    /// Refuses new requests and closes once every request already accepted
    /// has completed. What a retiring slot does on scale-down.
    pub fn close_when_idle(&self) {
        self.link.shared.closing.store(true, Ordering::Release);
        let _ = self.link.commands.send(task::Command::CloseWhenIdle);
    }
}
