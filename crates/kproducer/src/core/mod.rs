//! The core task: one owner for all producer state.

pub(crate) mod idempotence;
