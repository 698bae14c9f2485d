//! Reading the log back: record fields, compressed batches, and several
//! connections producing at once on a multi-threaded runtime.

mod common;

use bytes::Bytes;
use common::{WireClient, batch};
use kproducer_fake_broker::{FakeCluster, LogRecord};
use kproducer_protocol::records::{BatchParams, Compression, RecordBatchBuilder};

const T: &str = "t";

fn cluster(partitions: i32) -> FakeCluster {
    FakeCluster::builder()
        .brokers(1)
        .topic(T, partitions)
        .build()
        .expect("valid cluster")
}

#[tokio::test(start_paused = true)]
async fn records_carry_keys_headers_timestamps_and_producer_fields() {
    let cluster = cluster(1);
    let mut b = RecordBatchBuilder::new(Compression::None);
    let headers: &[(&[u8], Option<&[u8]>)] = &[(b"h", Some(b"1")), (b"h", None)];
    b.append(5_000, Some(b"k0"), Some(b"v0"), headers);
    b.append(5_007, None, None, kproducer_protocol::records::NO_HEADERS);
    let sealed = b
        .seal(&BatchParams {
            producer_id: 9,
            producer_epoch: 3,
            base_sequence: 40,
            transactional: false,
        })
        .expect("valid batch");
    let mut c = WireClient::connect(&cluster, 0).await;
    c.produce(T, 0, batch(-1, -1, -1, &["first"])).await;
    assert_eq!(c.produce(T, 0, sealed).await.error_code, 0);
    let records = cluster.records(T, 0).expect("readable");
    let expect_second = LogRecord {
        offset: 1,
        timestamp: 5_000,
        key: Some(Bytes::from_static(b"k0")),
        value: Some(Bytes::from_static(b"v0")),
        headers: vec![
            (Bytes::from_static(b"h"), Some(Bytes::from_static(b"1"))),
            (Bytes::from_static(b"h"), None),
        ],
        producer_id: 9,
        producer_epoch: 3,
        sequence: 40,
        transactional: false,
        aborted: false,
    };
    assert_eq!(records[1], expect_second);
    assert_eq!(
        (records[2].offset, records[2].timestamp, records[2].sequence),
        (2, 5_007, 41)
    );
    assert_eq!(records[2].value, None);
    assert!(
        cluster.check_values(T, 0, &[b"first", b"v0"]).is_err(),
        "a null value is not missing"
    );
}

#[tokio::test(start_paused = true)]
async fn compressed_batches_are_validated_and_read_back() {
    let cluster = cluster(1);
    let mut c = WireClient::connect(&cluster, 0).await;
    let mut expected: Vec<Vec<u8>> = Vec::new();
    let mut seq = 0;
    for codec in Compression::ALL {
        let mut b = RecordBatchBuilder::new(codec);
        for i in 0..3 {
            let v = format!("{codec:?}-{i}").into_bytes();
            b.append(1, None, Some(&v), kproducer_protocol::records::NO_HEADERS);
            expected.push(v);
        }
        let sealed = b
            .seal(&BatchParams {
                producer_id: 1,
                producer_epoch: 0,
                base_sequence: seq,
                transactional: false,
            })
            .expect("valid batch");
        seq += 3;
        let r = c.produce(T, 0, sealed).await;
        assert_eq!(r.error_code, 0, "{codec:?}: {:?}", r.error_message);
    }
    let expected: Vec<&[u8]> = expected.iter().map(Vec::as_slice).collect();
    cluster.assert_values(T, 0, &expected);
    cluster.assert_no_duplicates();
}

#[tokio::test(start_paused = true)]
async fn check_values_says_where_logs_differ() {
    let cluster = cluster(1);
    let mut c = WireClient::connect(&cluster, 0).await;
    c.produce(T, 0, batch(-1, -1, -1, &["a", "b"])).await;
    let err = cluster
        .check_values(T, 0, &[b"a", b"x"])
        .expect_err("differs");
    assert!(err.contains("record 1"), "{err}");
    assert!(
        cluster.check_values(T, 0, &[b"a"]).is_err(),
        "extra records count"
    );
    assert!(cluster.check_values(T, 0, &[b"a", b"b"]).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connections_on_a_threaded_runtime_lose_and_duplicate_nothing() {
    const PARTITIONS: i32 = 4;
    const BATCHES: i32 = 100;
    let cluster = cluster(PARTITIONS);
    let mut tasks = Vec::new();
    for p in 0..PARTITIONS {
        let cluster = cluster.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = WireClient::connect(&cluster, 0).await;
            for i in 0..BATCHES {
                let v = format!("{p}-{i}");
                let r = c.produce(T, p, batch(i64::from(p), 0, i, &[&v])).await;
                assert_eq!(r.error_code, 0, "partition {p} batch {i}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("producer task completes");
    }
    for p in 0..PARTITIONS {
        let want: Vec<String> = (0..BATCHES).map(|i| format!("{p}-{i}")).collect();
        let want: Vec<&[u8]> = want.iter().map(|s| s.as_bytes()).collect();
        cluster.assert_values(T, p, &want);
    }
    cluster.assert_no_duplicates();
    assert_eq!(
        cluster.counters().batches_appended,
        u64::try_from(PARTITIONS * BATCHES).unwrap_or(0)
    );
}
