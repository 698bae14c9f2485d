//! Running one [`Plan`]: a fresh paused-time runtime, the fake cluster, the
//! producer, the workload and the fault driver; then the invariants.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kproducer::{DeliveryFuture, Error, Producer, ProducerMetrics, Record, RecordMetadata, Topic};
use kproducer_fake_broker::{ErrorScope, FakeCluster, FaultAction, FaultRule, Hold, ServiceTime};
use kproducer_net::Transport;
use kproducer_protocol::{ApiKey, ErrorCode};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::invariants;
use super::plan::{Addressing, Fault, FaultKind, Plan, Step};

/// Longest a run may wait for its futures (paused time: costs nothing
/// unless something hangs).
const RESOLVE_LIMIT: Duration = Duration::from_secs(900);

/// What became of every record, by its number (send order).
pub type Outcomes = Vec<Result<RecordMetadata, Error>>;

/// Runs `plan` to the end and checks the invariants. `Err` says which one
/// broke. A panic anywhere (a harness bug or a producer panic) is caught
/// and reported as a failure too.
pub fn run(plan: &Plan) -> Result<ProducerMetrics, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(simulate(plan))
    }));
    match result {
        Ok(r) => r,
        Err(panic) => Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
        )),
    }
}

fn build_cluster(plan: &Plan) -> FakeCluster {
    let mut b = FakeCluster::builder()
        .brokers(plan.cluster.brokers as u16)
        .service_time(ServiceTime::new(plan.cluster.service, Duration::ZERO))
        .record_requests(debugging());
    for (name, partitions) in &plan.cluster.topics {
        b = b.topic(name.clone(), *partitions);
    }
    b.build().expect("the plan's cluster is valid")
}

fn build_producer(plan: &Plan, cluster: &FakeCluster) -> Producer {
    let p = &plan.producer;
    let transport: Arc<dyn Transport> = Arc::new(cluster.transport());
    Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transport(transport)
        .seed(plan.seed)
        .enable_idempotence(true)
        .linger(p.linger)
        .batch_size(p.batch_size)
        .max_in_flight(p.max_in_flight)
        .scaler(p.scaler.clone())
        .scale_interval(p.scale_interval)
        .request_timeout(p.request_timeout)
        .retry_backoff(p.retry_backoff)
        .delivery_timeout(Duration::from_secs(300))
        .build()
        .expect("the plan's producer config is valid")
}

async fn simulate(plan: &Plan) -> Result<ProducerMetrics, String> {
    let cluster = build_cluster(plan);
    let producer = build_producer(plan, &cluster);
    let start = Instant::now();
    let driver = tokio::spawn(drive_faults(cluster.clone(), plan.clone(), start));
    let futures = send_workload(plan, &producer).await;
    let total = futures.len();
    let outcomes = match tokio::time::timeout(RESOLVE_LIMIT, resolve(futures)).await {
        Ok(o) => o,
        Err(_) => return Err(format!("futures unresolved after {RESOLVE_LIMIT:?}")),
    };
    driver
        .await
        .map_err(|e| format!("fault driver failed: {e}"))?;
    producer.close(Duration::from_secs(5)).await;
    // Let the broker side see every connection close. A broker still
    // sleeping on a Delay (up to 2 s) for a request whose client gave up
    // notices the close only when it writes the answer.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let metrics = producer.metrics();
    let verdict = invariants::check(plan, &cluster, &outcomes, seen_45(&metrics))
        .and_then(|()| check_teardown(&cluster, &metrics, total));
    if verdict.is_err() && debugging() {
        print_request_log(&cluster);
    }
    verdict.map(|()| metrics)
}

