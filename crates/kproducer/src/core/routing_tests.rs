//! Routing under metadata changes, driven through the core's inputs (a
//! record, a Metadata answer) and read back from where each record went:
//! an unknown topic then known, a partition count that grows, a topic
//! deleted and recreated, a partitioner answering out of range, and many
//! topics interleaved through handles and fresh names. The fake cluster
//! cannot grow or recreate a topic, so these drive the core directly.

use std::sync::{Arc, Mutex};

use kproducer_protocol::ErrorCode;
use kproducer_protocol::messages::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};

use super::parked::RELEASE_PER_PASS;
use super::*;
use crate::config::ProducerConfig;
use crate::delivery::{self, DeliveryFuture};

/// What a partitioner was asked, call by call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Partition {
        index: TopicIndex,
        topic: String,
        partitions: u32,
    },
    Appended {
        topic: String,
        partition: i32,
    },
}

/// Answers partitions from a script (the last one repeats) and records what
/// it was asked; implements only the name-based methods, as a user's
/// partitioner written before topic indexes would.
#[derive(Debug, Clone)]
struct Scripted {
    answers: Arc<Mutex<Vec<i32>>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Scripted {
    fn new(answers: &[i32]) -> Self {
        Scripted {
            answers: Arc::new(Mutex::new(answers.to_vec())),
            calls: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Partitioner for Scripted {
    fn partition(&mut self, _req: &PartitionRequest<'_>) -> i32 {
        unreachable!("the core calls partition_indexed")
    }

    fn partition_indexed(&mut self, index: TopicIndex, req: &PartitionRequest<'_>) -> i32 {
        self.calls.lock().unwrap().push(Call::Partition {
            index,
            topic: req.topic.to_owned(),
            partitions: req.partitions,
        });
        let mut answers = self.answers.lock().unwrap();
        if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers[0]
        }
    }

    // Not overridden: on_append_indexed's default must pass the name here.
    fn on_append(&mut self, topic: &str, partition: i32, _bytes: usize) {
        self.calls.lock().unwrap().push(Call::Appended {
            topic: topic.to_owned(),
            partition,
        });
    }
}

/// One topic of a Metadata answer: its name, partition count (0 with an
/// error code) and id.
struct Described<'a> {
    name: &'a str,
    partitions: i32,
    id: u8,
    error: ErrorCode,
}

fn known(name: &str, partitions: i32, id: u8) -> Described<'_> {
    Described {
        name,
        partitions,
        id,
        error: ErrorCode::NONE,
    }
}

fn answer(topics: &[Described<'_>]) -> MetadataResponse {
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "127.0.0.1".into(),
            port: 9092,
            ..Default::default()
        }],
        topics: topics
            .iter()
            .map(|t| MetadataResponseTopic {
                error_code: t.error.as_i16(),
                name: Some(t.name.into()),
                topic_id: [t.id; 16],
                partitions: (0..t.partitions)
                    .map(|p| MetadataResponsePartition {
                        partition_index: p,
                        leader_id: 1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// A core with no running task: records go in through `on_command`,
/// metadata through `on_metadata`.
struct Harness {
    core: Core,
    _commands: super::intake::IntakeSender<Command>,
    /// Outcomes of records sent with [`Harness::keep`].
    held: Vec<DeliveryFuture>,
}

impl Harness {
    fn new(partitioner: impl Partitioner + 'static) -> Self {
        let config = ProducerConfig {
            bootstrap_servers: vec!["127.0.0.1:9092".into()],
            seed: Some(7),
            ..ProducerConfig::default()
        };
        let settings = config.validate().expect("valid configuration");
        let shared = Arc::new(Shared::new(settings.config.buffer_memory));
        // Never reached: nothing here runs the core's I/O.
        let cluster = kproducer_fake_broker::FakeCluster::builder()
            .brokers(1)
            .build()
            .expect("cluster");
        let transport: Arc<dyn Transport> = Arc::new(cluster.transport());
        let (tx, rx) = super::intake::channel(drop::<Command>);
        let core = Core::new(settings, shared, transport, rx, Box::new(partitioner));
        Harness {
            core,
            _commands: tx,
            held: Vec::new(),
        }
    }

    fn send(&mut self, topic: &Topic, partition: Option<i32>) -> DeliveryFuture {
        let mut record = Record::new(topic.clone(), "v");
        record.partition = partition;
        let reserved = record.size_bound();
        let (reply, future) = delivery::channel(topic);
        let envelope = Envelope {
            record,
            reply: Reply::Future(reply),
            reserved,
        };
        self.core
            .on_command(Command::Record(envelope), Instant::now(), 1_000);
        future
    }

    /// Sends and keeps the outcome in `held`.
    fn keep(&mut self, topic: &Topic, partition: Option<i32>) {
        let future = self.send(topic, partition);
        self.held.push(future);
    }

    /// A Metadata answer, then the loop's passes that release the records
    /// it made routable (all of them).
    fn metadata(&mut self, topics: &[Described<'_>]) {
        self.core.on_metadata(Ok(answer(topics)));
        while self.core.release_parked(Instant::now()) {}
    }

    /// Records queued for `topic`-`partition` (open and sealed).
    fn queued(&self, topic: &str, partition: i32) -> usize {
        self.core
            .partitions
            .get(&TopicPartition::new(topic, partition))
            .map_or(0, PartitionQueue::record_count)
    }

    fn waiting(&self, topic: &str) -> usize {
        self.core.waiting.get(topic).map_or(0, VecDeque::len)
    }
}

fn refused(mut future: DeliveryFuture) -> String {
    match future.try_result() {
        Some(Err(Error::InvalidRecord { reason, .. })) => reason,
        other => panic!("expected an invalid-record error, got {other:?}"),
    }
}

fn pending(future: &mut DeliveryFuture) -> bool {
    future.try_result().is_none()
}

#[tokio::test(start_paused = true)]
async fn an_unknown_topic_waits_then_routes_once_known() {
    let p = Scripted::new(&[1]);
    let mut h = Harness::new(p.clone());
    let late = Topic::new("late");
    let mut parked = h.send(&late, None);
    assert_eq!(h.waiting("late"), 1);
    assert!(h.core.metadata.wanted.contains("late"));
    assert!(
        p.calls().is_empty(),
        "no partition is chosen without a count"
    );
    // An answer without it keeps it waiting.
    h.metadata(&[known("other", 1, 1)]);
    assert_eq!(h.waiting("late"), 1);
    h.metadata(&[known("late", 2, 2)]);
    assert_eq!(h.waiting("late"), 0);
    assert_eq!(h.queued("late", 1), 1);
    assert!(pending(&mut parked), "queued, not failed");
    let calls = p.calls();
    assert_eq!(
        calls[0],
        Call::Partition {
            index: TopicIndex::new(0),
            topic: "late".into(),
            partitions: 2
        }
    );
    assert_eq!(
        calls[1],
        Call::Appended {
            topic: "late".into(),
            partition: 1
        }
    );
}

#[tokio::test(start_paused = true)]
async fn records_sent_while_parked_ones_are_released_queue_behind_them() {
    let p = Scripted::new(&[0]);
    let mut h = Harness::new(p);
    let t = Topic::new("t");
    let left = 100;
    let parked = RELEASE_PER_PASS + left;
    for _ in 0..parked {
        h.keep(&t, None);
    }
    assert_eq!(h.waiting("t"), parked);
    // The answer alone routes nothing; each pass of the loop routes a
    // portion.
    h.core.on_metadata(Ok(answer(&[known("t", 1, 1)])));
    assert_eq!(h.waiting("t"), parked);
    assert!(h.core.release_parked(Instant::now()), "more is left");
    assert_eq!(h.queued("t", 0), RELEASE_PER_PASS);
    assert_eq!(h.waiting("t"), left);
    // Sent now, with the topic known: it queues behind the records still
    // waiting instead of overtaking them.
    h.keep(&t, None);
    assert_eq!(h.waiting("t"), left + 1);
    assert_eq!(h.queued("t", 0), RELEASE_PER_PASS);
    assert!(!h.core.release_parked(Instant::now()), "nothing is left");
    assert_eq!(h.waiting("t"), 0);
    assert_eq!(h.queued("t", 0), parked + 1);
    // Nothing waits any more: the next record goes straight to its queue.
    h.keep(&t, None);
    assert_eq!(h.waiting("t"), 0);
    assert_eq!(h.queued("t", 0), parked + 2);
    assert!(h.held.iter_mut().all(pending));
}

#[tokio::test(start_paused = true)]
async fn a_growing_partition_count_is_seen_by_the_next_record() {
    let p = Scripted::new(&[0]);
    let mut h = Harness::new(p.clone());
    let t = Topic::new("t");
    h.metadata(&[known("t", 2, 1)]);
    let reason = refused(h.send(&t, Some(4)));
    assert!(reason.contains("partition 4 does not exist"), "{reason}");
    h.keep(&t, None);
    h.metadata(&[known("t", 6, 1)]);
    let mut grown = h.send(&t, Some(4));
    assert!(pending(&mut grown));
    assert_eq!(h.queued("t", 4), 1);
    h.keep(&t, None);
    let counts: Vec<u32> = p
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Partition { partitions, .. } => Some(partitions),
            Call::Appended { .. } => None,
        })
        .collect();
    assert_eq!(counts, [2, 6], "the partitioner is told the new count");
    assert_eq!(h.queued("t", 0), 2);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_then_recreated_topic_parks_then_routes_under_the_same_index() {
    let p = Scripted::new(&[2]);
    let mut h = Harness::new(p.clone());
    let t = Topic::new("t");
    h.metadata(&[known("t", 3, 1)]);
    h.keep(&t, None);
    assert_eq!(h.queued("t", 2), 1);
    // Deleted: the broker no longer knows it.
    h.metadata(&[Described {
        name: "t",
        partitions: 0,
        id: 0,
        error: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
    }]);
    let mut parked = h.send(&t, None);
    assert_eq!(h.waiting("t"), 1, "no partition count: the record waits");
    // Recreated with another id and more partitions.
    h.metadata(&[known("t", 4, 9)]);
    assert_eq!(h.waiting("t"), 0);
    assert!(pending(&mut parked));
    assert_eq!(h.queued("t", 2), 2);
    let indexes: Vec<TopicIndex> = p
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Partition { index, .. } => Some(index),
            Call::Appended { .. } => None,
        })
        .collect();
    assert_eq!(indexes, [TopicIndex::new(0); 2]);
}

#[tokio::test(start_paused = true)]
async fn a_partitioner_answer_out_of_range_fails_the_record() {
    let mut h = Harness::new(Scripted::new(&[5, -1, 1]));
    let t = Topic::new("t");
    h.metadata(&[known("t", 2, 1)]);
    for _ in 0..2 {
        let reason = refused(h.send(&t, None));
        assert!(
            reason.contains("the partitioner chose partition"),
            "{reason}"
        );
    }
    let mut fine = h.send(&t, None);
    assert!(pending(&mut fine));
    assert_eq!(h.queued("t", 1), 1);
    assert_eq!(h.core.outstanding.values().sum::<usize>(), 1);
}

#[tokio::test(start_paused = true)]
async fn interleaved_topics_by_handle_and_by_fresh_name_route_to_their_own_queues() {
    let p = Scripted::new(&[0]);
    let mut h = Harness::new(p.clone());
    let names: Vec<String> = (0..12).map(|i| format!("topic-{i:02}")).collect();
    let described: Vec<Described<'_>> = names.iter().map(|n| known(n, 3, 1)).collect();
    h.metadata(&described);
    let handles: Vec<Topic> = names.iter().map(|n| Topic::new(n.as_str())).collect();
    for round in 0..4 {
        for (i, name) in names.iter().enumerate() {
            let topic = if round % 2 == 0 {
                handles[i].clone()
            } else {
                Topic::new(name.as_str())
            };
            h.keep(&topic, Some(i as i32 % 3));
            h.keep(&topic, None);
        }
    }
    for (i, name) in names.iter().enumerate() {
        let explicit = i as i32 % 3;
        let want_0 = 4 + if explicit == 0 { 4 } else { 0 };
        assert_eq!(h.queued(name, 0), want_0, "{name}");
        if explicit != 0 {
            assert_eq!(h.queued(name, explicit), 4, "{name}");
        }
    }
    // Every call names the index its topic was first given.
    for call in p.calls() {
        if let Call::Partition { index, topic, .. } = call {
            assert_eq!(names[index.get()], topic);
        }
    }
}
