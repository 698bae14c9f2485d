//! This process's CPU time (user + system, all threads), read from
//! `/proc/self/stat` — no `libc`, no `unsafe`, so `kproducer perf` can use the
//! same code under the workspace's `unsafe_code = "deny"`.

use std::time::Duration;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`). Linux fixes it
/// at 100 in its ABI on x86, x86-64, arm and arm64, whatever the kernel's own
/// `HZ`; hence a resolution of 10 ms.
const TICKS_PER_SEC: u64 = 100;

/// Why the CPU time could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CpuTimeError {
    /// `/proc/self/stat` could not be read (not Linux, or no `/proc`).
    #[error(
        "cannot read /proc/self/stat ({0}); CPU time is only measured on Linux with /proc mounted"
    )]
    Read(#[from] std::io::Error),
    /// The file did not have the layout `proc(5)` documents.
    #[error("/proc/self/stat is not in the format proc(5) documents: {0}")]
    Format(&'static str),
}

/// User plus system CPU time this process has used so far, all threads
/// included (librdkafka's internal threads, tokio's workers).
///
/// # Errors
///
/// [`CpuTimeError`] when `/proc/self/stat` is missing or malformed.
pub fn process_cpu_time() -> Result<Duration, CpuTimeError> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    parse_proc_stat_cpu_time(&stat)
}

/// `utime + stime` from the text of a `/proc/<pid>/stat` file.
///
/// The second field, the command name, is in parentheses and may itself hold
/// spaces and `)`, so fields are counted from the *last* `)`: after it come
/// field 3 (`state`), …, field 14 (`utime`) and field 15 (`stime`), in ticks.
///
/// ```
/// use std::time::Duration;
/// let stat = "42 (a) b) R 1 42 42 0 -1 4194304 100 0 0 0 150 25 0 0 20 0 3 0";
/// assert_eq!(
///     kproducer_bench_peers::parse_proc_stat_cpu_time(stat).unwrap(),
///     Duration::from_millis(1750),
/// );
/// ```
///
/// # Errors
///
/// [`CpuTimeError::Format`] when there is no `)`, too few fields, or the
/// times are not integers.
pub fn parse_proc_stat_cpu_time(stat: &str) -> Result<Duration, CpuTimeError> {
    let (_, after_name) = stat
        .rsplit_once(')')
        .ok_or(CpuTimeError::Format("no ')' closing the command name"))?;
    // Field 3 is index 0 here, so utime (14) is index 11 and stime (15) 12.
    let mut fields = after_name.split_ascii_whitespace().skip(11);
    let mut ticks = |what| -> Result<u64, CpuTimeError> {
        fields
            .next()
            .ok_or(CpuTimeError::Format(what))?
            .parse::<u64>()
            .map_err(|_| CpuTimeError::Format(what))
    };
    let user = ticks("utime (field 14) missing or not an integer")?;
    let system = ticks("stime (field 15) missing or not an integer")?;
    let total = user.saturating_add(system);
    Ok(Duration::from_secs(total / TICKS_PER_SEC)
        + Duration::from_millis((total % TICKS_PER_SEC) * 1000 / TICKS_PER_SEC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        // Spin until the clock ticks at least once, so the value is non-zero.
        let before = process_cpu_time().expect("Linux with /proc");
        let mut spins = 0u64;
        while process_cpu_time().expect("readable") == before {
            spins = std::hint::black_box(spins.wrapping_add(1));
        }
        assert!(process_cpu_time().expect("readable") > before);
    }

    #[test]
    fn malformed_text_is_an_error() {
        for bad in [
            "",
            "42 (name",
            "42 (x) R 1 2 3",
            "42 (x) R 1 2 3 4 5 6 7 8 9 10 x 7",
        ] {
            assert!(
                matches!(parse_proc_stat_cpu_time(bad), Err(CpuTimeError::Format(_))),
                "accepted {bad:?}"
            );
        }
    }
}
