//! How much a produce request costs the fake broker: pipelines idempotent
//! Produce requests (one batch of 100 × 100-byte records each) over one
//! in-memory connection and reports requests per second of wall time, with
//! record validation on and off.
//!
//! ```text
//! cargo run --release -p kproducer-fake-broker --example broker_cost [requests]
//! ```

use std::time::Instant;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use kproducer_fake_broker::FakeCluster;
use kproducer_net::Transport;
use kproducer_protocol::encode_request;
use kproducer_protocol::messages::{PartitionProduceData, ProduceRequest, TopicProduceData};
use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

const PARTITIONS: i32 = 6;
const RECORDS_PER_BATCH: i32 = 100;

async fn run(requests: usize, validate: bool) -> Result<f64, Box<dyn std::error::Error>> {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("bench", PARTITIONS)
        .record_requests(false)
        .validate_records(validate)
        .build()?;
    let stream = cluster.transport().connect(&cluster.address(0)?).await?;
    let (mut tx, mut rx) = Framed::new(stream, LengthDelimitedCodec::new()).split();
    let value = [7u8; 100];
    let mut frames = Vec::with_capacity(requests);
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
        frames.push(buf.freeze());
    }
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        for f in frames {
            if tx.send(f).await.is_err() {
                break;
            }
        }
    });
    let mut answered = 0;
    while answered < requests {
        match rx.next().await {
            Some(Ok(_)) => answered += 1,
            _ => return Err("connection closed early".into()),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    writer.await?;
    let appended = cluster.counters().batches_appended;
    if appended != requests as u64 {
        return Err(format!("only {appended} of {requests} batches appended").into());
    }
    Ok(requests as f64 / elapsed)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(60_000);
    for validate in [true, false] {
        let per_sec = run(requests, validate).await?;
        println!(
            "validate_records={validate}: {requests} requests, {per_sec:.0} requests/s, {:.2} µs each, {:.0} records/s",
            1e6 / per_sec,
            per_sec * f64::from(RECORDS_PER_BATCH)
        );
    }
    Ok(())
}
