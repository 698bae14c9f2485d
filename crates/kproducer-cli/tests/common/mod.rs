//! Running the built `kproducer` binary with a time limit.

// Each test file uses a different subset of these.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A limit no healthy run comes near; hitting it fails the test instead of
/// hanging it.
pub(crate) const LIMIT: Duration = Duration::from_secs(120);

/// Runs `kproducer args…` with `stdin`, kills it after [`LIMIT`]. `RUST_LOG`
/// is removed from its environment, so the output is the same wherever the
/// tests run.
pub(crate) fn kproducer(args: &[&str], stdin: &[u8]) -> Output {
    kproducer_with_env(args, stdin, &[])
}

/// Like [`kproducer`], with these environment variables set.
pub(crate) fn kproducer_with_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kproducer"))
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the kproducer binary starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The command may exit before reading everything; that is its
        // business, not a test failure.
        let _ = input.write_all(&data);
    });
    let started = Instant::now();
    loop {
        if child.try_wait().expect("waitable").is_some() {
            break;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("killed child");
            panic!(
                "kproducer {args:?} did not finish within {LIMIT:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = writer.join();
    child
        .wait_with_output()
        .expect("output of a finished child")
}

/// Stderr as text.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts stderr is exactly one line containing every one of `needles`.
pub(crate) fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(
        err.lines().count(),
        1,
        "expected one line on stderr, got:\n{err}"
    );
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");
}
