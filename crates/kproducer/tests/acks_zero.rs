//! `acks=0` and connections that close: what is resent and what counts as
//! a retry.
//!
//! A broker like tansu 0.6 answers Produce even with `acks=0` (Kafka never
//! does). The producer expects no answer, so the frame carries a
//! correlation id it is not waiting for: it closes the connection, as it
//! must for a stream it can no longer trust. Requests still queued behind
//! the written ones never reached the socket (`NotSent`): sending them on a
//! new connection is their first send, not a retry, and cannot duplicate.
//! A request handed to the writer whose connection then died may have
//! reached the broker: with `acks=0` it is not resent (that would be a
//! retry, which `acks=0` never does) but fails with an error saying so.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use common::Frames;
use futures_util::{SinkExt, StreamExt};
use kproducer::{Acks, Error, Producer, Record};
use kproducer_fake_broker::{FakeCluster, FakeTransport};
use kproducer_net::{BoxStream, BrokerAddress, Transport, TransportError};
use kproducer_protocol::ErrorCode;
use tokio::io::DuplexStream;

/// Answers every Produce request with a response frame (as tansu does for
/// `acks=0`), on top of the fake broker, which correctly answers nothing.
#[derive(Debug)]
struct AnswersAcksZero {
    inner: FakeTransport,
    /// Connections opened (each unasked-for answer closes one).
    connects: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl Transport for AnswersAcksZero {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let broker = self.inner.connect(addr).await?;
        self.connects.fetch_add(1, Ordering::Relaxed);
        Ok(common::interpose(broker, relay))
    }
}

async fn relay(mut client: Frames<DuplexStream>, mut broker: Frames<BoxStream>) {
    loop {
        tokio::select! {
            request = client.next() => {
                let Some(Ok(frame)) = request else { return };
                let mut header = &frame[..];
                let (api, correlation) = if header.len() >= 8 {
                    let api = header.get_i16();
                    let _version = header.get_i16();
                    (api, header.get_i32())
                } else {
                    (-1, -1)
                };
                if broker.send(frame.freeze()).await.is_err() {
                    return;
                }
                if api == 0 {
                    // An unasked-for answer: the correlation id and an
                    // empty body are enough for the client to notice.
                    let mut answer = BytesMut::new();
                    answer.put_i32(correlation);
                    answer.put_bytes(0, 8);
                    // The client may have closed already; what it wrote
                    // before that still reaches the broker (unlike tansu,
                    // which drops it), so the log shows every record sent.
                    let _ = client.send(answer.freeze()).await;
                }
            }
            response = broker.next() => {
                let Some(Ok(frame)) = response else { return };
                let _ = client.send(frame.freeze()).await;
            }
        }
    }
}

/// A one-partition cluster ("t") and an `acks=0` producer sending through
/// the transport `wrap` makes around the fake broker's, without linger.
fn acks_0_producer(
    batch_size: usize,
    wrap: impl FnOnce(FakeTransport) -> Arc<dyn Transport>,
) -> (FakeCluster, Producer) {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("t", 1)
        .build()
        .unwrap();
    let transport = wrap(cluster.transport());
    let producer = common::producer(&cluster, |b| {
        b.transport(transport)
            .acks(Acks::None)
            .enable_idempotence(false)
            .linger(Duration::ZERO)
            .batch_size(batch_size)
    });
    (cluster, producer)
}

