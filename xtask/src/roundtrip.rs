//! `cargo xtask broker roundtrip`: proof that the broker and the peer work
//! together, and the seam the integration tests reuse.
//!
//! kcat (librdkafka 2.16) produces N numbered records idempotently —
//! key `kI`, value `I` for I in 0..N, in that order — to a fresh topic,
//! consumes the topic back (`kcat -C -e`) and [`verify`] checks that every
//! record arrived exactly once and that each partition holds its records
//! in send order.
//!
//! kcat uses `partitioner=murmur2_random` (Java's partitioner), so the
//! partition a key lands on is the one the Java client — and kproducer —
//! would pick.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::process::{Command, ExitCode};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::broker::{self, StartOptions, TopicSpec};
use crate::broker_state::{self, BrokerState};
use crate::peer::Peer;
use crate::process;
use crate::tansu;

/// The longest either kcat run may take. 10,000 records take well under a
/// second on an idle machine; the margin is for a busy one and large N.
const KCAT_TIMEOUT: Duration = Duration::from_secs(300);

/// The most records one round trip may send: the input file and the
/// bookkeeping are held in memory (~20 bytes a record).
const MAX_RECORDS: u64 = 50_000_000;

/// The consumer's output format: partition, offset, key, value.
const CONSUME_FORMAT: &str = "%p %o %k %s\\n";

/// What a successful round trip found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoundTrip {
    /// Records per partition, by partition.
    pub(crate) per_partition: BTreeMap<i32, usize>,
}

impl RoundTrip {
    /// All records seen.
    pub(crate) fn total(&self) -> usize {
        self.per_partition.values().sum()
    }
}

/// Checks kcat's consumer output (`%p %o %k %s` per line) against the
/// records sent: values `0..sent` with keys `k<value>`, sent in increasing
/// order. Every record must appear exactly once; within a partition,
/// offsets and values must both increase. Every problem found is reported,
/// up to a limit, so one run shows the whole picture.
pub(crate) fn verify(sent: u64, output: &str) -> Result<RoundTrip, Vec<String>> {
    const MAX_PROBLEMS: usize = 20;
    let mut problems = Vec::new();
    let mut seen = vec![false; usize::try_from(sent).unwrap_or(usize::MAX)];
    // partition -> (last offset, last value)
    let mut last: BTreeMap<i32, (i64, u64)> = BTreeMap::new();
    let mut per_partition: BTreeMap<i32, usize> = BTreeMap::new();
    for (n, line) in output.lines().enumerate() {
        if problems.len() >= MAX_PROBLEMS {
            problems.push("… (more problems not shown)".to_string());
            break;
        }
        let line_no = n + 1;
        let fields: Vec<&str> = line.split(' ').collect();
        let parsed = match fields.as_slice() {
            [p, o, k, v] => match (p.parse::<i32>(), o.parse::<i64>(), v.parse::<u64>()) {
                (Ok(p), Ok(o), Ok(v)) if *k == format!("k{v}") => Some((p, o, v)),
                _ => None,
            },
            _ => None,
        };
        let Some((partition, offset, value)) = parsed else {
            problems.push(format!(
                "line {line_no}: `{line}` is not `PARTITION OFFSET kN N`"
            ));
            continue;
        };
        match seen.get_mut(usize::try_from(value).unwrap_or(usize::MAX)) {
            None => problems.push(format!(
                "line {line_no}: record {value} was never sent (only 0..{sent})"
            )),
            Some(true) => problems.push(format!(
                "line {line_no}: record {value} is a duplicate (partition {partition}, offset {offset})"
            )),
            Some(slot) => *slot = true,
        }
        if let Some(&(last_offset, last_value)) = last.get(&partition) {
            if offset <= last_offset {
                problems.push(format!(
                    "line {line_no}: partition {partition} offset {offset} after offset {last_offset}"
                ));
            }
            if value <= last_value {
                problems.push(format!(
                    "line {line_no}: partition {partition} has record {value} after record {last_value}: out of send order"
                ));
            }
        }
        last.insert(partition, (offset, value));
        *per_partition.entry(partition).or_default() += 1;
    }
    let missing: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, seen)| !**seen)
        .map(|(i, _)| i)
        .collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(ToString::to_string).collect();
        problems.push(format!(
            "{} of {sent} records never came back (first: {})",
            missing.len(),
            shown.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(RoundTrip { per_partition })
    } else {
        Err(problems)
    }
}

