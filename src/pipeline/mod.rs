//! The forwarder's per-tenant loop.
//!
//! - [`checkpoint`]: where a tenant stands, saved atomically after every delivered window.
//! - [`tenant`]: [`TenantForwarder`]: window, fetch, de-duplicate, map, send, checkpoint.

pub mod checkpoint;
pub mod tenant;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointStore, VersionKey};
pub use tenant::{PollError, PollReport, TenantForwarder};
