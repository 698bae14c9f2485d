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

use kproducer_protocol::records::{BatchParams, Compression, NO_HEADERS, RecordBatchBuilder};

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
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
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