/// The producer input: `kI:I` per line, I in 0..records.
pub(crate) fn numbered_records(records: u64) -> String {
    let mut text = String::new();
    for i in 0..records {
        text.push_str(&format!("k{i}:{i}\n"));
    }
    text
}

struct Options {
    records: u64,
    partitions: u32,
    bootstrap: Option<String>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        records: 10_000,
        partitions: 6,
        bootstrap: None,
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value"))?;
        match flag.as_str() {
            "--records" => {
                options.records = value
                    .parse()
                    .ok()
                    .filter(|n| *n <= MAX_RECORDS)
                    .ok_or_else(|| {
                        format!("--records `{value}` must be a count ≤ {MAX_RECORDS}")
                    })?;
            }
            "--partitions" => {
                options.partitions = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("--partitions `{value}` must be ≥ 1"))?;
            }
            "--bootstrap" => options.bootstrap = Some(value.clone()),
            other => {
                return Err(format!(
                    "unknown argument `{other}` (see `cargo xtask broker help`)"
                ));
            }
        }
    }
    Ok(options)
}

/// Entry point for `cargo xtask broker roundtrip ARGS`. The broker is, in
/// order of preference: `--bootstrap`, the one `broker start` left running,
/// or a fresh one started (and stopped) for this round trip alone.
pub(crate) fn main(args: &[String]) -> Result<ExitCode, String> {
    let options = parse(args)?;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let topic = TopicSpec {
        name: format!("roundtrip-{millis}"),
        partitions: options.partitions,
    };
    let dir = broker_state::state_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let running = broker_state::load(&dir)?.filter(|s| broker_state::is_running_tansu(s.pid));
    let result = match (&options.bootstrap, running) {
        (Some(bootstrap), _) => {
            let tansu = tansu::ensure_installed()?;
            let peer = Peer::ensure_installed()?;
            broker::create_topic(&tansu, bootstrap, &topic)
                .and_then(|()| run(&peer, bootstrap, &topic.name, options.records))
        }
        (None, Some(state)) => {
            println!("using the running tansu {}", state.bootstrap());
            let tansu = tansu::ensure_installed()?;
            let peer = peer_of(&state)?;
            broker::create_topic(&tansu, &state.bootstrap(), &topic)
                .and_then(|()| run(&peer, &state.bootstrap(), &topic.name, options.records))
        }
        (None, None) => {
            let state = broker::start(&StartOptions {
                port: None,
                topics: vec![topic.clone()],
            })?;
            let result = peer_of(&state)
                .and_then(|peer| run(&peer, &state.bootstrap(), &topic.name, options.records));
            broker::stop_recorded(&dir, &state)?;
            result
        }
    };
    result.map(|()| ExitCode::SUCCESS)
}

/// The peer `broker start` found, or a fresh attempt to install it.
fn peer_of(state: &BrokerState) -> Result<Peer, String> {
    match &state.librdkafka_lib {
        Some(lib) => Ok(Peer::at(lib)),
        None => Peer::ensure_installed(),
    }
}

