//! Where librdkafka puts each key: kcat produces every key once with
//! `partitioner=murmur2_random` (Java's partitioner, the one kproducer
//! implements) to a topic with the same partition count, and reads back
//! which partition each key landed on.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::kcat::TempFile;
use crate::target::BrokerTarget;

/// The key → partition map librdkafka's `murmur2_random` gives `keys` on
/// `topic` (which must exist, empty, with the partition count under test).
///
/// # Errors
/// kcat failed, or its output is not `KEY PARTITION` lines.
pub fn librdkafka_placement(
    target: &BrokerTarget,
    topic: &str,
    keys: impl Iterator<Item = String>,
) -> Result<BTreeMap<String, i32>, String> {
    let input = TempFile::new(&format!("{topic}.keys"));
    let mut text = String::new();
    for key in keys {
        // `-K :` splits at the first ':'; the value repeats the key.
        let _ = writeln!(text, "{key}:{key}");
    }
    std::fs::write(input.path(), text).map_err(|e| format!("{:?}: {e}", input.path()))?;
    target.kcat.produce_keyed(
        &target.bootstrap,
        topic,
        &[
            ("partitioner", "murmur2_random"),
            ("enable.idempotence", "true"),
            ("linger.ms", "5"),
        ],
        input.path(),
    )?;
    let read = target.kcat.consume(&target.bootstrap, topic, "%k %p\\n")?;
    let mut placement = BTreeMap::new();
    for line in read.lines() {
        let parsed = line
            .rsplit_once(' ')
            .and_then(|(k, p)| Some((k.to_string(), p.parse::<i32>().ok()?)));
        let Some((key, partition)) = parsed else {
            return Err(format!("kcat printed `{line}`, not `KEY PARTITION`"));
        };
        placement.insert(key, partition);
    }
    Ok(placement)
}

/// Compares kproducer's key placement with librdkafka's: every key must be
/// on the same partition, and — with `every_key` — every key librdkafka
/// placed must be in kproducer's topic too (not so when the broker may have
/// lost records). Returns the disagreements (at most 20 listed).
///
/// ```
/// use std::collections::BTreeMap;
/// use kproducer_integration_tests::placement::disagreements;
///
/// let ours = BTreeMap::from([("a".to_string(), 1), ("b".to_string(), 2)]);
/// let theirs = BTreeMap::from([("a".to_string(), 1), ("b".to_string(), 0)]);
/// assert_eq!(disagreements(&ours, &theirs, true).len(), 1);
/// assert!(disagreements(&ours, &ours, true).is_empty());
///
/// let fewer = BTreeMap::from([("a".to_string(), 1)]);
/// assert_eq!(disagreements(&fewer, &ours, true).len(), 1);
/// assert!(disagreements(&fewer, &ours, false).is_empty());
/// ```
pub fn disagreements(
    ours: &BTreeMap<String, i32>,
    librdkafka: &BTreeMap<String, i32>,
    every_key: bool,
) -> Vec<String> {
    let mut problems: Vec<String> = Vec::new();
    let mut count = 0usize;
    for (key, &partition) in ours {
        let problem = match librdkafka.get(key) {
            Some(&theirs) if theirs == partition => continue,
            Some(&theirs) => format!(
                "key `{key}`: kproducer put it on partition {partition}, librdkafka on {theirs}"
            ),
            None => format!("key `{key}`: librdkafka's run does not have it"),
        };
        count += 1;
        if problems.len() < 20 {
            problems.push(problem);
        }
    }
    let absent = librdkafka
        .keys()
        .filter(|k| every_key && !ours.contains_key(*k));
    for key in absent {
        count += 1;
        if problems.len() < 20 {
            problems.push(format!("key `{key}`: kproducer's topic does not have it"));
        }
    }
    if count > problems.len() {
        problems.push(format!("… {} disagreements in all", count));
    }
    problems
}
