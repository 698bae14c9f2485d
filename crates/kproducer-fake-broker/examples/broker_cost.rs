//! How much a produce request costs the fake broker, and what a configured
//! service time does: pipelines idempotent Produce requests (one batch of
//! 100 × 100-byte records each) over in-memory connections and reports
//! requests per second of wall time — with record validation on and off,
//! then with a 100 µs service time over 1 and 4 connections (each partition
//! stays on one connection); then the same unpaced runs over the loopback
//! TCP listener, to show what TCP adds per request.
//!
//! ```text
//! cargo run --release -p kproducer-fake-broker --example broker_cost [requests]
//! ```

use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use kproducer_fake_broker::{FakeCluster, ServiceTime};
use kproducer_net::Transport;
use kproducer_protocol::encode_request;
use kproducer_protocol::messages::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

const PARTITIONS: i32 = 6;
const RECORDS_PER_BATCH: i32 = 100;

/// How the client reaches the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// `FakeTransport`'s in-memory duplex streams.
    InMemory,
    /// The loopback listener, over 127.0.0.1 TCP.
    Tcp,
}

async fn run(
    requests: usize,
    validate: bool,
    connections: usize,
    service: Duration,
    link: Link,
) -> Result<f64, Box<dyn std::error::Error>> {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("bench", PARTITIONS)
        .record_requests(false)
        .validate_records(validate)
        .service_time(ServiceTime::new(service, Duration::ZERO))
        .build()?;
    let value = [7u8; 100];
    let mut frames: Vec<Vec<bytes::Bytes>> = vec![Vec::new(); connections];
    let mut builder = RecordBatchBuilder::new(Compression::None);
    for i in 0..requests {
        let partition = i32::try_from(i).unwrap_or(0) % PARTITIONS;
        let round = i32::try_from(i / PARTITIONS as usize).unwrap_or(0);
        for r in 0..RECORDS_PER_BATCH {
            builder.append(i64::from(r), None, Some(&value), NO_HEADERS);
        }
        let batch = builder.seal(&BatchParams {
            producer_id: 1,
            producer_epoch: 0,
            base_sequence: round * RECORDS_PER_BATCH,
            transactional: false,
        })?;
        let request = ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![TopicProduceData {
                name: "bench".into(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(batch),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        encode_request(&mut buf, i32::try_from(i)?, Some("bench"), 9, &request)?;
        let connection = usize::try_from(partition)? % connections;
        frames[connection].push(buf.freeze());
    }
    let listener = match link {
        Link::InMemory => None,
        Link::Tcp => Some(cluster.listen("127.0.0.1:0").await?),
    };
    let mut streams: Vec<kproducer_net::BoxStream> = Vec::new();
    for _ in 0..connections {
        match &listener {
            None => streams.push(cluster.transport().connect(&cluster.address(0)?).await?),
            Some(l) => {
                let addr = l.address(0).ok_or("broker 0 is not listening")?;
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                streams.push(Box::new(stream));
            }
        }
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (stream, frames) in streams.into_iter().zip(frames) {
        tasks.push(tokio::spawn(async move {
            let expected = frames.len();
            let (mut tx, mut rx) = Framed::new(stream, LengthDelimitedCodec::new()).split();
            let writer = tokio::spawn(async move {
                for f in frames {
                    if tx.send(f).await.is_err() {
                        break;
                    }
                }
            });
            let mut answered = 0;
            while answered < expected {
                match rx.next().await {
                    Some(Ok(_)) => answered += 1,
                    _ => break,
                }
            }
            let _ = writer.await;
            answered
        }));
    }
    let mut answered = 0;
    for t in tasks {
        answered += t.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    if answered != requests {
        return Err(format!("only {answered} of {requests} requests answered").into());
    }
    let appended = cluster.counters().batches_appended;
    if appended != requests as u64 {
        return Err(format!("only {appended} of {requests} batches appended").into());
    }
    Ok(requests as f64 / elapsed)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(60_000);
    for link in [Link::InMemory, Link::Tcp] {
        for validate in [true, false] {
            let per_sec = run(requests, validate, 1, Duration::ZERO, link).await?;
            println!(
                "{link:?}, validate_records={validate}, no service time, 1 connection: {requests} requests, {per_sec:.0} requests/s, {:.2} µs each, {:.0} records/s",
                1e6 / per_sec,
                per_sec * f64::from(RECORDS_PER_BATCH)
            );
        }
    }
    let service = Duration::from_micros(100);
    let paced = requests.min(20_000);
    for connections in [1, 4] {
        let per_sec = run(paced, false, connections, service, Link::InMemory).await?;
        println!(
            "service time {service:?}, {connections} connection(s): {paced} requests, {per_sec:.0} requests/s (ideal {:.0})",
            connections as f64 * 1e6 / service.as_micros() as f64
        );
    }
    Ok(())
}
