//! Checking what kcat read back (`%p %o %k %s` per record) against what
//! was sent and what the producer reported. Pure: text and numbers in, a
//! summary or the list of problems out, so the checks themselves are
//! unit-tested without a broker.

use std::collections::BTreeMap;

use crate::workload::Workload;

/// kcat's `-f` format this module reads: partition, offset, key, value.
pub const FORMAT: &str = "%p %o %k %s\\n";

/// The most problems listed before the rest are summarised.
const MAX_PROBLEMS: usize = 25;

/// Where the producer said record `i` went: `(partition, offset)`, offset
/// -1 when the broker does not say (`acks=0`).
pub type Reported = (i32, i64);

/// What the consumed records must show beyond "each once, in order".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectations {
    /// The offsets the producer reported are real (not `acks=0`) and must
    /// equal where kcat found the records.
    pub reported_offsets: bool,
    /// Each partition's offsets run 0, 1, 2, … with no gap (a fresh topic
    /// written only by this producer).
    pub contiguous_offsets: bool,
    /// Records may be missing: tansu 0.6.0 drops some `acks=0` produce
    /// requests (librdkafka's kcat loses records the same way), and with
    /// `acks=0` the producer cannot know. What did arrive must still be
    /// once each, in order, where the producer put it.
    pub loss_tolerated: bool,
}

/// What a successful check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records per partition.
    pub per_partition: BTreeMap<i32, usize>,
    /// The partition each key's records are on.
    pub key_partitions: BTreeMap<String, i32>,
    /// Records that never came back (only ever non-zero when
    /// [`Expectations::loss_tolerated`]).
    pub missing: usize,
}

impl Summary {
    /// Records in all.
    pub fn total(&self) -> usize {
        self.per_partition.values().sum()
    }
}

/// Collects problems up to [`MAX_PROBLEMS`], then only counts them.
#[derive(Debug, Default)]
struct Problems {
    listed: Vec<String>,
    more: usize,
}

impl Problems {
    fn push(&mut self, problem: String) {
        if self.listed.len() < MAX_PROBLEMS {
            self.listed.push(problem);
        } else {
            self.more += 1;
        }
    }

    fn into_result<T>(mut self, ok: T) -> Result<T, Vec<String>> {
        if self.listed.is_empty() {
            return Ok(ok);
        }
        if self.more > 0 {
            self.listed
                .push(format!("… and {} more problems", self.more));
        }
        Err(self.listed)
    }
}

