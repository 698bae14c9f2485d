//! What one simulation run does, drawn from its seed: the cluster's shape,
//! the producer's configuration, the workload and the fault schedule.
//!
//! Each part draws from its own random stream (seed mixed with a constant),
//! so dropping a fault while shrinking leaves the cluster, the config and
//! the workload exactly as they were.

use std::fmt;
use std::time::Duration;

use kproducer_net::ScalerConfig;
use kproducer_protocol::ErrorCode;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The cluster: broker count and topics with their partition counts.
#[derive(Debug, Clone)]
pub struct ClusterShape {
    /// 2..=5 brokers.
    pub brokers: i32,
    /// 2..=4 topics, 1..=24 partitions each.
    pub topics: Vec<(String, i32)>,
    /// Each broker's fixed service time per request.
    pub service: Duration,
}

/// The producer's settings, all within valid ranges.
#[derive(Debug, Clone)]
pub struct ProducerShape {
    /// `linger.ms`.
    pub linger: Duration,
    /// `batch.size`.
    pub batch_size: usize,
    /// `max.in.flight.requests.per.connection` (1..=5).
    pub max_in_flight: usize,
    /// Scaler bounds and knobs (low cooldowns, so widths change often).
    pub scaler: ScalerConfig,
    /// How often the scaler looks.
    pub scale_interval: Duration,
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
}

/// One step of the workload.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// `count` records back to back.
    Burst {
        /// How many.
        count: usize,
    },
    /// `count` records, one every `every`.
    Steady {
        /// How many.
        count: usize,
        /// The gap between records.
        every: Duration,
    },
    /// Nothing for this long.
    Idle(Duration),
}

/// How a workload's records are addressed.
#[derive(Debug, Clone, Copy)]
pub enum Addressing {
    /// Keys from a small set (murmur2 places them).
    Keyed(u32),
    /// No key (uniform sticky).
    Keyless,
    /// An explicit partition.
    Explicit,
}

/// The fault kinds the fake broker can inject, and the cluster operations.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// A partition-scoped error on the n-th Produce carrying the partition.
    Error(ErrorCode),
    /// 7 or 20 after the broker appended.
    ErrorAfterAppend(ErrorCode),
    /// The n-th Produce to a broker is handled but never answered.
    DropResponse,
    /// The n-th Produce to a broker waits this long first.
    Delay(Duration),
    /// The n-th Produce to a broker closes its connection unhandled.
    CloseBefore,
    /// The n-th Produce to a broker closes its connection after appending.
    CloseAfter,
    /// Produce requests on one connection of a broker wait at a gate for
    /// this long, while other connections overtake them.
    Hold(Duration),
    /// The partition's leadership moves to the next broker.
    MoveLeader,
    /// The broker goes down for this long.
    BrokerDown(Duration),
    /// The broker forgets the producer's state on the partition.
    ExpireProducer,
    /// The partition's log start moves to its end.
    AdvanceLogStart,
}

/// One fault at one moment.
#[derive(Debug, Clone)]
pub struct Fault {
    /// When (since the start of the run).
    pub at: Duration,
    /// What.
    pub kind: FaultKind,
    /// Which broker (for broker-wide faults).
    pub broker: i32,
    /// Which topic (index) and partition (for partition faults).
    pub partition: (usize, i32),
    /// Which matching request it acts on (from 1) / which connection.
    pub nth: u32,
}

impl Fault {
    /// Whether the fault can legitimately make the producer see 45
    /// `OUT_OF_ORDER_SEQUENCE_NUMBER`: an error before append refuses a
    /// batch while the ones behind it are in flight (they get 45 as
    /// collateral, `fault-scenarios.md` 3 and 8), or the broker loses the
    /// producer's state.
    pub fn may_cause_45(&self) -> bool {
        matches!(self.kind, FaultKind::Error(_)) || self.loses_state()
    }

    /// Whether the fault can legitimately fail records: an error the
    /// producer must not retry, or lost producer state.
    pub fn may_fail_records(&self) -> bool {
        matches!(&self.kind, FaultKind::Error(code) if FATAL.contains(code)) || self.loses_state()
    }

    /// Whether the broker forgets the producer's state on the fault's
    /// partition: it can then neither deduplicate a retry nor refuse a batch
    /// that skips one in doubt, so duplicates and reordering there are the
    /// schedule's doing, not the producer's.
    pub fn loses_state(&self) -> bool {
        matches!(
            self.kind,
            FaultKind::ExpireProducer | FaultKind::AdvanceLogStart
        )
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "@{:?} {:?} broker {} topic#{} partition {} nth {}",
            self.at, self.kind, self.broker, self.partition.0, self.partition.1, self.nth
        )
    }
}

/// Retriable error codes a broker answers before appending.
const RETRIABLE: [ErrorCode; 5] = [
    ErrorCode::NOT_LEADER_OR_FOLLOWER,
    ErrorCode::REQUEST_TIMED_OUT,
    ErrorCode::NOT_ENOUGH_REPLICAS,
    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode::LEADER_NOT_AVAILABLE,
];

/// Error codes that fail the batch (the producer must not retry them).
/// 2 `CORRUPT_MESSAGE` is retriable in Java's client, but this producer
/// CRC-checks what it sends, so it takes 2 as a refusal of the content.
///
/// Not 10 `MESSAGE_TOO_LARGE`: the producer splits the batch and sends its
/// records again under new sequences, and injected on the retry of a batch
/// the broker already wrote (same bytes, so a real broker could never say
/// it), that makes a duplicate the schedule caused (seed 11694). The
/// scripted scenarios cover 10.
/// The fourth slot (once 10) draws 87 again, so that every other seed keeps
/// the schedule it had when its results were recorded.
pub const FATAL: [ErrorCode; 4] = [
    ErrorCode::CORRUPT_MESSAGE,
    ErrorCode::INVALID_RECORD,
    ErrorCode::RECORD_LIST_TOO_LARGE,
    ErrorCode::INVALID_RECORD,
];

