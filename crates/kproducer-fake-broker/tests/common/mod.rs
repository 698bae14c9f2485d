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

    /// Connects to a loopback listener's address over TCP.
    pub async fn connect_tcp(addr: std::net::SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("the listener accepts TCP connections");
        Self {
            framed: Framed::new(Box::new(stream), LengthDelimitedCodec::new()),
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

use kproducer_protocol::messages::{
    PartitionProduceData, PartitionProduceResponse, ProduceRequest, TopicProduceData,
};
use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};

/// A sealed batch of `values` from producer `pid` at `epoch`, starting at
/// sequence `seq` (pid -1 for a plain batch).
pub fn batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Bytes {
    batch_with(pid, epoch, seq, false, values)
}

/// Like [`batch`], optionally transactional.
pub fn batch_with(pid: i64, epoch: i16, seq: i32, transactional: bool, values: &[&str]) -> Bytes {
    let mut b = RecordBatchBuilder::new(Compression::None);
    for (i, v) in values.iter().enumerate() {
        b.append(1_000 + i as i64, None, Some(v.as_bytes()), NO_HEADERS);
    }
    b.seal(&BatchParams {
        producer_id: pid,
        producer_epoch: epoch,
        base_sequence: seq,
        transactional,
    })
    .expect("a valid batch")
}

/// A Produce request carrying `records` for one partition.
pub fn produce_request(topic: &str, partition: i32, records: Bytes, acks: i16) -> ProduceRequest {
    ProduceRequest {
        acks,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: topic.into(),
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The produce API version tests use.
pub const PRODUCE_V: i16 = 9;

impl WireClient {
    /// Produces one batch with acks=all and returns the partition's answer.
    pub async fn produce(
        &mut self,
        topic: &str,
        partition: i32,
        records: Bytes,
    ) -> PartitionProduceResponse {
        let r = self
            .call(PRODUCE_V, &produce_request(topic, partition, records, -1))
            .await;
        r.responses[0].partition_responses[0].clone()
    }

    /// Sends one batch with acks=all without waiting; returns the
    /// correlation id.
    pub async fn send_produce(&mut self, topic: &str, partition: i32, records: Bytes) -> i32 {
        self.send(PRODUCE_V, &produce_request(topic, partition, records, -1))
            .await
    }

    /// Reads the next Produce response's first partition answer.
    pub async fn recv_produce(&mut self) -> Option<(i32, PartitionProduceResponse)> {
        let (h, r) = self.recv::<ProduceRequest>(PRODUCE_V).await?;
        Some((
            h.correlation_id,
            r.responses[0].partition_responses[0].clone(),
        ))
    }
}

/// `(error code, base offset)` of a partition answer.
pub fn outcome(r: &PartitionProduceResponse) -> (i16, i64) {
    (r.error_code, r.base_offset)
}
