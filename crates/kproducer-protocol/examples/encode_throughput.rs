//! Fixed-work record batch encoding throughput, reported per CPU-second as
//! well as per wall-clock second, for machines shared with other work where
//! wall-clock benchmarks understate what one core does.
//!
//! ```text
//! cargo run --release -p kproducer-protocol --example encode_throughput -- [none|gzip|snappy|lz4|zstd] [batch bytes] [records]
//! ```
//!
//! Appends 100-byte values (no key, no headers) into a warm builder until
//! each batch reaches the batch size, seals it, and repeats. CPU time comes
//! from `/proc/thread-self/schedstat` (Linux); elsewhere only wall-clock
//! throughput is printed.

#![allow(missing_docs)]

use std::time::{Duration, Instant};

use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};

/// CPU time this thread has run, from the kernel's scheduler statistics.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let codec: Compression = args.next().as_deref().unwrap_or("none").parse()?;
    let batch_size: usize = args.next().map_or(Ok(16 * 1024), |s| s.parse())?;
    let total: usize = args.next().map_or(Ok(20_000_000), |s| s.parse())?;

    let values: Vec<[u8; 100]> = (0..1024)
        .map(|i| {
            let mut v = [b' '; 100];
            let text = format!(
                "{{\"id\":{i},\"user\":\"user-{}\",\"event\":\"click\",\"page\":\"/p/{}\"}}",
                i % 977,
                i % 131
            );
            v[..text.len()].copy_from_slice(text.as_bytes());
            v
        })
        .collect();
    let mut builder = RecordBatchBuilder::with_capacity(codec, batch_size);
    let params = BatchParams::default();
    let (mut records, mut batches, mut bytes) = (0usize, 0usize, 0usize);

    let cpu_start = thread_cpu_time();
    let wall_start = Instant::now();
    while records < total {
        let mut i = 0;
        loop {
            let value = &values[i % values.len()];
            let ts = 1_700_000_000_000 + i as i64;
            if builder.size_estimate() + builder.encoded_size(ts, None, Some(value), NO_HEADERS)
                > batch_size
                && i > 0
            {
                break;
            }
            builder.append(ts, None, Some(value), NO_HEADERS);
            i += 1;
        }
        bytes += builder.seal(&params)?.len();
        records += i;
        batches += 1;
    }
    let wall = wall_start.elapsed();
    let cpu = cpu_start.zip(thread_cpu_time()).map(|(a, b)| b - a);

    println!(
        "{codec}, {batch_size}-byte batches: {records} records in {batches} batches \
         ({bytes} bytes sealed)"
    );
    println!(
        "  wall: {wall:.2?} = {:.2} M records/s",
        records as f64 / wall.as_secs_f64() / 1e6
    );
    match cpu {
        Some(cpu) => println!(
            "  cpu:  {cpu:.2?} = {:.2} M records/s per core",
            records as f64 / cpu.as_secs_f64() / 1e6
        ),
        None => println!("  cpu:  unavailable (needs /proc/thread-self/schedstat)"),
    }
    Ok(())
}
