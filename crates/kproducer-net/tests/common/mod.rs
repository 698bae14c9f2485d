//! A scripted broker for connection tests: the test reads each request off
//! an in-memory pipe and decides, step by step, what goes back.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use kproducer_net::{
    BoxStream, BrokerAddress, Connection, ConnectionConfig, Transport, TransportError,
};
use kproducer_protocol::messages::{ApiVersion, ApiVersionsResponse};
use kproducer_protocol::{ApiKey, Message, RequestHeader, ResponseHeader};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

pub fn broker() -> BrokerAddress {
    BrokerAddress::new("127.0.0.1", 9092)
}

/// A request as the scripted broker saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub header: RequestHeader,
    pub body: Bytes,
}

impl Received {
    pub fn api(&self) -> ApiKey {
        ApiKey::from_i16(self.header.api_key).expect("known api key")
    }
}

/// The broker side of one connection.
pub struct ScriptedBroker {
    framed: Framed<BoxStream, LengthDelimitedCodec>,
}

impl ScriptedBroker {
    pub fn new(stream: impl kproducer_net::Stream) -> Self {
        Self {
            framed: Framed::new(Box::new(stream), LengthDelimitedCodec::new()),
        }
    }

    /// The next request, or `None` when the client closed the connection.
    pub async fn next_request(&mut self) -> Option<Received> {
        let frame = self.framed.next().await?.ok()?.freeze();
        let mut buf = frame;
        let header = RequestHeader::decode(&mut buf).expect("valid request header");
        Some(Received { header, body: buf })
    }

    /// True when no request arrives within `wait` (paused time advances).
    pub async fn nothing_within(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.framed.next())
            .await
            .is_err()
    }

    /// Answers `req` with `body` encoded at the request's version.
    pub async fn respond<M: Message>(&mut self, req: &Received, body: &M) {
        let mut b = BytesMut::new();
        body.encode(&mut b, req.header.api_version).unwrap();
        self.respond_raw(req, &b).await;
    }

    /// Answers `req` with a pre-encoded body.
    pub async fn respond_raw(&mut self, req: &Received, body: &[u8]) {
        let mut frame = BytesMut::new();
        ResponseHeader {
            correlation_id: req.header.correlation_id,
            tagged_fields: Default::default(),
        }
        .encode(
            &mut frame,
            req.api().response_header_version(req.header.api_version),
        )
        .unwrap();
        frame.extend_from_slice(body);
        self.send_frame(frame.freeze()).await;
    }

    /// Writes one length-prefixed frame as is.
    pub async fn send_frame(&mut self, frame: Bytes) {
        let _ = self.framed.send(frame).await;
    }

    /// Writes raw bytes, bypassing framing.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        let _ = self.framed.get_mut().write_all(bytes).await;
        let _ = self.framed.get_mut().flush().await;
    }

    /// Answers the ApiVersions handshake with `apis`.
    pub async fn handshake(&mut self, apis: &[(ApiKey, i16, i16)]) {
        let req = self.next_request().await.expect("ApiVersions request");
        assert_eq!(req.api(), ApiKey::ApiVersions);
        self.respond(&req, &api_versions(apis)).await;
    }

    /// Answers the handshake listing every API at this client's full range.
    pub async fn handshake_all(&mut self) {
        let all: Vec<_> = ApiKey::ALL
            .iter()
            .map(|k| (*k, k.versions().min, k.versions().max))
            .collect();
        self.handshake(&all).await;
    }

    /// Waits until the client closes the connection, discarding requests.
    pub async fn expect_eof(&mut self) {
        while self.framed.next().await.is_some() {}
    }
}

pub fn api_versions(apis: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
    ApiVersionsResponse {
        api_keys: apis
            .iter()
            .map(|(k, min, max)| ApiVersion {
                api_key: k.as_i16(),
                min_version: *min,
                max_version: *max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// A connection (handshake done with every API supported) and its broker.
pub async fn connected(config: ConnectionConfig) -> (Connection, ScriptedBroker) {
    let (client, server) = tokio::io::duplex(1 << 16);
    let mut broker_side = ScriptedBroker::new(server);
    let negotiate = config.negotiate_versions;
    let (conn, ()) = tokio::join!(
        Connection::from_stream(Box::new(client), broker(), config),
        async {
            if negotiate {
                broker_side.handshake_all().await;
            }
        }
    );
    (conn.expect("connect"), broker_side)
}

/// A stream whose writes fail once `allow` bytes have gone through.
pub struct FailingWrites {
    pub inner: DuplexStream,
    pub allow: usize,
}

impl AsyncRead for FailingWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FailingWrites {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.allow == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "scripted write failure",
            )));
        }
        let n = buf.len().min(self.allow);
        let r = Pin::new(&mut self.inner).poll_write(cx, &buf[..n]);
        if let Poll::Ready(Ok(written)) = &r {
            self.allow -= written;
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A transport for group tests: each successful connect hands the broker
/// side to the test; scripted refusals fail attempts; every attempt's time
/// is recorded.
#[derive(Debug, Clone)]
pub struct ScriptedTransport {
    inner: Arc<Mutex<TransportScript>>,
    accepted: mpsc::UnboundedSender<ScriptedBrokerSide>,
}

#[derive(Debug, Default)]
struct TransportScript {
    refuse: VecDeque<bool>,
    refuse_all: bool,
    hang_next: bool,
    attempts: Vec<Instant>,
}

/// Wrapper so the channel item is `Debug`.
pub struct ScriptedBrokerSide(pub ScriptedBroker);

impl std::fmt::Debug for ScriptedBrokerSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScriptedBrokerSide")
    }
}

impl ScriptedTransport {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<ScriptedBrokerSide>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                inner: Arc::default(),
                accepted: tx,
            },
            rx,
        )
    }

    pub fn refuse_all(&self, refuse: bool) {
        self.inner.lock().unwrap().refuse_all = refuse;
    }

    /// The next attempt never completes (a black-holed SYN).
    pub fn hang_next(&self) {
        self.inner.lock().unwrap().hang_next = true;
    }

    pub fn attempts(&self) -> Vec<Instant> {
        self.inner.lock().unwrap().attempts.clone()
    }
}

#[async_trait::async_trait]
impl Transport for ScriptedTransport {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let (refuse, hang) = {
            let mut s = self.inner.lock().unwrap();
            s.attempts.push(Instant::now());
            let hang = std::mem::take(&mut s.hang_next);
            (s.refuse.pop_front().unwrap_or(s.refuse_all), hang)
        };
        if hang {
            std::future::pending::<()>().await;
        }
        if refuse {
            return Err(TransportError::Connect {
                addr: addr.clone(),
                source: io::Error::new(io::ErrorKind::ConnectionRefused, "scripted refusal"),
            });
        }
        let (client, server) = tokio::io::duplex(1 << 16);
        let _ = self
            .accepted
            .send(ScriptedBrokerSide(ScriptedBroker::new(server)));
        Ok(Box::new(client))
    }
}

/// Encodes a bare frame body: correlation id followed by `rest`.
pub fn frame_with_correlation(correlation_id: i32, rest: &[u8]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i32(correlation_id);
    b.extend_from_slice(rest);
    b.freeze()
}
