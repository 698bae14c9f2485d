//! The core task: one owner for all producer state (accumulator, metadata,
//! idempotence, router, scalers, buffer accounting). Producer handles talk
//! to it through one ordered queue (`intake`); connections answer through
//! futures it polls. It never awaits a connection, so brokers never wait on
//! each other. See `docs/producer-internals.md`.

pub(crate) mod accumulator;
pub(crate) mod auth_watch;
mod batch_buffers;
mod broker;
mod completion;
mod control;
mod drain;
mod fast_hash;
pub(crate) mod idempotence;
pub(crate) mod intake;
mod metadata;
mod parked;
mod partition_queues;
mod produce_body;
mod resolution;
mod response;
#[cfg(test)]
mod routing_tests;
mod tls_refusals;
pub(crate) mod transaction;
pub(crate) mod transaction_io;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kproducer_net::{
    Connection, ConnectionError, GroupConfig, GroupError, Router, TopicPartition, Transport,
};
use kproducer_protocol::messages::{InitProducerIdResponse, MetadataResponse};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::{Instant, sleep_until};

use self::accumulator::{Batch, PartitionQueue, RecordParts};
use self::batch_buffers::BatchBuffers;
use self::broker::BrokerLink;
use self::fast_hash::FastMap;
use self::idempotence::Idempotence;
use self::intake::{Input, IntakeReceiver};
use self::metadata::Metadata;
use self::partition_queues::PartitionQueues;
pub(crate) use self::resolution::{Reply, ReportSink};
use crate::config::Settings;
use crate::error::Error;
use crate::metrics::{self, MetricsRecorder};
use crate::partitioner::load::Availability;
use crate::partitioner::{PartitionRequest, Partitioner, TopicIndex};
use crate::record::{Record, Topic};

/// What producer handles send to the core, in one ordered queue (so a
/// flush sees every record sent before it).
///
/// The rare variants are no bigger than a record's [`Envelope`] (each holds
/// a one-pointer `oneshot::Sender`), so they need no box: the queue's slots
/// are exactly a record's size (a unit test checks it).
#[derive(Debug)]
pub(crate) enum Command {
    /// A record to deliver.
    Record(Envelope),
    /// Resolve once every record sent before is resolved.
    Flush(oneshot::Sender<()>),
    /// Flush, fail what is left after `timeout`, and stop.
    Close {
        timeout: Duration,
        done: oneshot::Sender<()>,
    },
    /// A transaction operation (`init_transactions`, `begin_transaction`,
    /// `commit_transaction`, `abort_transaction`) and who waits for it.
    Transaction {
        op: transaction_io::TxnCommand,
        reply: oneshot::Sender<Result<(), Error>>,
    },
}

/// A record on its way to the core.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) record: Record,
    pub(crate) reply: Reply,
    /// `buffer.memory` bytes taken for it.
    pub(crate) reserved: usize,
}

impl Command {
    /// Fails a command the core will never take (it stopped while the
    /// command was on its way): a record resolves with the producer's fatal
    /// error, else [`Error::Closed`], and gives its `buffer.memory` back;
    /// the waiters of the other commands see their reply dropped, which
    /// they report as [`Error::Closed`].
    pub(crate) fn strand(self, shared: &Shared) {
        if let Command::Record(envelope) = self {
            let error = shared.fatal.get().cloned().unwrap_or(Error::Closed);
            let Envelope {
                record,
                reply,
                reserved,
            } = envelope;
            shared.reject(reply, reserved, &record.topic, error);
        }
    }
}

/// State shared by the handles and the core.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `buffer.memory`, in bytes, as permits.
    pub(crate) buffer: Semaphore,
    pub(crate) buffer_memory: usize,
    pub(crate) metrics: MetricsRecorder,
    /// Set by `close` (and by a fatal error): sends are refused.
    pub(crate) closed: AtomicBool,
    /// The fatal error, once one happened.
    pub(crate) fatal: OnceLock<Error>,
    /// The first connect attempt refused by SASL for good (set by
    /// [`auth_watch::AuthWatch`]).
    pub(crate) auth_failure: OnceLock<Error>,
    /// Brokers whose latest connect attempt refused the TLS settings
    /// (kept by [`auth_watch::AuthWatch`], read by the core).
    pub(crate) tls_refusals: std::sync::Mutex<tls_refusals::TlsRefusals>,
    /// A transactional producer has a transaction open (records are
    /// taken); kept by the core for the handles' fast check.
    pub(crate) in_transaction: AtomicBool,
    /// Where outcomes of records sent with a token go
    /// ([`ProducerBuilder::delivery_reports`](crate::ProducerBuilder::delivery_reports)).
    pub(crate) reports: Option<ReportSink>,
}