/// Produces, consumes and verifies; prints timings and the distribution.
fn run(peer: &Peer, bootstrap: &str, topic: &str, records: u64) -> Result<(), String> {
    let dir = broker_state::state_dir();
    let input = dir.join("roundtrip-input.txt");
    fs::write(&input, numbered_records(records))
        .map_err(|e| format!("cannot write {}: {e}", input.display()))?;
    let input_arg = input.to_string_lossy().into_owned();
    let produce = peer.kcat(&[
        "-P",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-K",
        ":",
        "-X",
        "enable.idempotence=true",
        "-X",
        "partitioner=murmur2_random",
        "-X",
        "linger.ms=5",
        "-l",
        &input_arg,
    ]);
    let produced_in = run_bounded(produce, &dir.join("roundtrip-produce.out"))?;
    println!(
        "produced {records} records in {:.2} s",
        produced_in.as_secs_f64()
    );
    let consume = peer.kcat(&[
        "-C",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-f",
        CONSUME_FORMAT,
    ]);
    let output_path = dir.join("roundtrip-consumed.txt");
    let consumed_in = run_bounded(consume, &output_path)?;
    let output = fs::read_to_string(&output_path)
        .map_err(|e| format!("cannot read {}: {e}", output_path.display()))?;
    println!(
        "consumed {} records in {:.2} s (kcat output: {})",
        output.lines().count(),
        consumed_in.as_secs_f64(),
        output_path.display()
    );
    match verify(records, &output) {
        Ok(found) => {
            let spread: Vec<String> = found
                .per_partition
                .iter()
                .map(|(p, n)| format!("p{p}={n}"))
                .collect();
            println!(
                "round trip OK: {} of {records} records, each once, in send order per partition ({})",
                found.total(),
                spread.join(" ")
            );
            Ok(())
        }
        Err(problems) => Err(format!(
            "round trip FAILED on topic {topic} at {bootstrap}:\n  {}",
            problems.join("\n  ")
        )),
    }
}

/// Runs `cmd` with stdout in `out_path` and stderr shown, for at most
/// [`KCAT_TIMEOUT`]; returns how long it took.
fn run_bounded(mut cmd: Command, out_path: &std::path::Path) -> Result<Duration, String> {
    let out =
        File::create(out_path).map_err(|e| format!("cannot create {}: {e}", out_path.display()))?;
    println!("{}  > {}", process::describe(&cmd), out_path.display());
    let started = Instant::now();
    let mut child = cmd
        .stdout(out)
        .spawn()
        .map_err(|e| format!("cannot run kcat (is it installed?): {e}"))?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(started.elapsed()),
            Ok(Some(status)) => {
                return Err(format!("kcat failed ({status}); its messages are above"));
            }
            Ok(None) if started.elapsed() >= KCAT_TIMEOUT => {
                // Killing a child that has just exited fails harmlessly.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "kcat did not finish within {} s (killed it)",
                    KCAT_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for kcat: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_ordered_output_passes() {
        let output = "0 0 k0 0\n1 0 k1 1\n0 1 k2 2\n1 1 k3 3\n";
        let found = verify(4, output).unwrap();
        assert_eq!(found.total(), 4);
        assert_eq!(found.per_partition, BTreeMap::from([(0, 2), (1, 2)]));
    }

    #[test]
    fn missing_duplicate_and_reordered_records_are_each_reported() {
        let output = "0 0 k0 0\n0 1 k2 2\n0 2 k1 1\n0 3 k2 2\n";
        let problems = verify(4, output).unwrap_err();
        let all = problems.join("\n");
        assert!(all.contains("record 1 after record 2"), "{all}");
        assert!(all.contains("record 2 is a duplicate"), "{all}");
        assert!(
            all.contains("1 of 4 records never came back (first: 3)"),
            "{all}"
        );
    }

    #[test]
    fn offsets_must_increase_within_a_partition() {
        let problems = verify(2, "3 5 k0 0\n3 5 k1 1\n").unwrap_err();
        assert!(
            problems[0].contains("offset 5 after offset 5"),
            "{problems:?}"
        );
    }

    #[test]
    fn foreign_and_malformed_lines_are_rejected() {
        let problems = verify(1, "0 0 k0 0\n0 1 k9 9\n0 2 k3 4\nhello\n").unwrap_err();
        let all = problems.join("\n");
        assert!(all.contains("record 9 was never sent"), "{all}");
        assert!(all.contains("line 3: `0 2 k3 4` is not"), "{all}");
        assert!(all.contains("line 4: `hello` is not"), "{all}");
    }

    #[test]
    fn nothing_consumed_means_everything_missing() {
        let problems = verify(3, "").unwrap_err();
        assert_eq!(
            problems,
            vec!["3 of 3 records never came back (first: 0, 1, 2)"]
        );
    }

    #[test]
    fn input_numbers_records_with_matching_keys() {
        assert_eq!(numbered_records(3), "k0:0\nk1:1\nk2:2\n");
        assert_eq!(numbered_records(0), "");
    }
}
