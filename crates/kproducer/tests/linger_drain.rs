//! How lingering batches become requests, on paused tokio time: once a
//! request goes to a connection, the other partitions of that connection
//! send their open batches in it (as Kafka's Java producer drains), so
//! partitions that linger together cost one request per linger period,
//! not one each; and a linger ends on the timer tick nearest its deadline,
//! not on the tick after it.

mod common;

use std::time::Duration;

use common::producer;
use kproducer::{DeliveryFuture, Producer, Record, Topic};
use kproducer_fake_broker::{FakeCluster, RequestRecord};
use kproducer_protocol::ApiKey;
use tokio::time::Instant;

const LINGER: Duration = Duration::from_millis(5);

fn cluster(brokers: u16) -> FakeCluster {
    FakeCluster::builder()
        .brokers(brokers)
        .topic("orders", 6)
        .build()
        .expect("cluster")
}

/// A producer with one connection per broker and `LINGER`, whose every
/// partition has had its first acknowledgement (so its window is open).
async fn warmed_producer(cluster: &FakeCluster) -> Producer {
    let producer = producer(cluster, |b| b.linger(LINGER).connections(1, 1));
    let mut warm = Vec::new();
    for p in 0..6 {
        let r = Record::new("orders", "warm-up").with_partition(p);
        warm.push(producer.send(r).await.expect("warm-up send"));
    }
    for f in warm {
        f.await.expect("warm-up acknowledged");
    }
    producer
}

fn produce_requests_after(cluster: &FakeCluster, skip: usize) -> Vec<RequestRecord> {
    cluster
        .requests()
        .into_iter()
        .filter(|r| r.api_key == ApiKey::Produce as i16)
        .skip(skip)
        .collect()
}

async fn send_to(producer: &Producer, topic: &Topic, partition: i32) -> DeliveryFuture {
    let r = Record::new(topic.clone(), "v").with_partition(partition);
    producer.send(r).await.expect("send")
}