impl Shared {
    /// Shared state for a producer without a delivery-report sink.
    #[cfg(test)]
    pub(crate) fn new(buffer_memory: usize) -> Self {
        Self::with_reports(buffer_memory, None)
    }

    /// Shared state for a producer reporting to `reports`, if given.
    pub(crate) fn with_reports(buffer_memory: usize, reports: Option<ReportSink>) -> Self {
        Shared {
            buffer: Semaphore::new(buffer_memory),
            buffer_memory,
            metrics: MetricsRecorder::default(),
            closed: AtomicBool::new(false),
            fatal: OnceLock::new(),
            auth_failure: OnceLock::new(),
            tls_refusals: std::sync::Mutex::default(),
            in_transaction: AtomicBool::new(false),
            reports,
        }
    }

    /// Gives `bytes` of `buffer.memory` back.
    pub(crate) fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.buffer.add_permits(bytes);
        }
    }

    /// Bytes of `buffer.memory` in use.
    pub(crate) fn buffer_used(&self) -> usize {
        self.buffer_memory
            .saturating_sub(self.buffer.available_permits())
    }
}

/// Something that finished outside the core.
#[derive(Debug)]
enum Event {
    /// A Produce request's outcome.
    Produce {
        id: u64,
        result: Result<Option<Bytes>, ConnectionError>,
    },
    /// A Metadata request's outcome.
    Metadata(Result<MetadataResponse, String>),
    /// An InitProducerId request's outcome.
    InitProducerId(Result<InitProducerIdResponse, String>),
    /// A transaction coordinator request's outcome.
    Transaction(transaction_io::TxnEvent),
    /// A slot's connect attempt finished.
    Connected {
        broker: i32,
        slot: usize,
        result: Result<Connection, GroupError>,
    },
}

type EventFuture = Pin<Box<dyn Future<Output = Event> + Send>>;

/// A Produce request in flight: where it went and what it carries.
#[derive(Debug)]
struct InFlightRequest {
    broker: i32,
    slot: usize,
    version: i16,
    connection: Connection,
    batches: Vec<Batch>,
    /// When it was handed to the connection: its round trip feeds the
    /// scaler's cooldown.
    sent_at: Instant,
}

/// A record waiting for its topic's metadata.
#[derive(Debug)]
struct Waiting {
    envelope: Envelope,
    received: Instant,
    flush_gen: u64,
}

/// The core: owns all producer state; see the module docs.
pub(crate) struct Core {
    settings: Settings,
    shared: Arc<Shared>,
    transport: Arc<dyn Transport>,
    group_config: GroupConfig,
    commands: IntakeReceiver<Command>,
    commands_open: bool,
    partitioner: Box<dyn Partitioner>,
    metadata: Metadata,
    waiting: FastMap<Arc<str>, VecDeque<Waiting>>,
    /// Partition queues by (topic index, partition).
    partitions: PartitionQueues,
    brokers: FastMap<i32, BrokerLink>,
    router: Router,
    idempotence: Option<Idempotence<TopicPartition>>,
    /// The transaction, for a producer with `transactional.id`.
    transaction: Option<transaction_io::TransactionLink>,
    init_in_flight: bool,
    init_next_attempt: Option<Instant>,
    init_failures: u32,
    events: FuturesUnordered<EventFuture>,
    requests: FastMap<u64, InFlightRequest>,
    next_request_id: u64,
    next_order: u64,
    flush_gen: u64,
    outstanding: BTreeMap<u64, usize>,
    flush_waiters: Vec<(u64, oneshot::Sender<()>)>,
    closing: Option<Instant>,
    close_waiters: Vec<oneshot::Sender<()>>,
    next_scale_tick: Instant,
    bootstrap_next: usize,
    last_connect_error: Option<String>,
    fatal: Option<Error>,
    /// Reused between drains.
    scratch_keys: Vec<TopicPartition>,
    /// Memory of acknowledged batches, for the next sealed ones.
    batch_buffers: BatchBuffers,
    /// Parts of routed records, dropped together after each pass (see
    /// [`Core::route`]); reused.
    retired: Vec<Retired>,
}

