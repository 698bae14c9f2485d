//! A burst's first answers are large requests that the broker began to
//! serve before the pressure showed; the rate they give must count the
//! time they were served, or an early scale-up is judged against a rate
//! its width never carried and undone although it doubled throughput.
//!
//! The model is request by request, like the bench's fake broker: each
//! connection serves its requests one at a time, in order, at
//! `PER_CONNECTION` bytes/s; the producer cuts a request every
//! `REQUEST` bytes of what the sender offered and keeps at most
//! `IN_FLIGHT` requests on a connection (then it waits for a permit:
//! the scaler's wait signal). New requests go to the connection with the
//! fewest in flight. The caller reports what the producer's core reports,
//! every millisecond, and evaluates at every step.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kproducer_net::{Decision, Reason, Scaler, ScalerConfig};

const STEP: Duration = Duration::from_millis(1);
const REQUEST: f64 = 1_000_000.0;
const PER_CONNECTION: f64 = 90e6;
const IN_FLIGHT: usize = 5;
const BUFFER_MEMORY: f64 = 32.0 * 1024.0 * 1024.0;

/// One connection: requests in flight (bytes, when sent), the head's
/// bytes served so far, and when the head reached the front.
#[derive(Default)]
struct Connection {
    queue: VecDeque<(f64, Instant)>,
    served: f64,
    head_since: Option<Instant>,
}

struct Model {
    scaler: Scaler,
    t0: Instant,
    now: Instant,
    /// Bytes offered but not yet cut into a request and sent.
    backlog: f64,
    connections: Vec<Connection>,
    changes: Vec<(Duration, Decision)>,
    /// Whether the caller reports what is given and not yet answered
    /// (`Scaler::observe_outstanding`), as the producer's core does.
    report_outstanding: bool,
}

impl Model {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            scaler: Scaler::new(ScalerConfig::default(), now).unwrap(),
            t0: now,
            now,
            backlog: 0.0,
            connections: vec![Connection::default()],
            changes: Vec::new(),
            report_outstanding: true,
        }
    }

    fn in_flight_bytes(&self) -> f64 {
        self.connections
            .iter()
            .flat_map(|c| c.queue.iter().map(|r| r.0))
            .sum()
    }

    fn step(&mut self, offered: f64) {
        let start = self.now;
        self.now += STEP;
        let room = (BUFFER_MEMORY - self.backlog - self.in_flight_bytes()).max(0.0);
        self.backlog += (offered * STEP.as_secs_f64()).min(room);
        // Send whole requests while some connection has a permit.
        let mut waited = false;
        while self.backlog >= REQUEST {
            let Some(c) = self
                .connections
                .iter_mut()
                .filter(|c| c.queue.len() < IN_FLIGHT)
                .min_by_key(|c| c.queue.len())
            else {
                waited = true;
                break;
            };
            if c.queue.is_empty() {
                c.head_since = Some(start);
            }
            c.queue.push_back((REQUEST, start));
            self.backlog -= REQUEST;
        }
        // Serve a step's worth on every connection, answering whole requests.
        let (mut bytes, mut answers, mut round_trips) = (0.0, 0u64, Duration::ZERO);
        for (slot, c) in self.connections.iter_mut().enumerate() {
            let busy = if c.queue.is_empty() {
                Duration::ZERO
            } else {
                STEP
            };
            let mut budget = PER_CONNECTION * STEP.as_secs_f64();
            while let Some(&(size, sent)) = c.queue.front() {
                let take = budget.min(size - c.served);
                c.served += take;
                budget -= take;
                if c.served < size {
                    break;
                }
                c.queue.pop_front();
                c.served = 0.0;
                c.head_since = c.queue.front().map(|_| self.now);
                bytes += size;
                answers += 1;
                round_trips += self.now - sent;
            }
            let wait = if waited { STEP } else { Duration::ZERO };
            self.scaler.observe(slot, wait, busy);
            if let (Some(&(size, _)), Some(since)) = (c.queue.front(), c.head_since) {
                self.scaler
                    .observe_unanswered(slot, size as u64, self.now - since);
            }
        }
        self.scaler.observe_throughput(bytes as u64);
        self.scaler.observe_round_trips(round_trips, answers);
        let buffered = self.backlog + self.in_flight_bytes();
        self.scaler
            .observe_buffer(self.now, buffered as u64, BUFFER_MEMORY as u64);
        self.scaler.observe_backlog(self.backlog as u64);
        if self.report_outstanding {
            let outstanding = self.backlog + self.in_flight_bytes();
            self.scaler.observe_outstanding(outstanding as u64);
        }
        let d = self.scaler.evaluate(self.now);
        if d.is_change() {
            self.connections
                .resize_with(d.target_width, Connection::default);
            self.changes.push((self.now - self.t0, d));
        }
    }

    fn run(&mut self, for_: Duration, offered: f64) {
        let end = self.now + for_;
        while self.now < end {
            self.step(offered);
        }
    }
}

/// The changes a burst offering `connections` connections' worth from
/// an idle start makes within 2 s.
fn burst(connections: f64) -> Vec<(Duration, Decision)> {
    burst_reporting(connections, true)
}

fn burst_reporting(connections: f64, outstanding: bool) -> Vec<(Duration, Decision)> {
    let mut m = Model::new();
    m.report_outstanding = outstanding;
    m.run(Duration::from_secs(2), connections * PER_CONNECTION);
    m.changes
}

fn story(changes: &[(Duration, Decision)]) -> Vec<(u128, usize, usize, Reason)> {
    changes
        .iter()
        .map(|(t, d)| (t.as_millis(), d.previous_width, d.target_width, d.reason))
        .collect()
}

#[test]
fn a_bursts_first_step_is_sized_by_the_rate_one_connection_really_carries() {
    // Offered k connections' worth, plus the backlog that piled up before
    // the first answers: the demand is above k connections, so the step
    // goes past k. Sized by a rate inflated by answers served partly
    // before the pressure showed, it stopped at k (2 → 2, 3 → 3).
    for (offered, wanted) in [(2.0, 3), (3.0, 4)] {
        let changes = burst(offered);
        let s = story(&changes);
        let (at, first) = changes.first().expect("a scale-up");
        assert_eq!(first.target_width, wanted, "offered {offered}: {s:?}");
        assert!(*at < Duration::from_millis(200), "offered {offered}: {s:?}");
        assert!(
            changes
                .iter()
                .all(|(_, d)| d.target_width > d.previous_width),
            "offered {offered}: a step that carried the load was undone: {s:?}"
        );
    }
}

#[test]
fn the_offered_load_counts_what_went_in_flight_at_once() {
    // At the start of a burst the windows are not full: sealed requests go
    // in flight at once and the backlog stays empty, so its growth says
    // the offered load is what was answered. What was given and not yet
    // answered grows with the load: 1.5 connections' worth steps at
    // 120 ms with it, at 180 ms on the backlog alone.
    let with = burst_reporting(1.5, true);
    let without = burst_reporting(1.5, false);
    let (s_with, s_without) = (story(&with), story(&without));
    let (at_with, first_with) = with.first().expect("a scale-up");
    let (at_without, _) = without.first().expect("a scale-up on the backlog alone");
    assert_eq!(first_with.target_width, 2, "{s_with:?}");
    assert!(
        *at_with + Duration::from_millis(40) <= *at_without,
        "with: {s_with:?}; without: {s_without:?}"
    );
    assert!(
        with.iter().all(|(_, d)| d.target_width > d.previous_width),
        "{s_with:?}"
    );
}
