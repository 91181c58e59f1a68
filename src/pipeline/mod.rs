//! The forwarder's per-tenant loop.
//!
//! - [`checkpoint`]: where a tenant stands, saved atomically after every delivered window.
//! - [`daemon`]: [`Forwarder`]: every tenant in its own task, shared outputs, shutdown.
//! - [`tenant`]: [`TenantForwarder`]: window, fetch, de-duplicate, map, send, checkpoint.

pub mod checkpoint;
pub mod daemon;
pub mod tenant;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointStore, VersionKey};
pub use daemon::{Forwarder, StartError};
pub use tenant::{PollError, PollReport, TenantForwarder};
