//! CPU time used by this process, and by some of its threads, read from
//! `/proc` — plain file reads, so no `libc` and no `unsafe` (the workspace
//! denies `unsafe_code`, and `getrusage` through `libc` would need it).
//!
//! Each perf driver charges a client with its own process's CPU time, all
//! threads (librdkafka's internal threads, tokio's workers). `kproducer perf
//! --bootstrap embedded` runs the fake broker in the same process, on threads
//! of its own, and subtracts those threads' time ([`threads_cpu_time`]).

use std::time::Duration;

/// Clock ticks per second in `/proc/*/stat` (`USER_HZ`): fixed at 100 by
/// Linux's ABI on every architecture it supports for this purpose, so the
/// resolution is 10 ms.
const TICKS_PER_SEC: u64 = 100;

/// Why CPU time could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CpuTimeError {
    /// `/proc` is not there (not Linux) or not readable.
    #[error("cannot read {path} ({source}); CPU time is measured only on Linux with /proc mounted")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not laid out as proc(5) documents.
    #[error("{path} is not in the format proc(5) documents: {what}")]
    Format {
        /// The file.
        path: String,
        /// What was missing.
        what: &'static str,
    },
}

/// One `stat` file's command name and user + system time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatTimes {
    /// The command (thread) name, at most 15 bytes as the kernel keeps it.
    pub name: String,
    /// User plus system time.
    pub cpu: Duration,
}

/// Parses the text of a `/proc/<pid>[/task/<tid>]/stat` file.
///
/// The name (field 2) is in parentheses and may itself contain spaces and
/// `)`, so the fields after it are counted from the *last* `)`: `utime` is
/// field 14 and `stime` field 15, in clock ticks.
///
/// ```
/// use std::time::Duration;
/// let stat = "42 (a) b) R 1 42 42 0 -1 4194304 100 0 0 0 150 25 0 0 20 0 3 0";
/// let times = kproducer_perf::parse_stat(stat).unwrap();
/// assert_eq!(times.name, "a) b");
/// assert_eq!(times.cpu, Duration::from_millis(1750));
/// ```
///
/// # Errors
///
/// What is missing, when there is no name in parentheses, too few fields,
/// or the times are not integers.
pub fn parse_stat(text: &str) -> Result<StatTimes, &'static str> {
    let open = text.find('(').ok_or("no '(' opening the command name")?;
    let close = text.rfind(')').ok_or("no ')' closing the command name")?;
    let name = text
        .get(open + 1..close)
        .ok_or("the command name's parentheses are out of order")?
        .to_owned();
    // After the name, field 3 (state) has index 0: utime is index 11.
    let mut fields = text[close + 1..].split_ascii_whitespace().skip(11);
    let mut ticks = |what| {
        fields
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or(what)
    };
    let user = ticks("utime (field 14) missing or not an integer")?;
    let system = ticks("stime (field 15) missing or not an integer")?;
    let total = user.saturating_add(system);
    Ok(StatTimes {
        name,
        cpu: Duration::from_millis(total.saturating_mul(1000) / TICKS_PER_SEC),
    })
}

fn read_stat(path: &str) -> Result<StatTimes, CpuTimeError> {
    let text = std::fs::read_to_string(path).map_err(|source| CpuTimeError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_stat(&text).map_err(|what| CpuTimeError::Format {
        path: path.to_owned(),
        what,
    })
}

/// User + system CPU time of the whole process so far, all threads
/// (including threads that have exited).
///
/// # Errors
///
/// [`CpuTimeError`] when `/proc/self/stat` is missing or malformed.
pub fn process_cpu_time() -> Result<Duration, CpuTimeError> {
    read_stat("/proc/self/stat").map(|s| s.cpu)
}

/// User + system CPU time of the calling thread.
///
/// # Errors
///
/// [`CpuTimeError`] when `/proc/thread-self/stat` is missing or malformed.
pub fn current_thread_cpu_time() -> Result<Duration, CpuTimeError> {
    read_stat("/proc/thread-self/stat").map(|s| s.cpu)
}

/// User + system CPU time of this process's live threads whose name starts
/// with `prefix`. Threads that exit while being read are skipped.
///
/// # Errors
///
/// [`CpuTimeError::Read`] when `/proc/self/task` cannot be listed.
pub fn threads_cpu_time(prefix: &str) -> Result<Duration, CpuTimeError> {
    let dir = "/proc/self/task";
    let entries = std::fs::read_dir(dir).map_err(|source| CpuTimeError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut total = Duration::ZERO;
    for entry in entries.flatten() {
        let path = entry.path().join("stat");
        let Some(path) = path.to_str() else { continue };
        // A thread may exit between listing and reading: skip it.
        if let Ok(stat) = read_stat(path)
            && stat.name.starts_with(prefix)
        {
            total += stat.cpu;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_parentheses_and_spaces() {
        let stat = "42 (kp-fake (b) x) S 1 42 42 0 -1 4194304 100 0 0 0 150 25 0 0 20 0 3 0";
        let s = parse_stat(stat).unwrap();
        assert_eq!(s.name, "kp-fake (b) x");
        assert_eq!(s.cpu, Duration::from_millis(1750));
    }

    #[test]
    fn malformed_text_is_an_error() {
        for bad in [
            "",
            "42 (x",
            "42 (x) R 1 2 3",
            "42 (x) R 1 2 3 4 5 6 7 8 9 10 x 7",
        ] {
            assert!(parse_stat(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn this_process_and_its_threads_are_readable() {
        let total = process_cpu_time().unwrap();
        let none = threads_cpu_time("no-thread-is-called-this").unwrap();
        assert!(current_thread_cpu_time().unwrap() <= total);
        assert_eq!(none, Duration::ZERO);
        assert!(threads_cpu_time("").unwrap() <= total + Duration::from_millis(100));
    }
}