#[tokio::test(start_paused = true)]
async fn acks_0_resends_only_requests_that_never_left_and_counts_no_retry() {
    const RECORDS: usize = 300;
    let connects = Arc::new(AtomicU64::new(0));
    let (cluster, producer) = acks_0_producer(100, |inner| {
        Arc::new(AnswersAcksZero {
            inner,
            connects: connects.clone(),
        })
    });
    let mut futures = Vec::new();
    for n in 0..RECORDS {
        let record = Record::new("t", common::value("t", 0, n)).with_partition(0);
        futures.push(producer.send(record).await.unwrap());
    }
    let mut ok = 0;
    let mut maybe_written = 0;
    for f in futures {
        match f.await {
            Ok(m) => {
                assert_eq!(m.offset, -1, "acks=0 reports no offsets");
                ok += 1;
            }
            Err(Error::Broker {
                code: ErrorCode::NETWORK_EXCEPTION,
                message,
                ..
            }) => {
                assert!(
                    message.as_deref().unwrap_or("").contains("acks=0"),
                    "{message:?}"
                );
                maybe_written += 1;
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(1)).await;
    let log = common::log_values(&cluster, "t", 0).await;
    let connects = connects.load(Ordering::Relaxed);
    println!(
        "{ok} ok, {maybe_written} failed as maybe written, {} in the log, \
         {connects} connections, {metrics:?}",
        log.len()
    );
    // The unasked-for answers closed connections, so queued requests went
    // on new ones (the scenario happened) …
    assert!(connects > 2, "{connects} connections: none was closed");
    // … but only requests that never left: not one is a retry, and
    // nothing reached the log twice.
    assert_eq!(metrics.retries, 0, "{metrics:?}");
    let mut values: Vec<_> = log.iter().map(|(_, v)| v.clone()).collect();
    let written = values.len();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), written, "a record reached the log twice");
    // Everything reported Ok is in the log (the fake broker loses nothing
    // it received), and the ones failed as "maybe written" are the rest.
    assert!(written >= ok, "{written} in the log, {ok} reported Ok");
    assert_eq!(ok + maybe_written, RECORDS);
}

/// The first connection that carries a Produce request stalls in the
/// middle of it (its buffer is smaller than the request, and nobody reads)
/// and then breaks: the request was handed to the connection, which died
/// before the write completed. Later connections pass everything through.
#[derive(Debug)]
struct BreaksFirstProduce {
    inner: FakeTransport,
    broke: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl Transport for BreaksFirstProduce {
    async fn connect(&self, addr: &BrokerAddress) -> Result<BoxStream, TransportError> {
        let broker = self.inner.connect(addr).await?;
        let (client, ours) = tokio::io::duplex(64);
        tokio::spawn(break_first_produce(ours, broker, self.broke.clone()));
        Ok(Box::new(client))
    }
}

async fn break_first_produce(
    client: tokio::io::DuplexStream,
    broker: BoxStream,
    broke: Arc<AtomicU64>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut broker_read, mut broker_write) = tokio::io::split(broker);
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut broker_read, &mut client_write).await;
    });
    loop {
        let mut head = [0u8; 6];
        if client_read.read_exact(&mut head).await.is_err() {
            break;
        }
        let len = i32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let api = i16::from_be_bytes([head[4], head[5]]);
        if api == 0 && broke.fetch_add(1, Ordering::Relaxed) == 0 {
            // Stop reading mid-request, then break the connection.
            tokio::time::sleep(Duration::from_millis(50)).await;
            break;
        }
        let mut rest = vec![0u8; usize::try_from(len).unwrap_or(0).saturating_sub(2)];
        if client_read.read_exact(&mut rest).await.is_err()
            || broker_write.write_all(&head).await.is_err()
            || broker_write.write_all(&rest).await.is_err()
        {
            break;
        }
    }
    answers.abort();
}

#[tokio::test(start_paused = true)]
async fn acks_0_does_not_resend_a_request_that_may_have_reached_the_broker() {
    let broke = Arc::new(AtomicU64::new(0));
    let (cluster, producer) = acks_0_producer(16_384, |inner| {
        Arc::new(BreaksFirstProduce {
            inner,
            broke: broke.clone(),
        })
    });
    // Larger than the 64-byte pipe: the write cannot complete.
    let first = Record::new("t", vec![b'x'; 500]).with_partition(0);
    let outcome = producer.send(first).await.unwrap().await;
    match outcome {
        Err(Error::Broker {
            code: ErrorCode::NETWORK_EXCEPTION,
            message,
            ..
        }) => assert!(
            message.as_deref().unwrap_or("").contains("acks=0"),
            "{message:?}"
        ),
        other => panic!("expected a failed delivery, got {other:?}"),
    }
    assert_eq!(
        broke.load(Ordering::Relaxed),
        1,
        "the scenario did not happen"
    );
    // The producer goes on, on a new connection.
    let second = Record::new("t", "after").with_partition(0);
    producer.send(second).await.unwrap().await.unwrap();
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(1)).await;
    assert_eq!(metrics.retries, 0, "{metrics:?}");
    let log = common::log_values(&cluster, "t", 0).await;
    assert_eq!(log.len(), 1, "only the second record reached the broker");
}
