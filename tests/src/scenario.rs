//! One integration scenario end to end: create a fresh topic, send a
//! [`Workload`] with kproducer, read it back with kcat, check it
//! ([`consumed::check`]), and compare key placement with librdkafka's
//! ([`placement`]).

use std::fmt;
use std::time::{Duration, Instant};

use crate::consumed::{self, Expectations, Summary};
use crate::placement;
use crate::produce::{Produced, produce};
use crate::target::BrokerTarget;
use crate::topics::unique_name;
use crate::workload::Workload;

/// A scenario: what to send, how the producer is configured, what to check.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name: the topic's prefix and the report's label.
    pub name: &'static str,
    /// The records.
    pub workload: Workload,
    /// Partitions of the topic (and of librdkafka's reference topic).
    pub partitions: u32,
    /// Producer properties (`bootstrap.servers` is added).
    pub properties: Vec<(&'static str, &'static str)>,
    /// What the consumed topic must show.
    pub expect: Expectations,
    /// Whether to compare key placement with librdkafka's `murmur2_random`.
    pub compare_placement: bool,
}

/// What a passing scenario measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The scenario's name.
    pub name: &'static str,
    /// The topic written.
    pub topic: String,
    /// kproducer's run.
    pub produced: Produced,
    /// How long kcat took to read the topic back.
    pub consume_time: Duration,
    /// What the check found.
    pub summary: Summary,
    /// Keys whose placement matched librdkafka's (0 when not compared).
    pub keys_compared: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.produced.elapsed.as_secs_f64();
        let m = &self.produced.metrics;
        write!(
            f,
            "{}: {} records in {} OK — produced in {:.2} s ({:.0} records/s), \
             read back in {:.2} s{}; per partition {:?}; {} keys placed as librdkafka places them; \
             {} batches in {} requests, {} retries, broker errors {:?}, \
             connections per broker {:?}, {} scale events",
            self.name,
            self.summary.total(),
            self.topic,
            secs,
            self.summary.total() as f64 / secs.max(1e-9),
            self.consume_time.as_secs_f64(),
            match (self.summary.missing, self.produced.failed) {
                (0, 0) => String::new(),
                (n, failed) => format!(
                    " ({n} records lost by the broker, {failed} reported as failed deliveries; \
                     tolerated: see Expectations::loss_tolerated)"
                ),
            },
            self.summary.per_partition,
            self.keys_compared,
            m.batches_sent,
            m.requests_sent,
            m.retries,
            m.errors_by_code,
            m.connections_per_broker,
            m.scale_events,
        )
    }
}

impl Scenario {
    /// Runs the scenario against `target`.
    ///
    /// # Errors
    /// Everything that went wrong, ready to print: a tool that failed, a
    /// record that failed delivery, or the list of problems the checks
    /// found.
    pub fn run(&self, target: &BrokerTarget) -> Result<Report, String> {
        let topic = unique_name(self.name);
        target
            .admin
            .create(&target.bootstrap, &topic, self.partitions)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build a tokio runtime: {e}"))?;
        let produced = runtime.block_on(produce(
            &target.bootstrap,
            &topic,
            &self.workload,
            &self.properties,
            self.expect.loss_tolerated,
        ))?;
        drop(runtime);

        let reading = Instant::now();
        let read = target
            .kcat
            .consume(&target.bootstrap, &topic, consumed::FORMAT)?;
        let consume_time = reading.elapsed();
        let summary = consumed::check(&self.workload, &read, &produced.reported, self.expect)
            .map_err(|problems| {
                format!(
                    "{}: what kcat read back from {topic} is wrong:\n  {}",
                    self.name,
                    problems.join("\n  ")
                )
            })?;

        let mut keys_compared = 0;
        if self.compare_placement {
            let reference = unique_name(&format!("{}-librdkafka", self.name));
            target
                .admin
                .create(&target.bootstrap, &reference, self.partitions)?;
            let theirs = placement::librdkafka_placement(target, &reference, self.workload.keys())?;
            let problems = placement::disagreements(
                &summary.key_partitions,
                &theirs,
                !self.expect.loss_tolerated,
            );
            if !problems.is_empty() {
                return Err(format!(
                    "{}: keys are not where librdkafka's murmur2_random puts them \
                     ({topic} vs {reference}):\n  {}",
                    self.name,
                    problems.join("\n  ")
                ));
            }
            keys_compared = summary.key_partitions.len();
        }
        Ok(Report {
            name: self.name,
            topic,
            produced,
            consume_time,
            summary,
            keys_compared,
        })
    }
}
