//! Proves the hot path allocation-free: after warm-up, appending records to
//! a builder performs zero heap allocations.
//!
//! This binary installs a counting global allocator. Counts are kept per
//! thread, so tests running in parallel do not disturb each other.

// A `GlobalAlloc` impl is `unsafe` by definition; this one only forwards to
// `System` and bumps a thread-local counter, in this test binary alone.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use kproducer_protocol::records::{
    BatchParams, Compression, NO_HEADERS, RecordBatch, RecordBatchBuilder, rewrite_producer_state,
};

/// Every compressing codec this build includes.
fn compressed_codecs() -> impl Iterator<Item = Compression> {
    Compression::ALL
        .into_iter()
        .filter(|c| *c != Compression::None && c.is_available())
}

struct CountingAllocator;

thread_local! {
    // `const` initialisation: touching it never allocates or registers a
    // destructor, so it is safe to use from inside the allocator.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn count(size: usize) {
    ALLOCATIONS.with(|c| c.set(c.get() + 1));
    LARGEST.with(|l| l.set(l.get().max(size)));
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations (including reallocations) made on this thread by `f`.
fn allocations<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

/// The largest single allocation made on this thread by `f`.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (usize, T) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (LARGEST.with(Cell::get), out)
}

const RECORDS: usize = 10_000;
const VALUE: [u8; 100] = [b'x'; 100];

fn fill(builder: &mut RecordBatchBuilder) {
    let headers = [("trace-id", Some(&b"0123456789abcdef"[..]))];
    for i in 0..RECORDS {
        let ts = 1_700_000_000_000 + i as i64;
        if i % 10 == 0 {
            builder.append(ts, Some(b"key"), Some(&VALUE), &headers);
        } else {
            builder.append(ts, None, Some(&VALUE), NO_HEADERS);
        }
    }
}

#[test]
fn appending_to_a_warm_builder_allocates_nothing() {
    let mut builder = RecordBatchBuilder::new(Compression::None);
    // Warm-up: one batch of the same shape grows the buffer; sealing hands
    // it over and leaves a fresh buffer of the same capacity.
    fill(&mut builder);
    let warm = builder.seal(&BatchParams::default()).unwrap();
    drop(warm);

    let (appends, ()) = allocations(|| fill(&mut builder));
    let (seal, sealed) = allocations(|| builder.seal(&BatchParams::default()).unwrap());
    println!(
        "uncompressed: {appends} allocations for {RECORDS} appends; {seal} for sealing \
         a {} byte batch",
        sealed.len()
    );
    assert_eq!(appends, 0, "appends allocated after warm-up");
    // Sealing hands the full buffer over (turning it into `Bytes` costs one
    // small shared-state allocation) and allocates its replacement.
    assert!(seal <= 2, "sealing allocated {seal} times");

    // Still zero for the next batch.
    let (appends, ()) = allocations(|| fill(&mut builder));
    assert_eq!(appends, 0);
}

#[test]
fn compressed_builders_append_without_allocating_and_report_seal_cost() {
    for codec in compressed_codecs() {
        let mut builder = RecordBatchBuilder::new(codec);
        fill(&mut builder);
        builder.seal(&BatchParams::default()).unwrap();
        let (appends, ()) = allocations(|| fill(&mut builder));
        let (seal, sealed) = allocations(|| builder.seal(&BatchParams::default()).unwrap());
        println!(
            "{codec}: {appends} allocations for {RECORDS} appends; {seal} for sealing \
             ({} byte batch)",
            sealed.len()
        );
        assert_eq!(appends, 0, "{codec}: appends allocated after warm-up");
    }
}

/// A one-record batch of codec `codec` whose records section is `section`,
/// with a valid CRC.
fn batch_with_section(codec: Compression, section: &[u8]) -> Bytes {
    let mut empty = RecordBatchBuilder::new(Compression::None);
    let mut raw = empty.seal(&BatchParams::default()).unwrap().to_vec();
    raw.extend_from_slice(section);
    let batch_length = (raw.len() - 12) as i32;
    raw[8..12].copy_from_slice(&batch_length.to_be_bytes());
    raw[22] = codec.id();
    raw[23..27].copy_from_slice(&0i32.to_be_bytes()); // lastOffsetDelta
    raw[57..61].copy_from_slice(&1i32.to_be_bytes()); // records count
    rewrite_producer_state(&mut raw, -1, -1, -1).unwrap();
    Bytes::from(raw)
}

#[test]
fn size_claims_in_tiny_inputs_are_refused_without_allocating_for_them() {
    let snappy_claim = [0x80, 0x80, 0x80, 0x80, 0x04, 0, 0, 0]; // "1 GiB follows"
    let mut xerial = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
    xerial.extend_from_slice(&(snappy_claim.len() as i32).to_be_bytes());
    xerial.extend_from_slice(&snappy_claim);
    // LZ4 frame declaring 4 MiB blocks, then a 16-byte compressed block.
    let mut lz4 = vec![0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0x00];
    lz4.extend_from_slice(&16u32.to_le_bytes());
    lz4.extend_from_slice(&[0xff; 16]);
    // zstd frame declaring a 2 TiB window (window descriptor exponent 31).
    let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 0, 0, 0, 0];
    let cases: [(Compression, &[u8]); 4] = [
        (Compression::Snappy, &snappy_claim),
        (Compression::Snappy, &xerial),
        (Compression::Lz4, &lz4),
        (Compression::Zstd, &zstd),
    ];
    for (codec, section) in cases.into_iter().filter(|(c, _)| c.is_available()) {
        let batch = RecordBatch::decode(&mut batch_with_section(codec, section)).unwrap();
        let (largest, result) = largest_allocation(|| batch.records().map(|r| r.count()));
        println!("{codec}: {result:?}, largest allocation {largest} bytes");
        assert!(result.is_err(), "{codec}: {result:?}");
        assert!(largest < 64 * 1024, "{codec}: allocated {largest} bytes");
    }
}

#[test]
fn decompression_bombs_cost_at_most_the_limit() {
    const LIMIT: usize = 256 * 1024;
    for codec in Compression::ALL
        .into_iter()
        .filter(|c| *c != Compression::None && c.is_available())
    {
        let mut b = RecordBatchBuilder::with_capacity(codec, 2 << 20);
        for i in 0..20 {
            b.append(i, None, Some(&[0u8; 100_000]), NO_HEADERS);
        }
        let sealed = b.seal(&BatchParams::default()).unwrap();
        let batch = RecordBatch::decode(&mut sealed.clone()).unwrap();
        let (largest, result) = largest_allocation(|| batch.records_with_limit(LIMIT).map(|_| ()));
        println!(
            "{codec}: {} compressed bytes, limit {LIMIT}: {result:?}, largest allocation {largest}",
            sealed.len()
        );
        assert!(result.is_err(), "{codec}");
        assert!(largest <= LIMIT + 1, "{codec}: allocated {largest} bytes");
    }
}
