//! Running one benchmark client: bounded in time, its output captured.
//!
//! The perf drivers print their JSON report as the last line of stdout and a
//! human summary on stderr. Both are read on their own threads while the
//! parent waits (a full pipe would otherwise stall the child), and the child
//! is killed when it outlives its limit.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What a bounded run left behind.
#[derive(Debug)]
pub(crate) struct Captured {
    /// Everything it wrote to stdout.
    pub(crate) stdout: String,
    /// Everything it wrote to stderr.
    pub(crate) stderr: String,
}

/// How often the parent looks whether the child has exited.
const POLL: Duration = Duration::from_millis(20);

/// Runs `cmd` (stdin closed) for at most `limit`, collecting its output.
/// `Err` says why it failed — it could not start, exited non-zero, or was
/// killed at the limit — followed by the end of its stderr.
pub(crate) fn run_captured(cmd: &mut Command, limit: Duration) -> Result<Captured, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not be started: {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let outcome = wait_bounded(&mut child, limit);
    // The pipes close when the child is gone, so these joins end.
    let captured = Captured {
        stdout: join(stdout),
        stderr: join(stderr),
    };
    match outcome {
        Ok(()) => Ok(captured),
        Err(why) => Err(format!(
            "{why}; its stderr ended with:\n{}",
            tail(&captured.stderr, 15)
        )),
    }
}

/// Waits for `child` for at most `limit`; kills and reaps it at the limit.
fn wait_bounded(child: &mut Child, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(match status.code() {
                    Some(code) => format!("exited with status {code}"),
                    None => "was killed by a signal".to_string(),
                });
            }
            Ok(None) if start.elapsed() >= limit => {
                // Killing a child that has just exited fails harmlessly;
                // waiting reaps it either way.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "was still running after {} s and was killed",
                    limit.as_secs()
                ));
            }
            Ok(None) => thread::sleep(POLL),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("could not be waited for ({e}); killed it"));
            }
        }
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<String>> {
    pipe.map(|mut pipe| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            // A read error ends the capture; what was read is kept.
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

fn join(handle: Option<JoinHandle<String>>) -> String {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// The last `n` lines of `text`, for error messages.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last non-empty line of `text` (where the drivers put their JSON).
pub(crate) fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_both_streams() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo human >&2; echo one; echo '{\"a\":1}'"]);
        let out = run_captured(&mut cmd, Duration::from_secs(10)).unwrap();
        assert_eq!(last_line(&out.stdout), Some("{\"a\":1}"));
        assert_eq!(out.stderr, "human\n");
    }

    #[test]
    fn a_failure_carries_the_status_and_stderr() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'no broker' >&2; exit 3"]);
        let err = run_captured(&mut cmd, Duration::from_secs(10)).unwrap_err();
        assert!(err.contains("status 3"), "{err}");
        assert!(err.contains("no broker"), "{err}");
    }

    #[test]
    fn a_child_past_its_limit_is_killed() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let started = Instant::now();
        let err = run_captured(&mut cmd, Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("was killed"), "{err}");
        // Not a timing assertion on the machine's speed: only that the
        // 30 s sleep did not run to its end.
        assert!(started.elapsed() < Duration::from_secs(29));
    }

    #[test]
    fn a_missing_program_is_a_failure_not_a_panic() {
        let err = run_captured(
            &mut Command::new("/nonexistent/perf-driver"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.contains("could not be started"), "{err}");
    }

    #[test]
    fn tails_and_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_line("x\n{}\n\n"), Some("{}"));
        assert_eq!(last_line(""), None);
    }
}
