//! A counting global allocator shared by the test binaries that measure
//! heap allocations per record (`allocations.rs`, `throughput.rs`). Each
//! binary installs it with
//!
//! ```ignore
//! mod counting;
//! #[global_allocator]
//! static GLOBAL: counting::CountingAllocator = counting::CountingAllocator;
//! ```
//!
//! and reads [`TOTAL`] (every thread) or [`allocations_here`] (this thread).
//! [`measured_setup`] is the cluster and producer both measure.

// A `GlobalAlloc` impl is `unsafe` by definition; this one only forwards to
// `System` and bumps counters, in test binaries alone.
#![allow(unsafe_code, dead_code, unreachable_pub)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Forwards to `System`, counting allocations (not frees).
pub struct CountingAllocator;

/// Allocations made by every thread so far.
pub static TOTAL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static LOCAL: Cell<u64> = const { Cell::new(0) };
}

/// Allocations made by the calling thread so far.
pub fn allocations_here() -> u64 {
    LOCAL.with(Cell::get)
}

/// Allocations made by every thread so far.
pub fn allocations_total() -> u64 {
    TOTAL.load(Ordering::Relaxed)
}

fn count() {
    TOTAL.fetch_add(1, Ordering::Relaxed);
    LOCAL.with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// What both binaries measure: three fake brokers with topic `bench` of
/// `partitions` partitions, answering after `service`, without the request
/// log or record validation (so the broker's own work stays small), and an
/// idempotent producer with a fixed seed. Must run inside a tokio runtime.
pub fn measured_setup(
    partitions: i32,
    service: kproducer_fake_broker::ServiceTime,
    adaptive: bool,
) -> (kproducer_fake_broker::FakeCluster, kproducer::Producer) {
    measured_setup_with(partitions, service, adaptive, |b| b)
}

/// [`measured_setup`], with `tweak` adjusting the producer's builder (for
/// example to give it a delivery-report sink).
pub fn measured_setup_with(
    partitions: i32,
    service: kproducer_fake_broker::ServiceTime,
    adaptive: bool,
    tweak: impl FnOnce(kproducer::ProducerBuilder) -> kproducer::ProducerBuilder,
) -> (kproducer_fake_broker::FakeCluster, kproducer::Producer) {
    let cluster = kproducer_fake_broker::FakeCluster::builder()
        .brokers(3)
        .topic("bench", partitions)
        .record_requests(false)
        .validate_records(false)
        .service_time(service)
        .build()
        .expect("cluster");
    let transport: std::sync::Arc<dyn kproducer_net::Transport> =
        std::sync::Arc::new(cluster.transport());
    let builder = kproducer::Producer::builder()
        .bootstrap_servers(cluster.bootstrap_servers().split(','))
        .transport(transport)
        .adaptive_connections(adaptive)
        .seed(1);
    let producer = tweak(builder).build().expect("producer");
    assert!(producer.is_idempotent());
    (cluster, producer)
}
