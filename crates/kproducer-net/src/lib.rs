//! Transports, multiplexed connections, per-broker connection groups, the
//! adaptive `Scaler` and the fenced `Router`.
//!
//! Today this crate holds the [`Transport`] seam; connections, groups, the
//! scaler and the router are being built (see the project's issue
//! "`kproducer-net`: transports, multiplexed connections, …").

mod balance;
mod fence;
mod router;
mod scaler;
mod scaler_config;
mod topic_partition;
mod transport;

pub use fence::Route;
pub use router::{Router, RouterCounters, RouterError, RouterEvent};
pub use scaler::{Decision, Reason, ScaleUpTrigger, Scaler, Signals};
pub use scaler_config::{
    DEFAULT_COOLDOWN, DEFAULT_MAX_STEP, DEFAULT_MAX_WIDTH, DEFAULT_MIN_WIDTH, DEFAULT_MIN_WINDOW,
    DEFAULT_SUSTAINED_LOW, MIN_HYSTERESIS_RATIO, SCALE_DOWN_BUFFER_FILL, SCALE_DOWN_PROJECTED_BUSY,
    SCALE_DOWN_WAIT_FRACTION, SCALE_UP_BUFFER_FILL, SCALE_UP_BUSY_FRACTION, SCALE_UP_WAIT_FRACTION,
    ScalerConfig, ScalerConfigError,
};
pub use topic_partition::{SlotId, TopicPartition};
pub use transport::{BoxStream, BrokerAddress, Stream, Transport, TransportError};