/// Everything one run does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The seed it was drawn from.
    pub seed: u64,
    /// The cluster.
    pub cluster: ClusterShape,
    /// The producer.
    pub producer: ProducerShape,
    /// The workload, in order.
    pub steps: Vec<Step>,
    /// How records are addressed.
    pub addressing: Addressing,
    /// The fault schedule, by time.
    pub faults: Vec<Fault>,
}

fn stream(seed: u64, salt: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn ms(rng: &mut SmallRng, range: std::ops::Range<u64>) -> Duration {
    Duration::from_millis(rng.random_range(range))
}

impl Plan {
    /// The run for `seed`.
    pub fn from_seed(seed: u64) -> Self {
        let cluster = cluster_shape(&mut stream(seed, 1));
        let producer = producer_shape(&mut stream(seed, 2));
        let mut rng = stream(seed, 3);
        let addressing = match rng.random_range(0..3) {
            0 => Addressing::Keyed(rng.random_range(1..64)),
            1 => Addressing::Keyless,
            _ => Addressing::Explicit,
        };
        let steps = (0..rng.random_range(4..14))
            .map(|_| match rng.random_range(0..3) {
                0 => Step::Burst {
                    count: rng.random_range(1..400),
                },
                1 => Step::Steady {
                    count: rng.random_range(1..200),
                    every: Duration::from_micros(rng.random_range(50..3_000)),
                },
                _ => Step::Idle(ms(&mut rng, 1..1_500)),
            })
            .collect();
        let faults = schedule(&mut stream(seed, 4), &cluster);
        Plan {
            seed,
            cluster,
            producer,
            steps,
            addressing,
            faults,
        }
    }

    /// Whether any fault in the schedule may legitimately cause a 45.
    pub fn allows_45(&self) -> bool {
        self.faults.iter().any(Fault::may_cause_45)
    }

    /// Whether any fault in the schedule may legitimately fail records.
    pub fn allows_failures(&self) -> bool {
        self.faults.iter().any(Fault::may_fail_records)
    }

    /// Whether the schedule makes the broker forget producer state on
    /// `topic`-`partition`.
    pub fn loses_state_on(&self, topic: &str, partition: i32) -> bool {
        self.faults.iter().any(|f| {
            f.loses_state()
                && self.cluster.topics[f.partition.0].0 == topic
                && f.partition.1 == partition
        })
    }
}

fn cluster_shape(rng: &mut SmallRng) -> ClusterShape {
    let topics = (0..rng.random_range(2..=4))
        .map(|i| (format!("t{i}"), rng.random_range(1..=24)))
        .collect();
    ClusterShape {
        brokers: rng.random_range(2..=5),
        topics,
        service: Duration::from_micros(rng.random_range(0..3_000)),
    }
}

fn producer_shape(rng: &mut SmallRng) -> ProducerShape {
    let min_width = rng.random_range(1..=2);
    let max_width = rng.random_range(min_width..=4);
    let scaler = ScalerConfig {
        min_width,
        max_width,
        initial_width: rng.random_range(min_width..=max_width),
        max_step: rng.random_range(1..=2),
        min_window: ms(rng, 5..50),
        cooldown: ms(rng, 5..100),
        sustained_low: ms(rng, 10..300),
        scale_up_wait: rng.random_range(0.02..0.3),
        ..ScalerConfig::default()
    };
    ProducerShape {
        linger: ms(rng, 0..20),
        batch_size: rng.random_range(100..20_000),
        max_in_flight: rng.random_range(1..=5),
        scaler,
        scale_interval: ms(rng, 5..60),
        request_timeout: ms(rng, 500..5_000),
        retry_backoff: ms(rng, 1..150),
    }
}

/// 0..=12 faults over the first few seconds of the run.
fn schedule(rng: &mut SmallRng, cluster: &ClusterShape) -> Vec<Fault> {
    let mut faults: Vec<Fault> = (0..rng.random_range(0..=12))
        .map(|_| {
            let kind = match rng.random_range(0..100) {
                0..20 => FaultKind::Error(RETRIABLE[rng.random_range(0..RETRIABLE.len())]),
                20..24 => FaultKind::Error(FATAL[rng.random_range(0..FATAL.len())]),
                24..32 => FaultKind::ErrorAfterAppend(if rng.random_bool(0.5) {
                    ErrorCode::REQUEST_TIMED_OUT
                } else {
                    ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                }),
                32..42 => FaultKind::DropResponse,
                42..50 => FaultKind::Delay(ms(rng, 1..2_000)),
                50..58 => FaultKind::CloseBefore,
                58..66 => FaultKind::CloseAfter,
                66..74 => FaultKind::Hold(ms(rng, 1..1_000)),
                74..84 => FaultKind::MoveLeader,
                84..90 => FaultKind::BrokerDown(ms(rng, 1..3_000)),
                90..95 => FaultKind::ExpireProducer,
                _ => FaultKind::AdvanceLogStart,
            };
            let topic = rng.random_range(0..cluster.topics.len());
            Fault {
                at: ms(rng, 0..4_000),
                kind,
                broker: rng.random_range(0..cluster.brokers),
                partition: (topic, rng.random_range(0..cluster.topics[topic].1)),
                nth: rng.random_range(1..6),
            }
        })
        .collect();
    faults.sort_by_key(|f| f.at);
    faults
}
