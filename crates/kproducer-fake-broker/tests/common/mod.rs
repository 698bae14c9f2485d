//! A minimal wire client for driving the fake broker in tests: frames
//! requests with the 4-byte length prefix and reads framed responses.

#![allow(dead_code, unreachable_pub)]

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use kproducer_fake_broker::FakeCluster;
use kproducer_net::{BoxStream, Transport};
use kproducer_protocol::{Request, ResponseHeader, decode_response, encode_request};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

pub struct WireClient {
    framed: Framed<BoxStream, LengthDelimitedCodec>,
    next_correlation_id: i32,
}

impl WireClient {
    /// Connects to broker `broker` of `cluster` through its transport.
    pub async fn connect(cluster: &FakeCluster, broker: i32) -> Self {
        let addr = cluster.address(broker).expect("broker exists");
        let stream = cluster
            .transport()
            .connect(&addr)
            .await
            .expect("broker accepts connections");
        Self {
            framed: Framed::new(stream, LengthDelimitedCodec::new()),
            next_correlation_id: 0,
        }
    }

    /// Sends a request; returns its correlation id.
    pub async fn send<R: Request>(&mut self, version: i16, body: &R) -> i32 {
        let id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let mut buf = BytesMut::new();
        encode_request(&mut buf, id, Some("test-client"), version, body).expect("encodable");
        self.send_raw(buf.freeze()).await;
        id
    }

    /// Sends raw frame contents (the length prefix is added).
    pub async fn send_raw(&mut self, frame: Bytes) {
        self.framed
            .send(frame)
            .await
            .expect("connection open for sending");
    }

    /// The next response frame, or `None` when the broker closed the
    /// connection.
    pub async fn recv_raw(&mut self) -> Option<Bytes> {
        match self.framed.next().await {
            Some(Ok(f)) => Some(f.freeze()),
            _ => None,
        }
    }

    /// The next response, decoded as `R`'s response at `version`.
    pub async fn recv<R: Request>(
        &mut self,
        version: i16,
    ) -> Option<(ResponseHeader, R::Response)> {
        let frame = self.recv_raw().await?;
        Some(decode_response::<R>(frame, version).expect("a well-formed response"))
    }

    /// Sends and waits for the response.
    pub async fn call<R: Request>(&mut self, version: i16, body: &R) -> R::Response {
        let id = self.send(version, body).await;
        let (h, r) = self.recv::<R>(version).await.expect("a response");
        assert_eq!(h.correlation_id, id, "responses come back in order");
        r
    }

    /// True when the broker has closed the connection (reads end).
    pub async fn is_closed(&mut self) -> bool {
        self.recv_raw().await.is_none()
    }
}
