use super::*;

#[test]
fn murmur2_matches_kafka_utils_test() {
    // Kafka's UtilsTest.testMurmur2.
    let cases: &[(&[u8], i32)] = &[
        (b"21", -973_932_308),
        (b"foobar", -790_332_482),
        (b"a-little-bit-long-string", -985_981_536),
        (b"a-little-bit-longer-string", -1_486_304_829),
        (
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        (b"abc", 479_470_107),
    ];
    for (key, want) in cases {
        assert_eq!(murmur2(key), *want, "{}", String::from_utf8_lossy(key));
    }
}

fn req<'a>(topic: &'a str, key: Option<&'a [u8]>, partitions: u32) -> PartitionRequest<'a> {
    PartitionRequest {
        topic,
        key,
        value: None,
        partitions,
    }
}

#[test]
fn keyed_records_use_murmur2_unless_keys_are_ignored() {
    let mut p = DefaultPartitioner::new(100, false, 1);
    for _ in 0..10 {
        assert_eq!(p.partition(&req("t", Some(b"foobar"), 50)), 16);
    }
    let mut p = DefaultPartitioner::new(100, true, 1);
    let first = p.partition(&req("t", Some(b"foobar"), 50));
    p.on_append("t", first, 100);
    assert_ne!(p.partition(&req("t", Some(b"foobar"), 50)), first);
}

#[test]
fn sticky_switches_after_batch_size_and_spreads_evenly() {
    let mut p = UniformSticky::new(1000, 42);
    let mut counts = [0u32; 6];
    let mut last = -1;
    let mut switches = 0;
    for _ in 0..60_000 {
        let part = p.partition(&req("t", None, 6));
        if part != last {
            switches += 1;
            last = part;
        }
        counts[part as usize] += 1;
        p.on_append("t", part, 100);
    }
    // One switch per 10 records of 100 bytes.
    assert_eq!(switches, 6_000);
    for c in counts {
        assert!((8_000..12_000).contains(&c), "uneven: {counts:?}");
    }
}

#[test]
fn sticky_is_per_topic_and_survives_partition_count_shrinking() {
    let mut p = UniformSticky::new(1 << 20, 7);
    let a = p.partition(&req("a", None, 100));
    let _ = p.partition(&req("b", None, 100));
    assert_eq!(p.partition(&req("a", None, 100)), a);
    let shrunk = p.partition(&req("a", None, 1));
    assert_eq!(shrunk, 0);
}

#[test]
fn sticky_by_index_chooses_as_sticky_by_name_does() {
    let (mut by_name, mut by_index) = (UniformSticky::new(300, 5), UniformSticky::new(300, 5));
    for i in 0..3_000 {
        let (topic, index) = [("a", 0), ("b", 1), ("c", 2)][i % 3];
        let r = req(topic, None, 7);
        let want = by_name.partition(&r);
        let got = by_index.partition_indexed(TopicIndex::new(index), &r);
        assert_eq!(got, want, "record {i}");
        by_name.on_append(topic, want, 100);
        by_index.on_append_indexed(TopicIndex::new(index), topic, got, 100);
    }
    assert_eq!(by_index.indexed.len(), 3);
    assert!(by_index.named.is_empty(), "indexed calls keep no names");
}

#[test]
fn indexes_past_the_cap_are_kept_by_name_not_allocated_for() {
    let mut p = UniformSticky::new(1000, 3);
    let huge = TopicIndex::new(u32::MAX);
    let first = p.partition_indexed(huge, &req("t", None, 50));
    p.on_append_indexed(huge, "t", first, 600);
    assert_eq!(p.partition_indexed(huge, &req("t", None, 50)), first);
    p.on_append_indexed(huge, "t", first, 600);
    assert_ne!(p.partition_indexed(huge, &req("t", None, 50)), first);
    assert!(p.indexed.is_empty());
    assert_eq!(p.named.len(), 1);
}

#[test]
fn indexed_calls_default_to_the_name_based_ones() {
    #[derive(Debug, Default)]
    struct Named {
        appended: Vec<(String, i32, usize)>,
    }
    impl Partitioner for Named {
        fn partition(&mut self, req: &PartitionRequest<'_>) -> i32 {
            req.partitions as i32 - 1
        }
        fn on_append(&mut self, topic: &str, partition: i32, bytes: usize) {
            self.appended.push((topic.to_owned(), partition, bytes));
        }
    }
    let mut p = Named::default();
    assert_eq!(
        p.partition_indexed(TopicIndex::new(4), &req("t", None, 3)),
        2
    );
    p.on_append_indexed(TopicIndex::new(4), "t", 2, 10);
    assert_eq!(p.appended, [("t".to_owned(), 2, 10)]);
}

#[test]
fn default_partitioner_keeps_keyed_placement_when_indexed() {
    let mut p = DefaultPartitioner::new(100, false, 1);
    let keyed = req("t", Some(b"foobar"), 50);
    assert_eq!(p.partition_indexed(TopicIndex::new(0), &keyed), 16);
    let mut ignoring = DefaultPartitioner::new(100, true, 1);
    let first = ignoring.partition_indexed(TopicIndex::new(0), &keyed);
    ignoring.on_append_indexed(TopicIndex::new(0), "t", first, 100);
    assert_ne!(
        ignoring.partition_indexed(TopicIndex::new(0), &keyed),
        first
    );
}

#[test]
fn round_robin_cycles() {
    let mut p = RoundRobin::default();
    let got: Vec<i32> = (0..7).map(|_| p.partition(&req("t", None, 3))).collect();
    assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
}

/// How often each partition is chosen over `switches` switches (each
/// record fills the batch, so every call after the first switches).
fn draws(
    p: &mut dyn Partitioner,
    load: PartitionLoad<'_>,
    partitions: u32,
    switches: usize,
) -> Vec<u32> {
    let mut counts = vec![0u32; partitions as usize];
    let topic = TopicIndex::new(0);
    for _ in 0..switches {
        let chosen = p.partition_with_load(topic, &req("t", None, partitions), load);
        counts[chosen as usize] += 1;
        p.on_append_indexed(topic, "t", chosen, 100);
    }
    counts
}

#[test]
fn adaptive_draw_weighs_partitions_by_their_queues_as_kip_794_does() {
    // Longest queue 3: weights 4 − q = 4, 4, 4, 4, 1, 1 (of 18).
    let load = PartitionLoad::from_waiting_batches(&[0, 0, 0, 0, 3, 3]);
    for seed in [1, 2, 3] {
        let counts = draws(&mut UniformSticky::new(100, seed), load, 6, 18_000);
        for (p, &c) in counts.iter().enumerate() {
            let want = if p < 4 { 4_000.0 } else { 1_000.0 };
            assert!(
                (f64::from(c) - want).abs() < want * 0.1,
                "seed {seed}: partition {p} drawn {c} times, want about {want}: {counts:?}"
            );
        }
    }
}

#[test]
fn a_partition_with_the_longest_queue_can_still_be_drawn() {
    // Weight 1, not 0: a slow partition is not starved.
    let load = PartitionLoad::from_waiting_batches(&[0, 50]);
    let counts = draws(&mut UniformSticky::new(100, 9), load, 2, 5_100);
    assert!((50..200).contains(&counts[1]), "{counts:?}");
}

#[test]
fn equal_queues_unknown_load_or_adaptive_off_draw_uniformly_and_move_on() {
    let cases: [(&str, UniformSticky, PartitionLoad<'_>); 3] = [
        (
            "equal queues",
            UniformSticky::new(100, 4),
            PartitionLoad::from_waiting_batches(&[2, 2]),
        ),
        (
            "unknown",
            UniformSticky::new(100, 4),
            PartitionLoad::UNKNOWN,
        ),
        (
            "adaptive off",
            UniformSticky::new(100, 4).adaptive(false),
            PartitionLoad::from_waiting_batches(&[0, 9]),
        ),
    ];
    for (what, mut p, load) in cases {
        // Two partitions and a switch that always moves: exactly even.
        assert_eq!(draws(&mut p, load, 2, 1_000), [500, 500], "{what}");
    }
}

#[test]
fn the_load_is_read_only_when_switching() {
    let mut p = UniformSticky::new(1_000, 11);
    let topic = TopicIndex::new(0);
    let r = req("t", None, 4);
    let first = p.partition_with_load(topic, &r, PartitionLoad::from_waiting_batches(&[0; 4]));
    p.on_append_indexed(topic, "t", first, 500);
    // The sticky partition's queue is now the longest by far: it stays
    // until batch.size bytes went to it.
    let mut waiting = [0u32; 4];
    waiting[first as usize] = 40;
    let load = PartitionLoad::from_waiting_batches(&waiting);
    assert_eq!(p.partition_with_load(topic, &r, load), first);
}

#[test]
fn keyed_records_ignore_the_load() {
    let mut p = DefaultPartitioner::new(100, false, 1);
    let load = PartitionLoad::from_waiting_batches(&[9; 50]);
    let mut waiting = [9u32; 50];
    waiting[16] = 1_000;
    let heavy = PartitionLoad::from_waiting_batches(&waiting);
    for load in [load, heavy] {
        let chosen =
            p.partition_with_load(TopicIndex::new(0), &req("t", Some(b"foobar"), 50), load);
        assert_eq!(chosen, 16);
    }
}

#[test]
fn the_default_partitioner_passes_the_load_to_its_sticky_choice() {
    let load = PartitionLoad::from_waiting_batches(&[0, 9]);
    let on = draws(&mut DefaultPartitioner::new(100, false, 3), load, 2, 1_100);
    let off = draws(
        &mut DefaultPartitioner::new(100, false, 3).adaptive(false),
        load,
        2,
        1_100,
    );
    assert!(on[1] < 200, "adaptive: {on:?}");
    assert_eq!(off, [550, 550]);
}

#[test]
fn an_unavailable_partition_is_never_drawn() {
    // Partition 1 has the shortest queue, but its broker has not taken a
    // batch for too long.
    let load = PartitionLoad::from_waiting_batches(&[2, 0, 2, 2]).with_unavailable(&[1]);
    let counts = draws(&mut UniformSticky::new(100, 5), load, 4, 3_000);
    assert_eq!(counts[1], 0, "{counts:?}");
    for p in [0, 2, 3] {
        assert!((800..1_200).contains(&counts[p]), "{counts:?}");
    }
}

#[test]
fn unavailable_partitions_are_left_out_even_when_the_queues_are_even() {
    let load = PartitionLoad::from_waiting_batches(&[1, 1, 1]).with_unavailable(&[0]);
    let counts = draws(&mut UniformSticky::new(100, 6), load, 3, 1_000);
    assert_eq!(counts[0], 0, "{counts:?}");
}

#[test]
fn with_every_partition_unavailable_the_draw_is_uniform() {
    let load = PartitionLoad::from_waiting_batches(&[0, 5]).with_unavailable(&[0, 1]);
    assert_eq!(
        draws(&mut UniformSticky::new(100, 7), load, 2, 1_000),
        [500, 500]
    );
}

#[test]
fn availability_is_ignored_when_adaptive_partitioning_is_off() {
    let load = PartitionLoad::from_waiting_batches(&[0, 0]).with_unavailable(&[1]);
    let counts = draws(
        &mut UniformSticky::new(100, 8).adaptive(false),
        load,
        2,
        1_000,
    );
    assert_eq!(counts, [500, 500]);
}
