//! Delivery reports (`send_reported` / `try_send_reported` and the
//! `DeliveryReports` sink), through the public API against the fake
//! broker on paused time: every token is reported exactly once, with the
//! right offsets in send order, on every path a record can end by —
//! acknowledgement, a retried broker error, delivery timeout, a fatal
//! error, close, drop, a transaction abort, a runtime shut down under the
//! producer — and futures and tokens mix in one batch.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{SEED, cluster, error, log_values, on_p0, producer};
use kproducer::{
    BatchWritten, DeliveryReport, Error, Producer, ProducerBuilder, Record, ReportedRecord,
    TrySendError,
};
use kproducer_fake_broker::{FakeCluster, FaultAction};
use kproducer_protocol::ErrorCode;

/// One call of the sink, copied out.
#[derive(Debug, Clone)]
struct Call {
    topic: String,
    partition: i32,
    result: Result<BatchWritten, Error>,
    records: Vec<ReportedRecord>,
}

/// A sink that keeps every call.
#[derive(Debug, Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Recorder {
    fn sink(&self) -> impl Fn(&DeliveryReport<'_>) + Send + Sync + 'static {
        let calls = self.calls.clone();
        move |report: &DeliveryReport<'_>| {
            calls.lock().expect("sink lock").push(Call {
                topic: report.topic().as_str().to_owned(),
                partition: report.partition(),
                result: report.result().map_err(Clone::clone),
                records: report.records().collect(),
            });
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("sink lock").clone()
    }

    /// Every token reported, with its call's outcome; panics (with the
    /// seed) if one was reported twice.
    fn by_token(&self) -> BTreeMap<u64, (Call, ReportedRecord)> {
        let mut out = BTreeMap::new();
        for call in self.calls() {
            assert!(
                !call.records.is_empty(),
                "a report without tokens: {call:?}"
            );
            for r in &call.records {
                let before = out.insert(r.token, (call.clone(), *r));
                assert!(
                    before.is_none(),
                    "seed {SEED:#x}: token {} reported twice",
                    r.token
                );
            }
        }
        out
    }

    /// Asserts that exactly `tokens` were reported, each once.
    fn assert_exactly(&self, tokens: impl IntoIterator<Item = u64>) {
        let reported: Vec<u64> = self.by_token().into_keys().collect();
        let expected: Vec<u64> = {
            let mut t: Vec<u64> = tokens.into_iter().collect();
            t.sort_unstable();
            t
        };
        assert_eq!(
            reported, expected,
            "seed {SEED:#x}: every token reported exactly once"
        );
    }
}

fn reporting(
    cluster: &FakeCluster,
    recorder: &Recorder,
    tweak: impl FnOnce(ProducerBuilder) -> ProducerBuilder,
) -> Producer {
    let sink = recorder.sink();
    producer(cluster, move |b| tweak(b.delivery_reports(sink)))
}

fn numbered(partition: i32, token: u64) -> Record {
    Record::new("orders", token.to_string()).with_partition(partition)
}

#[tokio::test(start_paused = true)]
async fn every_token_is_reported_once_with_its_offset_in_send_order() {
    let cluster = cluster();
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| b);
    for token in 0..300u64 {
        let record = numbered((token % 3) as i32, token);
        if token % 2 == 0 {
            producer.send_reported(record, token).await.expect("send");
        } else {
            producer.try_send_reported(record, token).expect("room");
        }
    }
    producer.flush().await.expect("flush");
    recorder.assert_exactly(0..300);
    for (token, (call, record)) in recorder.by_token() {
        assert!(call.result.is_ok(), "token {token}: {:?}", call.result);
        assert_eq!(call.topic, "orders");
        assert_eq!(call.partition, (token % 3) as i32);
        // The n-th record sent to a partition sits at offset n.
        assert_eq!(record.offset, (token / 3) as i64, "token {token}");
        assert!(record.timestamp > 0, "CreateTime");
    }
    // And the broker's log agrees: the value at each offset is its token.
    for p in 0..3 {
        for (offset, value) in log_values(&cluster, "orders", p).await {
            let token: u64 = std::str::from_utf8(&value).unwrap().parse().unwrap();
            assert_eq!(recorder.by_token()[&token].1.offset, offset);
        }
    }
    // Reports are per batch, not per record.
    assert!(
        recorder.calls().len() < 30,
        "{} calls",
        recorder.calls().len()
    );
    assert_eq!(producer.metrics().records_sent, 300);
}

