//! The checks every run ends with, per partition, on the broker's log.

use std::collections::{BTreeMap, HashMap};

use kproducer_fake_broker::FakeCluster;

use super::plan::Plan;
use super::run::Outcomes;

/// Where record `n` is in the log: (topic, partition, offset).
type Place = (String, i32, i64);

/// Every copy of every record: record number → where.
type Placed = HashMap<usize, Vec<Place>>;

/// Checks, per partition: nothing acknowledged `Ok` is missing (unless the
/// schedule moved the log start past it) and it sits at the offset it was
/// told; no record is in any log twice; each log holds records in send
/// order; nothing the producer did not send. Across the run: the broker
/// answered 45 only if the schedule could cause a gap, and without such a
/// fault no record failed. Partitions where the schedule made the broker
/// forget the producer's state are exempt from the duplicate and order
/// checks (see [`Fault::loses_state`](super::plan::Fault::loses_state)).
pub fn check(
    plan: &Plan,
    cluster: &FakeCluster,
    outcomes: &Outcomes,
    seen_45: u64,
) -> Result<(), String> {
    let (placed, log_starts) = read_logs(plan, cluster, outcomes.len())?;
    for (n, outcome) in outcomes.iter().enumerate() {
        let Ok(m) = outcome else { continue };
        let start = log_starts
            .get(&(m.topic.as_str().to_owned(), m.partition))
            .copied()
            .unwrap_or(0);
        if m.offset < start {
            continue;
        }
        let copies = placed.get(&n).map(Vec::as_slice).unwrap_or_default();
        if copies.is_empty() {
            return Err(format!(
                "record {n} acknowledged at {}-{}@{} is not in the log",
                m.topic, m.partition, m.offset
            ));
        }
        let told = (m.topic.as_str(), m.partition, m.offset);
        if !copies.iter().any(|(t, p, o)| (t.as_str(), *p, *o) == told) {
            let (t, p, o) = &copies[0];
            return Err(format!(
                "record {n} acknowledged at {}-{}@{} but is at {t}-{p}@{o}",
                m.topic, m.partition, m.offset
            ));
        }
    }
    // The broker may answer 45 to a request whose client already gave up on
    // it (a Delay or Hold longer than request.timeout.ms: the retry went
    // ahead on another connection and later batches pushed the original
    // out of the 5-batch duplicate cache), as Kafka would; nobody reads
    // that answer. What must not happen is the producer being told 45.
    let gaps = seen_45;
    if gaps > 0 && !plan.allows_45() {
        return Err(format!(
            "the producer was answered 45 OUT_OF_ORDER_SEQUENCE_NUMBER {gaps} times, and no fault in the schedule can cause a gap"
        ));
    }
    if !plan.allows_failures()
        && let Some((n, Err(e))) = outcomes.iter().enumerate().find(|(_, o)| o.is_err())
    {
        let failed = outcomes.iter().filter(|o| o.is_err()).count();
        return Err(format!(
            "{failed} records failed though every fault was recoverable; first, record {n}: {e}"
        ));
    }
    Ok(())
}

/// Reads every partition's log: where each record number sits, and each
/// partition's log start offset. Fails on a duplicate, a record out of send
/// order or one the producer never sent.
#[allow(clippy::type_complexity)]
fn read_logs(
    plan: &Plan,
    cluster: &FakeCluster,
    sent: usize,
) -> Result<(Placed, BTreeMap<(String, i32), i64>), String> {
    let mut placed: Placed = HashMap::new();
    let mut starts = BTreeMap::new();
    let prefix = format!("{}:", plan.seed);
    for (topic, partitions) in &plan.cluster.topics {
        for p in 0..*partitions {
            let snapshot = cluster.partition(topic, p).map_err(|e| e.to_string())?;
            starts.insert((topic.clone(), p), snapshot.log_start_offset);
            let records = cluster.records(topic, p).map_err(|e| e.to_string())?;
            // Where the broker forgot the producer's state, it can neither
            // deduplicate nor refuse a batch that skips one in doubt.
            let exempt = plan.loses_state_on(topic, p);
            let mut last: Option<usize> = None;
            for r in records {
                let value = r.value.unwrap_or_default();
                let n = std::str::from_utf8(&value)
                    .ok()
                    .and_then(|v| v.strip_prefix(&prefix))
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|&n| n < sent)
                    .ok_or_else(|| {
                        format!("{topic}-{p}@{}: a value never sent: {value:?}", r.offset)
                    })?;
                let copies = placed.entry(n).or_default();
                if exempt {
                    copies.push((topic.clone(), p, r.offset));
                    continue;
                }
                if let Some((t, q, o)) = copies.first() {
                    return Err(format!(
                        "record {n} is in the log twice: {t}-{q}@{o} and {topic}-{p}@{}",
                        r.offset
                    ));
                }
                if let Some(prev) = last.filter(|&prev| prev > n) {
                    return Err(format!(
                        "{topic}-{p}@{}: record {n} after record {prev}: log order is not send order",
                        r.offset
                    ));
                }
                last = Some(n);
                copies.push((topic.clone(), p, r.offset));
            }
        }
    }
    Ok((placed, starts))
}
