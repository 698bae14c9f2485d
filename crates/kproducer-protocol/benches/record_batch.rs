//! Record batch encoding throughput: append 100-byte records into a warm
//! builder until the batch is full, then seal, for each codec and for 16 KiB
//! and 1 MiB batches.
//!
//! ```text
//! cargo bench -p kproducer-protocol --bench record_batch -- --warm-up-time 1 --measurement-time 3
//! ```

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};

const VALUE_LEN: usize = 100;
const BATCH_SIZES: [(usize, &str); 2] = [(16 * 1024, "16KiB"), (1024 * 1024, "1MiB")];
const PARAMS: BatchParams = BatchParams {
    producer_id: 1,
    producer_epoch: 0,
    base_sequence: 0,
    transactional: false,
};

/// A value with some structure, like a small JSON document: compressible,
/// but not trivially.
fn value(i: usize) -> [u8; VALUE_LEN] {
    let mut v = [b' '; VALUE_LEN];
    let text = format!(
        "{{\"id\":{i},\"user\":\"user-{}\",\"event\":\"click\",\"page\":\"/p/{}\",\"ok\":true}}",
        i % 977,
        i % 131
    );
    let n = text.len().min(VALUE_LEN);
    v[..n].copy_from_slice(&text.as_bytes()[..n]);
    v
}

/// How many records fill a batch of `batch_size` bytes (as a producer
/// checks `batch.size` against `size_estimate`).
fn records_per_batch(batch_size: usize, values: &[[u8; VALUE_LEN]]) -> usize {
    let mut b = RecordBatchBuilder::new(Compression::None);
    let mut n = 0;
    while b.size_estimate()
        + b.encoded_size(n as i64, None, Some(&values[n % values.len()]), NO_HEADERS)
        <= batch_size
    {
        b.append(n as i64, None, Some(&values[n % values.len()]), NO_HEADERS);
        n += 1;
    }
    n
}

fn encode(c: &mut Criterion) {
    let values: Vec<[u8; VALUE_LEN]> = (0..1024).map(value).collect();
    for (batch_size, label) in BATCH_SIZES {
        let n = records_per_batch(batch_size, &values);
        let mut group = c.benchmark_group(format!("record_batch/{label}"));
        group.throughput(Throughput::Elements(n as u64));
        for codec in Compression::ALL {
            let mut builder = RecordBatchBuilder::with_capacity(codec, batch_size);
            group.bench_function(BenchmarkId::new("append+seal", codec), |bench| {
                bench.iter(|| {
                    for (i, v) in values.iter().cycle().take(n).enumerate() {
                        builder.append(1_700_000_000_000 + i as i64, None, Some(v), NO_HEADERS);
                    }
                    black_box(builder.seal(&PARAMS).unwrap())
                });
            });
        }
        // Appends alone (the batch is discarded, not sealed): the per-record
        // cost without the header, CRC and hand-over.
        let mut builder = RecordBatchBuilder::with_capacity(Compression::None, batch_size);
        group.bench_function(BenchmarkId::new("append-only", "none"), |bench| {
            bench.iter(|| {
                for (i, v) in values.iter().cycle().take(n).enumerate() {
                    builder.append(1_700_000_000_000 + i as i64, None, Some(v), NO_HEADERS);
                }
                let size = builder.size_estimate();
                builder.clear();
                black_box(size)
            });
        });
        group.finish();
    }
}

criterion_group!(benches, encode);
criterion_main!(benches);