#[tokio::test(start_paused = true)]
async fn futures_and_tokens_share_a_batch() {
    let cluster = cluster();
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| b);
    let mut futures = Vec::new();
    for n in 0..40u64 {
        if n % 2 == 0 {
            futures.push((n, producer.send(numbered(0, n)).await.expect("send")));
        } else {
            producer
                .send_reported(numbered(0, n), n)
                .await
                .expect("send");
        }
    }
    producer.flush().await.expect("flush");
    for (n, f) in futures {
        assert_eq!(f.await.expect("delivered").offset, n as i64);
    }
    recorder.assert_exactly((0..40).filter(|n| n % 2 == 1));
    for (token, (_, record)) in recorder.by_token() {
        assert_eq!(record.offset, token as i64, "offset counts every record");
    }
    let calls = recorder.calls();
    assert_eq!(calls.len(), 1, "one batch, one report: {calls:?}");
    let tokens: Vec<u64> = calls[0].records.iter().map(|r| r.token).collect();
    assert_eq!(
        tokens,
        (1..40).step_by(2).collect::<Vec<u64>>(),
        "send order"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retried_broker_error_reports_once_with_the_final_offsets() {
    let cluster = cluster();
    cluster.add_fault(on_p0(error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).nth(1));
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| b);
    for token in 0..50u64 {
        producer
            .send_reported(numbered(0, token), token)
            .await
            .expect("send");
    }
    producer.flush().await.expect("flush");
    recorder.assert_exactly(0..50);
    for (token, (call, record)) in recorder.by_token() {
        assert!(call.result.is_ok());
        assert_eq!(record.offset, token as i64);
    }
    assert!(producer.metrics().retries >= 1, "the error was retried");
}