#[tokio::test(start_paused = true)]
async fn partitions_lingering_together_share_one_request() {
    let cluster = cluster(1);
    let producer = warmed_producer(&cluster).await;
    let before = produce_requests_after(&cluster, 0).len();
    let topic = Topic::new("orders");
    // Partition 0 opens a batch at t0, the others 0.5 ms apart after it
    // (the clock moved exactly, not to timer ticks): six batches whose
    // lingers end at six different moments.
    let t0 = Instant::now();
    let mut deliveries = Vec::new();
    for p in 0..6 {
        if p > 0 {
            tokio::time::advance(Duration::from_micros(500)).await;
        }
        deliveries.push(send_to(&producer, &topic, p).await);
        tokio::task::yield_now().await;
    }
    for d in deliveries {
        d.await.expect("acknowledged");
    }
    let requests = produce_requests_after(&cluster, before);
    assert_eq!(
        requests.len(),
        1,
        "one request carries every partition: {requests:#?}"
    );
    let mut partitions: Vec<i32> = requests[0]
        .batches
        .iter()
        .map(|b| b.topic_partition.partition)
        .collect();
    partitions.sort_unstable();
    assert_eq!(partitions, (0..6).collect::<Vec<_>>());
    // It went when the first linger ended (tokio's timers tick every
    // millisecond), not when the last one did.
    let at = requests[0].received_at - t0;
    assert!(
        at >= LINGER - Duration::from_millis(1) && at <= LINGER + Duration::from_millis(1),
        "sent {at:?} after the first record"
    );
    producer.close(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_rode_along_starts_a_fresh_linger() {
    let cluster = cluster(1);
    let producer = warmed_producer(&cluster).await;
    let before = produce_requests_after(&cluster, 0).len();
    let topic = Topic::new("orders");
    let first = send_to(&producer, &topic, 0).await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    let rider = send_to(&producer, &topic, 1).await;
    first.await.expect("acknowledged");
    rider.await.expect("acknowledged");
    // Partition 1's next record opens a new batch, which lingers its full
    // time from now rather than going at once.
    let t1 = Instant::now();
    let next = send_to(&producer, &topic, 1).await;
    next.await.expect("acknowledged");
    let requests = produce_requests_after(&cluster, before);
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(requests[0].batches.len(), 2, "partition 1 rode along");
    assert_eq!(requests[1].batches.len(), 1);
    let waited = requests[1].received_at - t1;
    assert!(
        waited >= LINGER - Duration::from_millis(1),
        "the new batch lingered only {waited:?}"
    );
    producer.close(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn only_partitions_of_the_same_connection_ride_along() {
    let cluster = cluster(2);
    let producer = warmed_producer(&cluster).await;
    let before = produce_requests_after(&cluster, 0).len();
    let topic = Topic::new("orders");
    let leader = |p: i32| cluster.leader("orders", p).expect("leader");
    let on_0 = (0..6)
        .find(|&p| leader(p) == 0)
        .expect("a partition on broker 0");
    let on_1 = (0..6)
        .find(|&p| leader(p) == 1)
        .expect("a partition on broker 1");
    let t0 = Instant::now();
    let a = send_to(&producer, &topic, on_0).await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    let b = send_to(&producer, &topic, on_1).await;
    a.await.expect("acknowledged");
    b.await.expect("acknowledged");
    let requests = produce_requests_after(&cluster, before);
    assert_eq!(requests.len(), 2, "one per broker: {requests:#?}");
    for r in &requests {
        assert_eq!(r.batches.len(), 1);
    }
    // The second broker's partition kept its own linger.
    let later = requests
        .iter()
        .find(|r| r.connection.broker == 1)
        .expect("a request to broker 1");
    assert!(later.received_at - t0 >= LINGER + Duration::from_millis(1));
    producer.close(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_partition_with_a_full_window_does_not_ride_along() {
    // Partition 1 waits for its first acknowledgement (an idempotent
    // partition sends one batch until then), held by a slow broker: its
    // open batch must not ride along with partition 0's request.
    let cluster = FakeCluster::builder()
        .brokers(1)
        .topic("orders", 6)
        .service_time(kproducer_fake_broker::ServiceTime::new(
            Duration::from_millis(20),
            Duration::ZERO,
        ))
        .build()
        .expect("cluster");
    let producer = producer(&cluster, |b| b.linger(LINGER).connections(1, 1));
    let topic = Topic::new("orders");
    // Partition 0 acknowledged once; partition 1's first batch in flight.
    send_to(&producer, &topic, 0)
        .await
        .await
        .expect("acknowledged");
    let before = produce_requests_after(&cluster, 0).len();
    let first_of_1 = send_to(&producer, &topic, 1).await;
    tokio::time::sleep(LINGER + Duration::from_millis(2)).await;
    // Now partition 1 has a batch in flight and none acknowledged.
    let second_of_1 = send_to(&producer, &topic, 1).await;
    let of_0 = send_to(&producer, &topic, 0).await;
    for d in [first_of_1, second_of_1, of_0] {
        d.await.expect("acknowledged");
    }
    let requests = produce_requests_after(&cluster, before);
    let with_0 = requests
        .iter()
        .find(|r| r.batches.iter().any(|b| b.topic_partition.partition == 0))
        .expect("partition 0 was sent");
    assert_eq!(
        with_0.batches.len(),
        1,
        "partition 1 had no room in its window: {requests:#?}"
    );
    producer.close(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_linger_ends_on_the_tick_nearest_its_deadline() {
    let cluster = cluster(1);
    let producer = warmed_producer(&cluster).await;
    let before = produce_requests_after(&cluster, 0).len();
    let topic = Topic::new("orders");
    // Open the batch 0.3 ms past a tick: its linger ends at 5.3 ms. tokio's
    // timers fire on whole milliseconds; the nearest is 5 ms, the next 6.
    tokio::time::advance(Duration::from_micros(300)).await;
    let t0 = Instant::now();
    let d = send_to(&producer, &topic, 0).await;
    d.await.expect("acknowledged");
    let requests = produce_requests_after(&cluster, before);
    assert_eq!(requests.len(), 1);
    let lingered = requests[0].received_at - t0;
    assert!(
        lingered >= LINGER - Duration::from_micros(500) && lingered <= LINGER,
        "lingered {lingered:?} for a linger of {LINGER:?}"
    );
    producer.close(Duration::from_secs(1)).await;
}