/// Checks kcat's output for `workload`, sent in record order by one
/// producer that reported `reported[i]` for record `i`:
///
/// - every line is `PARTITION OFFSET KEY VALUE` with the key the workload
///   gives that value (empty for keyless records);
/// - every record `0..records` appears exactly once;
/// - within a partition, offsets and record numbers both increase (send
///   order kept), and with `contiguous_offsets` the offsets have no gaps;
/// - each record is on the partition the producer reported, and with
///   `reported_offsets` at the offset it reported;
/// - all records with one key are on one partition.
///
/// # Errors
/// Every problem found (up to a limit), so one run shows the whole picture.
///
/// ```
/// use kproducer_integration_tests::consumed::{check, Expectations};
/// use kproducer_integration_tests::workload::Workload;
///
/// let w = Workload::new(3, 10);
/// let reported = [(1, 0), (0, 0), (1, 1)];
/// let strict = Expectations { reported_offsets: true, contiguous_offsets: true, loss_tolerated: false };
/// let read = "0 0  1\n1 0 k0 0\n1 1 k1 2\n";
/// let summary = check(&w, read, &reported, strict).unwrap();
/// assert_eq!(summary.total(), 3);
///
/// let reordered = "0 0  1\n1 0 k1 2\n1 1 k0 0\n";
/// assert!(check(&w, reordered, &reported, strict).is_err());
/// ```
pub fn check(
    workload: &Workload,
    consumed: &str,
    reported: &[Reported],
    expect: Expectations,
) -> Result<Summary, Vec<String>> {
    let mut problems = Problems::default();
    let records = workload.records;
    if reported.len() as u64 != records {
        problems.push(format!(
            "the producer reported {} deliveries for {records} records",
            reported.len()
        ));
    }
    let mut seen = vec![false; usize::try_from(records).unwrap_or(usize::MAX)];
    // partition -> (last offset, last record number)
    let mut last: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
    let mut summary = Summary::default();
    for (n, line) in consumed.lines().enumerate() {
        let line_no = n + 1;
        let fields: Vec<&str> = line.splitn(4, ' ').collect();
        let parsed = match fields.as_slice() {
            [p, o, k, v] => match (p.parse::<i32>(), o.parse::<i64>(), v.parse::<u64>()) {
                (Ok(p), Ok(o), Ok(v)) => Some((p, o, *k, v)),
                _ => None,
            },
            _ => None,
        };
        let Some((partition, offset, key, value)) = parsed else {
            problems.push(format!(
                "line {line_no}: `{line}` is not `PARTITION OFFSET KEY N`"
            ));
            continue;
        };
        let at = format!("record {value} (partition {partition}, offset {offset})");
        let Some(slot) = usize::try_from(value).ok().and_then(|i| seen.get_mut(i)) else {
            problems.push(format!("{at} was never sent (only 0..{records})"));
            continue;
        };
        if *slot {
            problems.push(format!("{at} is a duplicate"));
        }
        *slot = true;
        let expected_key = workload.key(value).unwrap_or_default();
        if key != expected_key {
            problems.push(format!("{at} has key `{key}`, sent with `{expected_key}`"));
        }
        if let Some(&(p, o)) = usize::try_from(value).ok().and_then(|i| reported.get(i)) {
            if p == -1 && expect.loss_tolerated {
                // A delivery that failed with loss tolerated (acks=0 on a
                // connection that died after the write): it may or may not
                // have reached the log; here it did.
            } else if p != partition {
                problems.push(format!("{at}: the producer reported partition {p}"));
            } else if expect.reported_offsets && o != offset {
                problems.push(format!("{at}: the producer reported offset {o}"));
            }
        }
        match last.get(&partition) {
            Some(&(last_offset, last_value)) => {
                if offset <= last_offset {
                    problems.push(format!("{at} comes after offset {last_offset}"));
                } else if expect.contiguous_offsets && offset != last_offset + 1 {
                    problems.push(format!("{at}: gap after offset {last_offset}"));
                }
                if value <= last_value {
                    problems.push(format!(
                        "{at} comes after record {last_value}: out of send order"
                    ));
                }
            }
            None if expect.contiguous_offsets && offset != 0 => {
                problems.push(format!("{at} is the partition's first, not offset 0"));
            }
            None => {}
        }
        last.insert(partition, (offset, value));
        *summary.per_partition.entry(partition).or_default() += 1;
        if !key.is_empty() {
            let first = *summary
                .key_partitions
                .entry(key.to_string())
                .or_insert(partition);
            if first != partition {
                problems.push(format!("{at}: key `{key}` is also on partition {first}"));
            }
        }
    }
    let missing: Vec<usize> = (0..seen.len()).filter(|&i| !seen[i]).collect();
    summary.missing = missing.len();
    if !missing.is_empty() && !expect.loss_tolerated {
        let first: Vec<String> = missing.iter().take(10).map(ToString::to_string).collect();
        problems.push(format!(
            "{} of {records} records never came back (first: {})",
            missing.len(),
            first.join(", ")
        ));
    }
    problems.into_result(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: Expectations = Expectations {
        reported_offsets: true,
        contiguous_offsets: true,
        loss_tolerated: false,
    };

    fn workload() -> Workload {
        Workload::new(4, 1)
    }

    /// Records 0 and 2 carry key `k0`, 1 and 3 none.
    const GOOD: &str = "2 0 k0 0\n2 1 k0 2\n5 0  1\n5 1  3\n";
    const REPORTED: [Reported; 4] = [(2, 0), (5, 0), (2, 1), (5, 1)];

    fn problems(consumed: &str, reported: &[Reported], expect: Expectations) -> String {
        check(&workload(), consumed, reported, expect)
            .unwrap_err()
            .join("\n")
    }

    #[test]
    fn a_faithful_topic_passes() {
        let summary = check(&workload(), GOOD, &REPORTED, STRICT).unwrap();
        assert_eq!(summary.per_partition, BTreeMap::from([(2, 2), (5, 2)]));
        assert_eq!(summary.key_partitions, BTreeMap::from([("k0".into(), 2)]));
    }

    #[test]
    fn lost_and_duplicated_records_are_named() {
        let p = problems("2 0 k0 0\n2 1 k0 0\n5 0  1\n", &REPORTED, STRICT);
        assert!(
            p.contains("record 0 (partition 2, offset 1) is a duplicate"),
            "{p}"
        );
        assert!(
            p.contains("2 of 4 records never came back (first: 2, 3)"),
            "{p}"
        );
        let tolerant = Expectations {
            loss_tolerated: true,
            ..STRICT
        };
        let lossy = check(&workload(), "2 0 k0 0\n5 0  1\n", &REPORTED, tolerant).unwrap();
        assert_eq!(lossy.missing, 2);
        let p = problems("2 0 k0 0\n2 1 k0 0\n", &REPORTED, tolerant);
        assert!(p.contains("is a duplicate"), "{p}");
    }

    #[test]
    fn reordering_within_a_partition_is_caught() {
        let p = problems("2 0 k0 2\n2 1 k0 0\n5 0  1\n5 1  3\n", &REPORTED, STRICT);
        assert!(p.contains("out of send order"), "{p}");
    }

    #[test]
    fn offsets_must_match_the_reports_unless_acks_0() {
        let shifted = [(2, 0), (5, 0), (2, 7), (5, 1)];
        let p = problems(GOOD, &shifted, STRICT);
        assert!(p.contains("reported offset 7"), "{p}");
        let acks0 = Expectations {
            reported_offsets: false,
            ..STRICT
        };
        assert!(check(&workload(), GOOD, &shifted, acks0).is_ok());
        let wrong_partition = [(2, 0), (4, 0), (2, 1), (5, 1)];
        assert!(problems(GOOD, &wrong_partition, acks0).contains("reported partition 4"));
    }

    #[test]
    fn gaps_wrong_keys_split_keys_and_garbage_are_problems() {
        let gap = problems("2 0 k0 0\n2 2 k0 2\n5 0  1\n5 1  3\n", &REPORTED, STRICT);
        assert!(gap.contains("gap after offset 0"), "{gap}");
        let key = problems("2 0 k0 0\n2 1 k9 2\n5 0  1\n5 1  3\n", &REPORTED, STRICT);
        assert!(key.contains("has key `k9`, sent with `k0`"), "{key}");
        let split = [(2, 0), (5, 0), (5, 2), (5, 1)];
        let p = problems("2 0 k0 0\n5 0  1\n5 1  3\n5 2 k0 2\n", &split, STRICT);
        assert!(p.contains("key `k0` is also on partition 2"), "{p}");
        let p = problems("hello\n", &REPORTED, STRICT);
        assert!(p.contains("`hello` is not"), "{p}");
    }
}