#[tokio::test(start_paused = true)]
async fn records_out_of_delivery_time_are_reported_failed_once() {
    let cluster = cluster();
    cluster.add_fault(on_p0(error(ErrorCode::NOT_LEADER_OR_FOLLOWER)).sticky());
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| {
        b.request_timeout(Duration::from_secs(1))
            .delivery_timeout(Duration::from_secs(2))
    });
    for token in 0..20u64 {
        producer
            .send_reported(numbered((token % 2) as i32, token), token)
            .await
            .expect("send");
    }
    producer.flush().await.expect("flush");
    recorder.assert_exactly(0..20);
    for (token, (call, record)) in recorder.by_token() {
        if token % 2 == 0 {
            assert!(
                matches!(
                    call.result,
                    Err(Error::DeliveryTimeout { partition: 0, .. })
                ),
                "{call:?}"
            );
            assert_eq!(record.offset, -1);
        } else {
            assert!(call.result.is_ok(), "partition 1 is healthy: {call:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_fatal_error_reports_every_outstanding_token_failed() {
    let cluster = cluster();
    cluster.add_fault(on_p0(error(ErrorCode::INVALID_PRODUCER_EPOCH)));
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| b);
    for token in 0..30u64 {
        producer
            .send_reported(numbered((token % 3) as i32, token), token)
            .await
            .expect("send");
    }
    // Flush answers once everything is resolved (or the producer failed).
    let _ = producer.flush().await;
    common::run_for(Duration::from_millis(100)).await;
    recorder.assert_exactly(0..30);
    let failed = recorder
        .by_token()
        .values()
        .filter(|(c, _)| matches!(c.result, Err(Error::Fatal { .. })))
        .count();
    assert!(
        failed >= 10,
        "partition 0's records failed fatally: {failed}"
    );
    assert!(matches!(
        producer.send_reported(numbered(0, 99), 99).await,
        Err(Error::Fatal { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn close_reports_records_that_never_got_metadata() {
    let cluster = cluster();
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| b);
    for token in 0..5u64 {
        producer
            .send_reported(Record::new("no-such-topic", "v"), token)
            .await
            .expect("send");
    }
    producer.close(Duration::ZERO).await;
    recorder.assert_exactly(0..5);
    for (call, record) in recorder.by_token().values() {
        assert!(matches!(call.result, Err(Error::Closed)), "{call:?}");
        assert_eq!((call.partition, record.offset), (-1, -1));
        assert_eq!(call.topic, "no-such-topic");
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_producer_reports_what_it_held() {
    let cluster = cluster();
    let hold = kproducer_fake_broker::Hold::new();
    cluster.add_fault(on_p0(FaultAction::Hold(hold.clone())).sticky());
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| b);
    for token in 0..10u64 {
        producer
            .send_reported(numbered(0, token), token)
            .await
            .expect("send");
    }
    common::run_for(Duration::from_millis(50)).await;
    assert!(recorder.calls().is_empty(), "held by the broker");
    drop(producer);
    common::run_for(Duration::from_millis(50)).await;
    recorder.assert_exactly(0..10);
    for (call, _) in recorder.by_token().values() {
        assert!(matches!(call.result, Err(Error::Dropped)), "{call:?}");
    }
    hold.release();
}

#[test]
fn a_runtime_shut_down_under_the_producer_reports_what_it_held() {
    let cluster = cluster();
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let producer = runtime.block_on(async {
        let producer = reporting(&cluster, &recorder, |b| b);
        for token in 0..4u64 {
            producer
                .send_reported(Record::new("no-such-topic", "v"), token)
                .await
                .expect("send");
        }
        common::run_for(Duration::from_millis(10)).await;
        producer
    });
    assert!(recorder.calls().is_empty(), "waiting for metadata");
    drop(runtime);
    recorder.assert_exactly(0..4);
    for (call, _) in recorder.by_token().values() {
        assert!(matches!(call.result, Err(Error::Dropped)), "{call:?}");
    }
    drop(producer);
}

#[tokio::test(start_paused = true)]
async fn an_aborted_transaction_reports_its_records() {
    let cluster = cluster();
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| b.transactional_id("reports"));
    let t = Duration::from_secs(30);
    producer.init_transactions(t).await.expect("init");
    producer.begin_transaction().await.expect("begin");
    for token in 0..5u64 {
        producer
            .send_reported(numbered(0, token), token)
            .await
            .expect("send");
    }
    producer.flush().await.expect("flush");
    // In an open batch (lingering) when the abort comes: failed as a batch.
    for token in 5..10u64 {
        producer
            .send_reported(numbered(0, token), token)
            .await
            .expect("send");
    }
    producer.abort_transaction(t).await.expect("abort");
    recorder.assert_exactly(0..10);
    for (token, (call, _)) in recorder.by_token() {
        if token < 5 {
            assert!(call.result.is_ok(), "written before the abort: {call:?}");
        } else {
            assert!(
                matches!(call.result, Err(Error::Transaction(_))),
                "dropped by the abort: {call:?}"
            );
        }
    }
    // The next transaction's tokens are reported too.
    producer.begin_transaction().await.expect("begin");
    producer
        .send_reported(numbered(0, 10), 10)
        .await
        .expect("send");
    producer.commit_transaction(t).await.expect("commit");
    recorder.assert_exactly(0..11);
    assert!(recorder.by_token()[&10].0.result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_sink_fails_the_producer_fatally_not_silently() {
    let cluster = cluster();
    // Partition 1's answers are held: its record is still outstanding when
    // the sink panics, and must fail with the producer.
    let hold = kproducer_fake_broker::Hold::new();
    cluster.add_fault(
        kproducer_fake_broker::FaultRule::new(FaultAction::Hold(hold.clone()))
            .api(kproducer_protocol::ApiKey::Produce)
            .partition("orders", 1)
            .sticky(),
    );
    let recorder = Recorder::default();
    let record = recorder.sink();
    let producer = producer(&cluster, move |b| {
        b.delivery_reports(move |report: &DeliveryReport<'_>| {
            record(report);
            panic!("sink bug");
        })
    });
    let future = producer.send(numbered(1, 100)).await.expect("send");
    for token in 0..5u64 {
        producer
            .send_reported(numbered(0, token), token)
            .await
            .expect("send");
    }
    let _ = producer.flush().await;
    common::run_for(Duration::from_millis(50)).await;
    // Every token was still handed to the sink exactly once.
    recorder.assert_exactly(0..5);
    let err = producer
        .send_reported(numbered(0, 5), 5)
        .await
        .expect_err("the producer is fatal");
    assert!(
        matches!(&err, Error::Fatal { reason, .. } if reason.contains("sink panicked") && reason.contains("sink bug")),
        "{err}"
    );
    // The record still outstanding failed with the producer: the core
    // took the sink's panic as a fatal error.
    let outcome = future.await;
    assert!(
        matches!(&outcome, Err(Error::Fatal { reason, .. }) if reason.contains("sink panicked")),
        "{outcome:?}"
    );
    hold.release();
    assert!(matches!(
        producer.try_send(numbered(0, 6)),
        Err(TrySendError::Closed(_, Error::Fatal { .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_producer_without_a_sink_refuses_tokens_with_a_typed_error() {
    let cluster = cluster();
    let producer = producer(&cluster, |b| b);
    let err = producer
        .send_reported(numbered(0, 1), 1)
        .await
        .expect_err("no sink");
    assert!(matches!(&err, Error::Config { key, .. } if key == "delivery_reports"));
    assert!(
        err.to_string()
            .contains("ProducerBuilder::delivery_reports")
    );
    match producer.try_send_reported(numbered(0, 2), 2) {
        Err(TrySendError::Invalid(record, Error::Config { key, .. })) => {
            assert_eq!(key, "delivery_reports");
            assert_eq!(record.value, Some(Bytes::from("2")));
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert_eq!(producer.metrics().records_failed, 0);
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_refuses_at_the_call_and_reports_nothing_for_it() {
    let cluster = cluster();
    let hold = kproducer_fake_broker::Hold::new();
    cluster.add_fault(on_p0(FaultAction::Hold(hold.clone())).sticky());
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| {
        b.buffer_memory(300).max_block(Duration::from_millis(100))
    });
    producer
        .send_reported(Record::new("orders", vec![0u8; 200]).with_partition(0), 1)
        .await
        .expect("room");
    match producer.try_send_reported(Record::new("orders", vec![0u8; 200]).with_partition(0), 2) {
        Err(TrySendError::QueueFull(_)) => {}
        other => panic!("expected QueueFull, got {other:?}"),
    }
    let err = producer
        .send_reported(Record::new("orders", vec![0u8; 200]).with_partition(0), 3)
        .await
        .expect_err("no room within max.block.ms");
    assert!(matches!(err, Error::BufferTimeout { .. }), "{err}");
    hold.release();
    producer.flush().await.expect("flush");
    recorder.assert_exactly([1]);
}

/// A batch the broker finds too large is split into one batch per record
/// (each carrying its entry, future or token, along); a record too large
/// on its own fails. Every token is still reported once, at its own
/// offset, and the futures among them resolve as before.
#[tokio::test(start_paused = true)]
async fn a_split_batch_reports_each_token_once_at_its_offset() {
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("orders", 1)
        .max_message_bytes(400)
        .build()
        .expect("cluster");
    let recorder = Recorder::default();
    let producer = reporting(&cluster, &recorder, |b| b.linger(Duration::from_millis(20)));
    let mut futures = Vec::new();
    for n in 0..12u64 {
        if n == 5 {
            producer
                .send_reported(
                    Record::new("orders", vec![b'x'; 1_000]).with_partition(0),
                    n,
                )
                .await
                .expect("send");
        } else if n.is_multiple_of(3) {
            futures.push(producer.send(numbered(0, n)).await.expect("send"));
        } else {
            producer
                .send_reported(numbered(0, n), n)
                .await
                .expect("send");
        }
    }
    producer.flush().await.expect("flush");
    recorder.assert_exactly((0..12u64).filter(|n| !n.is_multiple_of(3)));
    let by_token = recorder.by_token();
    let err = by_token[&5].0.result.as_ref().expect_err("too large alone");
    assert_eq!(err.code(), Some(ErrorCode::MESSAGE_TOO_LARGE), "{err}");
    for f in futures {
        f.await.expect("a future among split records is delivered");
    }
    // Written records keep send order: offsets rise with tokens.
    let written: Vec<(u64, i64)> = by_token
        .iter()
        .filter(|(_, (c, _))| c.result.is_ok())
        .map(|(t, (_, r))| (*t, r.offset))
        .collect();
    assert_eq!(written.len(), 7);
    assert!(
        cluster
            .partition("orders", 0)
            .expect("partition")
            .batches
            .len()
            > 1,
        "the batch was split"
    );
    assert!(written.windows(2).all(|w| w[0].1 < w[1].1), "{written:?}");
    for (offset, value) in log_values(&cluster, "orders", 0).await {
        let n: u64 = std::str::from_utf8(&value).unwrap().parse().unwrap();
        if !n.is_multiple_of(3) {
            assert_eq!(by_token[&n].1.offset, offset);
        }
    }
}
