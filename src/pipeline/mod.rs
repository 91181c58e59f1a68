//! The forwarder's per-tenant loop (in progress): checkpoints first.

pub mod checkpoint;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointStore, VersionKey};