/// How often the producer was answered 45 `OUT_OF_ORDER_SEQUENCE_NUMBER`.
fn seen_45(m: &ProducerMetrics) -> u64 {
    m.errors_by_code
        .get(&ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        .copied()
        .unwrap_or(0)
}

/// `KPRODUCER_SIM_DEBUG=1`: keep the broker's request log and print the
/// Produce history of every partition that saw an error, on failure.
fn debugging() -> bool {
    std::env::var_os("KPRODUCER_SIM_DEBUG").is_some()
}

fn print_request_log(cluster: &FakeCluster) {
    let requests = cluster.requests();
    let troubled: std::collections::BTreeSet<_> = requests
        .iter()
        .flat_map(|r| &r.batches)
        .filter(|b| b.error_code.as_i16() != 0)
        .map(|b| b.topic_partition.clone())
        .collect();
    for r in &requests {
        for b in r
            .batches
            .iter()
            .filter(|b| troubled.contains(&b.topic_partition))
        {
            println!(
                "req {} conn {:?} {:?} {}: pid {} epoch {} seq {}..={} -> {} @{}",
                r.seq,
                r.connection,
                r.disposition,
                b.topic_partition,
                b.meta.producer_id,
                b.meta.producer_epoch,
                b.meta.base_sequence,
                b.last_sequence,
                b.error_code,
                b.base_offset
            );
        }
    }
}

fn check_teardown(cluster: &FakeCluster, m: &ProducerMetrics, total: usize) -> Result<(), String> {
    let open = cluster.counters().connections_open;
    if open != 0 {
        return Err(format!("{open} broker connections still open after close"));
    }
    if m.in_flight_batches != 0 || m.buffer_used != 0 {
        return Err(format!(
            "after close: {} batches in flight, {} buffer bytes held",
            m.in_flight_batches, m.buffer_used
        ));
    }
    let resolved = m.records_sent + m.records_failed;
    if resolved != total as u64 {
        return Err(format!(
            "metrics count {resolved} resolved records ({} sent, {} failed), {total} were sent",
            m.records_sent, m.records_failed
        ));
    }
    Ok(())
}

/// The value of record `n` (its number in send order).
pub fn value(seed: u64, n: usize) -> Bytes {
    Bytes::from(format!("{seed}:{n:08}"))
}

async fn send_workload(plan: &Plan, producer: &Producer) -> Vec<DeliveryFuture> {
    let mut rng = SmallRng::seed_from_u64(plan.seed ^ 0x5151_5151);
    let topics: Vec<Topic> = plan
        .cluster
        .topics
        .iter()
        .map(|(n, _)| Topic::new(n.as_str()))
        .collect();
    let mut futures = Vec::new();
    for step in &plan.steps {
        let (count, every) = match *step {
            Step::Burst { count } => (count, Duration::ZERO),
            Step::Steady { count, every } => (count, every),
            Step::Idle(d) => {
                tokio::time::sleep(d).await;
                continue;
            }
        };
        for _ in 0..count {
            let t = rng.random_range(0..topics.len());
            let mut record = Record::new(topics[t].clone(), value(plan.seed, futures.len()));
            match plan.addressing {
                Addressing::Keyed(keys) => {
                    record = record.with_key(format!("k{}", rng.random_range(0..keys)));
                }
                Addressing::Keyless => {}
                Addressing::Explicit => {
                    record = record.with_partition(rng.random_range(0..plan.cluster.topics[t].1));
                }
            }
            match producer.send(record).await {
                Ok(f) => futures.push(f),
                Err(e) => panic!("send refused record {}: {e}", futures.len()),
            }
            if !every.is_zero() {
                tokio::time::sleep(every).await;
            }
        }
    }
    futures
}

async fn resolve(futures: Vec<DeliveryFuture>) -> Outcomes {
    let mut out = Vec::with_capacity(futures.len());
    for f in futures {
        out.push(f.await);
    }
    out
}

/// Applies the schedule at its times; returns once every fault (including
/// broker outages and holds) has run its course.
async fn drive_faults(cluster: FakeCluster, plan: Plan, start: Instant) {
    let mut tails = JoinSet::new();
    for fault in &plan.faults {
        tokio::time::sleep_until(start + fault.at).await;
        apply(&cluster, &plan, fault, &mut tails);
    }
    while tails.join_next().await.is_some() {}
}

fn apply(cluster: &FakeCluster, plan: &Plan, fault: &Fault, tails: &mut JoinSet<()>) {
    let (topic_index, partition) = fault.partition;
    let topic = plan.cluster.topics[topic_index].0.as_str();
    let produce_to = |action: FaultAction| {
        FaultRule::new(action)
            .api(ApiKey::Produce)
            .partition(topic.to_owned(), partition)
            .nth(fault.nth)
    };
    let broker_rule = |action: FaultAction| {
        FaultRule::new(action)
            .api(ApiKey::Produce)
            .broker(fault.broker)
            .nth(fault.nth)
    };
    match &fault.kind {
        FaultKind::Error(code) => {
            cluster.add_fault(produce_to(FaultAction::Error {
                code: *code,
                scope: ErrorScope::Partition,
            }));
        }
        FaultKind::ErrorAfterAppend(code) => {
            cluster.add_fault(produce_to(FaultAction::ErrorAfterAppend {
                code: *code,
                scope: ErrorScope::Partition,
            }));
        }
        FaultKind::DropResponse => {
            cluster.add_fault(broker_rule(FaultAction::DropResponse));
        }
        FaultKind::Delay(d) => {
            cluster.add_fault(broker_rule(FaultAction::Delay(*d)));
        }
        FaultKind::CloseBefore => {
            cluster.add_fault(broker_rule(FaultAction::CloseBeforeHandling));
        }
        FaultKind::CloseAfter => {
            cluster.add_fault(broker_rule(FaultAction::CloseAfterHandling));
        }
        FaultKind::Hold(d) => {
            let hold = Hold::new();
            let id = cluster.add_fault(
                FaultRule::new(FaultAction::Hold(hold.clone()))
                    .api(ApiKey::Produce)
                    .broker(fault.broker)
                    .connection(u64::from(fault.nth % 3))
                    .sticky(),
            );
            let (cluster, d) = (cluster.clone(), *d);
            tails.spawn(async move {
                tokio::time::sleep(d).await;
                cluster.remove_fault(id);
                hold.release();
            });
        }
        FaultKind::MoveLeader => {
            if let Ok(leader) = cluster.leader(topic, partition) {
                let to = (leader + 1) % plan.cluster.brokers;
                cluster
                    .move_leader(topic, partition, to)
                    .expect("broker exists");
            }
        }
        FaultKind::BrokerDown(d) => {
            cluster.broker_down(fault.broker).expect("broker exists");
            let (cluster, d, broker) = (cluster.clone(), *d, fault.broker);
            tails.spawn(async move {
                tokio::time::sleep(d).await;
                cluster.broker_up(broker).expect("broker exists");
            });
        }
        FaultKind::ExpireProducer => {
            let snapshot = cluster
                .partition(topic, partition)
                .expect("partition exists");
            if let Some(b) = snapshot.batches.last() {
                let _ = cluster.expire_producer(topic, partition, b.meta.producer_id);
            }
        }
        FaultKind::AdvanceLogStart => {
            let snapshot = cluster
                .partition(topic, partition)
                .expect("partition exists");
            let end = snapshot.batches.last().map_or(0, |b| b.last_offset + 1);
            let _ = cluster.advance_log_start_offset(topic, partition, end);
        }
    }
}
