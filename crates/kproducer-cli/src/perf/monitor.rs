//! [`Monitor`]: a task that samples `Producer::metrics()` every
//! [`SAMPLE_EVERY`] while the run goes on, feeding the progress bar and the
//! [`ScalingStory`]. The hot loop itself counts nothing for it.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use kproducer::Producer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::scaling::ScalingStory;

/// How often metrics are sampled (the scaler looks at each broker every
/// 100 ms by default, so width changes are rarely missed).
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// A running monitor; [`finish`](Self::finish) stops it.
#[derive(Debug)]
pub(crate) struct Monitor {
    stop: oneshot::Sender<()>,
    task: JoinHandle<ScalingStory>,
}

/// What the monitor watches.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    /// The producer.
    pub(crate) producer: Producer,
    /// Start of the measured run.
    pub(crate) start: Instant,
    /// Records the run will send.
    pub(crate) total: u64,
    /// Records resolved before the run (the warm-up), not shown as progress.
    pub(crate) resolved_before: u64,
    /// Draw a progress bar (on stderr).
    pub(crate) progress: bool,
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    // The template is a constant; if indicatif ever refused it, the default
    // style is still a progress bar.
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

impl Monitor {
    /// Starts sampling on the current runtime.
    pub(crate) fn start(watch: Watch) -> Self {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(watch, stopped));
        Self { stop, task }
    }

    /// Stops, takes a last sample, clears the progress bar and returns the
    /// story.
    pub(crate) async fn finish(self) -> ScalingStory {
        let _ = self.stop.send(());
        // A panic in the sampler loses the story, not the run.
        self.task.await.unwrap_or_default()
    }
}

async fn run(watch: Watch, mut stopped: oneshot::Receiver<()>) -> ScalingStory {
    let bar = watch.progress.then(|| progress_bar(watch.total));
    let mut story = ScalingStory::default();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stop = tokio::select! {
            _ = tick.tick() => false,
            _ = &mut stopped => true,
        };
        let m = watch.producer.metrics();
        let elapsed = watch.start.elapsed();
        story.sample(elapsed, &m.connections_per_broker, m.scale_events);
        if let Some(bar) = &bar {
            let done = (m.records_sent + m.records_failed).saturating_sub(watch.resolved_before);
            bar.set_position(done.min(watch.total));
            let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
            let widths: Vec<String> = m
                .connections_per_broker
                .values()
                .map(ToString::to_string)
                .collect();
            bar.set_message(format!(
                "{rate:.0} rec/s, connections [{}]",
                widths.join(" ")
            ));
        }
        if stop {
            break;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    story
}