/// What is left of a routed record once its bytes are in a batch: held
/// until the end of the pass so the reference counts it shares with the
/// sending threads are released in one burst.
#[derive(Debug)]
struct Retired {
    _topic: Arc<str>,
    _key: Option<Bytes>,
    _value: Option<Bytes>,
    _headers: Vec<crate::record::Header>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("partitions", &self.partitions.len())
            .field("brokers", &self.brokers.len())
            .field("requests_in_flight", &self.requests.len())
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch, now.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Core {
    pub(crate) fn new(
        settings: Settings,
        shared: Arc<Shared>,
        transport: Arc<dyn Transport>,
        commands: IntakeReceiver<Command>,
        partitioner: Box<dyn Partitioner>,
    ) -> Self {
        let c = &settings.config;
        let group_config = GroupConfig {
            connection: kproducer_net::ConnectionConfig {
                max_in_flight: c.max_in_flight,
                request_timeout: c.request_timeout,
                client_id: Some(c.client_id.clone()),
                ..kproducer_net::ConnectionConfig::default()
            },
            jitter_seed: c.seed,
            ..GroupConfig::default()
        };
        let width = initial_width(&settings);
        // Idle batch memory kept for reuse: at most half of buffer.memory.
        let batch_buffers = BatchBuffers::new(shared.buffer_memory / 2);
        let idempotence = settings.idempotent.then(|| {
            Idempotence::new(c.max_in_flight, c.transactional_id.is_some())
                .first_sequence(c.first_sequence)
        });
        let transaction = transaction_io::TransactionLink::new(c);
        Core {
            router: Router::new(NonZeroUsize::new(width).unwrap_or(NonZeroUsize::MIN)),
            next_scale_tick: Instant::now() + c.scale_interval,
            settings,
            shared,
            transport,
            group_config,
            commands,
            commands_open: true,
            partitioner,
            metadata: Metadata::default(),
            waiting: FastMap::default(),
            partitions: PartitionQueues::default(),
            brokers: FastMap::default(),
            idempotence,
            transaction,
            init_in_flight: false,
            init_next_attempt: None,
            init_failures: 0,
            events: FuturesUnordered::new(),
            requests: FastMap::default(),
            next_request_id: 0,
            next_order: 0,
            flush_gen: 0,
            outstanding: BTreeMap::new(),
            flush_waiters: Vec::new(),
            closing: None,
            close_waiters: Vec::new(),
            bootstrap_next: 0,
            last_connect_error: None,
            fatal: None,
            scratch_keys: Vec::new(),
            batch_buffers,
            retired: Vec::new(),
        }
    }

    /// The task's loop: take input, make decisions, start I/O, sleep until
    /// the next input or deadline.
    pub(crate) async fn run(mut self) {
        loop {
            // Records routed by the last pass (a drain, or records released
            // by a metadata answer).
            self.retired.clear();
            let now = Instant::now();
            let more_parked = self.release_parked(now);
            self.housekeeping(now);
            let sent = self.drain(now);
            self.transaction_tick(now);
            self.answer_flushes();
            if self.finished(now) {
                break;
            }
            // After a pass that sent something, the next batches of the same
            // partitions may go at once: pass again right after looking at
            // input, instead of waiting for the next event.
            // Records released from the metadata wait that are left over
            // for the next pass: that pass comes at once.
            let wake = if sent || more_parked {
                now
            } else {
                self.next_wakeup(now)
            };
            if sent {
                // The requests just handed over are written by their
                // connections' tasks, which this pass woke from this worker
                // thread: tokio keeps such a task in the worker's LIFO
                // slot, where no other worker may steal it. While senders
                // keep the intake full this loop never waits, so without
                // giving the worker back those tasks would not run (nor
                // write) until the senders pause — tens of ms at the start
                // of a run, see docs/producer-internals.md "Yielding after
                // a send". One yield per sending pass (a few per MiB sent).
                tokio::task::yield_now().await;
            }
            tokio::select! {
                input = self.commands.ready(), if self.commands_open => {
                    if input == Input::SenderGone {
                        self.commands_open = false;
                        if self.closing.is_none() {
                            // Every handle is gone without close(): fail what
                            // is left rather than leave it pending.
                            self.fail_everything(&Error::Dropped);
                            break;
                        }
                        continue;
                    }
                    self.take_commands();
                }
                Some(event) = self.events.next(), if !self.events.is_empty() => {
                    self.on_event(event);
                }
                () = sleep_until(wake) => {}
            }
        }
        // Commands still on their way are failed by the intake (records
        // with Closed, or the fatal error), as are any sent from now on.
        self.commands.close();
        let closed = if self.closing.is_some() {
            Error::Closed
        } else {
            Error::Dropped
        };
        self.fail_everything(&closed);
        self.answer_flushes();
        for w in self.close_waiters.drain(..) {
            let _ = w.send(());
        }
        tracing::debug!("producer core stopped");
    }

    /// Takes up to [`INTAKE_PER_PASS`] queued commands, straight from the
    /// intake (no intermediate buffer: a record is moved once less), then
    /// lets the loop look at its other inputs.
    fn take_commands(&mut self) {
        let now = Instant::now();
        // One wall-clock read for the whole bunch: CreateTime to the
        // millisecond, without a clock call per record.
        let wall_ms = now_ms();
        for _ in 0..INTAKE_PER_PASS {
            let Some(cmd) = self.commands.try_recv() else {
                break;
            };
            self.on_command(cmd, now, wall_ms);
        }
        self.retired.clear();
    }

    fn on_command(&mut self, cmd: Command, now: Instant, wall_ms: i64) {
        match cmd {
            Command::Record(envelope) => {
                if let Some(e) = self.fatal.clone() {
                    self.reject(envelope, e);
                    return;
                }
                if let Some(Err(e)) = self.transaction.as_ref().map(|t| t.machine.check_record()) {
                    self.reject(envelope, e);
                    return;
                }
                *self.outstanding.entry(self.flush_gen).or_default() += 1;
                self.route(envelope, now, wall_ms, self.flush_gen, true);
            }
            Command::Flush(tx) => {
                self.flush_gen += 1;
                self.flush_waiters.push((self.flush_gen, tx));
            }
            Command::Close { timeout, done } => {
                self.flush_gen += 1;
                // Any timeout the caller passes is accepted; beyond a year
                // it means "no deadline" in practice.
                let deadline = now
                    .checked_add(timeout)
                    .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
                self.closing = Some(self.closing.map_or(deadline, |d| d.min(deadline)));
                self.close_waiters.push(done);
                self.abort_open_transaction_on_close();
            }
            Command::Transaction { op, reply } => self.on_transaction_command(op, reply),
        }
    }

    /// Fails a record that never entered the accumulator.
    fn reject(&self, envelope: Envelope, error: Error) {
        self.shared.reject(
            envelope.reply,
            envelope.reserved,
            &envelope.record.topic,
            error,
        );
    }

    /// One record fewer outstanding in flush generation `generation`.
    fn resolved(&mut self, generation: u64, count: usize) {
        if let Some(n) = self.outstanding.get_mut(&generation) {
            *n = n.saturating_sub(count);
            if *n == 0 {
                self.outstanding.remove(&generation);
            }
        }
    }

    /// Chooses the record's partition and appends it, or parks it until its
    /// topic's metadata is known. `wall_ms` is the CreateTime given to a
    /// record without a timestamp.
    ///
    /// Per record this touches no topic name: the topic's index comes from
    /// its handle's pointer (see [`PartitionQueues::intern`]), and the
    /// partition count, the partitioner's sticky state and the partition
    /// queue are found by that index.
    // Inlined into the intake's loop (`take_commands`), so that the record
    // popped there is not copied (152 bytes) once more to be passed.
    #[inline(always)]
    fn route(
        &mut self,
        envelope: Envelope,
        now: Instant,
        wall_ms: i64,
        flush_gen: u64,
        behind_parked: bool,
    ) {
        // The topic is borrowed, not cloned: its `Arc` count is shared with
        // the sending threads, so every clone is a contended cache line.
        let topic = self.partitions.intern(envelope.record.topic.shared());
        let Some(partitions) = self.partition_count(topic) else {
            self.park(envelope, now, flush_gen);
            return;
        };
        // A record sent after records of its topic that still wait to be
        // released (see `release_parked`) queues behind them: send order.
        if behind_parked
            && !self.waiting.is_empty()
            && self.waiting.contains_key(envelope.record.topic.as_str())
        {
            self.park(envelope, now, flush_gen);
            return;
        }
        let record = &envelope.record;
        let partition = match record.partition {
            Some(p) if p >= 0 && (p as usize) < partitions => p,
            Some(p) => {
                let error = Error::InvalidRecord {
                    topic: record.topic.clone(),
                    reason: format!("partition {p} does not exist (the topic has {partitions})"),
                };
                self.resolved(flush_gen, 1);
                self.reject(envelope, error);
                return;
            }
            None => self.partitioner.partition_with_load(
                topic,
                &PartitionRequest {
                    topic: record.topic.as_str(),
                    key: record.key.as_deref(),
                    value: record.value.as_deref(),
                    partitions: partitions as u32,
                },
                self.partitions.load(topic, self.availability(now)),
            ),
        };
        // A custom partitioner's answer is checked like an explicit
        // partition: out of range, the record fails instead of routing to a
        // partition that does not exist.
        if partition < 0 || partition as usize >= partitions {
            let error = Error::InvalidRecord {
                topic: envelope.record.topic.clone(),
                reason: format!(
                    "the partitioner chose partition {partition}, but the topic has {partitions}"
                ),
            };
            self.resolved(flush_gen, 1);
            self.reject(envelope, error);
            return;
        }
        let c = &self.settings.config;
        let Envelope {
            record,
            reply,
            reserved,
        } = envelope;
        let Record {
            topic: handle,
            key,
            value,
            headers,
            timestamp,
            ..
        } = record;
        let parts = RecordParts {
            key: key.as_deref(),
            value: value.as_deref(),
            headers: &headers,
            timestamp: timestamp.unwrap_or(wall_ms),
            size_bound: reserved,
        };
        let (compression, batch_size) = (c.compression, c.batch_size);
        // The drain stamps every batch of an idempotent producer (see
        // `drain::stamp`) before its first send.
        let stamped_at_send = self.idempotence.is_some();
        let buffers = &self.batch_buffers;
        let queue = self.partitions.get_or_create(topic, partition, |name| {
            PartitionQueue::new(
                Topic::new(name.clone()),
                partition,
                compression,
                batch_size,
                buffers.clone(),
            )
            .stamped_at_send(stamped_at_send)
        });
        let appended = queue.append(
            parts,
            reply,
            reserved,
            now,
            batch_size,
            flush_gen,
            &mut self.next_order,
        );
        match appended {
            Ok(()) => {
                self.partitioner
                    .on_append_indexed(topic, handle.as_str(), partition, reserved)
            }
            Err(rejected) => {
                self.resolved(flush_gen, 1);
                self.shared
                    .reject(rejected.reply, rejected.reserved, &handle, rejected.error);
            }
        }
        // What the record shares with the sending threads (its topic's and
        // its payload's reference counts) is released after the whole drain,
        // together: one cache-line transfer per drain, not one per record.
        self.retired.push(Retired {
            _topic: handle.into_shared(),
            _key: key,
            _value: value,
            _headers: headers,
        });
    }

    /// What `partitioner.availability.timeout.ms` asks of the queues as of
    /// `now`; `None` when it is off (zero, the default).
    #[inline]
    fn availability(&self, now: Instant) -> Option<Availability> {
        let c = &self.settings.config;
        let timeout = c.partitioner_availability_timeout;
        if timeout.is_zero() {
            return None;
        }
        Some(Availability {
            cutoff: now.checked_sub(timeout)?,
            linger: c.linger,
        })
    }

    /// `topic`'s partition count, if its metadata is known: remembered per
    /// topic index, so the common case is a `Vec` index, not a lookup by
    /// name; [`Core::forget_partition_counts`] clears it when metadata
    /// changes.
    fn partition_count(&mut self, topic: TopicIndex) -> Option<usize> {
        if let Some(count) = self.partitions.partition_count(topic) {
            return Some(count);
        }
        let count = self.metadata.partition_count(self.partitions.name(topic))?;
        self.partitions.set_partition_count(topic, count);
        Some(count)
    }

    /// Drops the remembered partition counts (metadata changed).
    pub(super) fn forget_partition_counts(&mut self) {
        self.partitions.forget_partition_counts();
    }

    /// Timers and state transitions that need no input: linger, expiry,
    /// producer id, metadata, scaling.
    fn housekeeping(&mut self, now: Instant) {
        self.adopt_shared_fatal();
        let force = !self.flush_waiters.is_empty() || self.closing.is_some();
        let linger = self.settings.config.linger;
        for q in self.partitions.values_mut() {
            q.seal_if_due(now, linger, force, &mut self.next_order);
        }
        self.expire(now);
        // A transactional producer bumps its epoch through the coordinator
        // (InitProducerId after an abort), never locally.
        if let Some(idem) = &mut self.idempotence
            && self.transaction.is_none()
        {
            match idem.apply_bump() {
                idempotence::IdentityAction::None => {}
                idempotence::IdentityAction::Bumped(p) => {
                    metrics::add(&self.shared.metrics.epoch_bumps, 1);
                    tracing::info!(producer_id = p.id, epoch = p.epoch, "producer epoch bumped");
                }
                idempotence::IdentityAction::NewProducerId => {
                    metrics::add(&self.shared.metrics.epoch_bumps, 1);
                    tracing::info!("producer epoch exhausted: requesting a new producer id");
                }
            }
        }
        self.maybe_init_producer_id(now);
        self.maybe_refresh_metadata(now);
        if self.scale_due(now) {
            self.scale(now);
            self.next_scale_tick = self.next_scale_tick_after(now);
        }
    }

    /// When the loop must wake even without input.
    fn next_wakeup(&self, now: Instant) -> Instant {
        let c = &self.settings.config;
        let mut wake = now + c.metadata_max_age.min(Duration::from_secs(60));
        let mut consider = |t: Instant| {
            if t > now && t < wake {
                wake = t;
            }
        };
        for q in self.partitions.values() {
            if let Some(t) = q.linger_deadline(c.linger) {
                consider(t);
            }
            if let Some(b) = q.ready.front() {
                if let Some(t) = b.retry_at {
                    consider(t);
                }
                consider(b.created + c.delivery_timeout);
            }
        }
        for q in self.waiting.values() {
            if let Some(w) = q.front() {
                consider(w.received + c.delivery_timeout);
            }
        }
        if let Some(t) = self.metadata.next_attempt {
            consider(t);
        }
        if let Some(t) = self.metadata.updated_at {
            consider(t + c.metadata_max_age);
        }
        if let Some(t) = self.init_next_attempt {
            consider(t);
        }
        if let Some(t) = self
            .transaction
            .as_ref()
            .and_then(|t| t.machine.next_attempt())
        {
            consider(t);
        }
        if self.brokers.values().any(|b| b.scaler.is_some()) {
            consider(self.next_scale_tick);
        }
        if let Some(t) = self.closing {
            consider(t);
        }
        wake
    }
}

/// Commands taken per pass of the core's loop: enough to amortise a pass
/// (timers, drain), few enough that responses and timers are not kept
/// waiting behind a busy sender.
const INTAKE_PER_PASS: usize = 512;

/// Connections per broker at start.
fn initial_width(settings: &Settings) -> usize {
    let s = &settings.config.scaler;
    if settings.config.adaptive_connections {
        s.initial_width.max(s.min_width)
    } else {
        s.min_width
    }
    .max(1)
}
